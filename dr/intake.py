"""What starts a run: operator requests and alerts, turned into orchestration inputs and instance ids."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .alert import Alert, alert_fingerprint, decode_alert_json
from .durations import iso
from .errors import ConflictError, InvalidInputError
from .failback import FailoverToUndo, failback_plan
from .plan import Mode, Plan
from .plan_state import PlanState
from .run import FailoverGroupMode, RunInput, RunOverrides, run_instance_id
from .settings import Settings

MAX_REQUEST_BYTES = 64 * 1024


class StartRequest(BaseModel):
    """Body of POST /api/recoveries."""

    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=80)
    mode: Mode | Literal["what_if"] = Field(
        "drill",
        description="what_if: evaluate the plan (checks and predicted RTO/RPO) now; nothing is started. "
        "failback: undo the plan's last failover (always waits for approval).",
    )
    reason: str = Field(min_length=1, max_length=2000)
    force: bool = Field(False, description="Override a refusal such as the traffic cool-down.")
    requested_by: str | None = Field(None, max_length=200)
    sql_failover_mode: FailoverGroupMode | None = Field(
        None, description="This run only: failover_mode of every sql_failover_group step (recorded in the report)."
    )


class DecisionRequest(BaseModel):
    """Body of POST /api/recoveries/{id}/approve | reject | cancel."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)
    by: str | None = Field(None, max_length=200)


class ApproveRequest(DecisionRequest):
    """Body of POST /api/recoveries/{id}/approve."""

    override_failed_checks: bool = Field(
        False, description="Go on although pre-flight checks failed (the run's status lists them)."
    )
    sql_failover_mode: FailoverGroupMode | None = Field(
        None,
        description="This run only: failover_mode of every sql_failover_group step (e.g. planned when the "
        "primary turns out healthy).",
    )

    def overrides(self) -> RunOverrides | None:
        return None if self.sql_failover_mode is None else RunOverrides(sql_failover_mode=self.sql_failover_mode)


class CancelBody(DecisionRequest):
    """Body of POST /api/recoveries/{id}/cancel."""

    hard: bool = Field(
        False,
        description="Terminate now instead of letting running steps settle; what they started may go on in Azure.",
    )


def parse_json_model(body: bytes, model: type[BaseModel], what: str) -> Any:
    """The same strict JSON as alert bodies (UTF-8, no duplicate keys, no NaN, bounded nesting, no lone
    surrogates), then the model."""
    document = decode_alert_json(body or b"{}", what, MAX_REQUEST_BYTES)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:10])
        raise InvalidInputError(f"{what}: {problems}", code="InvalidRequest") from None


def _operator_start(who: str | None, now: datetime) -> tuple[str, dict[str, Any]]:
    """An operator's run: its instance id suffix (unique per request) and its trigger."""
    suffix = f"op-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    return suffix, {"source": "operator", "requested_by": who, "requested_at": now.isoformat()}


def operator_run(
    plan: Plan, request: StartRequest, who: str | None, now: datetime, settings: Settings
) -> tuple[str, RunInput]:
    if request.mode == "what_if":
        raise InvalidInputError("a what-if starts no run (POST /api/recoveries answers it at once)")
    if request.mode == "failback":
        raise InvalidInputError("a failback is derived from the failover it undoes (failback_run)")
    suffix, trigger = _operator_start(who, now)
    overrides = RunOverrides(sql_failover_mode=request.sql_failover_mode)
    run = RunInput(
        plan=overrides.apply(plan.for_mode(request.mode)),
        overrides=overrides,
        mode=request.mode,
        trigger=trigger,
        requested_at=now,
        requested_by=who,
        reason=request.reason,
        force=request.force,
        min_poll_seconds=settings.step_poll_min_seconds,
    )
    return run_instance_id(plan.name, request.mode, suffix), run


def failback_run(
    plan: Plan,
    state: PlanState,
    failover_report: dict[str, Any] | None,
    request: StartRequest,
    who: str | None,
    now: datetime,
    settings: Settings,
    *,
    alert: Alert | None = None,
) -> tuple[str, RunInput]:
    """A failback of the plan's last failover (dr.failback): refused, changing nothing, when the plan is not
    failed over or its failover's report is missing. Started by an alert about the secondary, its id derives
    from the alert (a webhook retry finds it) and its trigger is the alert's."""
    if state.active == "primary" or state.failover_run_id is None:
        raise ConflictError(
            f"plan {plan.name!r} is served by {state.active_region} (the primary)"
            + (f" since {iso(state.since)}" if state.since else "")
            + ": there is no failover to undo",
            code="NotFailedOver",
        )
    if failover_report is None:
        raise ConflictError(
            f"the report of failover {state.failover_run_id} (what plan {plan.name!r}'s failback undoes) is missing",
            code="FailoverReportMissing",
        )
    derived = failback_plan(plan, FailoverToUndo.from_report(failover_report))
    overrides = RunOverrides(sql_failover_mode=request.sql_failover_mode)
    if alert is None:
        suffix, trigger = _operator_start(who, now)
    else:
        suffix, trigger = f"alert-{alert_fingerprint(alert.essentials.alert_id)}", alert.facts()
    run = RunInput(
        plan=overrides.apply(derived.plan),
        overrides=overrides,
        mode="failback",
        trigger=trigger,
        requested_at=now,
        requested_by=who,
        reason=request.reason,
        force=request.force,
        failback_of=state.failover_run_id,
        failback_left_out=derived.left_out,
        min_poll_seconds=settings.step_poll_min_seconds,
    )
    return run_instance_id(plan.name, "failback", suffix), run


def alert_failback_request(plan: Plan, alert: Alert) -> StartRequest:
    essentials = alert.essentials
    return StartRequest(
        plan=plan.name,
        mode="failback",
        reason=f"{essentials.monitoring_service} alert {essentials.alert_rule!r} about the secondary fired "
        f"({essentials.severity})",
        requested_by=f"alert:{essentials.alert_rule}",
    )


def alert_run(plan: Plan, alert: Alert, settings: Settings) -> tuple[str, RunInput]:
    """One run per alert instance and plan: the instance id derives from the alert's id, so a webhook
    retry (Azure Monitor retries up to 5 times) finds the run it already started."""
    essentials = alert.essentials
    run = RunInput(
        plan=plan,
        mode="failover",
        trigger=alert.facts(),
        requested_at=essentials.fired_date_time,
        requested_by=f"alert:{essentials.alert_rule}",
        reason=f"{essentials.monitoring_service} alert {essentials.alert_rule!r} fired ({essentials.severity})",
        min_poll_seconds=settings.step_poll_min_seconds,
    )
    return run_instance_id(plan.name, "failover", f"alert-{alert_fingerprint(essentials.alert_id)}"), run
