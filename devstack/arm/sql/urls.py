"""Microsoft.Sql routes (paths as azure-mgmt-sql 4.0.0 builds them; operations of Servers.json,
Databases.json, FailoverGroups.json, ReplicationLinks.json, RecoverableDatabases.json at
specification/sql/resource-manager/Microsoft.Sql/stable/2025-01-01/)."""

from __future__ import annotations

from ..routing import Router, resource_group_scope, subscription_scope
from .models import API_VERSIONS, SQL
from .responses import SqlResponses

_RG = resource_group_scope(SQL)
_SERVER = _RG + "/servers/{serverName}"
_DATABASE = _SERVER + "/databases/{databaseName}"
_GROUP = _SERVER + "/failoverGroups/{failoverGroupName}"
_LOCATION = _RG + "/locations/{locationName}"


def register(router: Router, responses: SqlResponses) -> None:
    add, r = router.provider(SQL, API_VERSIONS).add, responses
    add("GET", subscription_scope(SQL) + "/servers", r.list_servers, "servers")
    add("GET", _RG + "/servers", r.list_servers_by_resource_group, "servers")
    add("GET", _SERVER, r.get_server, "servers")
    add("PUT", _SERVER, r.put_server, "servers")
    add("PATCH", _SERVER, r.patch_server, "servers")
    add("DELETE", _SERVER, r.delete_server, "servers")

    add("GET", _SERVER + "/databases", r.list_databases, "servers/databases")
    add("GET", _DATABASE, r.get_database, "servers/databases")
    add("PUT", _DATABASE, r.put_database, "servers/databases")
    add("PATCH", _DATABASE, r.patch_database, "servers/databases")
    add("DELETE", _DATABASE, r.delete_database, "servers/databases")

    add("GET", _SERVER + "/recoverableDatabases", r.list_recoverable_databases, "servers/recoverableDatabases")
    add(
        "GET",
        _SERVER + "/recoverableDatabases/{databaseName}",
        r.get_recoverable_database,
        "servers/recoverableDatabases",
    )

    add("GET", _SERVER + "/failoverGroups", r.list_failover_groups, "servers/failoverGroups")
    add("GET", _GROUP, r.get_failover_group, "servers/failoverGroups")
    add("PUT", _GROUP, r.put_failover_group, "servers/failoverGroups")
    add("PATCH", _GROUP, r.patch_failover_group, "servers/failoverGroups")
    add("DELETE", _GROUP, r.delete_failover_group, "servers/failoverGroups")
    add("POST", _GROUP + "/failover", r.failover, "servers/failoverGroups")
    add("POST", _GROUP + "/forceFailoverAllowDataLoss", r.force_failover, "servers/failoverGroups")
    add(
        "POST",
        _GROUP + "/tryPlannedBeforeForcedFailover",
        r.try_planned_before_forced_failover,
        "servers/failoverGroups",
    )

    add("GET", _SERVER + "/replicationLinks", r.list_replication_links_by_server, "servers/replicationLinks")
    add("GET", _DATABASE + "/replicationLinks", r.list_replication_links, "servers/databases/replicationLinks")
    add(
        "GET",
        _DATABASE + "/replicationLinks/{linkId}",
        r.get_replication_link,
        "servers/databases/replicationLinks",
    )

    for noun in ("server", "database", "failoverGroup"):
        add("GET", _LOCATION + f"/{noun}AzureAsyncOperation/{{operationId}}", r.operation_status, "locations")
        add("GET", _LOCATION + f"/{noun}OperationResults/{{operationId}}", r.operation_result, "locations")
