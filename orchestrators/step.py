"""One step of a plan as a sub-orchestration: begin, then poll on durable timers (the monitor pattern),
fanning out the work items a kind asks for. It completes with a StepOutcome even when the step fails, so
the parent sees every outcome and one failed step never hides its siblings' results."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df
from pydantic import BaseModel

from dr.confirmation import (
    STEP_CONFIRMED_EVENT,
    ConfirmationWait,
    ManualState,
    StepConfirmation,
    with_confirmation,
    with_timeout,
)
from dr.durations import iso
from dr.errors import Failure, StepTimeoutError, parse_failure
from dr.graph import RUN_GRAPH_ENTITY, FinishedRequest, GraphAnswer
from dr.plan import RetryPolicy, StepBase
from dr.run import (
    CANCEL_EVENT,
    STEP_ORCHESTRATOR,
    CancelRequest,
    StepCustomStatus,
    StepOutcome,
    StepRunInput,
    event_data,
    step_instance_id,
)
from dr.steps import spec_of
from dr.steps.base import (
    StepBeginInput,
    StepPollInput,
    StepProgress,
    StepTeardownInput,
    StepWorkInput,
    TeardownResult,
)

bp = df.Blueprint()

TEARDOWN_LIMIT = timedelta(minutes=30)
# Reading and writing a run report ride out a storage blip (transient failures only; see call_with_retry).
REPORT_RETRY = RetryPolicy(attempts=6, first_interval=timedelta(seconds=2))
# How long a step whose cloud operation goes on regardless keeps watching it after a cancel.
CANCEL_SETTLE_LIMIT = timedelta(minutes=10)
# A first step that finished before its run's plan reached the graph asks again (dr.graph: in principle only).
PLAN_PENDING_RETRY = timedelta(seconds=1)
PLAN_PENDING_LIMIT = timedelta(minutes=10)


class StepFailed(Exception):
    def __init__(self, failure: Failure, attempts: int) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.attempts = attempts


def call_with_retry(
    context: df.DurableOrchestrationContext,
    activity: str,
    payload: BaseModel,
    policy: RetryPolicy,
    *,
    first_failure: Exception | None = None,
) -> Generator[Any, Any, Any]:
    """Call an activity with its input model (as JSON); retry only what the activity called transient,
    waiting on durable timers. ``first_failure``: the first try was yielded elsewhere (with a cancel waiter)
    and failed so; the retries go on from there.

    The SDK's own retry option retries every failure, including a refused precondition; this one
    reads the failure's category (see dr.errors.parse_failure) and gives up at once on permanent ones.
    """
    attempt = 1
    error = first_failure
    while True:
        if error is not None:
            failure = parse_failure(str(error))
            if not failure.retryable or attempt >= policy.attempts:
                raise StepFailed(failure, attempt) from None
            attempt += 1
            yield context.create_timer(context.current_utc_datetime + policy.delay_before(attempt))
        try:
            return (yield context.call_activity(activity, payload.model_dump(mode="json")))
        except Exception as exc:  # the SDK raises a bare Exception carrying the activity's message
            error = exc


@bp.orchestration_trigger(context_name="context", orchestration=STEP_ORCHESTRATOR)
def recovery_step(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    run = StepRunInput.model_validate(context.get_input())
    if run.operation == "teardown":
        return (yield from _teardown(context, run, run.retry)).as_dict()
    outcome = yield from _run(context, run)
    if run.graph is not None:
        outcome = yield from _continue_graph(context, run.graph, outcome)
    return outcome.model_dump(mode="json")


def _continue_graph(
    context: df.DurableOrchestrationContext, run_id: str, outcome: StepOutcome
) -> Generator[Any, Any, StepOutcome]:
    """Tell the run's graph this step finished and start, as this step's own sub-orchestrations, the steps the
    answer says became ready (dr.graph explains why the finishing side starts them). Their outcomes (and
    theirs, transitively) come back in ``descendants`` for the run's report."""
    finished = FinishedRequest(step=outcome.id, status=outcome.status, summary=outcome.summary, at=outcome.finished_at)
    graph = df.EntityId(RUN_GRAPH_ENTITY, run_id)
    give_up_at = context.current_utc_datetime + PLAN_PENDING_LIMIT
    while True:
        answer = GraphAnswer.model_validate(
            (yield context.call_entity(graph, "finished", finished.model_dump(mode="json")))
        )
        if not answer.plan_pending:
            break
        if context.current_utc_datetime >= give_up_at:  # the run is gone: its report lists what never started
            note = f"the run's step graph never received its plan in {PLAN_PENDING_LIMIT}: no dependent started"
            return outcome.model_copy(update={"warnings": [*outcome.warnings, note]})
        yield context.create_timer(context.current_utc_datetime + PLAN_PENDING_RETRY)
    if not answer.start:
        return outcome
    children = [
        context.call_sub_orchestrator(STEP_ORCHESTRATOR, start.input, instance_id=step_instance_id(run_id, start.id))
        for start in answer.start
    ]
    yield from wait_for_steps(context, children, context.task_all(children))
    return outcome.model_copy(update={"descendants": step_outcomes(children)})


def wait_for_steps(context: df.DurableOrchestrationContext, tasks: list[Any], together: Any) -> Generator[Any, Any]:
    """Wait until every step sub-orchestration in ``tasks`` is done (``together``: their task_all). One that
    crashed (not a step failure: those come back as outcomes) does not stop the wait for the others."""
    try:
        yield together
    except Exception:
        for task in tasks:
            if not task.is_completed:
                with contextlib.suppress(Exception):
                    yield task


def step_outcomes(tasks: Iterable[Any]) -> list[StepOutcome]:
    """The outcome of each finished step sub-orchestration and, flattened after it, those of the steps it
    started (``descendants``); a crashed one has none."""
    found: list[StepOutcome] = []
    for task in tasks:
        if task.state.name == "SUCCEEDED":
            outcome = StepOutcome.model_validate(task.result)
            found += [outcome.model_copy(update={"descendants": []}), *outcome.descendants]
    return found


def _run(context: df.DurableOrchestrationContext, run: StepRunInput) -> Generator[Any, Any, StepOutcome]:
    """The step itself: begin, then poll on timers or fan out work, until done, failed or canceled."""
    policy = run.retry
    step = run.context.step
    started = context.current_utc_datetime
    # A step of a graph starts when its dependencies finish: its timeout counts from its own start.
    deadline = run.deadline or (started + step.timeout if run.graph is not None and step.timeout else None)
    spec = spec_of(step.kind)
    watch = _CancelWatch(context, settles=spec.settles_on_cancel)
    progress = StepProgress()
    calls = 0
    try:
        begin = StepBeginInput(context=run.context_at(started))
        first = context.call_activity("step_begin", begin.model_dump(mode="json"))
        try:
            answer = yield from watch.first(first)
        except Exception as exc:  # begin failed: retried if transient
            answer = yield from call_with_retry(context, "step_begin", begin, policy, first_failure=exc)
        progress = StepProgress.model_validate(answer)
        calls += 1
        if spec.waits_for_confirmation and not progress.done and not watch.stop_now(context.current_utc_datetime):
            decided = yield from _await_confirmation(context, run, progress, deadline, watch, policy, calls)
            if decided is None:
                return watch.canceled_outcome(step, progress, started, context.current_utc_datetime)
            progress = decided
            calls += 1
        while not progress.done:
            if watch.stop_now(context.current_utc_datetime):
                return watch.canceled_outcome(step, progress, started, context.current_utc_datetime)
            results: list[dict[str, Any]] = []
            if progress.work:
                try:
                    results = yield from _fan_out(context, run, progress, policy, watch)
                except _StoppedByCancel:
                    return watch.canceled_outcome(step, progress, started, context.current_utc_datetime)
            else:
                wait = max(progress.poll_after_seconds, run.min_poll_seconds)
                fire_at = context.current_utc_datetime + timedelta(seconds=wait)
                if deadline is not None:
                    fire_at = min(fire_at, deadline)
                yield context.create_timer(fire_at)
            if deadline is not None and context.current_utc_datetime >= deadline:
                raise StepFailed(
                    parse_failure(str(StepTimeoutError(f"step {step.id!r} did not finish within its timeout"))),
                    calls,
                )
            poll = StepPollInput(
                context=run.context_at(context.current_utc_datetime), state=progress.state, work_results=results
            )
            progress = StepProgress.model_validate((yield from call_with_retry(context, "step_poll", poll, policy)))
            calls += 1
            status = StepCustomStatus(step=step.id, summary=progress.summary, calls=calls)
            context.set_custom_status(status.model_dump(mode="json"))
    except StepFailed as failed:
        outcome = StepOutcome.of(
            step,
            progress,
            started_at=started,
            finished_at=context.current_utc_datetime,
            failure=failed.failure,
            attempts=failed.attempts,
            warnings=watch.late_note(progress),
        )
        return outcome
    return StepOutcome.of(
        step, progress, started_at=started, finished_at=context.current_utc_datetime, warnings=watch.late_note(progress)
    )


class CancelWaiters:
    """CANCEL_EVENT waiters of one orchestration, each yielded once, in a compound of new tasks.

    A waiter already yielded must never go into another compound: the SDK leaves it out of the compound's
    action and the extension's shim then awaits something else than the orchestrator (see dr.graph). So each
    wait that must end on a cancel takes a ``fresh`` waiter. The SDK, like the shim's stack of waiters
    (DurableOrchestrationContext.WaitForExternalEvent, azure-functions-durable-extension), hands an event
    to the newest waiter of its name, and an earlier waiter may have caught it: every waiter is read.
    """

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        self.waiters: list[Any] = []

    def fresh(self) -> Any:
        waiter = self.context.wait_for_external_event(CANCEL_EVENT)
        self.waiters.append(waiter)
        return waiter

    def heard(self) -> CancelRequest | None:
        """The cancel, once any waiter has it."""
        fired = next((waiter for waiter in self.waiters if waiter.is_completed), None)
        return None if fired is None else event_data(CancelRequest, fired.result)


class _CancelWatch(CancelWaiters):
    """The step's side of a graceful cancel (CANCEL_EVENT, raised by the operator API to each running step).

    A kind whose begin started a cloud operation that goes on regardless (KindSpec.settles_on_cancel) keeps
    polling until it settles or CANCEL_SETTLE_LIMIT passes, so the report says what really happened ("failover
    completed after cancel"); any other kind stops at its next poll or batch of work, reporting how far it got.

    Begin is yielded beside the first waiter; a later wait that must end on a cancel (a manual step's) takes
    a fresh one. A second cancel (the run forwards one to the steps it started, dr.graph) changes nothing.
    """

    def __init__(self, context: df.DurableOrchestrationContext, *, settles: bool) -> None:
        super().__init__(context)
        self.settles = settles
        self.event = self.fresh()
        self.request: CancelRequest | None = None
        self.heard_at: datetime | None = None

    def first(self, task: Any) -> Generator[Any, Any, Any]:
        """Yield the step's first task with the cancel waiter; its result (waited for even after a cancel:
        begin may have started the operation)."""
        winner = yield self.context.task_any([task, self.event])
        if winner is self.event:
            self._hear()
            return (yield task)  # raises as any yield does if the task failed
        if isinstance(task.result, Exception):  # task_any hands back a failed child without raising
            raise task.result
        return task.result

    def _hear(self) -> None:
        heard = self.heard()
        if self.request is None and heard is not None:
            self.request = heard
            self.heard_at = self.context.current_utc_datetime

    def stop_now(self, now: datetime) -> bool:
        self._hear()
        if self.request is None or self.heard_at is None:
            return False
        return not self.settles or now - self.heard_at >= CANCEL_SETTLE_LIMIT

    def canceled_outcome(self, step: StepBase, progress: StepProgress, started: datetime, now: datetime) -> StepOutcome:
        assert self.request is not None
        where = progress.summary or "nothing reported yet"
        if self.settles:
            summary = (
                f"canceled by {self.request.by}; still in progress {CANCEL_SETTLE_LIMIT} after the cancel "
                f"({where}): the operation may still complete in Azure"
            )
        else:
            summary = f"canceled by {self.request.by}; stopped at: {where}"
        return StepOutcome.of(step, progress, started_at=started, finished_at=now, canceled=summary)

    def late_note(self, progress: StepProgress) -> list[str]:
        """A step that finished after the cancel says so: the estate changed although the run was canceled."""
        self._hear()
        if self.request is None or self.heard_at is None:
            return []
        return [f"finished after the run was canceled at {iso(self.heard_at)}: {progress.summary}"[:500]]


def _await_confirmation(
    context: df.DurableOrchestrationContext,
    run: StepRunInput,
    progress: StepProgress,
    deadline: datetime | None,
    watch: _CancelWatch,
    policy: RetryPolicy,
    calls: int,
) -> Generator[Any, Any, StepProgress | None]:
    """A step that waits for a person (KindSpec.waits_for_confirmation): show the wait in the step's status,
    wait for the confirmation (dr.confirmation), the deadline or a cancel, then poll the kind once with what
    happened: the kind decides. None: canceled while waiting.

    One compound of three new tasks (a fresh cancel waiter: begin's was yielded already, see CancelWaiters). A
    confirmation raised while begin ran was kept by the SDK for this wait. A malformed one (raised around the
    API) fails the step: waiting again for the same name would hand the wait that same kept event again.
    """
    step = run.context.step
    wait = ConfirmationWait.of(ManualState.model_validate(progress.state), run.context.run_id, step.id, deadline)
    waiting = StepCustomStatus(step=step.id, summary=progress.summary, calls=calls, waiting=wait.model_dump())
    context.set_custom_status(waiting.model_dump(mode="json"))
    confirmed = context.wait_for_external_event(STEP_CONFIRMED_EVENT)
    cancel = watch.fresh()
    timer = context.create_timer(deadline) if deadline is not None else None
    winner = yield context.task_any([confirmed, cancel, *([timer] if timer is not None else [])])
    now = context.current_utc_datetime
    if winner is not timer and timer is not None:
        timer.cancel()
    if winner is cancel:
        watch.stop_now(now)
        return None
    if winner is confirmed:
        try:
            said = event_data(StepConfirmation, confirmed.result)
        except ValueError as error:  # pydantic's ValidationError, or JSON that does not parse
            why = f"a malformed confirmation was raised to the step: {str(error)[:300]}"
            raise StepFailed(Failure("permanent", "BadConfirmation", why), 1) from None
        state = with_confirmation(progress.state, said, now)
    else:
        state = with_timeout(progress.state, now)
    poll = StepPollInput(context=run.context_at(now), state=state)
    decided = StepProgress.model_validate((yield from call_with_retry(context, "step_poll", poll, policy)))
    context.set_custom_status(StepCustomStatus(step=step.id, summary=decided.summary, calls=calls + 1).model_dump())
    return decided


def _teardown(
    context: df.DurableOrchestrationContext, run: StepRunInput, policy: RetryPolicy
) -> Generator[Any, Any, TeardownResult]:
    """Undo a drill step; an undo that takes time is checked again on timers until done or the deadline."""
    deadline = context.current_utc_datetime + TEARDOWN_LIMIT
    result: TeardownResult | None = None
    while True:
        call = StepTeardownInput(context=run.context_at(context.current_utc_datetime), state=run.state, previous=result)
        answer = yield from call_with_retry(context, "step_teardown", call, policy)
        result = TeardownResult.model_validate(answer or {})
        if result.finished:
            return result
        if context.current_utc_datetime >= deadline:
            raise StepFailed(
                parse_failure(
                    str(StepTimeoutError(f"teardown still unfinished after {TEARDOWN_LIMIT}: {result.as_dict()}"))
                ),
                1,
            )
        wait = max(result.poll_after_seconds or 0.0, run.min_poll_seconds)
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=wait))


class _StoppedByCancel(Exception):
    """A cancel was heard between two batches of work items (a kind that does not settle stops there)."""


def _fan_out(
    context: df.DurableOrchestrationContext,
    run: StepRunInput,
    progress: StepProgress,
    policy: RetryPolicy,
    watch: _CancelWatch,
) -> Generator[Any, Any, list[dict[str, Any]]]:
    """Run the kind's work items, at most ``max_parallel`` at a time; results keep the items' order.

    Items are idempotent, so the SDK's retry (which retries any failure) is safe here; a kind reports
    per-item failures inside its results and raises only when the item could not run at all.
    """
    retry = df.RetryOptions(
        first_retry_interval_in_milliseconds=int(policy.first_interval.total_seconds() * 1000),
        max_number_of_attempts=policy.attempts,
    )
    retry.backoff_coefficient = policy.backoff
    retry.max_retry_interval_in_milliseconds = int(policy.max_interval.total_seconds() * 1000)
    results: list[dict[str, Any]] = []
    items = progress.work
    for start in range(0, len(items), progress.max_parallel):
        if start and watch.stop_now(context.current_utc_datetime):
            raise _StoppedByCancel
        batch = items[start : start + progress.max_parallel]
        tasks = [
            context.call_activity_with_retry(
                "step_work",
                retry,
                StepWorkInput(context=run.context_at(context.current_utc_datetime), item=item).model_dump(mode="json"),
            )
            for item in batch
        ]
        try:
            results.extend((yield context.task_all(tasks)))
        except Exception as exc:
            raise StepFailed(parse_failure(str(exc)), policy.attempts) from None
    return results
