"""The SQL kinds' decisions, as pure functions: the name a restore writes to, whose an existing database is,
the tags and SKU of a restore, what a recovery may lose, and how a failed operation reads.

Invariant: nothing here calls Azure. SDK models come in as data (read by :mod:`.arm`); what goes out is a
decision, a message or a plain model.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, NamedTuple

from azure.mgmt.sql.models import Database, FailoverGroup, RecoverableDatabase, ReplicationLink, Sku

from ...azure_lro import OperationStatus
from ...durations import iso, parse_time
from ...errors import DrError, NotFoundError, PermanentError, PreconditionError
from ...plan import SqlFailoverGroupStep, SqlGeoRestoreStep
from ..base import StepContext
from ..sdk import wire_text
from .model import (
    DRILL_SUFFIX,
    TAG_BACKUP,
    TAG_MODE,
    TAG_PLAN,
    TAG_RUN,
    TAG_SOURCE,
    TAG_STARTED,
    TAG_STEP,
    Origin,
    SqlRef,
)

PLANNED_FAILOVER_HINT = (
    "a planned failover (no data loss) needs the current primary to answer; if the primary region is down, "
    "only a forced failover can proceed, and it may lose data: set `allow_data_loss: true` on step {step!r} "
    "in the plan to allow it"
)


def refuse_sync(ctx: StepContext, kind: str) -> None:
    if ctx.mode not in ("failover", "drill"):
        raise PreconditionError(f"{kind} runs in a failover or a drill, not in mode {ctx.mode!r}", code="WrongMode")


def seconds_between(later: datetime, earlier: datetime) -> float:
    return round(max(0.0, (later - earlier).total_seconds()), 3)


class OperationFailed(PermanentError):
    """ARM reports the operation a step started failed or canceled (not: a call about it failed)."""


def operation_failure(what: str, status: OperationStatus) -> OperationFailed | None:
    """The error of an operation ARM reports failed or canceled (None while it runs or once it succeeded)."""
    if status.status not in ("Failed", "Canceled"):
        return None
    code = status.error_code or ("OperationCanceled" if status.status == "Canceled" else "Failed")
    return OperationFailed(
        f"{what} {status.status.lower()}: {code}: {status.error_message or 'no message'}",
        code=code,
    )


# -- geo-restore -------------------------------------------------------------------------------------------


def restore_target_name(ctx: StepContext, params: SqlGeoRestoreStep) -> str:
    """The database a run restores into. A drill never uses the production name: ``drill_target_database``
    when set, else the target name (as the drill's overrides left it) with a ``-drill`` suffix."""
    production = params.target_database or SqlRef.parse(params.source_database_id).child or ""
    if not ctx.is_drill:
        return production
    if params.drill_target_database:
        return params.drill_target_database
    return production if production.lower().endswith(DRILL_SUFFIX) else production + DRILL_SUFFIX


def tag_value(text: str) -> str:
    lowered = text.lower()
    return lowered if len(lowered) <= 256 else "sha256:" + hashlib.sha256(lowered.encode()).hexdigest()


def restore_tags(ctx: StepContext, params: SqlGeoRestoreStep, backup_time: datetime | None) -> dict[str, str]:
    """The tags a restore writes on the database it creates (how a later call recognises it)."""
    tags = {
        TAG_RUN: ctx.run_id,
        TAG_MODE: ctx.mode,
        TAG_PLAN: ctx.plan_name,
        TAG_STEP: ctx.step_id,
        TAG_SOURCE: tag_value(params.source_database_id),
        TAG_STARTED: iso(ctx.now),
    }
    if backup_time:
        tags[TAG_BACKUP] = iso(backup_time)
    return tags


def _same_id(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and str(a).rstrip("/").lower() == str(b).rstrip("/").lower()


def origin(ctx: StepContext, params: SqlGeoRestoreStep, database: Database) -> Origin | None:
    """How an existing target database came to be, as far as it concerns this step (None: not ours)."""
    tags = database.tags or {}
    if tags.get(TAG_SOURCE) == tag_value(params.source_database_id):
        if tags.get(TAG_RUN) == ctx.run_id:
            return "this_run"
        # A drill's copy is never a failover's result (and vice versa).
        return "earlier_run" if tags.get(TAG_MODE) == ctx.mode else None
    if wire_text(database.create_mode) == "Recovery":
        source = SqlRef.parse(params.source_database_id)
        recoverable_id = (
            f"/subscriptions/{source.subscription}/resourceGroups/{source.resource_group}/providers/Microsoft.Sql"
            f"/servers/{source.server}/recoverabledatabases/{source.child}"
        )
        if _same_id(database.recoverable_database_id, recoverable_id) or _same_id(
            database.source_database_id, params.source_database_id
        ):
            return "recovery_of_source"
    return None


def adopted_rpo(tags: dict[str, str], found: Origin) -> tuple[float | None, str]:
    """What an existing restore may have lost, and on what basis: from the tags its restore wrote."""
    if tags.get(TAG_BACKUP) and tags.get(TAG_STARTED):
        rpo = seconds_between(parse_time(tags[TAG_STARTED]), parse_time(tags[TAG_BACKUP]))
        return rpo, "age of the last geo-backup when the restore started (from the database's tags)"
    if found == "recovery_of_source":
        return None, "unknown: the restore was started outside this tool"
    return None, "unknown"


class SkuChoice(NamedTuple):
    """SKU or elastic pool of a restored database, where the choice came from, and any warnings."""

    sku: Sku | None
    elastic_pool_id: str | None
    basis: str
    warnings: list[str]


def sku_from_plan(params: SqlGeoRestoreStep) -> SkuChoice | None:
    if params.elastic_pool_id:
        return SkuChoice(None, params.elastic_pool_id, "plan (elastic_pool_id)", [])
    if params.sku:
        return SkuChoice(Sku(name=params.sku), None, "plan (sku)", [])
    return None


def sku_from_source(source_db: Database | None, recoverable: RecoverableDatabase) -> SkuChoice:
    """The source's SKU (``source_db`` is None when the source region did not answer), else the geo-backup's
    own record of it, else the target server's default with a warning."""
    if (
        source_db is not None
        and source_db.sku
        and not source_db.elastic_pool_id
        and source_db.sku.name != "ElasticPool"
    ):
        src = source_db.sku
        return SkuChoice(
            Sku(name=src.name, tier=src.tier, family=src.family, capacity=src.capacity), None, "source database", []
        )
    objective, pool = recoverable.service_level_objective, recoverable.elastic_pool_name
    if objective and not pool and objective != "ElasticPool":
        return SkuChoice(Sku(name=objective, tier=recoverable.edition), None, "geo-backup (recoverable database)", [])
    source_pool = source_db.elastic_pool_id if source_db is not None else None
    pool_name = pool or (source_pool.rstrip("/").rsplit("/", 1)[-1] if source_pool else None)
    if pool_name:
        warning = (
            f"the source database is in elastic pool {pool_name!r}, which the target server does not share: "
            "the restored database gets the server's default SKU; set sku or elastic_pool_id in the plan"
        )
        return SkuChoice(None, None, "server default", [warning])
    return SkuChoice(
        None, None, "server default", ["source SKU unknown: the restored database gets the server's default SKU"]
    )


# -- failover group ------------------------------------------------------------------------------------------


def failover_what(ref: SqlRef, forced: bool) -> str:
    return f"{'forced' if forced else 'planned'} failover of group {ref.child} to {ref.server}"


def failover_error(error: DrError, params: SqlFailoverGroupStep, ctx: StepContext) -> DrError:
    """A failed planned failover says how to go on when the primary region is down (forced failover)."""
    if params.allow_data_loss or isinstance(error, NotFoundError):
        return error
    if error.code in (
        "FailoverGroupBusy",
        "TooManyRequests",
        "Http429",
        "AuthorizationFailed",
        "Http401",
        "Http403",
    ):
        return error
    hinted = f"{error.message}. {PLANNED_FAILOVER_HINT.format(step=ctx.step_id)}"
    return type(error)(hinted, code=error.code)


def database_names(group: FailoverGroup) -> list[str]:
    return [str(d).rstrip("/").rsplit("/", 1)[-1] for d in group.databases or []]


_LAG_KEYS = ("replicationLagSeconds", "replicationLag", "replication_lag")


def _first_number(mapping: Any, keys: tuple[str, ...]) -> float | None:
    """The first numeric value under one of ``keys`` (SDK models are mappings of the wire JSON)."""
    for key in keys:
        value = mapping.get(key) if mapping is not None else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def group_facts(
    ref: SqlRef, group: FailoverGroup, links: dict[str, list[ReplicationLink]], unreadable: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """The group's roles and what a forced failover would lose now: the worst replication lag of its
    databases when ARM reports one, else the group's data-loss grace period as an upper bound.

    ``links``: the replication links of each database whose links could be read, in the group's order;
    ``unreadable``: the databases whose links could not be (partner region down, throttled)."""
    partners = [
        {"id": p.id, "location": p.location, "replication_role": wire_text(p.replication_role)}
        for p in group.partner_servers or []
    ]
    endpoint = group.read_write_endpoint
    facts: dict[str, Any] = {
        "operation": "failover group",
        "failover_group_id": group.id or ref.database_id(ref.child or "").replace("/databases/", "/failoverGroups/"),
        "server": ref.server,
        "location": group.location,
        "replication_role": wire_text(group.replication_role),
        "replication_state": group.replication_state,
        "partners": partners,
        "databases": database_names(group),
        "failover_policy": wire_text(endpoint.failover_policy) if endpoint else None,
    }
    warnings: list[str] = []
    lags: list[float] = []
    link_states: dict[str, str | None] = {}
    for name, database_links in links.items():
        for link in database_links:
            link_states[name] = wire_text(link.replication_state)
            lag = _first_number(link.properties, _LAG_KEYS)
            if lag is not None:
                lags.append(lag)
    facts["replication_links"] = link_states
    if unreadable:
        facts["replication_links_unreadable"] = unreadable
    seeding = sorted(name for name, link_state in link_states.items() if link_state in ("SEEDING", "PENDING"))
    if seeding:
        warnings.append(f"database(s) {', '.join(seeding)} still seeding: the secondary does not hold all data yet")
    grace_minutes = endpoint.failover_with_data_loss_grace_period_minutes if endpoint else None
    if grace_minutes is None and endpoint is not None:
        hours = endpoint.get("gracePeriodWithDataLossHours")  # the older API's name for the same setting
        grace_minutes = int(hours) * 60 if isinstance(hours, int | float) else None
    if lags:
        facts.update(
            data_at_risk_seconds=max(lags),
            rpo_basis="replication lag reported by the group's replication links (worst database)",
        )
    elif grace_minutes is not None:
        facts.update(
            data_at_risk_seconds=float(grace_minutes * 60),
            rpo_basis=(
                f"no replication lag reported: the group's data-loss grace period ({grace_minutes} min) "
                "is used as an upper bound"
            ),
        )
    else:
        facts.update(data_at_risk_seconds=None, rpo_basis="unknown: no replication lag and no grace period")
    return facts, warnings
