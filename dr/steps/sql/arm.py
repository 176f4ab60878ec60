"""Azure SQL through azure-mgmt-sql: read databases, geo-backups and failover groups; start a restore, a
delete or a failover as an ARM long-running operation (:mod:`dr.azure_lro`) and look at it once per call.

Invariant: the only module of the SQL kinds that calls the SDK. Every read is bounded (few in-call retries,
see ``ARM_CALL_OPTIONS``) and every Azure error leaves as a :mod:`dr.errors` error saying what was being done,
except where a caller must tell answers apart (None for "not there" or "busy", said per function).
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError, ServiceResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.sql.models import (
    Database,
    DatabaseProperties,
    FailoverGroup,
    RecoverableDatabase,
    ReplicationLink,
)

from ...azure_lro import ARM_CALL_OPTIONS, OperationRef, OperationStatus, check_operation, start_operation
from ...clients import get_clients
from ...errors import NotFoundError, TransientError, azure_errors, from_azure_error
from ...shared_reads import shared
from ..operation import operation_failure
from ..sdk import wire_text
from .model import SqlRef
from .planning import (
    LAG_SOURCE,
    FailoverMode,
    GroupSurvey,
    LagReading,
    PrimaryView,
    SkuChoice,
    database_names,
    describe_primary,
    group_facts,
    survey_lag,
)

# The source region may be down: reading the source database (only to copy its SKU) must not hang.
SOURCE_READ_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 5, "read_timeout": 10}
# The current primary of a failover group may be down too: one quick look, no retries.
PROBE_OPTIONS: dict[str, Any] = SOURCE_READ_OPTIONS
# What ARM answers when a region's resource provider does not (the devstack's outage: 504 GatewayTimeout).
UNREACHABLE_STATUS = frozenset({502, 503, 504})


def client(ref: SqlRef) -> SqlManagementClient:
    return get_clients().sql(ref.subscription)


def operation_status(sql: SqlManagementClient, operation: OperationRef | None, what: str) -> OperationStatus | None:
    """One look at the operation a step's state remembers (None: it remembers none), only ever on the ARM
    endpoint the clients were built for. An operation ARM reports failed or canceled raises
    :class:`.planning.OperationFailed`."""
    if operation is None:
        return None
    with azure_errors(what):
        status = check_operation(sql, operation, endpoint=get_clients().settings.arm_endpoint)
    failure = operation_failure(what, status)
    if failure is not None:
        raise failure
    return status


# -- databases -----------------------------------------------------------------------------------------------


def get_database(sql: SqlManagementClient, ref: SqlRef, name: str) -> Database | None:
    """The database, or None when the server has none of that name."""
    with azure_errors(f"read database {ref.server}/{name}"):
        try:
            return sql.databases.get(ref.resource_group, ref.server, name, **ARM_CALL_OPTIONS)
        except ResourceNotFoundError:
            return None


def server_location(sql: SqlManagementClient, ref: SqlRef) -> str:
    """The server's region; read once per pre-flight (several databases often restore onto one server)."""

    def read() -> str:
        with azure_errors(f"read target server {ref.server}"):
            server = sql.servers.get(ref.resource_group, ref.server, **ARM_CALL_OPTIONS)
        location: str = server.location
        return location

    return shared("sql.server", ref.server_id, read)


def recoverable_database(source: SqlRef, source_database_id: str) -> RecoverableDatabase:
    """The source's geo-backup, read through the source's own subscription."""
    with azure_errors(f"read the geo-backup of {source.server}/{source.child}"):
        try:
            return client(source).recoverable_databases.get(
                source.resource_group, source.server, source.child or "", **ARM_CALL_OPTIONS
            )
        except ResourceNotFoundError:
            raise NotFoundError(
                f"no geo-backup of {source.child!r} on server {source.server!r} (recoverable database not "
                f"found): {source_database_id} cannot be geo-restored",
                code="RecoverableDatabaseNotFound",
            ) from None


def read_source_database(source: SqlRef) -> Database | None:
    """The source database, or None when it cannot be read now (its region down, throttled): one quick try."""
    try:
        database: Database = client(source).databases.get(
            source.resource_group, source.server, source.child or "", **SOURCE_READ_OPTIONS
        )
    except Exception:  # unreadable source: the geo-backup's record will do
        return None
    return database


def restore_body(
    *, location: str, choice: SkuChoice, recoverable_database_id: str | None, tags: dict[str, str]
) -> Database:
    """The database a geo-restore creates (createMode ``Recovery`` from the geo-backup)."""
    properties = DatabaseProperties(
        create_mode="Recovery",
        recoverable_database_id=recoverable_database_id,
        elastic_pool_id=choice.elastic_pool_id,
    )
    return Database(location=location, sku=choice.sku, tags=tags, properties=properties)


def start_restore(
    sql: SqlManagementClient, target: SqlRef, name: str, body: Database, what: str
) -> OperationRef | None:
    """Start creating ``name`` on the target server. None: ARM answered 409, some operation on that
    database is already running."""
    with azure_errors(what):
        try:
            return start_operation(
                sql.databases.begin_create_or_update, target.resource_group, target.server, name, body
            )
        except HttpResponseError as exc:
            if exc.status_code == 409:
                return None
            raise


def start_delete(sql: SqlManagementClient, target: SqlRef, name: str, what: str) -> OperationRef | None:
    """Start deleting the database. None: it is gone already. A busy database is a TransientError."""
    with azure_errors(what):
        try:
            return start_operation(sql.databases.begin_delete, target.resource_group, target.server, name)
        except HttpResponseError as exc:
            if exc.status_code == 404:
                return None
            if exc.status_code == 409:  # still being created or busy: the orchestrator tries teardown again
                raise TransientError(
                    f"{what}: the database is busy ({exc.reason}); will retry", code="DatabaseBusy"
                ) from None
            raise


# -- failover groups -----------------------------------------------------------------------------------------


def get_group(sql: SqlManagementClient, ref: SqlRef) -> FailoverGroup:
    with azure_errors(f"read failover group {ref.child} on server {ref.server}"):
        return sql.failover_groups.get(ref.resource_group, ref.server, ref.child or "", **ARM_CALL_OPTIONS)


def failover_group_facts(
    sql: SqlManagementClient, ref: SqlRef, group: FailoverGroup
) -> tuple[dict[str, Any], list[str]]:
    """The group's facts and warnings (:func:`.planning.group_facts`), with its databases' replication links
    read here; a database whose links cannot be read is listed as such, never fatal."""
    links: dict[str, list[ReplicationLink]] = {}
    unreadable: list[str] = []
    for name in database_names(group):
        try:
            links[name] = list(
                sql.replication_links.list_by_database(ref.resource_group, ref.server, name, **ARM_CALL_OPTIONS)
            )
        except Exception:  # no links readable (partner region down, throttled): listed, never fatal
            unreadable.append(name)
    return group_facts(ref, group, links, unreadable)


def primary_ref(ref: SqlRef, group: FailoverGroup) -> SqlRef | None:
    """The group on its partner server (the current primary when ``ref``'s server is the secondary). A group
    has one partner (FailoverGroups.json: FailoverGroupCreateOrUpdateRequestUnsupportedPartnerCount)."""
    partners = group.partner_servers or []
    if not partners or not partners[0].id:
        return None
    return ref.group_on(partners[0].id)


def primary_view(sql: SqlManagementClient, partner: SqlRef | None, location: str | None) -> PrimaryView:
    """The group as its partner server reads it, asked once with short timeouts (its region may be down).
    A gateway timeout or a connection failure means unreachable; an answer of any kind means it answered."""
    if partner is None:
        return PrimaryView(None, location, None, reason="the group names no partner server")
    try:
        group = sql.failover_groups.get(partner.resource_group, partner.server, partner.child or "", **PROBE_OPTIONS)
    except (ServiceRequestError, ServiceResponseError) as exc:
        return PrimaryView(partner.server, location, False, reason=f"connection failed ({type(exc).__name__})")
    except HttpResponseError as exc:
        error = from_azure_error(exc, what=f"read failover group {partner.child} on {partner.server}")
        if exc.status_code in UNREACHABLE_STATUS:
            return PrimaryView(partner.server, location, False, reason=f"{error.code}: {exc.reason}")
        if exc.status_code == 404:
            return PrimaryView(partner.server, location, True, role=None, reason="the group is not on it")
        return PrimaryView(partner.server, location, None, reason=error.message)
    return PrimaryView(partner.server, group.location or location, True, role=wire_text(group.replication_role))


def primary_lag(sql: SqlManagementClient, primary: SqlRef | None, names: list[str], view: PrimaryView) -> LagReading:
    """The worst replication lag of the group's databases, as the primary reports it before a failover.

    Azure keeps it in the primary database's sys.dm_geo_replication_link_status (see
    :data:`.planning.LAG_SOURCE`), not in ARM, so it cannot be read once the primary is unreachable, and this
    app (ARM only) cannot read it in Azure at all. The devstack's ARM emulator stands that view in with its
    replication-lag control (GET /_emulator/sql/replication-lag), read only when the settings point at it."""
    if primary is None or not names:
        return LagReading(None, "unknown: the group has no partner server or no databases")
    if view.reachable is False:
        return LagReading(
            None,
            f"unknown: the lag is reported only by the primary ({LAG_SOURCE}), and the primary is unreachable "
            f"({describe_primary(view)})",
        )
    settings = get_clients().settings
    if not settings.uses_arm_emulator:
        return LagReading(
            None,
            f"unknown: ARM reports no replication lag (ReplicationLinks 2025-01-01 has no lag field) and this app "
            f"does not query {LAG_SOURCE}",
        )
    lags: dict[str, float] = {}
    control = f"{settings.arm_endpoint.rstrip('/')}/_emulator/sql/replication-lag"
    for name in names:
        request = HttpRequest("GET", control, params={"database_id": primary.database_id(name)})
        try:
            response = sql.send_request(request, **PROBE_OPTIONS)
            response.raise_for_status()
            seconds = response.json().get("seconds")
        except Exception as exc:  # an unreadable lag is an unknown lag, never 0
            return LagReading(None, f"unknown: the lag of {name} could not be read ({type(exc).__name__})")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            return LagReading(None, f"unknown: {name} reports no replication link on {primary.server}")
        lags[name] = float(seconds)
    worst = max(lags, key=lambda n: lags[n])
    return LagReading(
        lags[worst],
        f"replication lag of {worst} (worst of {len(lags)} database(s)) read from the primary {primary.server} "
        f"before the failover ({LAG_SOURCE}; devstack: the ARM emulator's replication-lag control)",
    )


def survey_group(sql: SqlManagementClient, ref: SqlRef, group: FailoverGroup) -> GroupSurvey:
    """Everything a failover-group step or check reads before acting: the group's facts, the current
    primary's own view of it (when ``ref``'s server is not the primary) and the replication lag."""
    facts, warnings = failover_group_facts(sql, ref, group)
    partner = primary_ref(ref, group)
    partners = group.partner_servers or []
    view = primary_view(sql, partner, partners[0].location if partners else None)
    lag = survey_lag(facts, primary_lag(sql, partner, database_names(group), view))
    facts.update(
        primary=view.as_fact(),
        replication_lag_seconds=lag.seconds,
        lag_basis=lag.basis,
    )
    return GroupSurvey(facts, warnings, view, lag)


def start_failover(sql: SqlManagementClient, ref: SqlRef, *, mode: FailoverMode, what: str) -> OperationRef | None:
    """Ask ARM for the failover of the group onto ``ref``'s server: planned (FailoverGroups_Failover), forced
    (FailoverGroups_ForceFailoverAllowDataLoss) or planned-then-forced (FailoverGroups_TryPlannedBeforeForced-
    Failover, in FailoverGroups.json 2025-01-01 and azure-mgmt-sql 4.0.0). None: the group is busy with
    another operation (ask again later). An HTTP refusal leaves as a :mod:`dr.errors` error for the caller to
    explain; a connection failure leaves as the SDK raised it, for the activity edge."""
    groups = sql.failover_groups
    begin = {
        "planned": groups.begin_failover,
        "forced": groups.begin_force_failover_allow_data_loss,
        "planned_then_forced": groups.begin_try_planned_before_forced_failover,
    }[mode]
    try:
        return start_operation(begin, ref.resource_group, ref.server, ref.child)
    except HttpResponseError as exc:
        error = from_azure_error(exc, what=what)
        if error.code == "FailoverGroupBusy":
            return None
        raise error from exc
