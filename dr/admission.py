"""Run admission: whether a recovery run may start, take an approval decision, or be canceled.

Both ways in (the alert webhook and the operator API) ask the same questions here, with one set of statuses
that count as a run in progress. The Durable backend is reached through ``RunStore``, the few queries and
commands admission needs, which triggers/instances.py adapts the Durable client to: so the decisions and the
cancel sequence are plain code, unit-tested with an in-memory store, and the HTTP handlers only translate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .clients import get_clients
from .errors import ConflictError, NotFoundError
from .plan import Mode
from .report import write_report
from .run import (
    RECOVERY_ORCHESTRATOR,
    RunCustomStatus,
    RunInput,
    RunReport,
    canceled_report,
    read_model,
    run_id_prefix,
    step_instance_id,
)

# The runtime statuses (the Durable HTTP API's names) of a run in progress, for every question asked here:
# - Pending: started, its first episode not run yet: it will run.
# - Running.
# - Suspended: paused through the management API, it resumes where it stopped (a resumed failover still
#   switches traffic); meanwhile it can be terminated, and a raised event waits for the resume. So it holds
#   its plan as firmly as a running run, and can still be approved or canceled.
# Not ContinuedAsNew: neither the recovery orchestrator nor the step orchestrator calls continue_as_new, so
# no run or step is ever in it (it is the instant between two generations, which these never have).
# Completed, Failed, Terminated and Canceled are over. A tuple, not a set: the instance query sends them in
# this order.
ACTIVE_STATUSES: tuple[str, ...] = ("Running", "Pending", "Suspended")

DEFAULT_CANCEL_REASON = "canceled by operator"


@dataclass(frozen=True)
class RunSnapshot:
    """An orchestration instance as the Durable status API answered (plain values, no SDK types)."""

    instance_id: str
    name: str | None
    runtime_status: str
    created: datetime | None = None
    updated: datetime | None = None
    input: Any = None
    custom_status: Any = None
    output: Any = None

    @property
    def active(self) -> bool:
        return self.runtime_status in ACTIVE_STATUSES

    @property
    def is_recovery(self) -> bool:
        return self.name == RECOVERY_ORCHESTRATOR

    def custom(self) -> RunCustomStatus | None:
        """The run's last published status (None before its first episode publishes one)."""
        return read_model(RunCustomStatus, self.custom_status)

    def running_steps(self) -> list[str]:
        """The steps the last published status shows running: each has a step sub-orchestration."""
        custom = self.custom()
        return [step_id for step_id, step in custom.steps.items() if step.status == "running"] if custom else []


class RunStore(Protocol):
    """What admission asks of the Durable backend."""

    async def status(self, instance_id: str, *, show_input: bool = False) -> RunSnapshot | None:
        """The instance, or None when there is none."""
        ...

    async def active(self, instance_id_prefix: str) -> list[RunSnapshot]:
        """Every instance in ACTIVE_STATUSES whose id starts with the prefix (all pages)."""
        ...

    async def terminate(self, instance_id: str, reason: str) -> None: ...


@dataclass(frozen=True)
class Refusal:
    """Why a run is not started, and the run that is the reason."""

    reason: str
    run_id: str


@dataclass(frozen=True)
class Cancellation:
    by: str
    reason: str
    report_url: str


async def recovery_run(store: RunStore, instance_id: str, *, show_input: bool = False) -> RunSnapshot:
    """The recovery run of that id; NotFoundError for no instance or another orchestrator's."""
    run = await store.status(instance_id, show_input=show_input)
    if run is None or not run.is_recovery:
        raise NotFoundError(f"no recovery run {instance_id!r}", code="RunNotFound")
    return run


async def failover_in_progress(store: RunStore, plan_name: str) -> RunSnapshot | None:
    """The plan's failover run in progress, if any: one failover of a plan at a time, whoever starts it."""
    runs = await store.active(run_id_prefix(plan_name, "failover"))
    return next((run for run in runs if run.is_recovery), None)


async def admit_operator_start(store: RunStore, plan_name: str, mode: Mode) -> None:
    """An operator's start: ConflictError for a failover while the plan has one in progress (drills run freely)."""
    if mode != "failover":
        return
    running = await failover_in_progress(store, plan_name)
    if running is not None:
        raise ConflictError(f"plan {plan_name!r} already has failover run {running.instance_id} in progress")


async def alert_refusal(store: RunStore, plan_name: str, instance_id: str) -> Refusal | None:
    """Why an alert does not start run ``instance_id`` of the plan, or None when it may.

    A webhook retry of the same alert instance finds the run it started (the instance id derives from the
    alert); another alert for a plan whose failover is in progress is ignored, not queued.
    """
    if await store.status(instance_id) is not None:
        return Refusal(f"duplicate alert: run {instance_id} already exists", instance_id)
    running = await failover_in_progress(store, plan_name)
    if running is not None:
        return Refusal(f"plan {plan_name!r} already has run {running.instance_id} in progress", running.instance_id)
    return None


async def awaiting_approval(store: RunStore, instance_id: str) -> RunSnapshot:
    """The run, if an approval decision may be raised to it now; ConflictError otherwise."""
    run = await recovery_run(store, instance_id)
    custom = run.custom()
    phase = custom.phase if custom else None
    if not run.active or phase != "awaiting_approval":
        raise ConflictError(f"run {instance_id} is not awaiting approval (status {run.runtime_status}, phase {phase})")
    return run


def store_report(report: RunReport) -> str:
    """Write the report to the reports container; its URL."""
    return write_report(get_clients(), report)


async def cancel_run(
    store: RunStore,
    instance_id: str,
    *,
    by: str,
    reason: str,
    now: datetime,
    write: Callable[[RunReport], str] = store_report,
) -> Cancellation:
    """Terminate a run in progress and its running steps, and write its Canceled report.

    The terminated orchestrator cannot write the report itself: it is built here from the run's input and
    its last published status. Steps run as sub-orchestrations, which terminating the parent leaves running:
    each one the status shows running is terminated too.
    """
    reason = reason or DEFAULT_CANCEL_REASON
    run = await recovery_run(store, instance_id, show_input=True)
    if not run.active:
        raise ConflictError(f"run {instance_id} is {run.runtime_status}: nothing to cancel")
    await store.terminate(instance_id, f"canceled by {by}: {reason}")
    for step_id in run.running_steps():
        step_run_id = step_instance_id(instance_id, step_id)
        step = await store.status(step_run_id)
        if step is not None and step.active:
            await store.terminate(step_run_id, f"run canceled by {by}")
    run_input = read_model(RunInput, run.input)
    if run_input is None:
        raise ValueError(f"run {instance_id} has no readable input: no report can be built")
    report = canceled_report(instance_id, run_input, run.custom_status, by=by, reason=reason, at=now)
    return Cancellation(by=by, reason=reason, report_url=write(report))
