"""The recovery orchestrator: approval gate, then the plan's step graph in waves, then the report."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from dr.admission import PLAN_LOCK_ENTITY
from dr.plan import RetryPolicy
from dr.report import WriteReportInput
from dr.run import (
    APPROVAL_EVENT,
    RECOVERY_ORCHESTRATOR,
    STEP_ORCHESTRATOR,
    ApprovalDecision,
    RunInput,
    RunResult,
    RunState,
    StepOutcome,
    step_instance_id,
)
from dr.steps.base import TeardownResult

from .step import StepFailed, call_with_retry

bp = df.Blueprint()

REPORT_RETRY = RetryPolicy(attempts=6, first_interval=timedelta(seconds=2))


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

    if plan.approval.required:
        yield from _approval_gate(context, state, publish)
    if not state.rejected:
        state.phase = "running"
        publish()
        yield from _run_steps(context, state, outcomes, publish)
        if run.mode == "drill" and plan.drill.teardown:
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


def _approval_gate(context: df.DurableOrchestrationContext, state: RunState, publish: Any) -> Generator[Any, Any]:
    policy = state.plan.approval
    deadline = context.current_utc_datetime + policy.timeout
    state.phase = "awaiting_approval"
    state.approval.deadline = deadline
    publish()
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event(APPROVAL_EVENT)
    winner = yield context.task_any([event, timer])
    now = context.current_utc_datetime
    if winner == event:
        timer.cancel()
        raw = event.result
        decision = ApprovalDecision.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
        state.approval.decision = "approved" if decision.approved else "rejected"
        state.approval.by = decision.by
        state.approval.reason = decision.reason
        state.rejected = not decision.approved
    else:
        proceed = policy.on_timeout == "proceed"
        state.approval.decision = "timed_out_proceed" if proceed else "timed_out_abort"
        state.approval.reason = f"no decision within {policy.timeout}"
        state.rejected = not proceed
    state.approval.decided_at = now
    publish()


def _run_steps(
    context: df.DurableOrchestrationContext,
    state: RunState,
    outcomes: dict[str, StepOutcome],
    publish: Any,
) -> Generator[Any, Any]:
    """Waves: every step whose dependencies succeeded starts together; a failed step skips its dependents
    while independent branches go on."""
    while state.pending():
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
        try:
            yield context.task_all(tasks)
        except Exception:
            # A step orchestration crashed (not a step failure: those come back as outcomes). Wait for
            # the rest one by one so every outcome is recorded.
            for task in tasks:
                if not task.is_completed:
                    with contextlib.suppress(Exception):
                        yield task
        for step_id, task in zip(ready, tasks, strict=True):
            if task.state.name == "SUCCEEDED":
                outcome = StepOutcome.model_validate(task.result)
                outcomes[step_id] = outcome
                state.record_outcome(outcome)
            else:
                state.record_unexpected_failure(step_id, str(task.result), context.current_utc_datetime)
        publish()


def _teardown(
    context: df.DurableOrchestrationContext, state: RunState, outcomes: dict[str, StepOutcome]
) -> Generator[Any, Any]:
    """Undo a drill in reverse plan order; a teardown failure is reported on its step, never raised."""
    for step in reversed(state.plan.steps):
        outcome = outcomes.get(step.id)
        if outcome is None:
            continue
        step_input = state.step_input(step.id, context.current_utc_datetime).for_teardown(outcome.state)
        record = state.steps[step.id]
        try:
            answer = yield context.call_sub_orchestrator(
                STEP_ORCHESTRATOR,
                step_input.model_dump(mode="json"),
                instance_id=step_instance_id(state.run_id, f"{step.id}-teardown"),
            )
            record.teardown = TeardownResult.model_validate(answer)
        except Exception as exc:
            record.teardown = TeardownResult.failed(str(exc))
            record.warnings = [*record.warnings, "teardown failed: drill resources may be left behind"]
