"""The recovery orchestrator: pre-flight, the approval gate, then the plan's step graph (each step starts the
moment its own dependencies succeeded, dr.graph), then the report.

Pre-flight reads every step's preconditions before anything changes (dr.steps.base.StepKind.check): in a
failover a failed check stops the run before its first change unless an approver goes on knowing what fails;
a drill records them and goes as far as it can. A cancel stops new steps and lets running ones settle.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from dr.admission import PLAN_LOCK_ENTITY, ForwardCancelInput
from dr.durations import format_duration
from dr.failback import PrimaryHealthRecord, PrimaryProbe, PrimaryProbeInput
from dr.graph import RUN_GRAPH_ENTITY, GraphState, PlanRequest, first_starts
from dr.plan_state import RecordPlanStateInput
from dr.report import WriteReportInput
from dr.run import (
    APPROVAL_EVENT,
    RECOVERY_ORCHESTRATOR,
    STEP_ORCHESTRATOR,
    ApprovalDecision,
    CancelRequest,
    RunInput,
    RunResult,
    RunState,
    StepOutcome,
    event_data,
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
from dr.whatif import PreflightInput, PreflightResult, predict

from .notify import notify_approval_wait, notify_outcome
from .step import REPORT_RETRY, CancelWaiters, StepFailed, call_with_retry, step_outcomes, wait_for_steps

bp = df.Blueprint()

Publish = Callable[[], None]


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
    if run.mode in ("failover", "failback"):
        release = {"run_id": context.instance_id}
        context.signal_entity(df.EntityId(PLAN_LOCK_ENTITY, run.plan.name), "release", release)


def _recovery(context: df.DurableOrchestrationContext, run: RunInput) -> Generator[Any, Any, dict[str, Any]]:
    plan = run.plan
    state = RunState(context.instance_id, run, plan, context.current_utc_datetime)
    outcomes: dict[str, StepOutcome] = {}

    def publish() -> None:
        context.set_custom_status(state.custom_status(context.current_utc_datetime).model_dump(mode="json"))

    # Every wait of the run listens for its cancel: the primary-health rounds, pre-flight, the approval gate
    # and the step graph, each with a waiter of its own.
    cancels = CancelWaiters(context)
    primary_healthy = True
    if run.mode == "failback":
        primary_healthy = yield from _primary_health(context, state, publish, cancels)
    state.phase = "preflight"
    publish()
    preflight = yield from _preflight(context, state, publish, cancels)
    blocking = run.mode in ("failover", "failback") and bool(state.failed_checks())
    over_budget = _predict(state, context.current_utc_datetime, preflight)
    if not primary_healthy or state.cancel is not None:
        pass  # every step is already marked: the failback changed nothing, or the run was canceled
    elif over_budget and plan.rpo_budget_exceeded == "abort":
        _refuse_over_budget(state, context.current_utc_datetime)
    elif plan.approval.required or blocking or over_budget:
        yield from _approval_gate(context, state, publish, cancels, blocking=blocking)
    if primary_healthy and not state.rejected and state.cancel is None:
        state.phase = "running"
        publish()
        yield from _run_steps(context, state, outcomes, publish, cancels)
    if run.mode == "drill" and state.plan.drill.teardown and outcomes:
        state.phase = "teardown"
        publish()
        yield from _teardown(context, state, outcomes)
        state.teardown_finished_at = context.current_utc_datetime

    if run.mode in ("failover", "failback"):
        yield from _record_plan_state(context, state)

    state.phase = "reporting"
    publish()
    report = state.report(context.current_utc_datetime)
    report = yield from notify_outcome(context, state, report)  # a failure to notify is a warning in the report
    try:
        url = yield from call_with_retry(
            context,
            "write_report",
            WriteReportInput(report=report, plan=state.plan.model_dump(mode="json")),
            REPORT_RETRY,
        )
        result = RunResult.stored(report, url)
    except StepFailed as failed:
        result = RunResult.not_stored(report, failed.failure.message)
    state.phase = "done"
    publish()
    return result.model_dump(mode="json")


def _primary_health(
    context: df.DurableOrchestrationContext, state: RunState, publish: Publish, cancels: CancelWaiters
) -> Generator[Any, Any, bool]:
    """A failback's first gate: the primary answers healthily ``probes`` rounds in a row, spread over the
    plan's window, before anything is read for pre-flight or changed. A region just back often flaps: a miss
    starts the streak again. No streak within ``give_up_after``, or a cancel: every step is marked not run.

    Each wait listens for a cancel with a fresh waiter (CancelWaiters); a cancel that arrives during a probe
    completes an earlier one, so every waiter is looked at after each probe."""
    policy = state.plan.failback.primary_health
    record = PrimaryHealthRecord.start(policy)
    state.primary_health = record
    state.phase = "primary_health"
    publish()
    probe_input = PrimaryProbeInput.of(state.plan).model_dump(mode="json")
    give_up_at = context.current_utc_datetime + policy.give_up_after
    while True:
        try:
            answer = yield context.call_activity("probe_primary", probe_input)
            probe_round = PrimaryProbe.model_validate(answer)
        except Exception as exc:  # the probe activity itself failed: not a healthy round
            probe_round = PrimaryProbe(ok=False, urls=[], at=None)
            record.verdict = f"probe failed to run: {str(exc)[:200]}"
        record.add(probe_round, context.current_utc_datetime)
        publish()
        now = context.current_utc_datetime
        if cancels.heard() is not None:
            break
        if record.healthy:
            return True
        if now + timedelta(seconds=record.interval_seconds) > give_up_at:
            break
        timer = context.create_timer(now + timedelta(seconds=record.interval_seconds))
        waiter = cancels.fresh()
        if (yield context.task_any([timer, waiter])) is waiter:
            timer.cancel()
            break
    now = context.current_utc_datetime
    heard = cancels.heard()
    if heard is not None:
        state.request_cancel(heard, now)
        why = "run canceled while waiting for the primary to be healthy"
    else:
        why = (
            f"the primary was not healthy {record.required_probes} probes in a row within "
            f"{format_duration(policy.give_up_after)} ({record.verdict}): the failback changed nothing"
        )
        record.verdict = f"gave up: {why}"
    for step_id, step_record in state.steps.items():
        if step_record.status == "pending":
            state.mark_skipped(step_id, f"not started: {why}", now)
    publish()
    return False


def _record_plan_state(context: df.DurableOrchestrationContext, state: RunState) -> Generator[Any, Any]:
    """Which side serves now and which way protection runs (dr.plan_state): stored for the failback, the
    standing sync and the alert webhook's anti-flap rule, and shown in the report. Storing it may fail: the
    report then says so, and the plan's state is stale until the next run."""
    request = RecordPlanStateInput(
        plan=state.plan.name,
        run_id=state.run_id,
        mode=state.run.mode,
        status=state.status(),
        traffic_statuses=state.traffic_statuses(),
        at=context.current_utc_datetime,
        regions=state.plan.regions,
    )
    try:
        answer = yield from call_with_retry(context, "record_plan_state", request, REPORT_RETRY)
        state.estate_after = dict(answer)
    except StepFailed as failed:
        state.estate_after = {"error": f"the plan's state was not stored: {failed.failure.message[:300]}"}


def _preflight(
    context: df.DurableOrchestrationContext, state: RunState, publish: Publish, cancels: CancelWaiters
) -> Generator[Any, Any, PreflightResult]:
    """Every step's read-only checks, all at once in one activity, before anything changes; and what the
    plan's past runs measured, for the prediction (none when unreadable: it never holds a run back). A
    pre-flight that could not run at all is a failed check of every step: it never passes by not looking.

    A cancel raised while it runs is heard here, so no step starts (the first steps start in the episode that
    has the pre-flight's answer, dr.graph); the checks still finish, read-only, for the report."""
    now = context.current_utc_datetime
    payloads = {
        step.id: StepCheckInput(context=state.step_input(step.id, now).context).model_dump(mode="json")
        for step in state.plan.steps
    }
    request = PreflightInput(plan=state.plan.name, checks=payloads)
    failure = ""
    checking = context.call_activity("preflight", request.model_dump())
    try:
        if (yield context.task_any([checking, cancels.fresh()])) is not checking:
            state.request_cancel(_heard(cancels), context.current_utc_datetime)
            publish()
            answer = yield checking  # raises as any yield does if the activity failed
        elif isinstance(checking.result, Exception):  # task_any hands back a failed child without raising
            raise checking.result
        else:
            answer = checking.result
        result = PreflightResult.model_validate(answer)
    except Exception as exc:
        result = PreflightResult(checks={}, history_error=f"the pre-flight did not run: {str(exc)[:300]}")
        failure = str(exc)[:500]
    for step_id in payloads:
        checks = result.checks.get(step_id)
        if checks is None:
            checks = [Check.failed("check_ran", f"the pre-flight check could not run: {failure or 'no answer'}")]
        state.record_checks(step_id, checks, context.current_utc_datetime)
    return result


def _predict(state: RunState, now: datetime, preflight: PreflightResult) -> bool:
    """What pre-flight predicts (dr.whatif.predict: pure, so replays agree; ``preflight.history``: what the
    plan's past runs measured, an activity's recorded answer), kept for the report; True when
    the data-loss gate applies: an alert-started failover whose predicted RPO exceeds the plan's rpo_budget
    (an unknown RPO exceeds any budget: it cannot be shown to fit). A prediction that fails never blocks a run."""
    checks = {step_id: record.checks for step_id, record in state.steps.items()}
    try:
        evaluation = predict(state.plan, checks, now=now, history=preflight.history)
    except Exception as exc:  # a bug in a model must not stand between an outage and its failover
        state.prediction = {"error": f"no prediction: {type(exc).__name__}: {str(exc)[:300]}"}
        return False
    stores = [store.model_dump(mode="json") for store in evaluation.stores]
    state.prediction = {
        "rto_seconds": evaluation.predicted_rto_seconds,
        "service_restored_seconds": evaluation.predicted_service_restored_seconds,
        "uncalibrated_steps": evaluation.uncalibrated_steps,
        **({"history_error": preflight.history_error} if preflight.history_error else {}),
        "rpo_seconds": evaluation.predicted_rpo_seconds,
        "rpo_bound_by": evaluation.rpo_bound_by,
        "critical_path": evaluation.critical_path,
        "rpo_by_store": stores,
    }
    budget = state.plan.rpo_budget
    if budget is None or state.run.mode != "failover" or state.run.trigger.get("source") != "alert":
        return False
    rpo = evaluation.predicted_rpo_seconds
    if rpo is not None and rpo <= budget.total_seconds():
        return False
    state.approval.rpo_budget_seconds = budget.total_seconds()
    state.approval.data_at_risk = stores
    return True


def _refuse_over_budget(state: RunState, now: datetime) -> None:
    rpo = state.prediction.get("rpo_seconds") if state.prediction else None
    state.rejected = True
    state.approval.required = True
    state.approval.decision = "refused_over_rpo_budget"
    state.approval.decided_at = now
    state.approval.reason = (
        f"predicted data loss {'unknown' if rpo is None else f'{rpo:.0f} s'} exceeds the plan's rpo_budget of "
        f"{state.approval.rpo_budget_seconds:.0f} s (rpo_budget_exceeded: abort): nothing was changed"
    )


def _approval_gate(
    context: df.DurableOrchestrationContext,
    state: RunState,
    publish: Publish,
    cancels: CancelWaiters,
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
    yield from notify_approval_wait(context, state)  # before the wait: the approver learns of it at once
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event(APPROVAL_EVENT)
    cancel = cancels.fresh()
    if cancels.heard() is not None:  # raised while the approver was notified: an earlier open waiter has it
        winner = cancel
    else:
        winner = yield context.task_any([event, timer, cancel])
    now = context.current_utc_datetime
    if winner == cancel:
        timer.cancel()
        state.request_cancel(_heard(cancels), now)
        state.approval.decision = "rejected"
        state.approval.reason = "run canceled while awaiting approval"
    elif winner == event:
        timer.cancel()
        decision = event_data(ApprovalDecision, event.result)
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
    cancels: CancelWaiters,
) -> Generator[Any, Any]:
    """The step graph: each step starts the moment its own 'after' steps succeeded (dr.graph: the run's graph
    entity holds the graph; a finishing step starts its ready dependents itself), at most max_parallel_steps
    at once; a failed step skips its dependents while independent branches go on.

    This orchestrator starts the first steps itself, in this episode (dr.graph.first_starts), tells the graph,
    and waits for them, the subtrees they start included (each step's outcome carries its descendants'); a
    cancel stops new starts and lets the running steps settle. Every compound it yields holds only new tasks,
    as the extension's shim needs (see dr.graph).
    """
    graph = df.EntityId(RUN_GRAPH_ENTITY, state.run_id)
    now = context.current_utc_datetime
    request = PlanRequest(
        steps=[
            {
                "id": step.id,
                "after": list(step.after),
                "input": state.step_input(step.id, now, in_graph=True).model_dump(mode="json"),
            }
            for step in state.plan.steps
        ],
        max_parallel=state.plan.max_parallel_steps,
        at=now,
    )
    starts = first_starts(request)
    for start in starts:
        state.mark_running(start.id, now)
    publish()
    told = request.model_copy(update={"started": [start.id for start in starts]})
    context.signal_entity(graph, "plan", told.model_dump(mode="json"))
    roots = {
        start.id: context.call_sub_orchestrator(
            STEP_ORCHESTRATOR, start.input, instance_id=step_instance_id(state.run_id, start.id)
        )
        for start in starts
    }
    wave = context.task_all(list(roots.values()))
    # task_any hands back a failed child: it never raises
    if (yield context.task_any([wave, cancels.fresh()])) is not wave:
        # The API told the graph (no new starts) and the steps it saw running (they settle within their bound).
        state.phase = "canceling"
        state.request_cancel(_heard(cancels), context.current_utc_datetime)
        publish()
        yield from _forward_cancel(context, state, roots)
    # Waiting on the already-yielded roots issues no action.
    yield from wait_for_steps(context, list(roots.values()), wave)
    for outcome in step_outcomes(roots.values()):
        outcomes[outcome.id] = outcome
        state.record_outcome(outcome)
    final = GraphState.model_validate((yield context.call_entity(graph, "state", {})))
    _record_the_rest(state, final, roots, context.current_utc_datetime)
    publish()
    context.signal_entity(graph, "delete")


def _heard(cancels: CancelWaiters) -> CancelRequest:
    heard = cancels.heard()
    assert heard is not None, "a cancel waiter won without a cancel"
    return heard


def _forward_cancel(
    context: df.DurableOrchestrationContext, state: RunState, roots: dict[str, Any]
) -> Generator[Any, Any]:
    """Raise the cancel to the first steps still running. The API raised it to the steps it saw running, but a
    cancel can cross the episode that starts the first steps (they were not in the graph yet when the API read
    it, dr.graph); a step that hears it twice takes the second as a no-op. Not delivered: the report says so."""
    unfinished = [step_id for step_id, task in roots.items() if not task.is_completed]
    if not unfinished or state.cancel is None:
        return
    request = ForwardCancelInput(
        run_id=state.run_id, steps=unfinished, cancel=CancelRequest(by=state.cancel.by, reason=state.cancel.reason)
    )
    try:
        yield context.call_activity("forward_cancel", request.model_dump(mode="json"))
    except Exception as exc:
        state.warnings.append(f"the cancel may not have reached {', '.join(unfinished)}: {str(exc)[:300]}")


def _record_the_rest(state: RunState, graph: GraphState, roots: dict[str, Any], now: datetime) -> None:
    """Steps with no outcome: skipped or canceled ones as the graph says; a step whose orchestration crashed
    (its subtree's outcomes lost with it) as failed, and what it would have started as not run."""
    for step_id, record in state.steps.items():
        if record.status not in ("pending", "running"):
            continue
        seen = graph.steps.get(step_id)
        root = roots.get(step_id)
        if root is not None and root.state.name != "SUCCEEDED":
            state.record_unexpected_failure(step_id, str(root.result), now)
        elif seen is not None and seen.status == "skipped":
            state.mark_skipped(step_id, seen.summary + state.checks_note(step_id), now)
        elif seen is not None and seen.status == "canceled":
            state.mark_canceled(step_id, seen.summary or "not started: run canceled", now)
        elif seen is not None and seen.status == "running":
            state.record_unexpected_failure(step_id, "its step orchestration ended without an outcome", now)
        else:
            state.mark_skipped(step_id, "not started: a step before it ended without an outcome", now)


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
