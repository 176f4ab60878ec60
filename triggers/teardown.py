"""Retry a drill's teardown over HTTP: ``POST /api/recoveries/{id}/teardown`` starts ``drill_teardown_retry``
for a finished drill whose report shows resources left behind; ``GET /api/recoveries/{id}/teardown/{n}``
follows retry n.

Adapters only: whether the retry may start and its input (dr.teardown.admit_teardown_retry); callers, roles
and error shapes as the rest of the operator API (triggers.operator's helpers, triggers.http).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from dr.auth import require_role
from dr.clients import get_clients
from dr.errors import ConflictError, DrError, NotFoundError
from dr.intake import parse_json_model
from dr.report import read_report
from dr.run import is_run_id, read_model
from dr.settings import get_settings
from dr.teardown import (
    TEARDOWN_RETRY_ORCHESTRATOR,
    TeardownRetryRequest,
    TeardownRetryResult,
    admit_teardown_retry,
    retry_number,
    teardown_retry_instance_id,
)

from .http import acting_name, error_response, json_response, log, principal_of, recoveries_url, require_reader
from .instances import DurableRuns

bp = df.Blueprint()


async def _stored_report(run_id: str) -> dict[str, Any]:
    # The blob client is synchronous: off the event loop, which serves every other request of the worker.
    return await asyncio.to_thread(read_report, get_clients(), run_id)


def _retry_links(req: func.HttpRequest, run_id: str, retry: int) -> dict[str, str]:
    """This API's own routes (they take the caller's function key; see triggers.http.run_links)."""
    run = recoveries_url(req, run_id)
    return {"statusUri": f"{run}/teardown/{retry}", "reportUri": f"{run}/report", "runUri": run}


@bp.route(route="recoveries/{id}/teardown", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def retry_teardown(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = req.route_params["id"]
    try:
        settings = get_settings()
        principal = principal_of(req)
        require_role(settings, principal, settings.operator_role, "retrying a drill teardown")
        request: TeardownRetryRequest = parse_json_model(req.get_body(), TeardownRetryRequest, "teardown retry request")
        who = acting_name(principal, request.by) or "unknown operator"
        retry = await admit_teardown_retry(
            DurableRuns(client), run_id, _stored_report, requested_by=who, reason=request.reason, now=datetime.now(UTC)
        )
        instance_id = teardown_retry_instance_id(run_id, retry.retry)
        try:
            await client.start_new(TEARDOWN_RETRY_ORCHESTRATOR, instance_id, retry.model_dump(mode="json"))
        except Exception as exc:
            # Two requests that both found no retry running picked the same number: the backend refuses the
            # second start while the first instance is running (overridableExistingInstanceStates).
            if "already exists" in str(exc):
                raise ConflictError(
                    f"run {run_id}: teardown retry {instance_id} is already running", code="TeardownRetryInProgress"
                ) from None
            raise
    except DrError as exc:
        return error_response(exc)
    steps = [target.step for target in retry.teardown.steps]
    log.info("%s retried the teardown of run %s (%s): %s", who, run_id, instance_id, ", ".join(steps))
    links = _retry_links(req, run_id, retry.retry)
    body = {"id": instance_id, "run": run_id, "retry": retry.retry, "steps": steps, **links}
    return json_response(body, 202, {"Location": links["statusUri"], "Retry-After": "5"})


@bp.route(route="recoveries/{id}/teardown/{retry}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_teardown_retry(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id, number = req.route_params["id"], req.route_params["retry"]
    try:
        require_reader(get_settings(), principal_of(req))
        instance_id = teardown_retry_instance_id(run_id, int(number)) if number.isdigit() else ""
        # Only ids this API hands out reach the backend (the route parameters arrive URL-decoded).
        if not is_run_id(run_id) or retry_number(run_id, instance_id) is None:
            raise NotFoundError(f"no teardown retry {number!r} of run {run_id!r}", code="TeardownRetryNotFound")
        found = await DurableRuns(client).status(instance_id)
        if found is None or found.name != TEARDOWN_RETRY_ORCHESTRATOR:
            raise NotFoundError(f"no teardown retry {number!r} of run {run_id!r}", code="TeardownRetryNotFound")
    except DrError as exc:
        return error_response(exc)
    result = read_model(TeardownRetryResult, found.output)
    body = {
        "id": instance_id,
        "run": run_id,
        "retry": int(number),
        "runtimeStatus": found.runtime_status,
        "created": found.created,
        "updated": found.updated,
        "result": result.model_dump(mode="json") if result else None,
    }
    return json_response(body)
