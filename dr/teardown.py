"""A drill's teardown, as a unit of its own: run at the end of a drill, and again on an operator's retry.

A drill creates resources (a restored database, a test profile's switch) and undoes them at its end; an undo
that fails leaves them behind, and the report says so. Before this module nothing could try again: the
operator had to clean up by hand. Now:

- :class:`DrillTeardownInput` is the input of the ``drill_teardown`` sub-orchestration (orchestrators/teardown):
  the run's plan snapshot and, per step to undo, the step's last state. It undoes them in reverse plan order
  through the step sub-orchestration (operation "teardown") and answers a :class:`DrillTeardownOutput`,
  never failing for one step's failure.
- :func:`left_behind` reads a stored report: which steps' teardown failed (what may still exist).
- :func:`admit_teardown_retry` decides whether ``POST /api/recoveries/{id}/teardown`` may retry, and builds
  the ``drill_teardown_retry`` input from the run's input and its steps' outputs (their last state).
- :func:`with_teardown_retry` rewrites the stored report with a retry's results and what is still left behind.

Pure models and functions (the admission reads through a store protocol): no azure.functions import.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, model_validator

from .admission import RunSnapshot, RunStore, recovery_run
from .durations import iso, parse_time
from .errors import ConflictError, NotFoundError
from .plan import Plan
from .run import LeftBehind, RunInput, RunReport, StepOutcome, StepRunInput, read_model, step_instance_id
from .steps.base import TeardownResult

DRILL_TEARDOWN_ORCHESTRATOR = "drill_teardown"
TEARDOWN_RETRY_ORCHESTRATOR = "drill_teardown_retry"
# The warning a step (and the report, prefixed "<step>: ") carries while its drill resources may be left behind.
TEARDOWN_WARNING = "teardown failed: drill resources may be left behind"
MAX_REASON = 2000


# -- instance ids ----------------------------------------------------------------------------------------
#
# Every teardown attempt gets instance ids of its own: a retry that reused the first attempt's ids would, on
# the Durable backend, replace those instances' histories (what the first attempt did) or, for one still
# running, be refused. Attempt 1 is the drill's own teardown; retry n is attempt n + 1.


def step_teardown_instance_id(run_id: str, step_id: str, attempt: int) -> str:
    """The step sub-orchestration that undoes ``step_id`` in teardown attempt ``attempt``."""
    return step_instance_id(run_id, f"{step_id}-teardown-{attempt}")


def drill_teardown_instance_id(run_id: str, attempt: int) -> str:
    """The drill_teardown sub-orchestration of attempt ``attempt``. The "." keeps it apart from every step
    instance id (``<run>:<step id>``): step ids cannot contain one (dr.plan.STEP_ID_PATTERN)."""
    return f"{run_id}:teardown.{attempt}"


def teardown_retry_prefix(run_id: str) -> str:
    return f"{run_id}:teardown-retry-"


def teardown_retry_instance_id(run_id: str, retry: int) -> str:
    """The n-th operator retry of the run's teardown (a drill_teardown_retry orchestration)."""
    return f"{teardown_retry_prefix(run_id)}{retry}"


def retry_number(run_id: str, instance_id: str) -> int | None:
    """n of ``<run_id>:teardown-retry-<n>``; None for any other instance id."""
    match = re.fullmatch(re.escape(teardown_retry_prefix(run_id)) + r"([1-9][0-9]{0,5})", instance_id)
    return int(match.group(1)) if match else None


# -- the drill_teardown sub-orchestration ------------------------------------------------------------------


class TeardownTarget(BaseModel):
    """One step to undo: its id and its last state (StepOutcome.state, what the kind created)."""

    model_config = ConfigDict(frozen=True)

    step: str
    state: dict[str, Any] = Field(default_factory=dict)


class DrillTeardownInput(BaseModel):
    """The input of ``drill_teardown``: enough to rebuild each step's teardown call without the run's state."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    plan: Plan = Field(description="The run's plan snapshot (RunInput.plan: drill overrides applied).")
    min_poll_seconds: float = Field(2.0, ge=0)
    started_at: datetime = Field(description="When the run started (StepContext.started_at of every call).")
    force: bool = False
    attempt: int = Field(1, ge=1, description="1: the drill's own teardown; n + 1: the operator's retry n.")
    steps: list[TeardownTarget] = Field(description="The steps to undo (any order: undone in reverse plan order).")

    @model_validator(mode="after")
    def _steps_in_plan(self) -> DrillTeardownInput:
        known = {step.id for step in self.plan.steps}
        unknown = [target.step for target in self.steps if target.step not in known]
        if unknown:
            raise ValueError(f"plan {self.plan.name!r} has no step(s) {', '.join(unknown)}")
        ids = [target.step for target in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("a step is listed twice")
        return self

    @classmethod
    def from_outcomes(
        cls,
        run_id: str,
        plan: Plan,
        min_poll_seconds: float,
        outcomes: Mapping[str, StepOutcome],
        *,
        started_at: datetime | None = None,
        force: bool = False,
        attempt: int = 1,
    ) -> DrillTeardownInput:
        """Undo every step that has an outcome (succeeded or failed: a failed step may have created
        something), with its last state. ``started_at``: the run's start (RunState.started_at); by default
        its first step's start, which the outcomes hold (deterministic, as an orchestrator needs)."""
        if started_at is None:
            if not outcomes:
                raise ValueError("no outcomes and no started_at: nothing says when the run started")
            started_at = min(outcome.started_at for outcome in outcomes.values())
        return cls(
            run_id=run_id,
            plan=plan,
            min_poll_seconds=min_poll_seconds,
            started_at=started_at,
            force=force,
            attempt=attempt,
            steps=[TeardownTarget(step=step_id, state=outcome.state) for step_id, outcome in outcomes.items()],
        )

    def in_undo_order(self) -> list[TeardownTarget]:
        """The targets in reverse plan order: a step is undone before the steps it ran after."""
        by_step = {target.step: target for target in self.steps}
        return [by_step[step.id] for step in reversed(self.plan.steps) if step.id in by_step]

    def step_input(self, target: TeardownTarget, now: datetime) -> StepRunInput:
        """The step sub-orchestration's input for undoing ``target`` (as the drill's own run built it)."""
        step = self.plan.step(target.step)
        return StepRunInput.start(
            run_id=self.run_id,
            plan_name=self.plan.name,
            mode="drill",
            step=step,
            started_at=self.started_at,
            now=now,
            min_poll_seconds=self.min_poll_seconds,
            force=self.force,
            failover_values=self.plan.drill.failover_values.get(step.id, {}),
        ).for_teardown(target.state)

    def step_instance_id(self, target: TeardownTarget) -> str:
        return step_teardown_instance_id(self.run_id, target.step, self.attempt)


class StepTeardown(BaseModel):
    """One step's teardown: the kind's answer, or ``TeardownResult.failed`` with the error."""

    model_config = ConfigDict(frozen=True)

    step: str
    result: TeardownResult

    @field_serializer("result")
    def _result(self, result: TeardownResult) -> dict[str, Any]:
        # Only the keys the kind (or .failed) set: the report shows the answer as it was given.
        return result.as_dict()

    @property
    def failed(self) -> bool:
        return self.result.status == "failed"


class DrillTeardownOutput(BaseModel):
    """What ``drill_teardown`` answers: every target's result, in the order they were undone."""

    steps: list[StepTeardown] = Field(default_factory=list)

    def result(self, step_id: str) -> TeardownResult | None:
        return next((entry.result for entry in self.steps if entry.step == step_id), None)

    def failed(self) -> list[str]:
        return [entry.step for entry in self.steps if entry.failed]

    def left_behind(self, plan: Plan) -> list[LeftBehind]:
        """What these results alone leave behind (when the report that lists it cannot be read)."""
        return [
            LeftBehind(step=entry.step, kind=plan.step(entry.step).kind, error=entry.result.error)
            for entry in self.steps
            if entry.failed
        ]


# -- what a report says is left behind ----------------------------------------------------------------------


def _teardown_of(entry: Mapping[str, Any]) -> TeardownResult | None:
    detail = entry.get("detail")
    raw = detail.get("teardown") if isinstance(detail, Mapping) else None
    if not isinstance(raw, Mapping):
        return None
    try:
        return TeardownResult.model_validate(raw)
    except ValidationError:
        return None


def left_behind(report: RunReport | Mapping[str, Any]) -> list[LeftBehind]:
    """The steps a report shows with a failed teardown, in the report's step order.

    Read from the steps (their ``detail.teardown``), the one place every report keeps a teardown's result:
    a drill's own report and one a retry rewrote alike. A report without teardowns (a failover) has none.
    """
    steps = report.steps if isinstance(report, RunReport) else report.get("steps")
    found: list[LeftBehind] = []
    for entry in steps if isinstance(steps, list) else []:
        if not isinstance(entry, Mapping):
            continue
        result = _teardown_of(entry)
        if result is not None and result.status == "failed":
            found.append(LeftBehind(step=str(entry.get("id")), kind=str(entry.get("kind", "")), error=result.error))
    return found


# -- the retry: request, admission, orchestration input and output, the rewritten report ---------------------


class TeardownRetryRequest(BaseModel):
    """Body of POST /api/recoveries/{id}/teardown."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=MAX_REASON)
    by: str | None = Field(None, max_length=200)


class TeardownRetryInput(BaseModel):
    """The input of ``drill_teardown_retry``."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    retry: int = Field(ge=1)
    teardown: DrillTeardownInput
    requested_by: str | None = None
    reason: str = ""
    requested_at: datetime


class TeardownRetryRecord(BaseModel):
    """One retry, as the rewritten report lists it under ``teardown_retries``."""

    retry: int
    instance_id: str
    requested_by: str | None = None
    reason: str = ""
    requested_at: str
    finished_at: str
    torn_down: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)


class RetriedDrillReport(RunReport):
    """A drill's report as a teardown retry rewrites it: the run's own keys, each retried step's new
    ``detail.teardown``, and two top-level keys (the report's keys are a contract; these are added ones):
    ``left_behind``, what is still left behind after the last retry (empty: nothing), and ``teardown_retries``,
    every retry so far."""

    teardown_retries: list[TeardownRetryRecord] = Field(default_factory=list)


class TeardownRetryResult(BaseModel):
    """The output of ``drill_teardown_retry``: what the retry did, and whether the report now says so."""

    run_id: str
    retry: int
    steps: list[StepTeardown]
    left_behind: list[LeftBehind]
    report_url: str | None = None
    warnings: list[str] = Field(default_factory=list)


def with_teardown_retry(
    stored: Mapping[str, Any], retry: TeardownRetryInput, outcome: DrillTeardownOutput, instance_id: str, at: datetime
) -> RetriedDrillReport:
    """The stored report with the retry's results: each retried step's ``detail.teardown`` replaced and its
    left-behind warning dropped (teardown done) or kept (failed again), the retry recorded, and
    ``left_behind`` recomputed from the steps. Steps the retry did not touch keep what they had."""
    report = RetriedDrillReport.model_validate(stored)
    steps: list[dict[str, Any]] = []
    for entry in report.steps:
        result = outcome.result(str(entry.get("id")))
        steps.append(entry if result is None else _retried_step(entry, result))
    warnings = [w for w in report.warnings if not _is_teardown_warning(w, outcome)]
    warnings += [f"{step_id}: {TEARDOWN_WARNING}" for step_id in outcome.failed()]
    record = TeardownRetryRecord(
        retry=retry.retry,
        instance_id=instance_id,
        requested_by=retry.requested_by,
        reason=retry.reason,
        requested_at=iso(retry.requested_at),
        finished_at=iso(at),
        torn_down=[entry.step for entry in outcome.steps if not entry.failed],
        failed=outcome.failed(),
    )
    updated = report.model_copy(
        update={"steps": steps, "warnings": warnings, "teardown_retries": [*report.teardown_retries, record]}
    )
    return updated.model_copy(update={"left_behind": left_behind(updated)})


def _retried_step(entry: Mapping[str, Any], result: TeardownResult) -> dict[str, Any]:
    detail = dict(entry.get("detail") or {})
    detail["teardown"] = result.as_dict()
    kept = [w for w in detail.get("warnings") or [] if w != TEARDOWN_WARNING]
    if result.status == "failed":
        kept.append(TEARDOWN_WARNING)
    if kept:
        detail["warnings"] = kept
    else:
        detail.pop("warnings", None)
    return {**entry, "detail": detail}


def _is_teardown_warning(warning: str, outcome: DrillTeardownOutput) -> bool:
    """A report-level left-behind warning of a step this retry tried again (re-added if it failed again)."""
    return any(warning == f"{entry.step}: {TEARDOWN_WARNING}" for entry in outcome.steps)


class TeardownRunStore(RunStore, Protocol):
    """What the retry's admission asks of the Durable backend: dr.admission.RunStore, and every instance
    (any status) whose id starts with a prefix, to number the retry."""

    async def created_between(
        self, start: datetime, end: datetime, instance_id_prefix: str | None = None
    ) -> list[RunSnapshot]: ...


ReportReader = Callable[[str], Awaitable[dict[str, Any]]]


async def admit_teardown_retry(
    store: TeardownRunStore,
    run_id: str,
    read_report: ReportReader,
    *,
    requested_by: str | None,
    reason: str,
    now: datetime,
) -> TeardownRetryInput:
    """The input of the next ``drill_teardown_retry`` of run ``run_id``, if one may start now.

    NotFoundError for no such run; ConflictError (HTTP 409, with what to do) for a run that is not a drill,
    is still running, has no stored report, whose report leaves nothing behind, or has a retry running. The
    step states come from the step sub-orchestrations' outputs (their StepOutcome.state), the one record of
    what each step created that outlives the run.
    """
    run = await recovery_run(store, run_id, show_input=True)
    run_input = read_model(RunInput, run.input)
    if run_input is None:
        raise ConflictError(f"run {run_id} has no readable input: its teardown cannot be rebuilt", code="RunUnreadable")
    if run_input.mode != "drill":
        raise ConflictError(
            f"run {run_id} is a {run_input.mode}, not a drill: only a drill tears down what it created",
            code="NotADrill",
        )
    if run.active:
        raise ConflictError(
            f"run {run_id} is still running ({run.runtime_status}): it tears down at its end; retry after that",
            code="RunInProgress",
        )
    try:
        stored = await read_report(run_id)
    except NotFoundError:
        raise ConflictError(
            f"run {run_id} has no stored report: nothing says what its teardown left behind", code="NoReport"
        ) from None
    behind = left_behind(stored)
    if not behind:
        raise ConflictError(
            f"run {run_id}: its report shows nothing left behind to tear down", code="NothingLeftBehind"
        )
    running = [r for r in await store.active(teardown_retry_prefix(run_id)) if retry_number(run_id, r.instance_id)]
    if running:
        raise ConflictError(
            f"run {run_id}: teardown retry {running[0].instance_id} is still running", code="TeardownRetryInProgress"
        )
    retry = await _next_retry(store, run, stored, now)
    targets = [await _target(store, run_id, entry.step) for entry in behind]
    started_at = _report_time(stored.get("started_at")) or run.created or now
    teardown = DrillTeardownInput(
        run_id=run_id,
        plan=run_input.plan,
        min_poll_seconds=run_input.min_poll_seconds,
        started_at=started_at,
        force=run_input.force,
        attempt=retry + 1,
        steps=targets,
    )
    return TeardownRetryInput(
        run_id=run_id, retry=retry, teardown=teardown, requested_by=requested_by, reason=reason, requested_at=now
    )


async def _next_retry(store: TeardownRunStore, run: RunSnapshot, stored: Mapping[str, Any], now: datetime) -> int:
    """One past the highest retry seen: among the retry instances (any status) and the report's record.

    Both, because either can be missing the last one: a retry that failed before rewriting the report, or
    instance history that was purged. A number reused would restart (and overwrite) an old retry's instance.
    """
    # A retry starts after its run: from the run's creation (with slack for clock skew) to now.
    since = (run.created or now) - timedelta(minutes=5)
    instances = await store.created_between(since, now + timedelta(minutes=5), teardown_retry_prefix(run.instance_id))
    numbers = [retry_number(run.instance_id, instance.instance_id) for instance in instances]
    recorded = stored.get("teardown_retries")
    if isinstance(recorded, list):
        numbers += [item.get("retry") for item in recorded if isinstance(item, Mapping)]
    return max([n for n in numbers if isinstance(n, int)], default=0) + 1


async def _target(store: RunStore, run_id: str, step_id: str) -> TeardownTarget:
    step = await store.status(step_instance_id(run_id, step_id))
    outcome = read_model(StepOutcome, step.output) if step is not None else None
    if outcome is None:
        raise ConflictError(
            f"run {run_id}: step {step_id!r} left no readable outcome (its instance history may have been purged):"
            " what it created is unknown, clean it up by hand",
            code="StepStateUnavailable",
        )
    return TeardownTarget(step=step_id, state=outcome.state)


def _report_time(value: Any) -> datetime | None:
    """The report's ``started_at`` (the run's start, as RunState wrote it), if it reads as a time."""
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
