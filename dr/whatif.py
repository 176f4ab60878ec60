"""What-if: every check of a plan and what a failover would cost (predicted RTO per step and on the critical
path, predicted RPO per data store), without changing anything.

Interface shared by the what-if API, the readiness timer and the data-loss gate.

``predict`` is pure (the recovery orchestrator calls it on replay with its pre-flight checks): each step's
duration comes from its kind's model below, or, when past reports of the plan measured the step, from the
median of the newest measurements; the step graph's earliest finishes give the critical path and the RTO. Each
data store's loss comes from the facts its checks read. Every number says what it rests on (``basis``).

Documented figures (the sources are named where each is used):

* Traffic Manager: probing interval x (tolerated failures + 1) + probe timeout + DNS TTL, and Azure's defaults
  (30 s, 3, 10 s; 9 s at a 10 s interval) — Microsoft Learn, "Traffic Manager endpoint monitoring",
  https://learn.microsoft.com/azure/traffic-manager/traffic-manager-monitoring (the failover timeline).
* Azure SQL: a manual (unplanned) database failover 30 s RTO; geo-restore 12 h RTO ("recovery usually takes
  place within 12 hours") — Microsoft Learn, "Overview of business continuity with Azure SQL Database",
  https://learn.microsoft.com/azure/azure-sql/database/business-continuity-high-availability-disaster-recover-hadr-overview,
  and "Recover using automated database backups", https://learn.microsoft.com/azure/azure-sql/database/recovery-using-backups.
* Storage account failover (customer-managed): "typically less than one hour" — Microsoft Learn, storage
  disaster recovery guidance, https://learn.microsoft.com/azure/storage/common/storage-disaster-recovery-guidance;
  app_scale has no documented figure (unknown until a run of the plan measured it).
* Blob copy rate without a measured one: 60 MiB/s, the target throughput of a single blob — Microsoft Learn,
  "Scalability and performance targets for Blob storage",
  https://learn.microsoft.com/azure/storage/blobs/scalability-targets (a step copies many blobs at once: the
  account's far higher limits make this a conservative rate).
* Cosmos DB: a single-write-region account's failover, RTO < 15 minutes — Microsoft Learn, "High availability in
  Azure Cosmos DB"; PostgreSQL flexible server promotion and geo-restore: no documented duration (unknown).

Not documented, measured or assumed (each basis says so): the orchestrator's own time, the per-copy and per
Traffic Manager write times, the cost of reading a standing sync record.
"""

from __future__ import annotations

import contextvars
import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from .durations import parse_time
from .plan import (
    AppScaleStep,
    BlobBackupStep,
    CosmosFailoverStep,
    DnsRecordSwitchStep,
    FrontDoorOriginsStep,
    HealthCheckStep,
    Mode,
    Plan,
    PostgresqlPromoteStep,
    SqlFailoverGroupStep,
    SqlGeoRestoreStep,
    StepBase,
    StorageAccountFailoverStep,
    TrafficManagerFailoverStep,
)
from .steps.base import Check


class StepPrediction(BaseModel):
    """How long a step is expected to take, and what the number rests on."""

    step: str
    kind: str
    seconds: float | None = Field(description="None: no model can tell (the basis says why).")
    basis: str
    measured: bool = Field(
        False, description="True: from this plan's own past runs; False: the kind's model (documented or assumed)."
    )
    earliest_finish_seconds: float | None = Field(None, description="On the step graph, from the run's start.")
    clients_follow_seconds: float | None = Field(
        None, description="Traffic steps: how long after the step resolvers may still answer the old endpoint (TTL)."
    )


class StorePrediction(BaseModel):
    """The data a failover would lose in one data store (a data step), and what the number rests on."""

    step: str
    kind: str
    seconds: float | None = Field(description="None: unknown (never 0 for unknown).")
    basis: str


class PlanEvaluation(BaseModel):
    """One evaluation of a plan: its readiness and the what-if prediction."""

    plan: str
    mode: Mode = "failover"
    evaluated_at: datetime
    ready: bool = Field(description="No check failed.")
    checks: dict[str, list[Check]] = Field(default_factory=dict, description="By step id, in plan order.")
    predicted_rto_seconds: float | None = None
    predicted_service_restored_seconds: float | None = Field(
        None, description="The run's start to its last traffic or verification step done (the report's measure)."
    )
    predicted_clients_follow_seconds: float | None = Field(
        None, description="Service restored + the longest DNS TTL of a traffic step: every client on the target."
    )
    uncalibrated_steps: list[str] = Field(
        default_factory=list,
        description="Steps no past run of the plan measured: their time is Azure's documented or an assumed figure, "
        "which a drill or a run on this estate replaces.",
    )
    predicted_rpo_seconds: float | None = Field(None, description="The worst store; None if any store is unknown.")
    rpo_bound_by: str | None = Field(None, description="The data step whose loss bounds the RPO.")
    critical_path: list[str] = Field(default_factory=list, description="Step ids, first to last.")
    steps: list[StepPrediction] = Field(default_factory=list)
    stores: list[StorePrediction] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


# -- figures -------------------------------------------------------------------------------------------

# Microsoft Learn, business continuity overview (Azure SQL Database): manual (unplanned) database failover RTO.
SQL_FAILOVER_SECONDS = 30.0
# Same page, and "Recover using automated database backups": geo-restore RTO, "usually within 12 hours".
SQL_GEO_RESTORE_SECONDS = 12 * 3600.0
# Microsoft Learn, "High availability in Azure Cosmos DB" (reliability guide): a single-write-region account's
# region outage, RTO < 15 minutes (service-managed failover); Azure gives no separate figure for a manual one.
COSMOS_FAILOVER_SECONDS = 15 * 60.0
# Microsoft Learn, storage account failover: "typically ... less than one hour" after it is initiated.
STORAGE_FAILOVER_SECONDS = 3600.0
# Microsoft Learn, scalability targets for Blob storage: target throughput of a single blob, 60 MiB/s.
DEFAULT_COPY_BYTES_PER_SECOND = 60 * 1024 * 1024
# Assumed (not documented): one copy request's round trip, 0.1 s; copy_concurrency run at once.
ASSUMED_COPY_REQUEST_SECONDS = 0.1
# Assumed (not documented): one Traffic Manager write (PUT/PATCH), 5 s (benchmarks/rto.py's figure).
ASSUMED_TM_WRITE_SECONDS = 5.0
# Assumed (not documented): one Azure DNS record set write (a synchronous PUT), 1 s.
ASSUMED_DNS_WRITE_SECONDS = 1.0
# Assumed: reading the standing sync record and reporting, when a blob step ends on an unreachable source.
ASSUMED_BLOB_UNREACHABLE_SECONDS = 0.5
# Measured on the devstack (`make demo`, 2026-11-30): alert fired -> first step started 0.95-1.01 s (run start,
# pre-flight of every step, the demo's immediate approval); a step's finish -> its dependent's start
# 0.026-0.033 s. Used when no past run of the plan measured the orchestrator's share of its RTO.
ORCHESTRATOR_START_SECONDS = 1.0
ORCHESTRATOR_HOP_SECONDS = 0.05
# History: measurements of a step are the newest this many (a plan's estate and the app change over time).
HISTORY_SAMPLES = 5
HISTORY_REPORTS = 20
# evaluate_plan: each step's checks get this long (they bound their own probes; this bounds the rest).
CHECK_TIMEOUT_SECONDS = 30.0
# A run's pre-flight waits at most this long for the plan's history once its checks are done: the history
# only refines the prediction and must not lengthen the way to the first change.
HISTORY_WAIT_SECONDS = 2.0


class PreflightInput(BaseModel):
    """The preflight activity's input: each step's step_check payload (dr.steps.base.StepCheckInput as JSON)
    by step id, and the plan whose past runs the prediction reads."""

    plan: str
    checks: dict[str, dict[str, Any]]


class PreflightResult(BaseModel):
    """Every step's checks, and what the plan's past runs measured (``measurements``; empty when the reports
    could not be read, ``history_error`` saying why: a prediction without history still stands)."""

    checks: dict[str, list[Check]]
    history: list[dict[str, Any]] = Field(default_factory=list)
    history_error: str | None = None


class _Measured(BaseModel):
    seconds: list[float] = Field(default_factory=list)
    modes: list[str] = Field(default_factory=list)


def _facts(checks: list[Check], name: str) -> dict[str, Any] | None:
    found = next((check for check in checks if check.name == name), None)
    return dict(found.facts) if found is not None else None


def _check(checks: list[Check], name: str) -> Check | None:
    return next((check for check in checks if check.name == name), None)


def _seconds_since(now: datetime, value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return max(0.0, (_aware(now) - parse_time(value)).total_seconds())
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- history ---------------------------------------------------------------------------------------------


def _duration(entry: dict[str, Any]) -> float | None:
    started, finished = entry.get("started_at"), entry.get("finished_at")
    if entry.get("status") != "succeeded" or not isinstance(started, str) or not isinstance(finished, str):
        return None
    try:
        return max(0.0, (parse_time(finished) - parse_time(started)).total_seconds())
    except ValueError:
        return None


def _comparable(  # noqa: PLR0911 (one branch per kind)
    step: StepBase, entry: dict[str, Any], mode: str, checks: list[Check]
) -> bool:
    """Whether a past run's measurement of this step measured the work a failover now would do."""
    detail = entry.get("detail") or {}
    if not isinstance(detail, dict):
        return False
    if isinstance(step, SqlFailoverGroupStep):
        # A drill only reads the group; a group already primary needed nothing: neither measured a failover.
        return mode == "failover" and not str(detail.get("action", "")).startswith("none")
    if isinstance(step, TrafficManagerFailoverStep):
        return detail.get("mode") != "drill (read only)" and not detail.get("already_switched")
    if isinstance(step, FrontDoorOriginsStep | DnsRecordSwitchStep):
        return not str(detail.get("mode", "")).endswith("(read only)") and not detail.get("already_switched")
    if isinstance(step, CosmosFailoverStep | PostgresqlPromoteStep):
        # A drill only reads (a PostgreSQL geo-restore drill restores, but into its own server: same work).
        restored = isinstance(step, PostgresqlPromoteStep) and step.method == "geo_restore"
        return (mode == "failover" or restored) and not str(detail.get("action", "")).startswith("none")
    if isinstance(step, StorageAccountFailoverStep):
        # A drill only reads the account; an account already primary in the target needed nothing.
        return mode == "failover" and not str(detail.get("action", "")).startswith("none")
    if isinstance(step, AppScaleStep):
        # Only a run that changed something measured a scale or a start (a drill's on its own test resources).
        return bool(detail.get("changes"))
    if isinstance(step, BlobBackupStep):
        # A drill copies everything into its own container, a failover only the backlog; a step that found the
        # source unreachable ends at once, one that copied took its backlog's time.
        return mode == "failover" and ("source_unavailable" in detail) == _blob_source_unreachable(checks)
    return True


def measured_steps(
    plan: Plan, history: list[dict[str, Any]] | None, checks: dict[str, list[Check]]
) -> dict[str, _Measured]:
    """Per step: the comparable measured durations, newest first (failovers before drills when both exist)."""
    found: dict[str, _Measured] = {step.id: _Measured() for step in plan.steps}
    steps = {step.id: step for step in plan.steps}
    for report in history or []:
        if not isinstance(report, dict) or report.get("plan") != plan.name:
            continue
        mode = str(report.get("mode"))
        for entry in report.get("steps") or []:
            if not isinstance(entry, dict) or entry.get("id") not in steps:
                continue
            step = steps[entry["id"]]
            if entry.get("kind") != step.kind:
                continue
            seconds = _duration(entry)
            if seconds is None or not _comparable(step, entry, mode, checks.get(step.id, [])):
                continue
            found[step.id].seconds.append(seconds)
            found[step.id].modes.append(mode)
    for measured in found.values():
        failovers = [(s, m) for s, m in zip(measured.seconds, measured.modes, strict=True) if m == "failover"]
        chosen = failovers or list(zip(measured.seconds, measured.modes, strict=True))
        measured.seconds = [s for s, _ in chosen][:HISTORY_SAMPLES]
        measured.modes = [m for _, m in chosen][:HISTORY_SAMPLES]
    return found


# What measured_steps, measured_overhead and _copy_rate read of a report: a run's pre-flight carries only this
# through the orchestration's history (a full report is tens of KB).
_MEASURED_DETAIL = ("action", "mode", "already_switched", "source_unavailable", "copied", "bytes_copied")


def measurements(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reports cut to what the predictions measure: per run its plan, mode and RTO, per step its times,
    status and the detail that says whether it measured a failover's work."""
    kept: list[dict[str, Any]] = []
    for report in reports:
        if not isinstance(report, dict):
            continue
        steps = []
        for entry in report.get("steps") or []:
            if not isinstance(entry, dict):
                continue
            detail = entry.get("detail")
            detail = detail if isinstance(detail, dict) else {}
            cut = {key: detail[key] for key in _MEASURED_DETAIL if key in detail}
            changes = detail.get("changes")
            if changes:
                cut["changes"] = changes[:1] if isinstance(changes, list) else True
            steps.append(
                {key: entry.get(key) for key in ("id", "kind", "status", "started_at", "finished_at")} | {"detail": cut}
            )
        kept.append({key: report.get(key) for key in ("plan", "mode", "rto_seconds")} | {"steps": steps})
    return kept


def measured_overhead(plan: Plan, history: list[dict[str, Any]] | None) -> list[float]:
    """Per past run that recovered: its RTO minus the critical path of its own measured step durations (what
    the orchestrator, pre-flight and any approval added), newest first."""
    overheads: list[float] = []
    for report in history or []:
        if not isinstance(report, dict) or report.get("plan") != plan.name:
            continue
        rto = report.get("rto_seconds")
        if not isinstance(rto, int | float):
            continue
        durations: dict[str, float] = {}
        for entry in report.get("steps") or []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                seconds = _duration(entry)
                if seconds is not None:
                    durations[entry["id"]] = seconds
        if {step.id for step in plan.steps} - set(durations):
            continue  # a step did not succeed (or the plan changed): no clean measurement
        finishes, _ = earliest_finishes(plan, durations, hop=0.0)
        overheads.append(max(0.0, float(rto) - max(finishes.values(), default=0.0)))
    return overheads[:HISTORY_SAMPLES]


# -- the kinds' models -----------------------------------------------------------------------------------


def _blob_source_unreachable(checks: list[Check]) -> bool:
    facts = _facts(checks, "source_reachable") or {}
    probe = facts.get("probe")
    return isinstance(probe, dict) and probe.get("reachable") is False


def _blob_model(
    step: BlobBackupStep, checks: list[Check], history: list[dict[str, Any]] | None
) -> tuple[float | None, str]:
    if _blob_source_unreachable(checks):
        probe = (_facts(checks, "source_reachable") or {}).get("probe") or {}
        probed = float(probe.get("seconds") or 0.0)
        return (
            round(probed + ASSUMED_BLOB_UNREACHABLE_SECONDS, 3),
            f"source unreachable at pre-flight: the step keeps the last standing sync and ends at once (its probe "
            f"took {probed:g} s, again at most if the verdict is stale; + {ASSUMED_BLOB_UNREACHABLE_SECONDS:g} s "
            "assumed to read the sync record)",
        )
    standing = _facts(checks, "last_standing_sync") or {}
    backlog = standing.get("backlog")
    if not isinstance(backlog, dict) or "unknown" in backlog:
        why = (backlog or {}).get("unknown") if isinstance(backlog, dict) else None
        return None, f"unknown: no backlog count ({why or 'no standing sync recorded, or the source was not listed'})"
    byte_rate, blob_rate, rate_basis = _copy_rate(step, history)
    # Blobs of the sync's own second were most likely in it (copied then, unchanged now): the time counts the
    # others; the data at risk (the store's basis) counts them all.
    blobs = int(backlog.get("blobs") or 0) - int(backlog.get("same_second") or 0)
    size = int(backlog.get("bytes") or 0) - int(backlog.get("same_second_bytes") or 0)
    listing = float(backlog.get("list_seconds") or 0.0)
    copying = max(size / byte_rate, blobs / blob_rate)
    return (
        round(listing + copying, 3),
        f"backlog {blobs} blob(s), {size} bytes changed since the last standing sync"
        + ("" if backlog.get("complete") else " (a capped count: at least that)")
        + f": max({size} B / {byte_rate:.0f} B/s, {blobs} / {blob_rate:.1f} blobs/s) ({rate_basis}) + listing the "
        f"source ({listing:g} s at pre-flight)",
    )


def _copy_rate(step: BlobBackupStep, history: list[dict[str, Any]] | None) -> tuple[float, float, str]:
    """Bytes and blobs per second: the medians of past runs of the step that copied (a rate is a rate, drills
    included), else Blob storage's documented single-blob target and an assumed per-copy time."""
    byte_rates: list[float] = []
    blob_rates: list[float] = []
    for report in history or []:
        for entry in (report.get("steps") if isinstance(report, dict) else None) or []:
            if not isinstance(entry, dict) or entry.get("id") != step.id:
                continue
            detail = entry.get("detail") or {}
            seconds = _duration(entry)
            copied = detail.get("copied") if isinstance(detail, dict) else None
            copied_bytes = detail.get("bytes_copied") if isinstance(detail, dict) else None
            if seconds and isinstance(copied, int | float) and copied > 0:
                blob_rates.append(float(copied) / seconds)
                if isinstance(copied_bytes, int | float) and copied_bytes > 0:
                    byte_rates.append(float(copied_bytes) / seconds)
    if blob_rates:
        blob_rates, byte_rates = blob_rates[:HISTORY_SAMPLES], byte_rates[:HISTORY_SAMPLES]
        byte_rate = statistics.median(byte_rates) if byte_rates else float(DEFAULT_COPY_BYTES_PER_SECOND)
        return byte_rate, statistics.median(blob_rates), f"median copy rates of {len(blob_rates)} past run(s)"
    return (
        float(DEFAULT_COPY_BYTES_PER_SECOND),
        step.copy_concurrency / ASSUMED_COPY_REQUEST_SECONDS,
        f"no measured rate: 60 MiB/s, Blob storage's single-blob target; {step.copy_concurrency} copies at once "
        f"x {ASSUMED_COPY_REQUEST_SECONDS:g} s each (assumed)",
    )


def _geo_restore_model(checks: list[Check]) -> tuple[float | None, str]:
    free = _check(checks, "target_database_free")
    if free is not None and free.status == "passed" and "exists" in free.message:
        return 1.0, "the target database already exists from an earlier restore: the step continues it"
    return SQL_GEO_RESTORE_SECONDS, (
        "documented geo-restore RTO, 12 h (Azure SQL business continuity overview: recovery usually within 12 "
        "hours; it depends on the database's size and activity)"
    )


def _failover_group_model(checks: list[Check]) -> tuple[float | None, str]:
    role = _facts(checks, "current_role") or {}
    if role.get("replication_role") == "Primary":
        return 1.0, "the group is already primary on the target server: nothing to fail over"
    mode = _facts(checks, "failover_mode") or {}
    kind = mode.get("expected_failover") or "planned"
    if kind == "forced":
        return SQL_FAILOVER_SECONDS, "forced failover: documented 30 s RTO of a manual (unplanned) database failover"
    lag = (_facts(checks, "replication") or {}).get("lag_seconds")
    catch_up = float(lag) if isinstance(lag, int | float) else 0.0
    return SQL_FAILOVER_SECONDS + catch_up, (
        "planned failover: documented 30 s RTO of a manual database failover"
        + (f" + {catch_up:g} s replication lag the secondary catches up first" if catch_up else "")
    )


def _traffic_model(step: TrafficManagerFailoverStep, checks: list[Check]) -> tuple[float | None, str]:
    """What the step waits for: its writes, then every target endpoint Online. A target Traffic Manager does
    not report Online now (disabled, or not probed yet) is CheckingEndpoint until its first probe, one probing
    interval. Resolvers' caches (the TTL) come after the step: ``clients_follow_seconds``, not the step's time.
    Traffic Manager's own failure detection, interval x (tolerated failures + 1), does not apply: the step
    disables the primary itself instead of waiting for probes to fail."""
    dns = _facts(checks, "dns_convergence") or {}
    model = dns.get("convergence")
    if not isinstance(model, dict):
        return None, "unknown: the profile could not be read (no convergence facts)"
    interval = float(model.get("interval_seconds") or 30)
    changes = (_facts(checks, "changes") or {}).get("changes")
    writes = len(changes) if isinstance(changes, list) else len(step.from_endpoints) + len(step.to_endpoints)
    statuses = (_facts(checks, "secondary_healthy") or {}).get("monitor_status")
    statuses = statuses if isinstance(statuses, dict) else dict.fromkeys(step.to_endpoints)
    unprobed = sorted(name for name, status in statuses.items() if status != "Online")
    seconds = writes * ASSUMED_TM_WRITE_SECONDS + (interval if unprobed else 0.0)
    return seconds, (
        f"Traffic Manager: {writes} write(s) x {ASSUMED_TM_WRITE_SECONDS:g} s (assumed)"
        + (
            f" + {interval:g} s probing interval until {', '.join(unprobed)} report(s) Online (CheckingEndpoint "
            "until the first probe, Traffic Manager endpoint monitoring)"
            if unprobed
            else "; the targets are Online already"
        )
    )


def _clients_follow(step: StepBase, checks: list[Check]) -> float | None:
    """A traffic step's DNS TTL: how long after it ends resolvers may still answer from their caches (RFC 1035
    3.2.1; Traffic Manager answers the switched endpoints at once, its TTL bounds the caches)."""
    facts: Any = _facts(checks, "dns_convergence") or {}
    if isinstance(step, TrafficManagerFailoverStep):
        facts = facts.get("convergence") if isinstance(facts.get("convergence"), dict) else {}
    elif not isinstance(step, DnsRecordSwitchStep):
        return None
    ttl = facts.get("ttl_seconds")
    return float(ttl) if isinstance(ttl, int | float) else None


def _dns_record_model(checks: list[Check]) -> tuple[float | None, str]:
    convergence = _facts(checks, "dns_convergence") or {}
    ttl = convergence.get("ttl_seconds")
    if not isinstance(ttl, int | float):
        return None, "unknown: the record could not be read (no TTL)"
    if convergence.get("already_switched"):
        return 1.0, "the record already points at the target: nothing to switch"
    return ASSUMED_DNS_WRITE_SECONDS, (
        f"one record write, {ASSUMED_DNS_WRITE_SECONDS:g} s (assumed); resolvers may answer from cache for the "
        f"record's TTL, {ttl:g} s, after it (clients_follow_seconds)"
    )


def _health_model(step: HealthCheckStep, checks: list[Check]) -> tuple[float | None, str]:
    answers = _facts(checks, "answers") or {}
    latency = float(answers.get("latency_ms") or 0.0) / 1000.0
    worst = step.attempts * (step.interval.total_seconds() + step.request_timeout.total_seconds())
    return round(latency, 3), (
        f"one attempt expected once the service is switched (interval {step.interval.total_seconds():g} s x 0 "
        f"retries + the pre-flight's {latency * 1000:.0f} ms answer); at worst {step.attempts} attempts, {worst:g} s"
    )


def _cosmos_model(checks: list[Check]) -> tuple[float | None, str]:
    if (_facts(checks, "current_write_region") or {}).get("already_target"):
        return 1.0, "the target already is the write region: nothing to fail over"
    return COSMOS_FAILOVER_SECONDS, (
        "documented RTO of a Cosmos DB single-write-region failover, < 15 minutes (High availability in Azure Cosmos "
        "DB; stated for service-managed failover, the only figure Azure gives)"
    )


def _model(  # noqa: PLR0911 (one branch per kind)
    step: StepBase, checks: list[Check], history: list[dict[str, Any]] | None
) -> tuple[float | None, str]:
    if isinstance(step, BlobBackupStep):
        return _blob_model(step, checks, history)
    if isinstance(step, SqlGeoRestoreStep):
        return _geo_restore_model(checks)
    if isinstance(step, SqlFailoverGroupStep):
        return _failover_group_model(checks)
    if isinstance(step, TrafficManagerFailoverStep):
        return _traffic_model(step, checks)
    if isinstance(step, HealthCheckStep):
        return _health_model(step, checks)
    if isinstance(step, DnsRecordSwitchStep):
        return _dns_record_model(checks)
    if isinstance(step, CosmosFailoverStep):
        return _cosmos_model(checks)
    if isinstance(step, StorageAccountFailoverStep):
        return _storage_account_model(checks)
    if isinstance(step, AppScaleStep):
        return _app_scale_model(checks)
    # postgresql_promote: Azure documents no duration for a replica promotion or a geo-restore: unknown.
    # front_door_origins: Azure documents no time for an origin change to reach every edge: unknown.
    return None, f"unknown: no model for kind {step.kind}"


def _storage_account_model(checks: list[Check]) -> tuple[float | None, str]:
    if _check(checks, "already_failed_over") is not None:
        return 1.0, "the account's primary is already the target region: nothing to fail over"
    return STORAGE_FAILOVER_SECONDS, (
        "documented: a customer-managed storage account failover typically completes in less than one hour "
        "(Microsoft Learn, storage account failover); an upper figure, not a guarantee"
    )


def _app_scale_model(checks: list[Check]) -> tuple[float | None, str]:
    changes = (_facts(checks, "changes") or {}).get("changes")
    if changes == []:
        return 1.0, "the plan and the apps are already as the step wants: it only reads them back"
    return None, "unknown: Azure documents no time for an App Service plan scale-out or an app start"


# -- data at risk ------------------------------------------------------------------------------------------


def _blob_store(checks: list[Check], now: datetime) -> tuple[float | None, str]:
    standing = _facts(checks, "last_standing_sync")
    if standing is None:
        return None, "unknown: the standing sync was not checked"
    age = _seconds_since(now, standing.get("last_sync_at"))
    if age is None:
        return None, str(standing.get("unknown") or "unknown: no standing sync recorded")
    backlog = standing.get("backlog")
    changed = (
        f"; changed at the source since: {backlog['text']}"
        if isinstance(backlog, dict) and "unknown" not in backlog
        else ""
    )
    return round(age, 3), f"now - last standing sync ({standing['last_sync_at']}){changed}"


def _geo_restore_store(checks: list[Check], now: datetime) -> tuple[float | None, str]:
    backup = _facts(checks, "source_geo_backup") or {}
    age = _seconds_since(now, backup.get("last_available_backup"))
    if age is None:
        return None, "unknown: no geo-backup time (lastAvailableBackupDate) was read"
    return round(age, 3), f"now - the last geo-backup ({backup['last_available_backup']})"


def _failover_group_store(checks: list[Check], now: datetime) -> tuple[float | None, str]:
    role = _facts(checks, "current_role") or {}
    if role.get("replication_role") == "Primary":
        return 0.0, "nothing to fail over: the group is already primary on the target server"
    return _from_facts(
        _facts(checks, "failover_mode"), "the failover group could not be read", no_basis="unknown: lag unknown"
    )


def _cosmos_store(checks: list[Check], now: datetime) -> tuple[float | None, str]:
    if (_facts(checks, "current_write_region") or {}).get("already_target"):
        return 0.0, "nothing to fail over: the target already is the write region"
    return _from_facts(_facts(checks, "failover_mode"), "the account could not be read")


def _postgresql_store(checks: list[Check], now: datetime) -> tuple[float | None, str]:
    if (_facts(checks, "replica_role") or {}).get("already_promoted"):
        return 0.0, "nothing to promote: the server is standalone already"
    facts = _facts(checks, "promote_option") or _facts(checks, "source_geo_backup")
    return _from_facts(facts, "the replica or the source could not be read")


def _from_facts(
    facts: dict[str, Any] | None, unreadable: str, *, no_basis: str = "unknown"
) -> tuple[float | None, str]:
    """The RPO a pre-flight check's facts estimate, with its basis; ``no_basis`` when unknown and unexplained."""
    if facts is None:
        return None, f"unknown: {unreadable}"
    seconds, basis = facts.get("rpo_estimate_seconds"), str(facts.get("rpo_basis") or "")
    return (float(seconds), basis) if isinstance(seconds, int | float) else (None, basis or no_basis)


def _storage_account_store(checks: list[Check], now: datetime) -> tuple[float | None, str]:
    if _check(checks, "already_failed_over") is not None:
        return 0.0, "nothing to fail over: the account's primary is already the target region"
    # The data_at_risk check always gives its basis (dr.steps.storage_account.rules).
    return _from_facts(_facts(checks, "data_at_risk"), "the storage account could not be read (no Last Sync Time)")


_STORES: dict[type[StepBase], Callable[[list[Check], datetime], tuple[float | None, str]]] = {
    BlobBackupStep: _blob_store,
    SqlGeoRestoreStep: _geo_restore_store,
    SqlFailoverGroupStep: _failover_group_store,
    CosmosFailoverStep: _cosmos_store,
    PostgresqlPromoteStep: _postgresql_store,
    StorageAccountFailoverStep: _storage_account_store,
}


def _store(step: StepBase, checks: list[Check], now: datetime) -> tuple[float | None, str]:
    model = _STORES.get(type(step))
    if model is None:
        return None, f"unknown: no data model for kind {step.kind}"
    return model(checks, now)


# -- the graph -------------------------------------------------------------------------------------------


def earliest_finishes(
    plan: Plan, durations: dict[str, float], *, start: float = 0.0, hop: float = 0.0
) -> tuple[dict[str, float], dict[str, str | None]]:
    """Each step's earliest finish (its latest dependency's finish + ``hop``, or ``start``, + its duration) and
    the dependency that made it start then (None: it starts at ``start``). The chain of those, back from the
    step that finishes last, is the critical path."""
    after = {step.id: list(step.after) for step in plan.steps}
    finishes: dict[str, float] = {}
    via: dict[str, str | None] = {}

    def finish(step_id: str) -> float:
        if step_id not in finishes:
            deps = [(finish(dep) + hop, dep) for dep in after[step_id]]
            begin, before = max(deps, default=(start, None))
            finishes[step_id] = begin + durations.get(step_id, 0.0)
            via[step_id] = before
        return finishes[step_id]

    for step in plan.steps:
        finish(step.id)
    return finishes, via


def _orchestrator_time(plan: Plan, history: list[dict[str, Any]] | None) -> tuple[float, float, str]:
    """What the orchestrator adds to the steps' critical path: (at the start, per dependency, basis)."""
    overheads = measured_overhead(plan, history)
    if overheads:
        start, hop = round(statistics.median(overheads), 3), 0.0
        basis = (
            f"measured: median of {len(overheads)} past run(s)' RTO minus their own critical path ({start:g} s: "
            "pre-flight, approval, hops)"
        )
    else:
        start, hop = ORCHESTRATOR_START_SECONDS, ORCHESTRATOR_HOP_SECONDS
        basis = (
            f"no past run measured it: {start:g} s to start and pre-flight + {hop:g} s per dependency (measured on "
            "the devstack)"
        )
    if plan.approval.required:
        basis += "; the plan waits for an approver, whose time is not predicted unless measured"
    return start, hop, basis


def _stores(
    plan: Plan, checks: dict[str, list[Check]], now: datetime
) -> tuple[list[StorePrediction], float | None, str | None]:
    """Each data step's loss, the worst (None if any is unknown) and the store that bounds it (an unknown one
    when the worst is unknown)."""
    from .steps import spec_of

    stores: list[StorePrediction] = []
    for step in plan.steps:
        if spec_of(step.kind).role != "data":
            continue
        seconds, basis = _store(step, checks.get(step.id, []), now)
        stores.append(StorePrediction(step=step.id, kind=step.kind, seconds=seconds, basis=basis))
    unknown = [store for store in stores if store.seconds is None]
    if unknown:
        return stores, None, unknown[0].step
    if not stores:
        return stores, None, None
    worst = max(stores, key=lambda store: store.seconds or 0.0)
    return stores, worst.seconds, worst.step


def predict(
    plan: Plan, checks: dict[str, list[Check]], *, now: datetime, history: list[dict[str, Any]] | None = None
) -> PlanEvaluation:
    """The prediction from checks already made (pure: the recovery orchestrator calls it on replay too).
    ``history``: past run reports of this plan (newest first), whose measured step times refine the models."""
    measured = measured_steps(plan, history, checks)
    steps: list[StepPrediction] = []
    durations: dict[str, float] = {}
    for step in plan.steps:
        taken = measured[step.id]
        if taken.seconds:
            seconds: float | None = round(statistics.median(taken.seconds), 3)
            runs = ", ".join(f"{s:g}" for s in taken.seconds)
            basis = (
                f"measured: median of the newest {len(taken.seconds)} {taken.modes[0]} run(s) of this plan ({runs} s)"
            )
        else:
            seconds, basis = _model(step, checks.get(step.id, []), history)
        steps.append(
            StepPrediction(
                step=step.id,
                kind=step.kind,
                seconds=seconds,
                basis=basis,
                measured=bool(taken.seconds),
                clients_follow_seconds=_clients_follow(step, checks.get(step.id, [])),
            )
        )
        if seconds is not None:
            durations[step.id] = seconds

    start, hop, overhead_basis = _orchestrator_time(plan, history)
    finishes, via = earliest_finishes(plan, durations, start=start, hop=hop)
    unknown = [prediction.step for prediction in steps if prediction.seconds is None]
    for prediction in steps:
        prediction.earliest_finish_seconds = None if unknown else round(finishes[prediction.step], 3)
    last = max(finishes, key=lambda step_id: finishes[step_id]) if finishes else None
    path: list[str] = []
    cursor = last
    while cursor is not None:
        path.append(cursor)
        cursor = via[cursor]
    path.reverse()

    restored, follow = _service_restored(steps, finishes, known=not unknown)
    stores, rpo, bound_by = _stores(plan, checks, now)
    unknown_stores = [store for store in stores if store.seconds is None]
    all_checks = [check for step_checks in checks.values() for check in step_checks]
    ordered = {step.id: list(checks.get(step.id, [])) for step in plan.steps}
    return PlanEvaluation(
        plan=plan.name,
        evaluated_at=now,
        ready=not any(check.status == "failed" for check in all_checks),
        checks=ordered,
        predicted_rto_seconds=None if unknown or last is None else round(finishes[last], 3),
        predicted_service_restored_seconds=restored,
        predicted_clients_follow_seconds=follow,
        uncalibrated_steps=[prediction.step for prediction in steps if not prediction.measured],
        predicted_rpo_seconds=rpo,
        rpo_bound_by=bound_by,
        critical_path=path,
        steps=steps,
        stores=stores,
        detail={
            "orchestrator_seconds": start,
            "hop_seconds": hop,
            "orchestrator_basis": overhead_basis,
            "rto_basis": (
                f"unknown: no model for step(s) {', '.join(unknown)}"
                if unknown
                else f"the critical path {' -> '.join(path)} ends at {finishes[last]:.1f} s"
                if last
                else "no steps"
            ),
            "rpo_basis": (
                f"unknown: {bound_by}'s loss is unknown"
                if unknown_stores
                else f"the worst store, {bound_by}"
                if stores
                else "no data step"
            ),
            "failed_checks": [
                f"{step_id}: {check.message}"
                for step_id, step_checks in ordered.items()
                for check in step_checks
                if check.status == "failed"
            ],
            "history_reports": len(history or []),
        },
    )


def _service_restored(
    steps: list[StepPrediction], finishes: dict[str, float], *, known: bool
) -> tuple[float | None, float | None]:
    """When the last traffic or verification step would be done (dr.run.RunState.service_restored's measure),
    and when every client would follow (that + the longest TTL of a traffic step); None without such steps or
    with any step's time unknown."""
    from .steps import spec_of

    service = [step for step in steps if spec_of(step.kind).role in ("traffic", "verification")]
    if not known or not service:
        return None, None
    restored = round(max(finishes[step.step] for step in service), 3)
    ttls = [step.clients_follow_seconds for step in service if step.clients_follow_seconds is not None]
    return restored, round(restored + max(ttls, default=0.0), 3)


# -- evaluating ----------------------------------------------------------------------------------------


def check_payloads(plan: Plan, *, now: datetime, mode: Mode, run_id: str) -> dict[str, dict[str, Any]]:
    """Each step's step_check payload, as the recovery orchestrator builds it (dr.run.RunState.step_input)."""
    from .run import RunInput, RunState
    from .steps.base import StepCheckInput

    run = RunInput(plan=plan, mode=mode, trigger={"source": "what_if"}, requested_at=now)
    state = RunState(run_id, run, plan, now)
    return {
        step.id: StepCheckInput(context=state.step_input(step.id, now).context).model_dump(mode="json")
        for step in plan.steps
    }


def run_checks(
    payloads: dict[str, dict[str, Any]],
    *,
    check: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
    timeout: float = CHECK_TIMEOUT_SECONDS,
) -> dict[str, list[Check]]:
    """Every step's checks (dr.dispatch.check), all at once, each bounded: a check that times out or raises is
    a failed check of its step, never a missing one, and the others still report."""
    from . import dispatch
    from .shared_reads import reads_shared

    call = check or dispatch.check
    pool = ThreadPoolExecutor(max_workers=max(1, min(16, len(payloads))), thread_name_prefix="checks")
    try:
        with reads_shared():  # each thread gets a copy of this context, so the steps share their reads
            futures = {
                step_id: pool.submit(contextvars.copy_context().run, call, payload)
                for step_id, payload in payloads.items()
            }
        results: dict[str, list[Check]] = {}
        for step_id, future in futures.items():
            try:
                raw = future.result(timeout=timeout)
                results[step_id] = [Check.model_validate(item) for item in raw]
            except FutureTimeout:
                results[step_id] = [
                    Check.failed("readable", f"the checks of step {step_id!r} did not finish within {timeout:g} s")
                ]
            except Exception as error:  # a bug in a check: every other step still reports
                results[step_id] = [
                    Check.failed(
                        "readable", f"the checks of step {step_id!r} could not run: {type(error).__name__}: {error}"
                    )
                ]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def run_preflight(
    request: PreflightInput,
    read_history: Callable[[], list[dict[str, Any]]],
    *,
    check: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
) -> PreflightResult:
    """A run's pre-flight in one activity: every step's checks and, beside them, the plan's history."""
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
    try:
        history = reader.submit(read_history)
        checks = run_checks(request.checks, check=check)
        try:
            return PreflightResult(checks=checks, history=measurements(history.result(timeout=HISTORY_WAIT_SECONDS)))
        except FutureTimeout:
            why = f"the plan's history was not read within {HISTORY_WAIT_SECONDS:g} s of the checks"
            return PreflightResult(checks=checks, history_error=why)
        except Exception as error:  # no history: the kinds' models predict alone
            return PreflightResult(checks=checks, history_error=f"{type(error).__name__}: {str(error)[:300]}")
    finally:
        reader.shutdown(wait=False, cancel_futures=True)


def evaluate_plan(
    plan: Plan, *, now: datetime, mode: Mode = "failover", history: list[dict[str, Any]] | None = None
) -> PlanEvaluation:
    """Run every step's checks (dr.dispatch.check, in parallel, each bounded) and predict."""
    return _evaluate(plan, now=now, mode=mode, history=history)


def _evaluate(
    plan: Plan,
    *,
    now: datetime,
    mode: Mode,
    history: list[dict[str, Any]] | None,
    check: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
    timeout: float = CHECK_TIMEOUT_SECONDS,
) -> PlanEvaluation:
    run_plan = plan.for_mode(mode) if mode == "drill" and not plan.drill.failover_values else plan
    run_id = f"{plan.name}--what-if--{now.strftime('%Y%m%dT%H%M%S')}"
    results = run_checks(check_payloads(run_plan, now=now, mode=mode, run_id=run_id), check=check, timeout=timeout)
    evaluation = predict(run_plan, results, now=now, history=history)
    return evaluation.model_copy(update={"mode": mode})
