"""A plan's run history: its stored run reports (dr.report, ``runs/<run id>.json`` in the reports
container), newest first and bounded, and the drill RTO regression check over them.

A drill's RTO regressed when it exceeds the median RTO of the drills before it (the previous five that
measured one, at least three) by more than 25 %. The readiness timers log it once per drill as one line of
JSON with the fixed event name :data:`REGRESSION_EVENT`; ``GET /api/plans/{name}`` shows it.
"""

from __future__ import annotations

import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from .clients import Clients
from .durations import iso, parse_time
from .errors import azure_errors
from .plan import Mode
from .report import report_blob_name, reports_container
from .run import INSTANCE_SEPARATOR, is_run_id, run_id_prefix

HISTORY_LIMIT = 20
REGRESSION_EVENT = "DrDrillRtoRegression"
REGRESSION_RATIO = 1.25  # more than 25 % over the baseline median
REGRESSION_BASELINE = 5  # drills before it
REGRESSION_MIN_BASELINE = 3  # fewer drills before it measured an RTO: no verdict
_RUNS_PREFIX = report_blob_name("")[: -len(".json")]  # "runs/"
_READ_PARALLEL = 8
_READ_MARGIN = 5


class RunSummary(BaseModel):
    """What a plan's history shows of one stored report."""

    model_config = ConfigDict(frozen=True)

    id: str
    mode: str | None = None
    status: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    rto_seconds: float | None = None
    service_restored_seconds: float | None = None
    rpo_estimate_seconds: float | None = None


class RtoRegression(BaseModel):
    """A drill whose RTO exceeds the median of the drills before it by more than 25 %."""

    model_config = ConfigDict(frozen=True)

    plan: str
    run_id: str
    rto_seconds: float
    baseline_median_seconds: float
    baseline_runs: list[str]
    ratio: float
    threshold_ratio: float = REGRESSION_RATIO
    finished_at: str | None = None


def _plan_of(run_id: str) -> str:
    """The plan part of a run id (``<plan>--<mode>--<suffix>``; neither mode nor suffix has ``--``)."""
    return run_id.rsplit(INSTANCE_SEPARATOR, 2)[0]


def plan_reports(
    clients: Clients, plan_name: str, *, mode: Mode | None = None, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """The plan's stored run reports (of one mode, or every mode), newest first, at most ``limit``.

    One listing of the plan's report blobs; the newest ``limit`` (by when each blob was created) are read
    and ordered by ``started_at``. No reports container yet: no history."""
    from azure.core.exceptions import ResourceNotFoundError

    container = reports_container(clients)
    prefix = f"{_RUNS_PREFIX}{run_id_prefix(plan_name, mode)}"
    with azure_errors(f"list the reports of plan {plan_name!r}"):
        try:
            blobs = list(container.list_blobs(name_starts_with=prefix))
        except ResourceNotFoundError:
            return []
    mine = []
    for blob in blobs:
        run_id = str(blob.name)[len(_RUNS_PREFIX) : -len(".json")]
        if str(blob.name).endswith(".json") and is_run_id(run_id) and _plan_of(run_id) == plan_name:
            created = blob.creation_time or blob.last_modified
            mine.append((created.timestamp() if created else 0.0, _stamp(run_id), run_id))
    # Blob times have a resolution of a second (and a rewritten report may move): a few more than asked are
    # read, and their own started_at decides.
    mine.sort(reverse=True)
    chosen = [run_id for _, _, run_id in mine[: max(0, limit) + _READ_MARGIN]] if limit > 0 else []

    def read(run_id: str) -> dict[str, Any] | None:
        blob = container.get_blob_client(report_blob_name(run_id))
        with azure_errors(f"read report of {run_id}"):
            try:
                document = json.loads(blob.download_blob().readall())
            except ResourceNotFoundError:  # deleted since the listing
                return None
            except ValueError:
                return None
        return document if isinstance(document, dict) else None

    with ThreadPoolExecutor(max_workers=min(_READ_PARALLEL, max(1, len(chosen)))) as pool:
        reports = [report for report in pool.map(read, chosen) if report is not None]
    reports.sort(key=_started, reverse=True)
    return reports[: max(0, limit)]


def _stamp(run_id: str) -> str:
    """The UTC stamp in an operator run id (``op-20260101T030000-…``), '' for an alert's."""
    suffix = run_id.rsplit(INSTANCE_SEPARATOR, 1)[-1]
    return suffix[3:18] if suffix.startswith("op-") else ""


def _started(report: dict[str, Any]) -> float:
    try:
        return parse_time(str(report["started_at"])).timestamp()
    except (KeyError, TypeError, ValueError):
        return 0.0


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def summarize(report: dict[str, Any]) -> RunSummary:
    def text(key: str) -> str | None:
        value = report.get(key)
        return None if value is None else str(value)

    return RunSummary(
        id=str(report.get("instance_id", "")),
        mode=text("mode"),
        status=text("status"),
        started_at=text("started_at"),
        finished_at=text("finished_at"),
        rto_seconds=_number(report.get("rto_seconds")),
        service_restored_seconds=_number(report.get("service_restored_seconds")),
        rpo_estimate_seconds=_number(report.get("rpo_estimate_seconds")),
    )


def rto_regressions(plan_name: str, reports: list[dict[str, Any]]) -> dict[str, RtoRegression]:
    """Every drill among ``reports`` (newest first) whose RTO regressed against the drills after it in the
    list (the ones before it in time), by run id. Drills that measured no RTO (it did not recover) neither
    regress nor count in a baseline."""
    drills = [
        summary
        for summary in map(summarize, reports)
        if summary.mode == "drill" and summary.rto_seconds is not None and summary.id
    ]
    found: dict[str, RtoRegression] = {}
    for index, drill in enumerate(drills):
        baseline = drills[index + 1 : index + 1 + REGRESSION_BASELINE]
        if len(baseline) < REGRESSION_MIN_BASELINE:
            break  # older drills have even fewer before them
        median = statistics.median(b.rto_seconds for b in baseline if b.rto_seconds is not None)
        assert drill.rto_seconds is not None
        if median > 0 and drill.rto_seconds > median * REGRESSION_RATIO:
            found[drill.id] = RtoRegression(
                plan=plan_name,
                run_id=drill.id,
                rto_seconds=drill.rto_seconds,
                baseline_median_seconds=median,
                baseline_runs=[b.id for b in baseline],
                ratio=round(drill.rto_seconds / median, 3),
                finished_at=drill.finished_at,
            )
    return found


def latest_regression(plan_name: str, reports: list[dict[str, Any]]) -> RtoRegression | None:
    """The regression of the newest drill that measured an RTO, if it regressed."""
    newest = next(
        (s for s in map(summarize, reports) if s.mode == "drill" and s.rto_seconds is not None and s.id), None
    )
    return rto_regressions(plan_name, reports).get(newest.id) if newest is not None else None


def regression_record(regression: RtoRegression, *, now: datetime) -> dict[str, Any]:
    """The fields of the structured log line (fixed names: a log alert's query reads them)."""
    return {"event": REGRESSION_EVENT, "logged_at": iso(now), **regression.model_dump(mode="json")}


def regression_log_line(regression: RtoRegression, *, now: datetime) -> str:
    return json.dumps(regression_record(regression, now=now), sort_keys=True, separators=(",", ":"))
