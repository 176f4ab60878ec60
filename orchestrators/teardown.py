"""A drill's teardown as a sub-orchestration (``drill_teardown``), and the operator's retry of one that left
resources behind (``drill_teardown_retry``): undo again, then rewrite the stored report to say what is
still left behind."""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
from pydantic import ValidationError

from dr.errors import parse_failure
from dr.report import ReadReportInput, WriteReportInput
from dr.run import STEP_ORCHESTRATOR
from dr.steps.base import TeardownResult
from dr.teardown import (
    DRILL_TEARDOWN_ORCHESTRATOR,
    TEARDOWN_RETRY_ORCHESTRATOR,
    DrillTeardownInput,
    DrillTeardownOutput,
    StepTeardown,
    TeardownRetryInput,
    TeardownRetryResult,
    drill_teardown_instance_id,
    with_teardown_retry,
)

from .step import REPORT_RETRY, StepFailed, call_with_retry

bp = df.Blueprint()


# How the Durable runtime words a failed orchestration's reason; the step orchestrator's own message follows.
_ORCHESTRATION_FAILED = re.compile(r"^\s*Orchestrator function '[^']*' failed: ")


def _failed(exc: Exception) -> TeardownResult:
    """A failed sub-orchestration as the report shows it: its own message (a step's teardown raises its
    failure's message, a crash its exception's), without the runtime's wording around it or the traceback
    the SDK appends."""
    text = _ORCHESTRATION_FAILED.sub("", str(exc))
    failure = parse_failure(text)
    if failure.code == "UnexpectedError":  # not "[category:code] ..." (the step orchestrator drops those)
        return TeardownResult.failed(failure.message.strip() or "teardown failed")
    return TeardownResult.failed(f"[{failure.category}:{failure.code}] {failure.message}")


@bp.orchestration_trigger(context_name="context", orchestration=DRILL_TEARDOWN_ORCHESTRATOR)
def drill_teardown(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    """Undo the input's steps one at a time in reverse plan order (a step's undo may need the steps it ran
    after still in place). A step whose undo fails is reported with its error and the next one goes on."""
    run = DrillTeardownInput.model_validate(context.get_input())
    results: list[StepTeardown] = []
    for target in run.in_undo_order():
        step_input = run.step_input(target, context.current_utc_datetime)
        try:
            answer = yield context.call_sub_orchestrator(
                STEP_ORCHESTRATOR, step_input.model_dump(mode="json"), instance_id=run.step_instance_id(target)
            )
            result = TeardownResult.model_validate(answer or {})
        except Exception as exc:  # the SDK raises a bare Exception carrying the sub-orchestration's message
            result = _failed(exc)
        results.append(StepTeardown(step=target.step, result=result))
    return DrillTeardownOutput(steps=results).model_dump(mode="json")


@bp.orchestration_trigger(context_name="context", orchestration=TEARDOWN_RETRY_ORCHESTRATOR)
def drill_teardown_retry(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    """Undo the steps the stored report shows left behind, then rewrite that report.

    The teardown comes first: it is the work that matters, and a report that cannot be read or written
    must not stop it. The report is read just before it is rewritten, so the rewrite starts from what is
    stored then; the output carries the results either way.
    """
    retry = TeardownRetryInput.model_validate(context.get_input())
    run_id = retry.run_id
    try:
        answer = yield context.call_sub_orchestrator(
            DRILL_TEARDOWN_ORCHESTRATOR,
            retry.teardown.model_dump(mode="json"),
            instance_id=drill_teardown_instance_id(run_id, retry.teardown.attempt),
        )
        outcome = DrillTeardownOutput.model_validate(answer)
    except Exception as exc:  # drill_teardown reports step failures; this is the orchestration itself failing
        failed = _failed(exc)
        outcome = DrillTeardownOutput(steps=[StepTeardown(step=t.step, result=failed) for t in retry.teardown.steps])

    warnings: list[str] = []
    report_url: str | None = None
    try:
        stored = yield from call_with_retry(context, "read_report", ReadReportInput(instance_id=run_id), REPORT_RETRY)
        report = with_teardown_retry(stored, retry, outcome, context.instance_id, context.current_utc_datetime)
        still_behind = report.left_behind
        report_url = yield from call_with_retry(context, "write_report", WriteReportInput(report=report), REPORT_RETRY)
    except (StepFailed, ValidationError) as failed_io:  # storage down, or a stored report that is not one
        why = failed_io.failure.message if isinstance(failed_io, StepFailed) else "the stored report is unreadable"
        warnings.append(f"report not updated: {why}")
        still_behind = outcome.left_behind(retry.teardown.plan)
    result = TeardownRetryResult(
        run_id=run_id,
        retry=retry.retry,
        steps=outcome.steps,
        left_behind=still_behind,
        report_url=report_url,
        warnings=warnings,
    )
    return result.model_dump(mode="json")
