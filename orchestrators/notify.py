"""Notifications from the recovery orchestrator: one activity call at the approval wait and at the end of a
run, only when the plan has ``notify`` and asks for that event (dr.notify).

A notification is never on the critical path's failure side: an activity that fails (twice at most) or a
webhook that does not take the message becomes a warning of the run, and the run goes on as it would have.
Deterministic: the message is built from the orchestration's state and clock alone.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from dr.notify import NOTIFY_ACTIVITY, Notification, NotifyResult, approval_wait, outcome, request_for
from dr.plan import NotifyPolicy, RetryPolicy
from dr.run import RunReport, RunState

from .step import StepFailed, call_with_retry

# At most two tries of the activity itself (dr.notify.send retries the webhook within its own short budget).
NOTIFY_RETRY = RetryPolicy(attempts=2, first_interval=timedelta(seconds=1))


def notify_approval_wait(context: df.DurableOrchestrationContext, state: RunState) -> Generator[Any, Any]:
    """Tell the plan's channel the run waits for an approver and what it will do (call before the wait)."""
    now = context.current_utc_datetime
    message = approval_wait(state.run_id, state.run, state.approval, state.will_do(), now)
    warning = yield from _notify(context, state.plan.notify, message)
    if warning:
        state.warnings.append(warning)


def notify_outcome(
    context: df.DurableOrchestrationContext, state: RunState, report: RunReport
) -> Generator[Any, Any, RunReport]:
    """Tell the plan's channel how the run ended; the report, with a warning when that failed."""
    warning = yield from _notify(context, state.plan.notify, outcome(report, context.current_utc_datetime))
    return report.model_copy(update={"warnings": [*report.warnings, warning]}) if warning else report


def _notify(
    context: df.DurableOrchestrationContext, policy: NotifyPolicy | None, message: Notification
) -> Generator[Any, Any, str | None]:
    request = request_for(policy, message)
    if request is None:
        return None
    try:
        answer = yield from call_with_retry(context, NOTIFY_ACTIVITY, request, NOTIFY_RETRY)
    except StepFailed as failed:
        return f"notification {message.event!r} not sent: {failed.failure.message[:300]}"
    return NotifyResult.model_validate(answer).warning
