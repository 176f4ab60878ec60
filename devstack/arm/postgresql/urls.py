"""Microsoft.DBforPostgreSQL routes (paths as azure-mgmt-postgresqlflexibleservers 3.0.0 builds them; operations
Servers_Get, _CreateOrUpdate, _Update, _Delete, _ListByResourceGroup, _ListBySubscription, Replicas_ListByServer,
BackupsAutomaticAndOnDemand_ListByServer of specification/postgresql/resource-manager/Microsoft.DBforPostgreSQL/
PostgreSQL/stable/2025-08-01/openapi.json), and Azure Monitor's metrics of a server (Metrics_List,
specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/metrics_API.json)."""

from __future__ import annotations

from ..routing import Handler, Router
from .models import API_VERSIONS, METRICS_API_VERSIONS
from .responses import PostgreSqlResponses

_SUB = "/subscriptions/{subscriptionId}/providers/Microsoft.DBforPostgreSQL"
_SERVERS = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.DBforPostgreSQL"
    "/flexibleServers"
)
_SERVER = _SERVERS + "/{serverName}"


def register(router: Router, responses: PostgreSqlResponses) -> None:
    def add(method: str, template: str, handler: Handler, resource_type: str) -> None:
        router.add(
            method,
            template,
            handler,
            resource_type=f"Microsoft.DBforPostgreSQL/{resource_type}",
            api_versions=API_VERSIONS,
        )

    r = responses
    router.add(
        "GET",
        _SERVER + "/providers/Microsoft.Insights/metrics",
        r.metrics,
        resource_type="Microsoft.Insights/metrics",
        api_versions=METRICS_API_VERSIONS,
    )
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
