"""The recovery orchestrator: pre-flight, the approval gate, then the plan's step graph in waves, then the
report.

Pre-flight reads every step's preconditions before anything changes (dr.steps.base.StepKind.check): in a
failover a failed check stops the run before its first change unless an approver goes on knowing what fails;
a drill records them and goes as far as it can. A cancel stops new steps and lets running ones settle.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from dr.admission import PLAN_LOCK_ENTITY
from dr.report import WriteReportInput
from dr.run import (
    APPROVAL_EVENT,
    CANCEL_EVENT,
    RECOVERY_ORCHESTRATOR,
    STEP_ORCHESTRATOR,
    ApprovalDecision,
    CancelRequest,
    RunInput,
    RunResult,
    RunState,
    StepOutcome,
    step_instance_id,
)
from dr.steps.base import Check, StepCheckInput, TeardownResult
from dr.teardown import (
    DRILL_TEARDOWN_ORCHESTRATOR,
    TEARDOWN_WARNING,
    DrillTeardownInput,
    DrillTeardownOutput,
    drill_teardown_instance_id,
)

from .step import REPORT_RETRY, StepFailed, call_with_retry

bp = df.Blueprint()

Publish = Callable[[], None]


def _payload(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


@bp.orchestration_trigger(context_name="context", orchestration=RECOVERY_ORCHESTRATOR)
def recovery(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    run = RunInput.model_validate(context.get_input())
    # A failover holds its plan's lock (dr.admission.acquire_plan) until it ends: the release signal goes out
    # with the episode that completes (or fails) the run. Not a `finally`: closing the suspended generator
    # at the end of every episode would run it. A run terminated (cancel_run releases) or lost before this
    # leaves a lock the next starter frees, having seen that its holder is no longer active.
    try:
        result = yield from _recovery(context, run)
    except Exception:
        _release_plan(context, run)
        raise
    _release_plan(context, run)
    return result


def _release_plan(context: df.DurableOrchestrationContext, run: RunInput) -> None:
    if run.mode == "failover":
        release = {"run_id": context.instance_id}
        context.signal_entity(df.EntityId(PLAN_LOCK_ENTITY, run.plan.name), "release", release)


def _recovery(context: df.DurableOrchestrationContext, run: RunInput) -> Generator[Any, Any, dict[str, Any]]:
    plan = run.plan
    state = RunState(context.instance_id, run, plan, context.current_utc_datetime)
    outcomes: dict[str, StepOutcome] = {}

    def publish() -> None:
        context.set_custom_status(state.custom_status(context.current_utc_datetime).model_dump(mode="json"))

    # One cancel event for the whole run: the approval wait and the step graph both listen to it.
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    state.phase = "preflight"
    publish()
    yield from _preflight(context, state)
    blocking = run.mode == "failover" and bool(state.failed_checks())
    if plan.approval.required or blocking:
        yield from _approval_gate(context, state, publish, cancel, blocking=blocking)
    if not state.rejected and state.cancel is None:
        state.phase = "running"
        publish()
        yield from _run_steps(context, state, outcomes, publish, cancel)
    if run.mode == "drill" and state.plan.drill.teardown and outcomes:
        state.phase = "teardown"
        publish()
        yield from _teardown(context, state, outcomes)

    state.phase = "reporting"
    publish()
    report = state.report(context.current_utc_datetime)
    try:
        url = yield from call_with_retry(context, "write_report", WriteReportInput(report=report), REPORT_RETRY)
        result = RunResult.stored(report, url)
    except StepFailed as failed:
        result = RunResult.not_stored(report, failed.failure.message)
    state.phase = "done"
    publish()
    return result.model_dump(mode="json")


def _preflight(context: df.DurableOrchestrationContext, state: RunState) -> Generator[Any, Any]:
    """Every step's read-only checks, all at once, before anything changes. A check activity that could not
    run at all is a failed check: pre-flight never passes by not looking."""
    now = context.current_utc_datetime
    step_ids = [step.id for step in state.plan.steps]
    tasks = [
        context.call_activity(
            "step_check", StepCheckInput(context=state.step_input(step_id, now).context).model_dump(mode="json")
        )
        for step_id in step_ids
    ]
    with contextlib.suppress(Exception):
        yield context.task_all(tasks)
    for step_id, task in zip(step_ids, tasks, strict=True):
        if task.state.name == "SUCCEEDED":
            checks = [Check.model_validate(item) for item in task.result or []]
        else:
            checks = [Check.failed("check_ran", f"the pre-flight check could not run: {str(task.result)[:500]}")]
        state.record_checks(step_id, checks)


def _approval_gate(
    context: df.DurableOrchestrationContext,
    state: RunState,
    publish: Publish,
    cancel: Any,
    *,
    blocking: bool,
) -> Generator[Any, Any]:
    """Wait for an approver. ``blocking``: pre-flight failed in a failover, so only an approval that
    overrides the failed checks goes on, and a timeout always aborts (nobody saw what fails)."""
    policy = state.plan.approval
    deadline = context.current_utc_datetime + policy.timeout
    state.phase = "awaiting_approval"
    state.approval.required = True
    state.approval.deadline = deadline
    state.approval.preflight_failed = state.failed_checks() if blocking else []
    publish()
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event(APPROVAL_EVENT)
    winner = yield context.task_any([event, timer, cancel])
    now = context.current_utc_datetime
    if winner == cancel:
        timer.cancel()
        state.request_cancel(CancelRequest.model_validate(_payload(cancel.result)), now)
        state.approval.decision = "rejected"
        state.approval.reason = "run canceled while awaiting approval"
    elif winner == event:
        timer.cancel()
        decision = ApprovalDecision.model_validate(_payload(event.result))
        state.approval.by = decision.by
        state.approval.reason = decision.reason
        approved = decision.approved
        if approved and blocking:
            state.approval.overrode_failed_checks = decision.override_failed_checks
            if not decision.override_failed_checks:  # the API refuses this; an event raised by hand may not
                approved = False
                state.approval.reason = "approved without override_failed_checks while pre-flight failed"
        state.approval.decision = "approved" if approved else "rejected"
        state.rejected = not approved
        if approved and decision.overrides is not None:
            state.approval.overrides = decision.overrides
            state.apply_overrides(decision.overrides)
    else:
        proceed = policy.on_timeout == "proceed" and not blocking
        state.approval.decision = "timed_out_proceed" if proceed else "timed_out_abort"
        state.approval.reason = f"no decision within {policy.timeout}" + (
            " (pre-flight failed: a timeout never goes on)" if blocking else ""
        )
        state.rejected = not proceed
    state.approval.decided_at = now
    publish()


def _run_steps(
    context: df.DurableOrchestrationContext,
    state: RunState,
    outcomes: dict[str, StepOutcome],
    publish: Publish,
    cancel: Any,
) -> Generator[Any, Any]:
    """Waves: every step whose dependencies succeeded starts together; a failed step skips its dependents
    while independent branches go on. A cancel stops new waves; the running one settles.

    Why waves and not a task_any over the running set: the SDK leaves tasks yielded before out of a new
    compound action, and the extension's shim awaits each yielded action in order (OutOfProcOrchestrationShim.
    ProcessAsyncActionsV2), so a task_any over old and new tasks resumes Python on an old task while the host
    still awaits the new ones: every action issued in between waits (azure-functions-durable-python #603).
    A wave's compound holds only new tasks (and the cancel waiter, which nothing issues actions after).
    """
    while state.pending() and state.cancel is None:
        ready, skip = state.ready_steps()
        for step_id, reason in skip.items():
            state.mark_skipped(step_id, reason, context.current_utc_datetime)
        if not ready:
            if not skip:  # unreachable for a validated (acyclic) plan; never spin
                break
            continue
        now = context.current_utc_datetime
        tasks = []
        for step_id in ready:
            state.mark_running(step_id, now)
            tasks.append(
                context.call_sub_orchestrator(
                    STEP_ORCHESTRATOR,
                    state.step_input(step_id, now).model_dump(mode="json"),
                    instance_id=step_instance_id(state.run_id, step_id),
                )
            )
        publish()
        wave = context.task_all(tasks)
        try:
            winner = yield context.task_any([wave, cancel])
            if winner is cancel:
                # No new wave; the running steps heard the cancel too (the API raises it to each) and
                # settle within their own bound. Waiting on the already-yielded wave issues no action.
                state.phase = "canceling"
                state.request_cancel(
                    CancelRequest.model_validate(_payload(cancel.result)), context.current_utc_datetime
                )
                publish()
                yield wave
        except Exception:
            # A step orchestration crashed (not a step failure: those come back as outcomes). Wait for
            # the rest one by one so every outcome is recorded.
            for task in tasks:
                if not task.is_completed:
                    with contextlib.suppress(Exception):
                        yield task
        _collect_finished(state, dict(zip(ready, tasks, strict=True)), outcomes, context.current_utc_datetime)
        publish()


def _collect_finished(
    state: RunState, started: dict[str, Any], outcomes: dict[str, StepOutcome], now: datetime
) -> None:
    """Record the outcome of every step of a finished wave."""
    for step_id, task in started.items():
        if task.state.name == "SUCCEEDED":
            outcome = StepOutcome.model_validate(task.result)
            outcomes[step_id] = outcome
            state.record_outcome(outcome)
        else:
            # A step orchestration crashed (not a step failure: those come back as outcomes).
            state.record_unexpected_failure(step_id, str(task.result), now)


def _teardown(
    context: df.DurableOrchestrationContext, state: RunState, outcomes: dict[str, StepOutcome]
) -> Generator[Any, Any]:
    """Undo a drill (reverse plan order) through drill_teardown, the sub-orchestration an operator's
    teardown retry runs too; a teardown failure is reported on its step, never raised."""
    request = DrillTeardownInput.from_outcomes(
        state.run_id,
        state.plan,
        state.run.min_poll_seconds,
        outcomes,
        started_at=state.started_at,
        force=state.run.force,
    )
    try:
        answer = yield context.call_sub_orchestrator(
            DRILL_TEARDOWN_ORCHESTRATOR,
            request.model_dump(mode="json"),
            instance_id=drill_teardown_instance_id(state.run_id, request.attempt),
        )
        results = DrillTeardownOutput.model_validate(answer)
    except Exception as exc:  # the teardown orchestration itself failed: every step may be left behind
        for step_id in outcomes:
            state.steps[step_id].teardown = TeardownResult.failed(str(exc))
            state.steps[step_id].warnings = [*state.steps[step_id].warnings, TEARDOWN_WARNING]
        return
    for entry in results.steps:
        record = state.steps[entry.step]
        record.teardown = entry.result
        if entry.failed:
            record.warnings = [*record.warnings, TEARDOWN_WARNING]
