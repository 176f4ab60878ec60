"""Readable reports: a run's report as one HTML page, and a plan's run history (JSON, and HTML with RTO over time).

``GET /api/recoveries/{id}/report.html`` renders the stored JSON report (dr.report_html) with the plan snapshot
the run executed (its orchestration input, while the Durable history keeps it): rendered on request, so a
report written before a change to the page shows the current page too. ``GET /api/plans/{name}/history`` and
``history.html`` list the plan's stored reports (dr.history). All read, so either operator role may call them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

from dr.clients import get_clients
from dr.durations import parse_time
from dr.errors import DrError, NotFoundError
from dr.history import HISTORY_LIMIT, RunSummary, plan_reports, summarize
from dr.intake import parse_json_model
from dr.plan import NAME_PATTERN, Mode, scan_plans
from dr.report import read_report
from dr.report_html import CONTENT_SECURITY_POLICY, render_history, render_report
from dr.run import is_run_id
from dr.settings import get_settings
from dr.views import as_json_object

from .http import error_response, json_response, log, principal_of, require_reader
from .instances import DurableRuns

bp = df.Blueprint()

MAX_HISTORY = 100  # reports read per request (each is one blob download)


class HistoryQuery(BaseModel):
    """The history routes' query: ``?days=&mode=&limit=`` (other parameters, such as a function key's
    ``code=``, are not the history's)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    days: int | None = Field(None, ge=1, le=3650, description="Only runs started in the last N days.")
    mode: Mode | None = Field(None, description="Only failovers or only drills.")
    limit: int = Field(HISTORY_LIMIT, ge=1, le=MAX_HISTORY, description="At most this many runs, newest first.")


def _html(page: str) -> func.HttpResponse:
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}
    return func.HttpResponse(page, status_code=200, mimetype="text/html", charset="utf-8", headers=headers)


async def _plan_snapshot(client: df.DurableOrchestrationClient, instance_id: str) -> Mapping[str, Any] | None:
    """The plan as the run executed it (its input), or None once the Durable history no longer has it."""
    try:
        run = await DurableRuns(client).status(instance_id, show_input=True)
    except Exception as exc:  # the snapshot is an extra: the report stands without it
        log.warning("report.html of %s without the plan snapshot: %s", instance_id, exc)
        return None
    plan = as_json_object(run.input).get("plan") if run is not None and run.is_recovery else None
    return plan if isinstance(plan, dict) else None


@bp.route(route="recoveries/{id}/report.html", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_report_html(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params.get("id", "")
    try:
        require_reader(get_settings(), principal_of(req))
        if not is_run_id(instance_id):  # never a storage name built from what the caller sent
            raise NotFoundError(f"no recovery run {instance_id!r}", code="ReportNotFound")
        report = await asyncio.to_thread(read_report, get_clients(), instance_id)
    except DrError as exc:
        return error_response(exc)
    return _html(render_report(report, plan_snapshot=await _plan_snapshot(client, instance_id)))


def _history_query(req: func.HttpRequest) -> HistoryQuery:
    query: HistoryQuery = parse_json_model(json.dumps(dict(req.params)).encode(), HistoryQuery, "history query")
    return query


def plan_history(name: str, query: HistoryQuery, now: datetime) -> list[RunSummary]:
    """The plan's stored runs the query asks for, newest first; NotFoundError when the name is no plan's and
    no report names it (a plan file since removed keeps its history)."""
    if not re.fullmatch(NAME_PATTERN, name):  # never a storage name built from anything else
        raise NotFoundError(f"no plan named {name!r}", code="PlanNotFound")
    runs = [summarize(report) for report in plan_reports(get_clients(), name, mode=query.mode, limit=query.limit)]
    if query.days is not None:
        since = now - timedelta(days=query.days)
        runs = [run for run in runs if run.started_at and _started(run.started_at) >= since]
    files = [] if runs else scan_plans(get_settings().plans_dir)
    if not runs and not any((item.plan.name if item.plan else item.name) == name for item in files):
        raise NotFoundError(f"no plan named {name!r} and no stored run of one", code="PlanNotFound")
    return runs


def _started(value: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


async def _history(req: func.HttpRequest, name: str) -> tuple[HistoryQuery, list[RunSummary]]:
    """The caller may read, the query is valid: the plan's runs it asks for (DrError otherwise)."""
    require_reader(get_settings(), principal_of(req))
    query = _history_query(req)
    return query, await asyncio.to_thread(plan_history, name, query, datetime.now(UTC))


@bp.route(route="plans/{name}/history", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def get_plan_history(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name", "")
    try:
        query, runs = await _history(req, name)
    except DrError as exc:
        return error_response(exc)
    body = {
        "plan": name,
        **query.model_dump(mode="json"),
        "runs": [run.model_dump(mode="json") for run in runs],
        "count": len(runs),
    }
    return json_response(body)


@bp.route(route="plans/{name}/history.html", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def get_plan_history_html(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name", "")
    try:
        query, runs = await _history(req, name)
    except DrError as exc:
        return error_response(exc)
    return _html(render_history(name, runs, days=query.days, mode=query.mode))
