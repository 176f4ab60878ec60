"""POST /api/alerts: the Azure Monitor action-group webhook (common alert schema).

Answers fast and never 5xx on bad input: the action group retries 5xx and then pauses the endpoint for
15 minutes, which would be the worst moment to go deaf. Only a failure on our side (the Durable backend
down) answers 503, so that the action group's retry gets another chance.

Parsing and matching are dr.alert's, admission (a retried alert, a failover already in progress) is
dr.admission's, as for the operator API: this module only maps their answers onto the response.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from dr.admission import alert_refusal, duplicate_alert, release_plan
from dr.alert import Alert, alert_direction, matching_plans, parse_alert_body
from dr.clients import get_clients
from dr.durations import iso
from dr.errors import ConflictError, DrError, InvalidInputError, TransientError
from dr.intake import alert_failback_request, alert_run, failback_run
from dr.plan import Plan, load_catalog
from dr.plan_state import alert_refusal_by_state, failover_to_undo, read_plan_state
from dr.run import RunInput
from dr.settings import Settings, get_settings

from .http import error_response, json_response, log, run_links
from .instances import DurableRuns

bp = df.Blueprint()


@bp.route(route="alerts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def alerts(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        alert = parse_alert_body(req.get_body())
    except InvalidInputError as exc:
        log.warning("alert refused: %s", exc.message)
        return error_response(exc)
    essentials = alert.essentials
    if essentials.monitor_condition == "Resolved":
        return json_response({"ignored": f"alert {essentials.alert_rule!r} is Resolved: nothing to recover"})
    settings = get_settings()
    try:
        catalog = load_catalog(settings.plans_dir)
    except DrError as exc:
        log.error("plans unavailable: %s", exc.message)
        return error_response(TransientError(f"plans unavailable: {exc.message}", code="PlansUnavailable"))
    for problem in catalog.errors:
        log.error("broken plan file skipped: %s", problem)
    plans = matching_plans(catalog.plans, alert)
    if not plans:
        return json_response(
            {
                "ignored": f"no plan matches alert rule {essentials.alert_rule!r} "
                f"(severity {essentials.severity}, {len(essentials.alert_target_ids)} target(s))",
                "broken_plans": len(catalog.errors),
            }
        )
    return await _start_runs(req, DurableRuns(client), plans, alert, settings)


async def _by_state(
    plan: Plan, alert: Alert, now: datetime, settings: Settings
) -> tuple[str, RunInput] | dict[str, str]:
    """The run this alert asks of the plan in its current state (dr.plan_state), or why none: anti-flap,
    already failed over, nothing to fail back. A state that cannot be read does not stand between an outage
    and its failover: the failover goes ahead (the plan lock and the steps' own checks still apply)."""
    direction = alert_direction(plan, alert) or "failover"
    try:
        if direction == "failback":
            state, failover_report = await asyncio.to_thread(failover_to_undo, get_clients(), plan)
        else:  # the state alone decides a failover: no read of the last failover's report on this path
            state = await asyncio.to_thread(read_plan_state, get_clients(), plan.name, plan.regions)
    except DrError as exc:
        if direction == "failback":
            raise TransientError(f"the state of plan {plan.name!r} could not be read: {exc.message}") from None
        log.warning("alert for plan %s: its state could not be read (%s); failing over", plan.name, exc.message)
        return alert_run(plan, alert, settings)
    refusal = alert_refusal_by_state(plan, direction, state, now)
    if refusal is not None:
        reason, until = refusal
        log.warning("alert %s starts no %s of plan %s: %s", alert.essentials.alert_rule, direction, plan.name, reason)
        return {"plan": plan.name, "ignored": reason, "until": iso(until) if until else "", "id": ""}
    if direction == "failback":
        request = alert_failback_request(plan, alert)
        try:
            return failback_run(plan, state, failover_report, request, request.requested_by, now, settings, alert=alert)
        except DrError as exc:  # e.g. the failover's report is missing: retrying the webhook would not help
            return {"plan": plan.name, "ignored": f"no failback: {exc.message}", "until": "", "id": ""}
    return alert_run(plan, alert, settings)


async def _start_runs(
    req: func.HttpRequest, runs: DurableRuns, plans: list[Plan], alert: Alert, settings: Settings
) -> func.HttpResponse:
    """A run per matching plan that admission lets through: 202 with the runs started, else 200 with why
    each plan was ignored; 503 if the Durable backend fails."""
    started: list[dict[str, Any]] = []
    ignored: list[dict[str, str]] = []
    essentials = alert.essentials
    try:
        for plan in plans:
            now = datetime.now(UTC)
            by_state = await _by_state(plan, alert, now, settings)
            if isinstance(by_state, dict):
                ignored.append(by_state)
                continue
            instance_id, run = by_state
            refusal = await alert_refusal(runs, plan.name, instance_id, lock=True, now=now)
            if refusal is None:
                try:
                    await runs.start(instance_id, run)
                except ConflictError:  # "already exists": the backend refused it atomically
                    refusal = duplicate_alert(instance_id)
                except Exception:
                    await release_plan(runs, plan.name, instance_id)
                    raise
            if refusal is not None:
                ignored.append({"plan": plan.name, "ignored": refusal.reason, "id": refusal.run_id})
                continue
            log.info("alert %s started run %s of plan %s", essentials.alert_rule, instance_id, plan.name)
            started.append({"plan": plan.name, **run_links(req, instance_id)})
    except Exception as exc:  # the Durable backend, not the caller: let the action group retry
        log.exception("could not start a run for alert %s", essentials.alert_rule)
        return error_response(TransientError(f"could not start the run: {type(exc).__name__}", code="StartFailed"))
    if not started:
        first = ignored[0]
        return json_response({"ignored": first["ignored"], "id": first["id"], "details": ignored})
    body = {**started[0], "runs": started, "ignored": ignored}
    return json_response(body, 202, {"Location": started[0]["statusUri"], "Retry-After": "10"})
