"""Azure SQL through azure-mgmt-sql: read databases, geo-backups and failover groups; start a restore, a
delete or a failover as an ARM long-running operation (:mod:`dr.azure_lro`) and look at it once per call.

Invariant: the only module of the SQL kinds that calls the SDK. Every read is bounded (few in-call retries,
see ``ARM_CALL_OPTIONS``) and every Azure error leaves as a :mod:`dr.errors` error saying what was being done,
except where a caller must tell answers apart (None for "not there" or "busy", said per function).
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
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
from .model import SqlRef
from .planning import SkuChoice, database_names, group_facts, operation_failure

# The source region may be down: reading the source database (only to copy its SKU) must not hang.
SOURCE_READ_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 5, "read_timeout": 10}


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
    with azure_errors(f"read target server {ref.server}"):
        server = sql.servers.get(ref.resource_group, ref.server, **ARM_CALL_OPTIONS)
    location: str = server.location
    return location


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
        except Exception:  # no links readable (partner region down, throttled): fall back to the bound
            unreadable.append(name)
    return group_facts(ref, group, links, unreadable)


def start_failover(sql: SqlManagementClient, ref: SqlRef, *, forced: bool, what: str) -> OperationRef | None:
    """Ask ARM for a planned (or forced) failover of the group onto ``ref``'s server. None: the group is busy
    with another operation (ask again later). An HTTP refusal leaves as a :mod:`dr.errors` error for the
    caller to explain; a connection failure leaves as the SDK raised it, for the activity edge."""
    groups = sql.failover_groups
    begin = groups.begin_force_failover_allow_data_loss if forced else groups.begin_failover
    try:
        return start_operation(begin, ref.resource_group, ref.server, ref.child)
    except HttpResponseError as exc:
        error = from_azure_error(exc, what=what)
        if error.code == "FailoverGroupBusy":
            return None
        raise error from exc
