"""Run admission: whether a recovery run may start, take an approval decision, or be canceled.

Both ways in (the alert webhook and the operator API) ask the same questions here, with one set of statuses
that count as a run in progress. The Durable backend is reached through ``RunStore``, the few queries and
commands admission needs, which triggers/instances.py adapts the Durable client to: so the decisions and the
cancel sequence are plain code, unit-tested with an in-memory store, and the HTTP handlers only translate.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from .clients import get_clients
from .durations import iso, parse_time
from .errors import ConflictError, NotFoundError, TransientError
from .graph import merge_live_status
from .intake import ApproveRequest
from .plan import Mode
from .report import write_report
from .run import (
    CANCEL_EVENT,
    RECOVERY_ORCHESTRATOR,
    ApprovalDecision,
    CancelRequest,
    RunCustomStatus,
    RunInput,
    RunReport,
    canceled_report,
    is_run_id,
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

    async def raise_event(self, instance_id: str, name: str, data: dict[str, Any]) -> None:
        """Raise an external event to an instance (the cancel event to a run and its running steps).
        ConflictError when the instance ended meanwhile."""
        ...

    async def signal_graph(self, run_id: str, operation: str, request: dict[str, Any]) -> None:
        """Signal an operation to the run's graph entity (dr.graph.RUN_GRAPH_ENTITY)."""
        ...

    async def read_graph(self, run_id: str) -> Any:
        """The run's graph entity state as stored (None when the entity does not exist)."""
        ...

    async def signal_lock(self, plan_name: str, operation: str, request: dict[str, Any]) -> None:
        """Signal operation ``acquire`` or ``release`` to the plan's lock entity (PLAN_LOCK_ENTITY)."""
        ...

    async def read_lock(self, plan_name: str) -> Any:
        """The plan's lock entity state as stored (None when the entity does not exist yet)."""
        ...


@dataclass(frozen=True)
class Refusal:
    """Why a run is not started, and the run that is the reason."""

    reason: str
    run_id: str


@dataclass(frozen=True)
class Cancellation:
    by: str
    reason: str
    hard: bool
    report_url: str | None = None
    settling: list[str] = field(default_factory=list)


async def recovery_run(store: RunStore, instance_id: str, *, show_input: bool = False) -> RunSnapshot:
    """The recovery run of that id; NotFoundError for no instance or another orchestrator's (and, without
    asking the backend, for an id that is not of the form this app gives runs)."""
    if not is_run_id(instance_id):
        raise NotFoundError(f"no recovery run {instance_id!r}", code="RunNotFound")
    run = await store.status(instance_id, show_input=show_input)
    if run is None or not run.is_recovery:
        raise NotFoundError(f"no recovery run {instance_id!r}", code="RunNotFound")
    return run


# -- the per-plan failover lock ----------------------------------------------------------------------------
#
# At most one failover of a plan at a time, under any interleaving of alerts and operators: a Durable entity
# per plan (PLAN_LOCK_ENTITY, key = plan name) holds the run id of the failover that owns the plan. The
# backend runs one entity's operations one at a time, in order, so "acquire" is an atomic compare-and-set;
# the starter signals it with a fresh request id and reads the entity's answer for that id back from its
# state (a client can signal an entity and read its state, not call it). The run releases the lock when it
# ends (the recovery orchestrator signals "release"), cancel_run releases it after terminating; "release"
# only frees a lock its run holds. A lock whose holder is no longer active (a run that failed before its
# release, a starter that died between acquire and start) is freed by the next starter: "release" for that
# holder, which cannot free a lock someone else took meanwhile, then acquire again.

PLAN_LOCK_ENTITY = "plan_lock"
LOCK_ANSWERS_KEPT = 64
LOCK_ANSWER_WAIT_SECONDS = 20.0
GRAPH_CANCEL_WAIT_SECONDS = 20.0
# A holder with no instance yet may be a start between its acquire and start_new: stale only after this.
LOCK_START_GRACE = timedelta(minutes=2)


class LockAnswer(BaseModel):
    request: str
    granted: bool
    holder: str


class PlanLockState(BaseModel):
    """The lock entity's state."""

    model_config = ConfigDict(extra="ignore")

    holder: str | None = None
    since: str | None = None
    answers: list[LockAnswer] = Field(default_factory=list)

    def answer(self, request: str) -> LockAnswer | None:
        return next((answer for answer in self.answers if answer.request == request), None)


class LockRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str = Field(min_length=1)
    request: str = ""
    at: str | None = None


def plan_lock_operation(state: Any, operation: str, request: Any) -> dict[str, Any]:
    """One operation of the lock entity: the new state (pure; the entity function only adapts)."""
    lock = PlanLockState.model_validate(state) if isinstance(state, dict) else PlanLockState()
    ask = LockRequest.model_validate(request)
    if operation == "acquire":
        granted = lock.holder is None
        if granted:
            lock.holder, lock.since = ask.run_id, ask.at
        answer = LockAnswer(request=ask.request, granted=granted, holder=lock.holder or ask.run_id)
        lock.answers = [*lock.answers, answer][-LOCK_ANSWERS_KEPT:]
    elif operation == "release":
        if lock.holder == ask.run_id:
            lock.holder, lock.since = None, None
    else:
        raise ValueError(f"plan lock has no operation {operation!r}")
    return lock.model_dump(mode="json")


class PlanLocked(ConflictError):
    """The plan's failover lock is held by another run (``holder``)."""

    default_code = "FailoverInProgress"

    def __init__(self, plan_name: str, holder: str) -> None:
        super().__init__(f"plan {plan_name!r}: failover already in progress: {holder}")
        self.holder = holder


async def _lock_answer(store: RunStore, plan_name: str, request: str, wait: float) -> LockAnswer:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    delay = 0.02
    while True:
        raw = await store.read_lock(plan_name)
        if isinstance(raw, dict):
            answer = PlanLockState.model_validate(raw).answer(request)
            if answer is not None:
                return answer
        if loop.time() >= deadline:
            raise TransientError(
                f"plan {plan_name!r}: the failover lock did not answer in {wait:.0f}s", code="LockBusy"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)


async def _holder_is_stale(store: RunStore, plan_name: str, holder: str, now: datetime) -> bool:
    run = await store.status(holder)
    if run is not None:
        return not run.active
    raw = await store.read_lock(plan_name)
    since = PlanLockState.model_validate(raw).since if isinstance(raw, dict) else None
    try:
        taken = parse_time(since) if since else None
    except ValueError:
        taken = None
    return taken is None or now - taken > LOCK_START_GRACE


async def acquire_plan(
    store: RunStore, plan_name: str, run_id: str, *, now: datetime, wait: float = LOCK_ANSWER_WAIT_SECONDS
) -> None:
    """Take the plan's failover lock for ``run_id``; PlanLocked (naming the holder) when another run has it.

    A lock held by a run that is no longer active is freed and taken (once per call)."""
    for attempt in range(2):
        request = uuid.uuid4().hex
        await store.signal_lock(plan_name, "acquire", {"run_id": run_id, "request": request, "at": iso(now)})
        answer = await _lock_answer(store, plan_name, request, wait)
        if answer.granted:
            return
        if attempt == 0 and answer.holder != run_id and await _holder_is_stale(store, plan_name, answer.holder, now):
            await store.signal_lock(plan_name, "release", {"run_id": answer.holder})
            continue
        raise PlanLocked(plan_name, answer.holder)


async def release_plan(store: RunStore, plan_name: str, run_id: str) -> None:
    """Free the plan's lock if ``run_id`` holds it (a no-op otherwise)."""
    await store.signal_lock(plan_name, "release", {"run_id": run_id})


# The modes that move production: one run of them per plan at a time (the plan lock), whoever starts it.
LOCKING_MODES: tuple[Mode, ...] = ("failover", "failback")


def takes_plan_lock(mode: str) -> bool:
    return mode in LOCKING_MODES


async def failover_in_progress(store: RunStore, plan_name: str) -> RunSnapshot | None:
    """The plan's failover or failback in progress, if any (one query: every run of the plan, drills left out
    by their ids)."""
    runs = await store.active(run_id_prefix(plan_name))
    locking = tuple(run_id_prefix(plan_name, mode) for mode in LOCKING_MODES)
    return next((run for run in runs if run.is_recovery and run.instance_id.startswith(locking)), None)


async def admit_operator_start(
    store: RunStore, plan_name: str, mode: Mode, instance_id: str | None = None, *, now: datetime | None = None
) -> None:
    """An operator's start: PlanLocked (a ConflictError naming the holder) for a failover while the plan has
    one in progress; drills run freely. With ``instance_id`` a failover takes the plan's lock for that run:
    the caller starts the run, or releases the lock (release_plan) if it cannot."""
    if not takes_plan_lock(mode):
        return
    running = await failover_in_progress(store, plan_name)  # a fast answer; the lock is what decides
    if running is not None:
        raise PlanLocked(plan_name, running.instance_id)
    if instance_id is not None:
        await acquire_plan(store, plan_name, instance_id, now=now or datetime.now().astimezone())


def duplicate_alert(instance_id: str) -> Refusal:
    return Refusal(f"duplicate alert: run {instance_id} already exists", instance_id)


async def alert_refusal(
    store: RunStore, plan_name: str, instance_id: str, *, lock: bool = False, now: datetime | None = None
) -> Refusal | None:
    """Why an alert does not start run ``instance_id`` of the plan, or None when it may.

    A webhook retry of the same alert instance finds the run it started (the instance id derives from the
    alert); another alert for a plan whose failover is in progress is ignored, not queued. With ``lock``,
    None means the caller holds the plan's lock for ``instance_id`` and no such instance exists: it starts
    the run (a start that meets "already exists" is a duplicate too).
    """
    # Both reads at once: each is a round trip to the Durable backend, on the path from alert to failover.
    existing, running = await asyncio.gather(store.status(instance_id), failover_in_progress(store, plan_name))
    if existing is not None:
        return duplicate_alert(instance_id)
    if running is not None:
        return _lock_refusal(plan_name, instance_id, running.instance_id)
    if not lock:
        return None
    try:
        await acquire_plan(store, plan_name, instance_id, now=now or datetime.now().astimezone())
    except PlanLocked as locked:
        return _lock_refusal(plan_name, instance_id, locked.holder)
    # Holding the lock for this id, nobody else can create it; it may have run and ended before we took it.
    if await store.status(instance_id) is not None:
        await release_plan(store, plan_name, instance_id)
        return duplicate_alert(instance_id)
    return None


def _lock_refusal(plan_name: str, instance_id: str, holder: str) -> Refusal:
    if holder == instance_id:
        return duplicate_alert(instance_id)
    return Refusal(f"plan {plan_name!r}: failover already in progress: {holder}", holder)


async def awaiting_approval(store: RunStore, instance_id: str) -> RunSnapshot:
    """The run, if an approval decision may be raised to it now; ConflictError otherwise."""
    run = await recovery_run(store, instance_id)
    custom = run.custom()
    phase = custom.phase if custom else None
    if not run.active or phase != "awaiting_approval":
        raise ConflictError(f"run {instance_id} is not awaiting approval (status {run.runtime_status}, phase {phase})")
    return run


class ForwardCancelInput(BaseModel):
    """The forward_cancel activity's input: a run's cancel, for the first steps it started (dr.graph)."""

    run_id: str
    steps: list[str]
    cancel: CancelRequest


async def raise_cancel_to_steps(store: RunStore, run_id: str, step_ids: list[str], request: CancelRequest) -> None:
    """Raise a run's cancel to each of these steps still active (one that finished has nothing to settle)."""
    for step_id in step_ids:
        step = await store.status(step_instance_id(run_id, step_id))
        if step is not None and step.active:
            with contextlib.suppress(ConflictError):  # it finished meanwhile
                await store.raise_event(step.instance_id, CANCEL_EVENT, request.model_dump())


async def _graph_canceled(store: RunStore, run_id: str, wait: float = GRAPH_CANCEL_WAIT_SECONDS) -> None:
    """Wait (bounded) until the run's graph entity shows the cancel: signals are queued, not applied at once."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        state = await store.read_graph(run_id)
        if isinstance(state, dict) and state.get("canceled_by"):
            return
        if asyncio.get_running_loop().time() >= deadline:
            raise TransientError(f"run {run_id}: the cancel did not reach its step graph in {wait:.0f} s; try again")
        await asyncio.sleep(0.1)


def with_live_steps(run: RunSnapshot, graph: Any) -> RunSnapshot:
    """The run as the status API shows it: while its steps run, each step's state comes from the run's graph
    entity (the orchestrator publishes nothing while it waits for them)."""
    custom = run.custom()
    if graph is None or custom is None or custom.phase not in ("running", "canceling"):
        return run
    merged = merge_live_status(custom.model_dump(mode="json"), graph)
    return replace(run, custom_status=merged)


def approval_over_preflight(run: RunSnapshot, request: ApproveRequest) -> ApprovalDecision:
    """The approval to raise, or ConflictError when the run's pre-flight failed and the approver did not say
    they go on knowing it (the failed checks are in the run's status; the refusal repeats them)."""
    custom = run.custom()
    failed = custom.approval.preflight_failed if custom else []
    if failed and not request.override_failed_checks:
        shown = "; ".join(failed[:5]) + (f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
        raise ConflictError(
            f"pre-flight failed for run {run.instance_id}: {shown}. Nothing has changed yet. To go on anyway, "
            'approve with "override_failed_checks": true',
            code="PreflightFailed",
        )
    return ApprovalDecision(
        approved=True,
        by=request.by or "unknown",
        reason=request.reason,
        override_failed_checks=request.override_failed_checks,
        overrides=request.overrides(),
    )


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
    hard: bool = False,
    write: Callable[[RunReport], str] = store_report,
) -> Cancellation:
    """Cancel a run in progress.

    Graceful (the default): the cancel event goes to the run and to each step it shows running. The run
    starts nothing new; steps whose cloud operation goes on regardless watch it settle (bounded), the others
    stop at their next poll; the run then writes its own Canceled report, each step as what really happened.

    ``hard``: terminate the run and its running steps now and write the Canceled report here (the terminated
    orchestrator cannot). What the running steps started may go on in Azure: the report names them.
    """
    reason = reason or DEFAULT_CANCEL_REASON
    run = await recovery_run(store, instance_id, show_input=True)
    if not run.active:
        raise ConflictError(f"run {instance_id} is {run.runtime_status}: nothing to cancel")
    custom = run.custom()
    if not hard:
        if custom is not None and custom.phase in ("reporting", "done"):
            raise ConflictError(f"run {instance_id} is writing its report: nothing left to cancel")
        request = CancelRequest(by=by, reason=reason)
        # The run first: it starts its first steps itself, and one that hears the cancel before that starts
        # none (during pre-flight) or raises it to those it started (dr.graph).
        await store.raise_event(instance_id, CANCEL_EVENT, request.model_dump())
        # Then the graph (no step starts from now on), and only once it has taken the cancel, the running set:
        # a step the graph started before that is in the set and hears the cancel; none starts after it.
        await store.signal_graph(instance_id, "cancel", {"by": by, "at": iso(now)})
        await _graph_canceled(store, instance_id)
        run = await recovery_run(store, instance_id)
        running = run.running_steps()
        await raise_cancel_to_steps(store, instance_id, running, request)
        return Cancellation(by=by, reason=reason, hard=False, settling=running)
    await store.terminate(instance_id, f"canceled by {by}: {reason}")
    for step_id in run.running_steps():
        step_run_id = step_instance_id(instance_id, step_id)
        step = await store.status(step_run_id)
        if step is not None and step.active:
            await store.terminate(step_run_id, f"run canceled by {by}")
    run_input = read_model(RunInput, run.input)
    if run_input is not None:
        await release_plan(store, run_input.plan.name, instance_id)
    if run_input is None:
        raise ValueError(f"run {instance_id} has no readable input: no report can be built")
    report = canceled_report(instance_id, run_input, run.custom_status, by=by, reason=reason, at=now)
    return Cancellation(by=by, reason=reason, hard=True, report_url=write(report))
