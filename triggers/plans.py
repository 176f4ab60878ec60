"""The plans API: every plan with its readiness, and one plan's details (logic in dr.readiness, dr.history).

``GET /api/plans`` lists every file of the plans folder: a valid plan with its readiness (from its stored
evaluation), when it was evaluated, its predicted RTO/RPO and its last drill with the drill's measured RTO;
a file that does not validate as ``broken``, readiness red, with its errors (file, key, message).
``GET /api/plans/{name}`` adds the whole stored evaluation, the plan file's digest, the drill schedule, the
run history from the stored reports (with the drill RTO regression, if any) and the plan's recent runs.
Both read, so either operator role may call them (as the run routes).
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from dr.clients import Clients, get_clients
from dr.errors import DrError, NotFoundError
from dr.history import HISTORY_LIMIT, plan_reports, rto_regressions, summarize
from dr.plan import NAME_PATTERN, PlanFile, scan_plans
from dr.plan_state import read_plan_state
from dr.readiness import ReadinessRecord, plan_summary, read_readiness
from dr.run import run_id_prefix
from dr.settings import get_settings
from dr.views import snapshot_view

from .http import error_response, json_response, log, principal_of, require_reader
from .instances import DurableRuns

bp = df.Blueprint()

RECENT_RUN_DAYS = 30
RECENT_RUNS = 20
_READ_PARALLEL = 8


def _record(clients: Clients, name: str | None) -> ReadinessRecord | None:
    if not name or not re.fullmatch(NAME_PATTERN, name):
        return None
    try:
        return read_readiness(clients, name)
    except DrError as exc:
        log.warning("plans: stored evaluation of %s unreadable: %s", name, exc)
        return None


def _last_drill(clients: Clients, item: PlanFile) -> dict[str, Any] | None:
    if item.plan is None:
        return None
    try:
        drills = plan_reports(clients, item.plan.name, mode="drill", limit=1)
    except DrError as exc:
        log.warning("plans: drill history of %s unreadable: %s", item.plan.name, exc)
        return None
    return drills[0] if drills else None


def list_plans(clients: Clients, files: list[PlanFile], now: datetime) -> list[dict[str, Any]]:
    def one(item: PlanFile) -> dict[str, Any]:
        return plan_summary(item, _record(clients, item.name), _last_drill(clients, item), now)

    with ThreadPoolExecutor(max_workers=_READ_PARALLEL) as pool:
        return list(pool.map(one, files))


@bp.route(route="plans", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def get_plans(req: func.HttpRequest) -> func.HttpResponse:
    try:
        settings = get_settings()
        require_reader(settings, principal_of(req))
        files = scan_plans(settings.plans_dir)
        plans = list_plans(get_clients(), files, datetime.now(UTC))
    except DrError as exc:
        return error_response(exc)
    return json_response({"plans": plans, "count": len(plans)})


def plan_details(clients: Clients, item: PlanFile, now: datetime) -> dict[str, Any]:
    """Everything the API shows of one plan but its runs in the Durable backend."""
    name = item.plan.name if item.plan is not None else item.name
    record = _record(clients, name)
    reports: list[dict[str, Any]] = []
    history_error: str | None = None
    if item.plan is not None:
        try:
            reports = plan_reports(clients, item.plan.name, limit=HISTORY_LIMIT)
        except DrError as exc:
            history_error = str(exc)
    regressions = rto_regressions(name or "", reports)
    history = [
        {
            **summarize(report).model_dump(mode="json"),
            "rto_regression": (
                r.model_dump(mode="json") if (r := regressions.get(str(report.get("instance_id")))) else None
            ),
        }
        for report in reports
    ]
    last_drill = next((report for report in reports if report.get("mode") == "drill"), None)
    newest_drill = next(
        (entry for entry in history if entry["mode"] == "drill" and entry["rto_seconds"] is not None), None
    )
    estate: dict[str, Any] | None = None
    if item.plan is not None:
        try:
            estate = read_plan_state(clients, item.plan.name, item.plan.regions).summary()
        except DrError as exc:
            estate = {"error": f"the plan's state could not be read: {exc.message}"}
    return {
        **plan_summary(item, record, last_drill, now),
        "estate": estate,
        "evaluation": record.model_dump(mode="json") if record is not None else None,
        "history": history,
        "history_error": history_error,
        "rto_regression": newest_drill["rto_regression"] if newest_drill is not None else None,
    }


@bp.route(route="plans/{name}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_plan(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    name = req.route_params.get("name", "")
    now = datetime.now(UTC)
    try:
        settings = get_settings()
        require_reader(settings, principal_of(req))
        if not re.fullmatch(NAME_PATTERN, name):  # never a storage name built from anything else
            raise NotFoundError(f"no plan named {name!r}", code="PlanNotFound")
        files = await asyncio.to_thread(scan_plans, settings.plans_dir)
        item = next((f for f in files if f.plan is not None and f.plan.name == name), None) or next(
            (f for f in files if f.plan is None and f.name == name), None
        )
        if item is None:
            raise NotFoundError(f"no plan named {name!r} in the plans folder", code="PlanNotFound")
        details = await asyncio.to_thread(plan_details, get_clients(), item, now)
        found = await DurableRuns(client).created_between(
            now - timedelta(days=RECENT_RUN_DAYS), now + timedelta(minutes=5), run_id_prefix(name)
        )
    except DrError as exc:
        return error_response(exc)
    runs = [run for run in found if run.is_recovery]
    runs.sort(key=lambda run: run.created or now, reverse=True)
    views = [snapshot_view(run, now).model_dump(mode="json", exclude={"report", "steps"}) for run in runs]
    details["recent_runs"] = [view for view in views if view.get("plan") in (name, None)][:RECENT_RUNS]
    return json_response(details)
