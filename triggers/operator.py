"""The operator API: start, watch, approve, reject and cancel recoveries over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from dr.auth import Principal, parse_principal, require_role
from dr.clients import get_clients
from dr.errors import AuthorizationError, ConflictError, DrError, NotFoundError
from dr.intake import DecisionRequest, StartRequest, operator_run, parse_json_model
from dr.plan import find_plan
from dr.report import read_report, write_report
from dr.run import (
    APPROVAL_EVENT,
    RECOVERY_ORCHESTRATOR,
    ApprovalDecision,
    RunInput,
    canceled_report,
    run_id_prefix,
    step_instance_id,
)
from dr.settings import Settings, get_settings
from dr.views import as_json_object, run_view

from .http import error_response, json_response, log, run_links
from .instances import query_instances

bp = df.Blueprint()

ACTIVE = ("Running", "Pending", "Suspended")


def _principal(req: func.HttpRequest) -> Principal:
    return parse_principal(req.headers.get("x-ms-client-principal"))


def _who(principal: Principal, claimed: str | None) -> str | None:
    """The signed-in name wins over a name in the body (which only counts without App Service auth)."""
    return principal.name or claimed


def _require_reader(settings: Settings, principal: Principal) -> None:
    if settings.enforce_roles and not (principal.roles & {settings.operator_role, settings.approver_role}):
        raise AuthorizationError(f"reading runs needs role {settings.operator_role!r} or {settings.approver_role!r}")


async def _status(client: df.DurableOrchestrationClient, instance_id: str, **kwargs: Any) -> Any:
    status = await client.get_status(instance_id, **kwargs)
    if not status or status.runtime_status is None or status.name != RECOVERY_ORCHESTRATOR:
        raise NotFoundError(f"no recovery run {instance_id!r}", code="RunNotFound")
    return status


@bp.route(route="recoveries", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_recovery(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        settings = get_settings()
        principal = _principal(req)
        require_role(settings, principal, settings.operator_role, "starting a recovery")
        request: StartRequest = parse_json_model(req.get_body(), StartRequest, "start request")
        plan = find_plan(settings.plans_dir, request.plan)
        if request.mode == "failover":
            active = await query_instances(
                client,
                runtime_status=[df.OrchestrationRuntimeStatus(s) for s in ACTIVE],
                instance_id_prefix=run_id_prefix(plan.name, "failover"),
            )
            active = [s for s in active if s.name == RECOVERY_ORCHESTRATOR]
            if active:
                raise ConflictError(f"plan {plan.name!r} already has failover run {active[0].instance_id} in progress")
        instance_id, run = operator_run(
            plan, request, _who(principal, request.requested_by), datetime.now(UTC), settings
        )
        await client.start_new(RECOVERY_ORCHESTRATOR, instance_id, run.model_dump(mode="json"))
    except DrError as exc:
        return error_response(exc)
    log.info("operator %s started %s run %s of plan %s", run.requested_by, request.mode, instance_id, plan.name)
    links = run_links(req, instance_id)
    return json_response(
        {**links, "plan": plan.name, "mode": request.mode},
        202,
        {"Location": links["statusUri"], "Retry-After": "5"},
    )


@bp.route(route="recoveries", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_recoveries(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        settings = get_settings()
        _require_reader(settings, _principal(req))
        days = min(max(int(req.params.get("days", "7")), 1), 90)
        limit = min(max(int(req.params.get("limit", "50")), 1), 500)
    except ValueError:
        return json_response({"error": {"code": "InvalidRequest", "message": "days and limit are integers"}}, 400)
    except DrError as exc:
        return error_response(exc)
    plan = req.params.get("plan")
    now = datetime.now(UTC)
    try:
        statuses = await query_instances(
            client,
            created_time_from=now - timedelta(days=days),
            created_time_to=now + timedelta(minutes=5),
            instance_id_prefix=run_id_prefix(plan) if plan else None,
        )
    except DrError as exc:
        return error_response(exc)
    runs = [s for s in statuses if s.name == RECOVERY_ORCHESTRATOR]
    runs.sort(key=lambda s: s.created_time or now, reverse=True)
    views = [
        run_view(
            str(s.instance_id),
            s.runtime_status.value if s.runtime_status else "Unknown",
            s.created_time,
            s.last_updated_time,
            s.input_,
            s.custom_status,
            s.output,
            now,
        ).model_dump(mode="json", exclude={"report", "steps"})
        for s in runs[:limit]
    ]
    return json_response({"runs": views, "count": len(views)})


@bp.route(route="recoveries/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_recovery(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    try:
        _require_reader(get_settings(), _principal(req))
        status = await _status(client, instance_id, show_input=True)
    except DrError as exc:
        return error_response(exc)
    custom = as_json_object(status.custom_status)
    live: dict[str, str] = {}
    for step_id, step in (custom.get("steps") or {}).items():
        if step.get("status") == "running":  # the step's own status carries its live progress
            sub = await client.get_status(step_instance_id(instance_id, step_id))
            summary = as_json_object(sub.custom_status).get("summary") if sub else None
            if summary:
                live[step_id] = str(summary)
    view = run_view(
        instance_id,
        status.runtime_status.value,
        status.created_time,
        status.last_updated_time,
        status.input_,
        status.custom_status,
        status.output,
        datetime.now(UTC),
        live,
    )
    return json_response(view.model_dump(mode="json"))


@bp.route(route="recoveries/{id}/report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def get_report(req: func.HttpRequest) -> func.HttpResponse:
    try:
        _require_reader(get_settings(), _principal(req))
        return json_response(read_report(get_clients(), req.route_params["id"]))
    except DrError as exc:
        return error_response(exc)


async def _decide(req: func.HttpRequest, client: df.DurableOrchestrationClient, approved: bool) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    action = "approving" if approved else "rejecting"
    try:
        settings = get_settings()
        principal = _principal(req)
        require_role(settings, principal, settings.approver_role, f"{action} a recovery")
        request: DecisionRequest = parse_json_model(req.get_body(), DecisionRequest, f"{action} request")
        who = _who(principal, request.by)
        if not who:
            raise ConflictError(f"{action} needs a name: sign in, or give 'by' in the body")
        status = await _status(client, instance_id)
        phase = as_json_object(status.custom_status).get("phase")
        if status.runtime_status.value not in ACTIVE or phase != "awaiting_approval":
            raise ConflictError(
                f"run {instance_id} is not awaiting approval (status {status.runtime_status.value}, phase {phase})"
            )
        decision = ApprovalDecision(approved=approved, by=who, reason=request.reason)
        await client.raise_event(instance_id, APPROVAL_EVENT, decision.model_dump())
    except DrError as exc:
        return error_response(exc)
    log.info("%s %s run %s", who, "approved" if approved else "rejected", instance_id)
    return json_response({"id": instance_id, "decision": "approved" if approved else "rejected", "by": who}, 202)


@bp.route(route="recoveries/{id}/approve", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def approve_recovery(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _decide(req, client, approved=True)


@bp.route(route="recoveries/{id}/reject", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def reject_recovery(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _decide(req, client, approved=False)


@bp.route(route="recoveries/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def cancel_recovery(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    try:
        settings = get_settings()
        principal = _principal(req)
        require_role(settings, principal, settings.operator_role, "canceling a recovery")
        request: DecisionRequest = parse_json_model(req.get_body(), DecisionRequest, "cancel request")
        who = _who(principal, request.by) or "unknown operator"
        status = await _status(client, instance_id, show_input=True)
        if status.runtime_status.value not in ACTIVE:
            raise ConflictError(f"run {instance_id} is {status.runtime_status.value}: nothing to cancel")
        reason = request.reason or "canceled by operator"
        await client.terminate(instance_id, f"canceled by {who}: {reason}")
        custom = as_json_object(status.custom_status)
        for step_id, step in (custom.get("steps") or {}).items():
            if step.get("status") == "running":
                sub_id = step_instance_id(instance_id, step_id)
                sub = await client.get_status(sub_id)
                if sub and sub.runtime_status and sub.runtime_status.value in ACTIVE:
                    await client.terminate(sub_id, f"run canceled by {who}")
        report = canceled_report(
            instance_id,
            RunInput.model_validate(as_json_object(status.input_)),
            custom,
            by=who,
            reason=reason,
            at=datetime.now(UTC),
        )
        report_url = write_report(get_clients(), report)
    except DrError as exc:
        return error_response(exc)
    log.info("%s canceled run %s", who, instance_id)
    return json_response({"id": instance_id, "canceled_by": who, "reason": reason, "report_url": report_url}, 202)
