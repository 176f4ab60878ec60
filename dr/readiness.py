"""Readiness: every plan evaluated continuously (dr.whatif.evaluate_plan), each evaluation stored, a
structured warning while a plan is not ready; and the plans' drill schedules.

* **Plan files** — :func:`dr.plan.scan_plans` reads every file of the plans folder once: its content digest
  (SHA-256 of the bytes) and the plan parsed from those same bytes, or its problems (file, key, message)
  when it does not validate. A digest and the evaluation it is stored with always describe one content.
* **Evaluation** — :func:`evaluate_file` evaluates a valid plan (a failover: would it work now?) with its
  stored history (dr.history), or makes a broken file's record (readiness red, its problems as failed
  checks). The record, :class:`ReadinessRecord`, is stored as ``readiness/<plan>.json`` in the reports
  container (the digest also in the blob's metadata, so one listing tells which plans changed).
* **Ticks** — :func:`readiness_tick` evaluates every plan (the DR_READINESS_SCHEDULE timer) or only the
  plans whose file digest differs from their stored record's (``changed_only``: the every-minute timer).
  Every evaluation of a plan that is not ready logs one warning whose message is one line of JSON with the
  fixed event name :data:`NOT_READY_EVENT` (fields: :func:`not_ready_record`); a plan that turns ready again
  logs :data:`READY_EVENT` at info level. A drill RTO regression (dr.history) is logged once per drill.
* **Scheduled drills** — :func:`due_drills` gives each plan's latest due time of ``drill.schedule`` within
  a lookback; :func:`scheduled_drill` builds the run through the operator intake (dr.intake.operator_run,
  requested by "schedule") under an instance id derived from the plan and the due time alone, so every
  timer firing and every instance that sees the same due time names the same run and the backend starts it
  once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import whatif
from .clients import Clients
from .durations import iso, parse_time
from .errors import DrError, azure_errors
from .history import (
    HISTORY_LIMIT,
    REGRESSION_BASELINE,
    RtoRegression,
    latest_regression,
    plan_reports,
    summarize,
)
from .history import regression_log_line as _regression_line
from .intake import StartRequest, operator_run
from .ncrontab import parse_ncrontab
from .plan import NAME_PATTERN, Plan, PlanFile, PlanProblem, scan_plans
from .report import get_json, put_json, reports_container
from .run import RunInput, run_instance_id
from .settings import Settings, get_settings

NOT_READY_EVENT = "DrPlanNotReady"
READY_EVENT = "DrPlanReady"
READINESS_PREFIX = "readiness/"
SCHEDULED_BY = "schedule"
# A drill due longer ago than this (the host was down, the timer did not fire) is not started late.
SCHEDULE_LOOKBACK = timedelta(minutes=10)
EVALUATE_PARALLEL = 4
LOGGED_CHECKS = 20  # failed checks per log line (the count says how many there were)
LOGGED_MESSAGE_CHARS = 500

Readiness = Literal["green", "red", "unknown"]
Reason = Literal["checks_failed", "plan_invalid", "evaluation_failed"]

log = logging.getLogger("dr.readiness")


# -- plan files ---------------------------------------------------------------------------------------------


# -- stored evaluations -------------------------------------------------------------------------------------


class FailedCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: str | None = Field(description="None: the plan as a whole (a broken file, an evaluation that failed).")
    check: str
    message: str


class ReadinessRecord(BaseModel):
    """One stored evaluation of a plan (``readiness/<plan>.json``)."""

    model_config = ConfigDict(extra="ignore")

    plan: str
    file: str
    digest: str = Field(description="SHA-256 of the plan file's bytes that were evaluated.")
    evaluated_at: datetime
    readiness: Readiness
    ready: bool | None = Field(description="None: not known (the evaluation itself failed).")
    reason: Reason | None = Field(None, description="Why not ready.")
    failed_checks: list[FailedCheck] = Field(default_factory=list)
    warnings: int = 0
    predicted_rto_seconds: float | None = None
    predicted_rpo_seconds: float | None = None
    evaluation: dict[str, Any] | None = Field(None, description="The whole dr.whatif.PlanEvaluation.")
    problems: list[PlanProblem] = Field(default_factory=list, description="A broken file's problems.")
    error: str | None = Field(None, description="Why the evaluation failed.")
    rto_regression: RtoRegression | None = None
    regression_logged: str | None = Field(None, description="The drill whose regression was logged last.")


def readiness_blob_name(plan_name: str) -> str:
    return f"{READINESS_PREFIX}{plan_name}.json"


def write_readiness(clients: Clients, record: ReadinessRecord) -> None:
    metadata = {"plan": record.plan, "digest": record.digest, "readiness": record.readiness}
    name = readiness_blob_name(record.plan)
    put_json(clients, name, record, what=f"write the evaluation of plan {record.plan}", metadata=metadata)


def read_readiness(clients: Clients, plan_name: str) -> ReadinessRecord | None:
    """The plan's stored evaluation (None: never evaluated, or unreadable)."""
    data = get_json(clients, readiness_blob_name(plan_name), what=f"read the evaluation of plan {plan_name}")
    if data is None:
        return None
    try:
        return ReadinessRecord.model_validate_json(data)
    except ValidationError:
        return None


def stored_digests(clients: Clients) -> dict[str, str]:
    """Plan name → the digest its stored evaluation was made of (one listing of ``readiness/``)."""
    from azure.core.exceptions import ResourceNotFoundError

    container = reports_container(clients)
    digests: dict[str, str] = {}
    with azure_errors("list stored plan evaluations"):
        try:
            for blob in container.list_blobs(name_starts_with=READINESS_PREFIX, include=["metadata"]):
                name = str(blob.name)[len(READINESS_PREFIX) : -len(".json")]
                digests[name] = (blob.metadata or {}).get("digest", "")
        except ResourceNotFoundError:
            return {}
    return digests


# -- evaluating ---------------------------------------------------------------------------------------------


def failed_checks(evaluation: whatif.PlanEvaluation, *, sync_stale_after: timedelta | None = None) -> list[FailedCheck]:
    """The failed checks, and (with ``sync_stale_after``) every blob step whose standing sync is stale or never
    ran: at failover that is only a warning (the failover must go on), but a plan in that state is not ready."""
    failed = [
        FailedCheck(step=step_id, check=check.name, message=check.message)
        for step_id, checks in evaluation.checks.items()
        for check in checks
        if check.status == "failed"
    ]
    if sync_stale_after is not None:
        failed += _stale_syncs(evaluation, sync_stale_after)
    return failed


def _stale_syncs(evaluation: whatif.PlanEvaluation, limit: timedelta) -> list[FailedCheck]:
    stale = []
    for step_id, checks in evaluation.checks.items():
        sync = next((check for check in checks if check.name == "last_standing_sync"), None)
        if sync is None:
            continue
        age = sync.facts.get("rpo_estimate_seconds")
        if not isinstance(age, int | float):
            message = f"no usable standing sync: {sync.message}"
        elif age > limit.total_seconds():
            message = (
                f"the last standing sync is {age / 60:.0f} min old, more than {limit.total_seconds() / 60:.0f} min "
                f"(DR_SYNC_STALE_MINUTES): {sync.message}"
            )
        else:
            continue
        stale.append(FailedCheck(step=step_id, check="standing_sync_fresh", message=message))
    return stale


def _record_name(item: PlanFile) -> str | None:
    """The plan a file's record is stored under (None: no valid name)."""
    name = item.plan.name if item.plan is not None else item.name
    return name if name and re.fullmatch(NAME_PATTERN, name) else None


def evaluate_file(item: PlanFile, *, now: datetime, history: list[dict[str, Any]] | None) -> ReadinessRecord:
    """The record of one evaluation of a plan file (a broken file's record without evaluating)."""
    name = _record_name(item) or item.path.stem
    if item.plan is None:
        return ReadinessRecord(
            plan=name,
            file=item.file,
            digest=item.digest,
            evaluated_at=now,
            readiness="red",
            ready=False,
            reason="plan_invalid",
            failed_checks=[
                FailedCheck(step=None, check="plan_valid", message=f"{p.file}: {p.key or '(file)'}: {p.message}")
                for p in item.problems
            ],
            problems=item.problems,
        )
    try:
        evaluation = whatif.evaluate_plan(item.plan, now=now, mode="failover", history=history)
    except Exception as exc:  # an evaluation that cannot be made is itself a finding, never a crashed tick
        log.exception("readiness: evaluating plan %s failed", name)
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return ReadinessRecord(
            plan=name,
            file=item.file,
            digest=item.digest,
            evaluated_at=now,
            readiness="unknown",
            ready=None,
            reason="evaluation_failed",
            failed_checks=[
                FailedCheck(step=None, check="evaluation", message=f"the plan could not be evaluated: {message}")
            ],
            error=message,
        )
    failed = failed_checks(evaluation, sync_stale_after=timedelta(minutes=get_settings().sync_stale_minutes))
    ready = evaluation.ready and not failed
    return ReadinessRecord(
        plan=name,
        file=item.file,
        digest=item.digest,
        evaluated_at=evaluation.evaluated_at,
        readiness="green" if ready else "red",
        ready=ready,
        reason=None if ready else "checks_failed",
        failed_checks=failed,
        warnings=sum(1 for checks in evaluation.checks.values() for check in checks if check.status == "warning"),
        predicted_rto_seconds=evaluation.predicted_rto_seconds,
        predicted_rpo_seconds=evaluation.predicted_rpo_seconds,
        evaluation=evaluation.model_dump(mode="json"),
    )


def not_ready_record(record: ReadinessRecord, previous: ReadinessRecord | None) -> dict[str, Any]:
    """The fields of the not-ready warning (fixed names: the log alert's query reads them)."""
    return {
        "event": NOT_READY_EVENT,
        "plan": record.plan,
        "file": record.file,
        "digest": record.digest,
        "evaluated_at": iso(record.evaluated_at),
        "readiness": record.readiness,
        "reason": record.reason,
        "transition": "still_not_ready" if previous is not None and previous.ready is not True else "turned_not_ready",
        "failed_count": len(record.failed_checks),
        "failed_checks": [
            {"step": c.step, "check": c.check, "message": c.message[:LOGGED_MESSAGE_CHARS]}
            for c in record.failed_checks[:LOGGED_CHECKS]
        ],
    }


def _line(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class TickResult:
    evaluated: list[ReadinessRecord] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _history(clients: Clients, plan_name: str) -> list[dict[str, Any]] | None:
    try:
        return plan_reports(clients, plan_name, limit=HISTORY_LIMIT)
    except DrError as exc:
        log.warning("readiness: history of plan %s unreadable: %s", plan_name, exc)
        return None


def _drills(clients: Clients, plan_name: str) -> list[dict[str, Any]]:
    try:
        return plan_reports(clients, plan_name, mode="drill", limit=REGRESSION_BASELINE + 1)
    except DrError:
        return []


def _evaluate_and_store(
    clients: Clients, item: PlanFile, now: datetime, emit: Callable[[int, str], None]
) -> ReadinessRecord:
    name = _record_name(item)  # None: nothing stored for the file (no plan name, or another file's name)
    stored = name is not None
    previous: ReadinessRecord | None = None
    if name is not None:
        try:
            previous = read_readiness(clients, name)
        except DrError as exc:
            log.warning("readiness: stored evaluation of plan %s unreadable: %s", name, exc)
    history = _history(clients, name) if item.plan is not None and name is not None else None
    record = evaluate_file(item, now=now, history=history)
    if item.plan is not None:
        drills = [r for r in (history or []) if r.get("mode") == "drill"]
        if len(drills) < REGRESSION_BASELINE + 1:
            drills = _drills(clients, item.plan.name)
        regression = latest_regression(item.plan.name, drills)
        record.rto_regression = regression
        record.regression_logged = previous.regression_logged if previous is not None else None
        if regression is not None and regression.run_id != record.regression_logged:
            emit(logging.WARNING, _regression_line(regression, now=now))
            record.regression_logged = regression.run_id
    if record.ready is not True:
        emit(logging.WARNING, _line(not_ready_record(record, previous)))
    elif previous is not None and previous.ready is not True:
        emit(
            logging.INFO,
            _line(
                {
                    "event": READY_EVENT,
                    "plan": record.plan,
                    "file": record.file,
                    "evaluated_at": iso(record.evaluated_at),
                }
            ),
        )
    if stored:
        write_readiness(clients, record)
    return record


def _emit(level: int, line: str) -> None:
    log.log(level, line)


def readiness_tick(
    clients: Clients,
    settings: Settings,
    now: datetime,
    *,
    changed_only: bool,
    emit: Callable[[int, str], None] = _emit,
) -> TickResult:
    """Evaluate every plan file (``changed_only``: those whose digest differs from their stored record's,
    or that have none), store each record and log what is not ready. One plan's failure is reported in
    the result and the log; the others go on."""
    result = TickResult()
    files = scan_plans(settings.plans_dir)
    if changed_only:
        digests = stored_digests(clients)
        due: list[PlanFile] = []
        for item in files:
            name = _record_name(item)
            if name is None:
                continue  # nothing stored under a file without a plan name: the full tick logs it
            if digests.get(name) == item.digest:
                result.unchanged.append(name)
            else:
                due.append(item)
        files = due

    def one(item: PlanFile) -> ReadinessRecord | str:
        try:
            return _evaluate_and_store(clients, item, now, emit)
        except DrError as exc:
            log.error("readiness: plan file %s: %s", item.file, exc)
            return f"{item.file}: {exc}"

    with ThreadPoolExecutor(max_workers=EVALUATE_PARALLEL) as pool:
        for outcome in pool.map(one, files):
            if isinstance(outcome, str):
                result.errors.append(outcome)
            else:
                result.evaluated.append(outcome)
    return result


# -- scheduled drills ---------------------------------------------------------------------------------------


def due_drills(
    files: list[PlanFile], now: datetime, lookback: timedelta = SCHEDULE_LOOKBACK
) -> list[tuple[Plan, datetime]]:
    """Each valid plan with a drill schedule that fell due in (now - lookback, now], with its latest due
    time (one per plan: a schedule that fell due several times within the lookback starts one drill)."""
    found = []
    for item in files:
        if item.plan is None or not item.plan.drill.schedule:
            continue
        due = parse_ncrontab(item.plan.drill.schedule).latest(now, lookback)
        if due is not None:
            found.append((item.plan, due))
    return found


def scheduled_drill_id(plan_name: str, due: datetime) -> str:
    """The run id of the plan's drill due at ``due``: the same for every firing and every instance (an
    operator-form id, ``<plan>--drill--op-<due>-<6 hex of plan and due time>``)."""
    stamp = iso(due)
    tag = hashlib.sha256(f"{plan_name}|{stamp}|{SCHEDULED_BY}".encode()).hexdigest()[:6]
    return run_instance_id(plan_name, "drill", f"op-{parse_time(stamp):%Y%m%dT%H%M%S}-{tag}")


def scheduled_drill(plan: Plan, due: datetime, now: datetime, settings: Settings) -> tuple[str, RunInput]:
    """The drill run through the operator intake (dr.intake.operator_run, requested by "schedule"), under
    the id :func:`scheduled_drill_id` derives from the plan and the due time."""
    request = StartRequest(
        plan=plan.name,
        mode="drill",
        reason=f"scheduled drill (drill.schedule {plan.drill.schedule!r}, due {iso(due)})",
        requested_by=SCHEDULED_BY,
    )
    _, run = operator_run(plan, request, SCHEDULED_BY, now, settings)
    trigger = {**run.trigger, "source": SCHEDULED_BY, "schedule": plan.drill.schedule, "due_at": iso(due)}
    return scheduled_drill_id(plan.name, due), run.model_copy(update={"trigger": trigger})


def next_drill(plan: Plan, now: datetime) -> datetime | None:
    return parse_ncrontab(plan.drill.schedule).next_after(now) if plan.drill.schedule else None


def readiness_of(record: ReadinessRecord | None, item: PlanFile) -> Readiness:
    """A plan's readiness as listed: a broken file is red whatever was stored before it broke."""
    if item.broken:
        return "red"
    return record.readiness if record is not None else "unknown"


# -- what GET /api/plans shows ------------------------------------------------------------------------------


def plan_summary(
    item: PlanFile, record: ReadinessRecord | None, last_drill: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """One plan as GET /api/plans lists it: readiness, last evaluation, predicted RTO/RPO, last drill."""
    fresh = record is not None and record.digest == item.digest
    drill = summarize(last_drill) if last_drill is not None else None
    schedule = item.plan.drill.schedule if item.plan is not None else None
    return {
        "name": _record_name(item) or item.name,
        "file": item.file,
        "digest": item.digest,
        "status": "broken" if item.broken else "valid",
        "readiness": readiness_of(record, item),
        "ready": False if item.broken else (record.ready if record is not None else None),
        # The stored evaluation was made of another content of the file: the next minute's tick redoes it.
        "stale": record is not None and not fresh,
        "evaluated_at": iso(record.evaluated_at) if record is not None else None,
        "failed_checks": len(record.failed_checks) if record is not None and not item.broken else len(item.problems),
        "predicted_rto_seconds": record.predicted_rto_seconds if record is not None else None,
        "predicted_rpo_seconds": record.predicted_rpo_seconds if record is not None else None,
        "last_drill": drill.model_dump(mode="json") if drill is not None else None,
        "last_drill_rto_seconds": drill.rto_seconds if drill is not None else None,
        "drill_schedule": schedule,
        "next_drill_at": iso(due) if item.plan is not None and (due := next_drill(item.plan, now)) else None,
        "errors": [problem.model_dump(mode="json") for problem in item.problems],
    }
