"""Azure Database for PostgreSQL flexible servers through azure-mgmt-postgresqlflexibleservers: read servers into
:class:`.planning.ServerView`, read a replica's lag from Azure Monitor and a server's newest backup, start a
promotion, a geo-restore or a delete as ARM long-running operations, and look at one once per call.

Invariant: the only module of the kind that calls Azure; every Azure error leaves as a :mod:`dr.errors` error
saying what was being done, except where a caller must tell answers apart (None for "not there" or "busy",
said per function).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError, ServiceResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
from azure.mgmt.postgresqlflexibleservers.models import (
    Replica,
    Server,
    ServerForPatch,
    ServerProperties,
    ServerPropertiesForPatch,
)

from ...azure_lro import ARM_CALL_OPTIONS, OperationRef, OperationStatus, check_operation, start_operation
from ...clients import get_clients
from ...durations import parse_time
from ...errors import azure_errors, from_azure_error
from ..sdk import ArmRef, wire_text
from .planning import LAG_METRIC, Reading, ServerView

# A server whose region may be down is asked once, quickly (pre-flight and begin must not hang on it).
PROBE_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 5, "read_timeout": 10}
# What ARM answers when a region's resource provider does not (the devstack's outage: 504 GatewayTimeout).
UNREACHABLE_STATUS = frozenset({502, 503, 504})
# Azure Monitor's metrics API (Microsoft.Insights, metrics_API.json 2023-10-01).
METRICS_API_VERSION = "2023-10-01"


class ServerRef(ArmRef):
    """A Microsoft.DBforPostgreSQL/flexibleServers id."""

    def client(self) -> PostgreSQLManagementClient:
        return get_clients().postgresql(self.subscription)


def server_view(found: Any, server_id: str) -> ServerView:
    properties = found.properties
    replica = properties.replica if properties is not None else None
    backup = properties.backup if properties is not None else None
    return ServerView(
        id=server_id,
        name=str(found.name),
        location=str(found.location),
        state=wire_text(properties.state) if properties is not None else None,
        role=wire_text(replica.role if replica is not None and replica.role else properties.replication_role)
        if properties is not None
        else None,
        replication_state=wire_text(replica.replication_state) if replica is not None else None,
        source_server_id=properties.source_server_resource_id if properties is not None else None,
        geo_redundant_backup=wire_text(backup.geo_redundant_backup) if backup is not None else None,
        tags=dict(found.tags or {}),
    )


def get_server(ref: ServerRef) -> ServerView | None:
    """The server, or None when there is none of that name."""
    with azure_errors(f"read PostgreSQL server {ref.name}"):
        try:
            found = ref.client().servers.get(ref.resource_group, ref.name, **ARM_CALL_OPTIONS)
        except ResourceNotFoundError:
            return None
    return server_view(found, ref.id)


def probe_server(ref: ServerRef) -> tuple[bool | None, ServerView | None, str]:
    """One quick look at a server whose region may be down: (answered?, the server, why). A gateway timeout or a
    connection failure is unreachable (False); an answer of any kind is reachable; anything else is unknown."""
    what = f"read PostgreSQL server {ref.name}"
    try:
        found = ref.client().servers.get(ref.resource_group, ref.name, **PROBE_OPTIONS)
    except (ServiceRequestError, ServiceResponseError) as exc:
        return False, None, f"connection failed ({type(exc).__name__})"
    except ResourceNotFoundError:
        return True, None, "not found"
    except HttpResponseError as exc:
        error = from_azure_error(exc, what=what)
        if exc.status_code in UNREACHABLE_STATUS:
            return False, None, f"{error.code}: {exc.reason}"
        return None, None, error.message
    return True, server_view(found, ref.id), "answered"


def replica_lag(ref: ServerRef) -> Reading:
    """The replica's lag as Azure Monitor reports it (the metric's latest maximum): unknown, never 0, when it
    cannot be read."""
    url = f"{get_clients().settings.arm_endpoint.rstrip('/')}{ref.id}/providers/Microsoft.Insights/metrics"
    request = HttpRequest(
        "GET",
        url,
        params={
            "api-version": METRICS_API_VERSION,
            "metricnames": LAG_METRIC,
            "aggregation": "Maximum",
            "interval": "PT1M",
            "timespan": "PT15M",
        },
    )
    try:
        response = ref.client().send_request(request, **PROBE_OPTIONS)
        response.raise_for_status()
        series = (response.json().get("value") or [{}])[0].get("timeseries") or []
        points = (
            [p for p in (series[0].get("data") or []) if isinstance(p.get("maximum"), int | float)] if series else []
        )
    except Exception as exc:  # an unreadable lag is an unknown lag, never 0
        return Reading(
            seconds=None, basis=f"the replica's lag could not be read from Azure Monitor ({type(exc).__name__})"
        )
    if not points:
        return Reading(seconds=None, basis=f"Azure Monitor has no recent {LAG_METRIC} for replica {ref.name}")
    latest = points[-1]
    return Reading(
        seconds=float(latest["maximum"]),
        basis=f"replica lag of {ref.name} ({LAG_METRIC}, Azure Monitor, maximum of the minute "
        f"{latest.get('timeStamp')}) read before the promotion",
    )


def newest_backup(ref: ServerRef) -> tuple[datetime | None, str | None]:
    """When the server's newest backup completed, or (None, why not)."""
    try:
        backups = list(
            ref.client().backups_automatic_and_on_demand.list_by_server(ref.resource_group, ref.name, **PROBE_OPTIONS)
        )
    except Exception as exc:  # its region down, throttled: the caller falls back to the documented bound
        return None, f"{type(exc).__name__}"
    times = [b.properties.completed_time for b in backups if b.properties is not None and b.properties.completed_time]
    if not times:
        return None, "no backup listed"
    newest = max(times)
    return (parse_time(newest) if isinstance(newest, str) else newest), None


def _start(what: str, begin: Any, *args: Any) -> OperationRef | None:
    """Start an operation. None: the server is busy with another one (ask again later)."""
    try:
        return start_operation(begin, *args)
    except HttpResponseError as exc:
        error = from_azure_error(exc, what=what)
        if exc.status_code == 409 and error.code == "ServerBusy":
            return None
        raise error from exc
    except Exception as exc:
        raise from_azure_error(exc, what=what) from exc


def start_promote(ref: ServerRef, *, option: str, tags: dict[str, str]) -> OperationRef | None:
    body = ServerForPatch(
        tags=tags,
        properties=ServerPropertiesForPatch(replica=Replica(promote_mode="Standalone", promote_option=option)),
    )
    return _start(
        f"promote replica {ref.name} ({option})", ref.client().servers.begin_update, ref.resource_group, ref.name, body
    )


def start_geo_restore(
    ref: ServerRef, *, location: str, source_server_id: str, tags: dict[str, str]
) -> OperationRef | None:
    body = Server(
        location=location,
        tags=tags,
        properties=ServerProperties(create_mode="GeoRestore", source_server_resource_id=source_server_id),
    )
    return _start(
        f"geo-restore into PostgreSQL server {ref.name}",
        ref.client().servers.begin_create_or_update,
        ref.resource_group,
        ref.name,
        body,
    )


def start_delete(ref: ServerRef) -> OperationRef | None:
    """Start deleting the server; None: busy (a TransientError would burn the teardown's retries)."""
    return _start(
        f"delete PostgreSQL server {ref.name}", ref.client().servers.begin_delete, ref.resource_group, ref.name
    )


def operation_status(ref: ServerRef, operation: OperationRef, what: str) -> OperationStatus:
    with azure_errors(what):
        return check_operation(ref.client(), operation, endpoint=get_clients().settings.arm_endpoint)
