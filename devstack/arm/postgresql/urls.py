"""Microsoft.DBforPostgreSQL routes (paths as azure-mgmt-postgresqlflexibleservers 3.0.0 builds them; operations
Servers_Get, _CreateOrUpdate, _Update, _Delete, _ListByResourceGroup, _ListBySubscription, Replicas_ListByServer,
BackupsAutomaticAndOnDemand_ListByServer of specification/postgresql/resource-manager/Microsoft.DBforPostgreSQL/
PostgreSQL/stable/2025-08-01/openapi.json), and Azure Monitor's metrics of a server (Metrics_List,
specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/metrics_API.json)."""

from __future__ import annotations

from ..routing import Router, resource_group_scope, subscription_scope
from .models import API_VERSIONS, METRICS_API_VERSIONS, POSTGRESQL
from .responses import PostgreSqlResponses

_SUB = subscription_scope(POSTGRESQL)
_SERVERS = resource_group_scope(POSTGRESQL) + "/flexibleServers"
_SERVER = _SERVERS + "/{serverName}"


def register(router: Router, responses: PostgreSqlResponses) -> None:
    routes, r = router.provider(POSTGRESQL, API_VERSIONS), responses
    routes.monitor_metrics(_SERVER, r.metrics, METRICS_API_VERSIONS)
    add = routes.add
    add("GET", _SUB + "/flexibleServers", r.list_servers, "flexibleServers")
    add("GET", _SERVERS, r.list_by_resource_group, "flexibleServers")
    add("GET", _SERVER, r.get_server, "flexibleServers")
    add("PUT", _SERVER, r.put_server, "flexibleServers")
    add("PATCH", _SERVER, r.patch_server, "flexibleServers")
    add("DELETE", _SERVER, r.delete_server, "flexibleServers")
    add("GET", _SERVER + "/replicas", r.list_replicas, "flexibleServers/replicas")
    add("GET", _SERVER + "/backups", r.list_backups, "flexibleServers/backups")
    add("GET", _SUB + "/locations/{locationName}/azureAsyncOperation/{operationId}", r.operation_status, "locations")
    add("GET", _SUB + "/locations/{locationName}/operationResults/{operationId}", r.operation_result, "locations")
