"""POST /api/alerts: the Azure Monitor action-group webhook (common alert schema).

Answers fast and never 5xx on bad input: the action group retries 5xx and then pauses the endpoint for
15 minutes, which would be the worst moment to go deaf. Only a failure on our side (the Durable backend
down) answers 503, so that the action group's retry gets another chance.

Parsing and matching are dr.alert's, admission (a retried alert, a failover already in progress) is
dr.admission's, as for the operator API: this module only maps their answers onto the response.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from dr.admission import alert_refusal, duplicate_alert, release_plan
from dr.alert import Alert, matching_plans, parse_alert_body
from dr.errors import ConflictError, DrError, InvalidInputError, TransientError
from dr.intake import alert_run
from dr.plan import Plan, load_catalog
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
            instance_id, run = alert_run(plan, alert, settings)
            refusal = await alert_refusal(runs, plan.name, instance_id, lock=True, now=datetime.now(UTC))
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
