"""The SQL kinds' decisions, as pure functions: the name a restore writes to, whose an existing database is,
the tags and SKU of a restore, what a recovery may lose, and how a failed operation reads.

Invariant: nothing here calls Azure. SDK models come in as data (read by :mod:`.arm`); what goes out is a
decision, a message or a plain model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from azure.mgmt.sql.models import Database, FailoverGroup, RecoverableDatabase, ReplicationLink, Sku

from ...durations import iso, parse_time
from ...errors import DrError, NotFoundError
from ...plan import SqlFailoverGroupStep, SqlGeoRestoreStep
from .. import restores
from ..base import Check, StepContext
from ..restores import TAG_STARTED, restored_by, restores_source
from ..sdk import wire_text
from .model import DRILL_SUFFIX, TAG_BACKUP, Origin, SqlRef

PLANNED_FAILOVER_HINT = (
    "a planned failover (no data loss) needs the current primary to answer; if the primary region is down, "
    "only a forced failover can proceed, and it may lose data: set `allow_data_loss: true` on step {step!r} "
    "in the plan to allow it"
)


def seconds_between(later: datetime, earlier: datetime) -> float:
    return round(max(0.0, (later - earlier).total_seconds()), 3)


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


def restore_tags(ctx: StepContext, params: SqlGeoRestoreStep, backup_time: datetime | None) -> dict[str, str]:
    """The tags a restore writes on the database it creates (how a later call recognises it)."""
    tags = restores.restore_tags(ctx, params.source_database_id)
    if backup_time:
        tags[TAG_BACKUP] = iso(backup_time)
    return tags


def _same_id(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and str(a).rstrip("/").lower() == str(b).rstrip("/").lower()


def origin(ctx: StepContext, params: SqlGeoRestoreStep, database: Database) -> Origin | None:
    """How an existing target database came to be, as far as it concerns this step (None: not ours)."""
    tags = database.tags or {}
    if restores_source(tags, params.source_database_id):
        return restored_by(ctx, tags)
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


def geo_backup_rpo_basis(backup_time: datetime | None) -> str:
    """What a geo-restore's data-loss figure rests on: the recoverable database's lastAvailableBackupDate
    (RecoverableDatabases.json, 2025-01-01), the newest backup the restore can use."""
    if backup_time is None:
        return "unknown: the recoverable database reports no lastAvailableBackupDate"
    return (
        f"age of the last geo-backup when the restore began: now - lastAvailableBackupDate ({iso(backup_time)}) "
        "of the recoverable database"
    )


def adopted_rpo(tags: dict[str, str], found: Origin) -> tuple[float | None, str]:
    """What an existing restore may have lost, and on what basis: from the tags its restore wrote."""
    if tags.get(TAG_BACKUP) and tags.get(TAG_STARTED):
        rpo = seconds_between(parse_time(tags[TAG_STARTED]), parse_time(tags[TAG_BACKUP]))
        return rpo, "age of the last geo-backup when the restore started (from the database's tags)"
    if found == "recovery_of_source":
        return None, "unknown: the restore was started outside this tool"
    return None, "unknown: the database's tags carry no geo-backup time (dr-backup-time)"


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

FailoverMode = Literal["planned", "forced", "planned_then_forced"]
FailoverKind = Literal["planned", "forced"]

PLANNED_RPO_BASIS = "planned failover: no data loss (synchronised before the switch)"

# Above this lag a forced failover loses more than Azure's documented objective for geo-replication and
# failover groups (RPO 5 s: "Overview of business continuity with Azure SQL Database", learn.microsoft.com/
# azure/azure-sql/database/business-continuity-high-availability-disaster-recover-hadr-overview).
LAG_WARNING_SECONDS = 5.0

# Where Azure keeps the lag: ARM's ReplicationLink (ReplicationLinks.json, 2025-01-01) has no lag field; the
# primary database's sys.dm_geo_replication_link_status.replication_lag_sec has it ("available on the
# primary database only", learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/
# sys-dm-geo-replication-link-status-azure-sql-database).
LAG_SOURCE = "sys.dm_geo_replication_link_status.replication_lag_sec on the primary"

PLANNED_FAILOVER_HINT = (
    "a planned failover (no data loss) needs the current primary to answer; if the primary region is down, "
    "only a forced failover can proceed, and it may lose data: set `failover_mode: planned_then_forced` (forced "
    "only when the primary cannot answer) or `failover_mode: forced` on step {step!r} in the plan"
)


class LagReading(NamedTuple):
    """How far the secondary trails the primary (worst database), and where that came from. ``seconds``
    None: unknown, and ``basis`` starts with 'unknown:' and says why."""

    seconds: float | None
    basis: str


class PrimaryView(NamedTuple):
    """The current primary's own answer about the group (the partner of the server to promote).

    ``reachable``: True (it answered), False (its region or network did not: an outage), None (it answered
    with something that says nothing about reachability, e.g. throttling or a permission error)."""

    server: str | None
    location: str | None
    reachable: bool | None
    role: str | None = None
    reason: str | None = None

    def as_fact(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "location": self.location,
            "reachable": self.reachable,
            "reads_role": self.role,
            "unreachable_reason": self.reason,
        }


class GroupSurvey(NamedTuple):
    """What a failover-group step reads before it acts (or a check reports): the group as the server to
    promote sees it, the current primary's view, and the replication lag."""

    facts: dict[str, Any]
    warnings: list[str]
    primary: PrimaryView
    lag: LagReading

    @property
    def role(self) -> str | None:
        role: str | None = self.facts.get("replication_role")
        return role


def failover_what(ref: SqlRef, mode: FailoverMode) -> str:
    described = {"planned": "planned", "forced": "forced", "planned_then_forced": "planned-then-forced"}[mode]
    return f"{described} failover of group {ref.child} to {ref.server}"


def expected_failover(mode: FailoverMode, primary: PrimaryView) -> FailoverKind:
    """What a failover in ``mode`` would do now: planned_then_forced forces only when the primary is known
    to be unreachable (Azure's tryPlannedBeforeForcedFailover tries planned first)."""
    if mode == "planned_then_forced":
        return "forced" if primary.reachable is False else "planned"
    return mode


def failover_rpo(kind: FailoverKind, lag: LagReading) -> tuple[float | None, str]:
    """What a failover of ``kind`` may lose, and on what basis. A planned failover waits for the secondary to
    catch up (it loses nothing, or fails and rolls back); a forced one loses the lag, and an unknown lag stays
    unknown (None, never 0)."""
    if kind == "planned":
        return 0.0, PLANNED_RPO_BASIS
    if lag.seconds is None:
        return None, lag.basis
    return lag.seconds, f"forced failover: {lag.basis}"


def describe_primary(primary: PrimaryView) -> str:
    where = f"{primary.server} ({primary.location})" if primary.location else str(primary.server)
    return f"{where}: {primary.reason or 'no answer'}"


def planned_refused(primary: PrimaryView) -> str:
    """Why a planned_then_forced failover forced: the words the step's detail and summary use."""
    return f"planned failover refused: primary unreachable ({describe_primary(primary)}); forced failover issued"


def failover_error(error: DrError, params: SqlFailoverGroupStep, ctx: StepContext) -> DrError:
    """A failed planned failover says how to go on when the primary region is down (another mode)."""
    if params.failover_mode != "planned" or isinstance(error, NotFoundError):
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


def two_primaries_warning(ref: SqlRef, primary: PrimaryView) -> str | None:
    """The split Azure leaves after a forced failover the old primary could not hear: once back online it
    still reads the group as Primary until it reconnects and turns secondary (Switch-AzSqlDatabaseFailoverGroup
    reference: "when the original primary server is back online, all formerly primary databases in it will
    switch to the secondary role"). None: the old primary reads Secondary, or cannot be read."""
    if primary.reachable is not True or primary.role != "Primary":
        return None
    return (
        f"two primaries: {primary.server} still reads failover group {ref.child} as Primary while {ref.server} "
        "is the primary; writes that reach it directly (not through the group's read-write listener) are lost "
        "when it rejoins as secondary, until re-seeding: keep writers on the listener and check the group "
        f"again on {primary.server}"
    )


def stale_primary_message(ref: SqlRef, primary: PrimaryView) -> str:
    """A failback's view of the split: the server it would promote is the stale old primary."""
    return (
        f"{ref.server} still reads failover group {ref.child} as Primary from before the forced failover, while "
        f"{primary.server} is the primary that took the writes since: wait until {ref.server} rejoins as secondary "
        "(Azure does this some minutes after its region is back), then fail back with a planned failover"
    )


def old_primary_unreachable_warning(ref: SqlRef, primary: PrimaryView) -> str:
    return (
        f"old primary unreachable ({describe_primary(primary)}): when it comes back it reads failover group "
        f"{ref.child} as Primary until it reconnects and re-seeds as secondary (two primaries meanwhile); "
        "keep writers on the group's read-write listener"
    )


def database_names(group: FailoverGroup) -> list[str]:
    return [str(d).rstrip("/").rsplit("/", 1)[-1] for d in group.databases or []]


# Lag keys a replication link would carry. ReplicationLinks.json (2025-01-01) has none: ARM never sends them
# today; a link that does (a later api-version) is believed over the primary's own figure.
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
    """The group's roles, its links' states and any lag its links report (``data_at_risk_seconds``).

    The data-loss grace period is reported as a fact, never as a bound on the lag: it is how long Azure waits
    before an automatic forced failover, not how far the secondary trails (Failover groups overview,
    learn.microsoft.com/azure/azure-sql/database/failover-group-sql-db).

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
    facts["grace_period_minutes"] = grace_minutes
    if lags:
        facts.update(
            data_at_risk_seconds=max(lags),
            rpo_basis="replication lag reported by the group's replication links (worst database)",
        )
    else:
        facts.update(
            data_at_risk_seconds=None,
            rpo_basis="unknown: the replication links report no lag (ReplicationLinks 2025-01-01 has no lag field)",
        )
    return facts, warnings


def survey_lag(facts: dict[str, Any], primary_lag: LagReading) -> LagReading:
    """The lag a forced failover would lose: a lag the links report, else the primary's own figure."""
    seconds = facts.get("data_at_risk_seconds")
    if isinstance(seconds, int | float):
        return LagReading(float(seconds), str(facts.get("rpo_basis")))
    return primary_lag


# -- failover group: pre-flight checks -----------------------------------------------------------------------


def failover_checks(ctx: StepContext, params: SqlFailoverGroupStep, ref: SqlRef, survey: GroupSurvey) -> list[Check]:
    """What a failover of a group that is secondary on ``ref``'s server needs: the primary (for planned),
    the replication (what forced loses), the mode. In a drill nothing fails over: what would fail a
    failover is a warning there, saying so."""
    mode = params.failover_mode
    primary = survey.primary
    checks: list[Check] = []
    primary_facts = primary.as_fact()
    if primary.reachable is True:
        checks.append(
            Check.passed(
                "partner_reachable",
                f"the current primary {primary.server} answers (it reads the group as {primary.role})",
                **primary_facts,
            )
        )
    elif primary.reachable is False and mode == "planned":
        checks.append(
            _failover_failure(
                ctx,
                "partner_reachable",
                f"planned failover needs the primary; it is unreachable ({describe_primary(primary)}) — choose "
                f"forced or planned_then_forced (failover_mode of step {ctx.step_id!r})",
                primary_facts,
            )
        )
    elif primary.reachable is False:
        checks.append(
            Check.warning(
                "partner_reachable",
                f"primary unreachable: a forced failover will be used ({describe_primary(primary)}); it loses "
                "the writes the secondary had not received",
                **primary_facts,
            )
        )
    else:
        checks.append(
            Check.warning(
                "partner_reachable",
                f"could not tell whether the current primary answers ({describe_primary(primary)})",
                **primary_facts,
            )
        )

    lag = survey.lag
    state = survey.facts.get("replication_state")
    lag_facts = {"replication_state": state, "lag_seconds": lag.seconds, "lag_basis": lag.basis}
    forced_possible = mode != "planned"
    if state in ("SEEDING", "PENDING") or survey.warnings:
        checks.append(
            Check.warning(
                "replication",
                f"replication {state}: {'; '.join(survey.warnings) or 'the secondary is not in sync yet'}",
                **lag_facts,
            )
        )
    elif lag.seconds is None:
        message = (
            f"replication {state}; lag unknown ({lag.basis.removeprefix('unknown: ')}): a forced failover's data "
            "loss cannot be estimated"
        )
        checks.append(
            Check.warning("replication", message, **lag_facts)
            if forced_possible
            else Check.passed("replication", message, **lag_facts)
        )
    elif lag.seconds > LAG_WARNING_SECONDS:
        at_risk = (
            f"a forced failover now loses about {lag.seconds:g} s of writes"
            if forced_possible
            else "a planned failover waits for the secondary to catch up first"
        )
        checks.append(
            Check.warning(
                "replication",
                f"replication lag {lag.seconds:g} s is above {LAG_WARNING_SECONDS:g} s: {at_risk}",
                data_at_risk_seconds=lag.seconds if forced_possible else 0.0,
                **lag_facts,
            )
        )
    else:
        checks.append(
            Check.passed(
                "replication",
                f"replication {state}, lag {lag.seconds:g} s",
                data_at_risk_seconds=lag.seconds if forced_possible else 0.0,
                **lag_facts,
            )
        )

    kind = expected_failover(mode, primary)
    rpo, basis = failover_rpo(kind, lag)
    explained = {
        "planned": "planned failover: no data loss; it needs the primary to answer",
        "forced": "forced failover: promotes the secondary at once and loses the replication lag",
        "planned_then_forced": "planned failover while the primary answers, forced only when it cannot "
        f"(Azure's tryPlannedBeforeForcedFailover); now it would be {kind}",
    }[mode]
    checks.append(
        Check.passed(
            "failover_mode",
            f"failover_mode {mode}: {explained}",
            failover_mode=mode,
            expected_failover=kind,
            rpo_estimate_seconds=rpo,
            rpo_basis=basis,
        )
    )
    return checks


def _failover_failure(ctx: StepContext, name: str, message: str, facts: dict[str, Any]) -> Check:
    if ctx.is_drill:  # the drill changes nothing: say what a failover would meet
        return Check.warning(name, f"a failover would fail: {message}", **facts)
    return Check.failed(name, message, **facts)
