"""The stuck-run watchdog: which active recovery runs have made no progress past a bound.

A run is stuck when, by its last published status (and ``now``):
- a step it shows running started longer ago than the step's ``timeout`` (from the run's plan snapshot)
  plus a grace: the step orchestrator fails a step at its deadline, so a step still "running" after it
  has stopped moving;
- it has been in a phase with no wait of its own (``starting``, ``reporting``) longer than a bound (the
  setting ``DR_WATCHDOG_PHASE_MINUTES``);
- it is awaiting approval past the approval deadline plus the grace.

The decision is a pure function (:func:`stuck_reason`); :func:`find_stuck` applies it to the active runs a
:class:`dr.admission.RunStore` answers, and :func:`log_line` renders the one structured log line per stuck
run that an Azure Monitor log alert fires on (see docs/deploy.md). Nothing here names a secret: ids, plan
names, phases and times only.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import AliasPath, BaseModel, ConfigDict, Field

from .admission import RunSnapshot
from .durations import Duration, format_duration, iso
from .run import RunCustomStatus, RunHeadline, read_model
from .settings import Settings

WATCHDOG_EVENT = "DrRunStuck"
BOUNDED_PHASES = frozenset({"starting", "reporting"})

StuckKind = Literal["step_deadline", "phase_bound", "approval_deadline"]


class WatchdogBounds(BaseModel):
    """How long is too long (from settings)."""

    model_config = ConfigDict(frozen=True)

    phase_bound: timedelta = Field(timedelta(minutes=30), description="Longest stay in starting / reporting.")
    grace: timedelta = Field(timedelta(minutes=5), description="Slack past a step's or the approval's deadline.")

    @classmethod
    def from_settings(cls, settings: Settings) -> WatchdogBounds:
        return cls(
            phase_bound=timedelta(minutes=settings.watchdog_phase_minutes),
            grace=timedelta(minutes=settings.watchdog_grace_minutes),
        )


class ActiveRuns(Protocol):
    """What the watchdog needs of a dr.admission.RunStore: the active instances (every page)."""

    async def active(self, instance_id_prefix: str) -> list[RunSnapshot]: ...


class StuckInfo(BaseModel):
    """Why a run counts as stuck (what the run view shows)."""

    kind: StuckKind
    reason: str
    since: datetime = Field(description="When the bounded wait began: the step started, the phase was entered.")
    deadline: datetime = Field(description="When the run should have moved on at the latest (bound included).")
    step: str | None = None


class StuckRun(BaseModel):
    run_id: str
    plan: str | None
    phase: str
    stuck: StuckInfo


class _StepBound(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    timeout: Duration | None = None


class _PlanBounds(BaseModel):
    """The step timeouts of a run's plan snapshot, read leniently from the orchestration input."""

    model_config = ConfigDict(extra="ignore")

    steps: list[_StepBound] = Field(default_factory=list, validation_alias=AliasPath("plan", "steps"))


def stuck_reason(run: RunSnapshot, now: datetime, bounds: WatchdogBounds) -> StuckInfo | None:
    """Whether (and why) an active recovery run has made no progress past its bounds; None when it is fine
    (or not an active recovery run)."""
    if not run.active or not run.is_recovery:
        return None
    custom = run.custom()
    if custom is None:  # no status published yet: starting since it was created
        since = run.created or run.updated
        return _phase_bound("starting", since, now, bounds) if since is not None else None
    if custom.phase in BOUNDED_PHASES:
        return _phase_bound(custom.phase, custom.updated_at, now, bounds)
    checks = {"awaiting_approval": _approval_overdue, "running": _step_overdue}
    check = checks.get(custom.phase)
    return check(run, custom, now, bounds) if check is not None else None


def _approval_overdue(
    run: RunSnapshot, custom: RunCustomStatus, now: datetime, bounds: WatchdogBounds
) -> StuckInfo | None:
    if custom.approval.deadline is None or now <= custom.approval.deadline + bounds.grace:
        return None
    return StuckInfo(
        kind="approval_deadline",
        reason=f"awaiting approval past its deadline {iso(custom.approval.deadline)}",
        since=custom.updated_at,
        deadline=custom.approval.deadline + bounds.grace,
    )


def _step_overdue(run: RunSnapshot, custom: RunCustomStatus, now: datetime, bounds: WatchdogBounds) -> StuckInfo | None:
    """The first step shown running past its timeout (plus the grace)."""
    plan = read_model(_PlanBounds, run.input)
    timeouts = {step.id: step.timeout for step in plan.steps} if plan else {}
    for step_id, step in custom.steps.items():
        timeout = timeouts.get(step_id)
        if step.status != "running" or step.started_at is None or timeout is None:
            continue
        deadline = step.started_at + timeout + bounds.grace
        if now > deadline:
            return StuckInfo(
                kind="step_deadline",
                reason=(
                    f"step {step_id!r} still running past its timeout {format_duration(timeout)} "
                    f"(started {iso(step.started_at)})"
                ),
                since=step.started_at,
                deadline=deadline,
                step=step_id,
            )
    return None


def _phase_bound(phase: str, since: datetime, now: datetime, bounds: WatchdogBounds) -> StuckInfo | None:
    deadline = since + bounds.phase_bound
    if now <= deadline:
        return None
    minutes = bounds.phase_bound.total_seconds() / 60
    return StuckInfo(
        kind="phase_bound",
        reason=f"in phase {phase!r} since {iso(since)}, longer than {minutes:g} minutes",
        since=since,
        deadline=deadline,
    )


async def find_stuck(store: ActiveRuns, now: datetime, bounds: WatchdogBounds) -> list[StuckRun]:
    """Every active recovery run that is stuck (runs of every plan: one active-instance query)."""
    found: list[StuckRun] = []
    for run in await store.active(""):
        stuck = stuck_reason(run, now, bounds)
        if stuck is None:
            continue
        custom = run.custom()
        headline = read_model(RunHeadline, run.input) or RunHeadline()
        found.append(
            StuckRun(
                run_id=run.instance_id,
                plan=headline.plan or (custom.plan if custom else None),
                phase=custom.phase if custom else "starting",
                stuck=stuck,
            )
        )
    found.sort(key=lambda item: item.run_id)
    return found


def log_record(stuck: StuckRun) -> dict[str, Any]:
    """The fields of the structured log line (fixed names: the log alert's query reads them)."""
    return {
        "event": WATCHDOG_EVENT,
        "run_id": stuck.run_id,
        "plan": stuck.plan,
        "phase": stuck.phase,
        "kind": stuck.stuck.kind,
        "step": stuck.stuck.step,
        "since": iso(stuck.stuck.since),
        "deadline": iso(stuck.stuck.deadline),
        "reason": stuck.stuck.reason,
    }


def log_line(stuck: StuckRun) -> str:
    """One line of JSON (the message of one log record per stuck run)."""
    return json.dumps(log_record(stuck), sort_keys=True, separators=(",", ":"))
