"""A person confirms a manual step over HTTP: ``POST /api/recoveries/{id}/steps/{step}/confirm``
``{"by", "reason", "outcome": "done" | "failed"}`` raises the confirmation to the waiting step (202).

Adapters only: whether the step may take it (dr.confirmation.admit_confirmation), callers, roles and error
shapes as the rest of the operator API (triggers.http). Confirming is an operator's act (``dr.operator``): the
person who did the runbook item. Who is recorded is the signed-in name (with roles enforced, only that).
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from dr.auth import require_role
from dr.confirmation import STEP_CONFIRMED_EVENT, ConfirmRequest, StepConfirmation, admit_confirmation
from dr.errors import ConflictError, DrError
from dr.intake import parse_json_model
from dr.settings import get_settings

from .http import acting_name, error_response, json_response, log, principal_of, recoveries_url
from .instances import DurableRuns

bp = df.Blueprint()


@bp.route(route="recoveries/{id}/steps/{step}/confirm", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def confirm_step(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id, step_id = req.route_params["id"], req.route_params["step"]
    runs = DurableRuns(client)
    try:
        settings = get_settings()
        principal = principal_of(req)
        require_role(settings, principal, settings.operator_role, "confirming a manual step")
        request: ConfirmRequest = parse_json_model(req.get_body(), ConfirmRequest, "confirm request")
        who = acting_name(principal, request.by)
        if not who:
            raise ConflictError("confirming needs a name: sign in, or give 'by' in the body")
        instance_id = await admit_confirmation(runs, run_id, step_id)
        confirmation = StepConfirmation(by=who, reason=request.reason, outcome=request.outcome, at=datetime.now(UTC))
        await runs.raise_event(instance_id, STEP_CONFIRMED_EVENT, confirmation.model_dump(mode="json"))
    except DrError as exc:
        return error_response(exc)
    log.info("%s confirmed step %s of run %s: %s", who, step_id, run_id, request.outcome)
    status_uri = recoveries_url(req, run_id)
    body = {"id": run_id, "step": step_id, "outcome": request.outcome, "by": who, "statusUri": status_uri}
    return json_response(body, 202, {"Location": status_uri})
