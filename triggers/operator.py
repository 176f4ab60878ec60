"""The operator API: start, watch, approve, reject and cancel recoveries over HTTP.

Adapters only: who the caller is and what they may do (dr.auth), the request body (dr.intake), whether the
run may start, be decided or be canceled, and the cancel itself (dr.admission), what a run shows
(dr.views); the Durable client is reached through triggers.instances.DurableRuns.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from dr.admission import (
    PlanLocked,
    admit_operator_start,
    approval_over_preflight,
    awaiting_approval,
    cancel_run,
    recovery_run,
    release_plan,
    takes_plan_lock,
)
from dr.auth import require_role
from dr.clients import get_clients
from dr.errors import ConflictError, DrError, NotFoundError, TransientError
from dr.history import plan_reports
from dr.intake import (
    ApproveRequest,
    CancelBody,
    DecisionRequest,
    StartRequest,
    failback_run,
    operator_run,
    parse_json_model,
)
from dr.plan import find_plan
from dr.plan_state import failover_to_undo
from dr.report import read_report
from dr.run import ApprovalDecision, RunOverrides, is_run_id, run_id_prefix
from dr.settings import get_settings
from dr.views import live_steps, snapshot_view
from dr.whatif import HISTORY_REPORTS, PlanEvaluation, evaluate_plan

from .http import acting_name, error_response, json_response, log, principal_of, require_reader, run_links
from .instances import DurableRuns

bp = df.Blueprint()


WHAT_IF_SECONDS = 60.0  # the what-if answers synchronously: every check and the history read within this


async def _what_if(request: StartRequest) -> func.HttpResponse:
    """POST /api/recoveries {"mode": "what_if"}: the plan's checks and the predicted RTO and RPO of a failover
    now (dr.whatif), answered at once (200). Read-only: no run is started, no plan lock is taken."""
    settings = get_settings()
    plan = find_plan(settings.plans_dir, request.plan)
    plan = RunOverrides(sql_failover_mode=request.sql_failover_mode).apply(plan)
    now = datetime.now(UTC)

    def evaluate() -> PlanEvaluation:
        try:
            history = plan_reports(get_clients(), plan.name, limit=HISTORY_REPORTS)
        except DrError as exc:  # no reports to read: a prediction without history still stands
            log.warning("what-if of %s without history: %s", plan.name, exc.message)
            history = []
        return evaluate_plan(plan, now=now, mode="failover", history=history)

    try:
        evaluation = await asyncio.wait_for(asyncio.to_thread(evaluate), WHAT_IF_SECONDS)
    except TimeoutError:
        raise TransientError(f"the what-if of plan {plan.name!r} took longer than {WHAT_IF_SECONDS:g} s") from None
    log.info(
        "what-if of plan %s: RTO %s s, RPO %s s",
        plan.name,
        evaluation.predicted_rto_seconds,
        evaluation.predicted_rpo_seconds,
    )
    body = evaluation.model_dump(mode="json")
    body["what_if_of"] = "failover"
    body["reason"] = request.reason
    return json_response(body, 200)


@bp.route(route="recoveries", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_recovery(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    runs = DurableRuns(client)
    try:
        settings = get_settings()
        principal = principal_of(req)
        # A what-if changes nothing: a reader (operator or approver) may ask; a start needs the operator role.
        reader_only = settings.enforce_roles and bool(principal.roles & {settings.approver_role})
        reader_only = reader_only and settings.operator_role not in principal.roles
        if not reader_only:
            require_role(settings, principal, settings.operator_role, "starting a recovery")
        request: StartRequest = parse_json_model(req.get_body(), StartRequest, "start request")
        if request.mode == "what_if":
            return await _what_if(request)
        if reader_only:
            require_role(settings, principal, settings.operator_role, "starting a recovery")
        plan = find_plan(settings.plans_dir, request.plan)
        now = datetime.now(UTC)
        who = acting_name(principal, request.requested_by)
        if request.mode == "failback":
            state, failover_report = await asyncio.to_thread(failover_to_undo, get_clients(), plan)
            instance_id, run = failback_run(plan, state, failover_report, request, who, now, settings)
        else:
            instance_id, run = operator_run(plan, request, who, now, settings)
        await admit_operator_start(runs, plan.name, request.mode, instance_id, now=now)
        try:
            await runs.start(instance_id, run)
        except BaseException:
            if takes_plan_lock(request.mode):
                await release_plan(runs, plan.name, instance_id)
            raise
    except PlanLocked as exc:
        return error_response(exc, {"holder": exc.holder})
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
        require_reader(settings, principal_of(req))
        days = min(max(int(req.params.get("days", "7")), 1), 90)
        limit = min(max(int(req.params.get("limit", "50")), 1), 500)
    except ValueError:
        return json_response({"error": {"code": "InvalidRequest", "message": "days and limit are integers"}}, 400)
    except DrError as exc:
        return error_response(exc)
    plan = req.params.get("plan")
    now = datetime.now(UTC)
    try:
        found = await DurableRuns(client).created_between(
            now - timedelta(days=days), now + timedelta(minutes=5), run_id_prefix(plan) if plan else None
        )
    except DrError as exc:
        return error_response(exc)
    runs = [run for run in found if run.is_recovery]
    runs.sort(key=lambda run: run.created or now, reverse=True)
    views = [snapshot_view(run, now).model_dump(mode="json", exclude={"report", "steps"}) for run in runs[:limit]]
    return json_response({"runs": views, "count": len(views)})


@bp.route(route="recoveries/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_recovery(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    runs = DurableRuns(client)
    try:
        require_reader(get_settings(), principal_of(req))
        run = await recovery_run(runs, req.route_params["id"], show_input=True)
    except DrError as exc:
        return error_response(exc)
    live = await live_steps(runs, run)
    view = snapshot_view(run, datetime.now(UTC), live.summaries, live.waiting)
    return json_response(view.model_dump(mode="json"))


@bp.route(route="recoveries/{id}/report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def get_report(req: func.HttpRequest) -> func.HttpResponse:
    try:
        require_reader(get_settings(), principal_of(req))
        instance_id = req.route_params["id"]
        if not is_run_id(instance_id):  # never a storage name built from what the caller sent
            raise NotFoundError(f"no recovery run {instance_id!r}", code="ReportNotFound")
        return json_response(read_report(get_clients(), instance_id))
    except DrError as exc:
        return error_response(exc)


async def _decide(req: func.HttpRequest, client: df.DurableOrchestrationClient, approved: bool) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    action = "approving" if approved else "rejecting"
    runs = DurableRuns(client)
    try:
        settings = get_settings()
        principal = principal_of(req)
        require_role(settings, principal, settings.approver_role, f"{action} a recovery")
        model = ApproveRequest if approved else DecisionRequest
        request = parse_json_model(req.get_body(), model, f"{action} request")
        who = acting_name(principal, request.by)
        if not who:
            raise ConflictError(f"{action} needs a name: sign in, or give 'by' in the body")
        run = await awaiting_approval(runs, instance_id)
        decision = ApprovalDecision(approved=approved, by=who, reason=request.reason)
        if isinstance(request, ApproveRequest):
            decision = approval_over_preflight(run, request)
            decision = decision.model_copy(update={"by": who})
        await runs.raise_approval(instance_id, decision)
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
        principal = principal_of(req)
        require_role(settings, principal, settings.operator_role, "canceling a recovery")
        request: CancelBody = parse_json_model(req.get_body(), CancelBody, "cancel request")
        who = acting_name(principal, request.by) or "unknown operator"
        canceled = await cancel_run(
            DurableRuns(client), instance_id, by=who, reason=request.reason, now=datetime.now(UTC), hard=request.hard
        )
    except DrError as exc:
        return error_response(exc)
    log.info("%s canceled run %s (%s)", who, instance_id, "hard" if canceled.hard else "graceful")
    body: dict[str, Any] = {
        "id": instance_id,
        "canceled_by": who,
        "reason": canceled.reason,
        "mode": "hard" if canceled.hard else "graceful",
    }
    if canceled.hard:
        body["report_url"] = canceled.report_url
    else:
        body["settling"] = canceled.settling
        body["note"] = (
            "no new step starts; running steps settle (a cloud operation in flight is watched to its end) and the "
            "run writes its Canceled report: follow GET /api/recoveries/{id}"
        )
    return json_response(body, 202)
