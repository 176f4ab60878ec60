"""One step of a plan as a sub-orchestration: begin, then poll on durable timers (the monitor pattern),
fanning out the work items a kind asks for. It completes with a StepOutcome even when the step fails, so
the parent sees every outcome and one failed step never hides its siblings' results."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from pydantic import BaseModel

from dr.errors import Failure, StepTimeoutError, parse_failure
from dr.plan import RetryPolicy
from dr.run import STEP_ORCHESTRATOR, StepCustomStatus, StepOutcome, StepRunInput
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


class StepFailed(Exception):
    def __init__(self, failure: Failure, attempts: int) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.attempts = attempts


def call_with_retry(
    context: df.DurableOrchestrationContext, activity: str, payload: BaseModel, policy: RetryPolicy
) -> Generator[Any, Any, Any]:
    """Call an activity with its input model (as JSON); retry only what the activity called transient,
    waiting on durable timers.

    The SDK's own retry option retries every failure, including a refused precondition; this one
    reads the failure's category (see dr.errors.parse_failure) and gives up at once on permanent ones.
    """
    attempt = 1
    while True:
        try:
            return (yield context.call_activity(activity, payload.model_dump(mode="json")))
        except Exception as exc:  # the SDK raises a bare Exception carrying the activity's message
            failure = parse_failure(str(exc))
            if not failure.retryable or attempt >= policy.attempts:
                raise StepFailed(failure, attempt) from None
            attempt += 1
            yield context.create_timer(context.current_utc_datetime + policy.delay_before(attempt))


@bp.orchestration_trigger(context_name="context", orchestration=STEP_ORCHESTRATOR)
def recovery_step(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    run = StepRunInput.model_validate(context.get_input())
    policy = run.retry
    step = run.context.step
    started = context.current_utc_datetime
    if run.operation == "teardown":
        return (yield from _teardown(context, run, policy)).as_dict()

    progress = StepProgress()
    calls = 0
    try:
        begin = StepBeginInput(context=run.context_at(started))
        progress = StepProgress.model_validate((yield from call_with_retry(context, "step_begin", begin, policy)))
        calls += 1
        while not progress.done:
            results: list[dict[str, Any]] = []
            if progress.work:
                results = yield from _fan_out(context, run, progress, policy)
            else:
                wait = max(progress.poll_after_seconds, run.min_poll_seconds)
                fire_at = context.current_utc_datetime + timedelta(seconds=wait)
                if run.deadline is not None:
                    fire_at = min(fire_at, run.deadline)
                yield context.create_timer(fire_at)
            if run.deadline is not None and context.current_utc_datetime >= run.deadline:
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
        )
        return outcome.model_dump(mode="json")
    outcome = StepOutcome.of(step, progress, started_at=started, finished_at=context.current_utc_datetime)
    return outcome.model_dump(mode="json")


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


def _fan_out(
    context: df.DurableOrchestrationContext, run: StepRunInput, progress: StepProgress, policy: RetryPolicy
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
