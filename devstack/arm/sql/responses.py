"""Microsoft.Sql handlers: parse the request, call the backend, shape the response. Nothing else."""

from __future__ import annotations

from ..errors import ArmError
from ..estate import Estate
from ..lro import Operation, accepted, result_response, status_response
from ..routing import ArmRequest, ArmResponse
from .bodies import DatabaseBody, FailoverGroupBody, ServerBody
from .exceptions import invalid_database_request, invalid_server_parameter
from .models import (
    FAILOVER_GROUP_FAILOVER,
    FAILOVER_GROUP_FORCE_FAILOVER,
    FAILOVER_GROUP_TRY_PLANNED,
    SQL,
    SqlBackend,
    SqlServer,
)


def _listing(items: list[dict[str, object]]) -> ArmResponse:
    return ArmResponse(200, {"value": items})


class SqlResponses:
    def __init__(self, estate: Estate, backend: SqlBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _accepted(self, request: ArmRequest, operation: Operation) -> ArmResponse:
        return accepted(request, operation, self.estate.settings.retry_after_seconds)

    def _server(self, request: ArmRequest, *, as_parent: bool = True) -> SqlServer:
        p = request.params
        return self.backend.live_server(
            p["subscriptionId"], p["resourceGroupName"], p["serverName"], as_parent=as_parent
        )

    # -- servers -------------------------------------------------------------------------------------
    def get_server(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self._server(request, as_parent=False).to_resource())

    def list_servers_by_resource_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        group = self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"])
        servers = [
            s.to_resource()
            for s in self.backend.servers.values()
            if s.subscription_id.lower() == group.subscription_id.lower()
            and s.resource_group.lower() == group.name.lower()
        ]
        return _listing(servers)

    def list_servers(self, request: ArmRequest) -> ArmResponse:
        subscription = self.estate.subscription(request.params["subscriptionId"])
        return _listing(
            [
                s.to_resource()
                for s in self.backend.servers.values()
                if s.subscription_id.lower() == subscription.id.lower()
            ]
        )

    def put_server(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        body = request.parse(ServerBody, on_invalid=invalid_server_parameter)
        operation = self.backend.put_server(p["subscriptionId"], p["resourceGroupName"], p["serverName"], body)
        return self._accepted(request, operation)

    def patch_server(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request, as_parent=False)
        body = request.parse(ServerBody, on_invalid=invalid_server_parameter)
        return self._accepted(request, self.backend.update_server(server, body))

    def delete_server(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        operation = self.backend.delete_server(p["subscriptionId"], p["resourceGroupName"], p["serverName"])
        return ArmResponse(204) if operation is None else self._accepted(request, operation)

    # -- databases -----------------------------------------------------------------------------------
    def get_database(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        return ArmResponse(200, self.backend.database(server, request.params["databaseName"]).to_resource(self.backend))

    def list_databases(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        return _listing([db.to_resource(self.backend) for db in self.backend.databases_of(server)])

    def put_database(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        body = request.parse(DatabaseBody, on_invalid=invalid_database_request)
        operation = self.backend.put_database(server, request.params["databaseName"], body)
        return self._accepted(request, operation)

    def patch_database(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        body = request.parse(DatabaseBody, on_invalid=invalid_database_request)
        operation = self.backend.update_database(server, request.params["databaseName"], body)
        return self._accepted(request, operation)

    def delete_database(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        operation = self.backend.delete_database(server, request.params["databaseName"])
        return ArmResponse(204) if operation is None else self._accepted(request, operation)

    # -- recoverable databases: readable while the server's region is down ---------------------------
    def _any_server(self, request: ArmRequest) -> SqlServer:
        p = request.params
        return self.backend.server(p["subscriptionId"], p["resourceGroupName"], p["serverName"], as_parent=True)

    def get_recoverable_database(self, request: ArmRequest) -> ArmResponse:
        server = self._any_server(request)
        return ArmResponse(200, self.backend.geo_backup(server, request.params["databaseName"]).to_resource())

    def list_recoverable_databases(self, request: ArmRequest) -> ArmResponse:
        server = self._any_server(request)
        return _listing([b.to_resource() for b in self.backend.geo_backups_of(server)])

    # -- failover groups -----------------------------------------------------------------------------
    def get_failover_group(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        group = self.backend.group(server, request.params["failoverGroupName"])
        return ArmResponse(200, group.to_resource(server, self.estate))

    def list_failover_groups(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        return _listing([g.to_resource(server, self.estate) for g in self.backend.groups_of(server)])

    def put_failover_group(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        body = request.parse(FailoverGroupBody)
        operation = self.backend.put_failover_group(server, request.params["failoverGroupName"], body)
        return self._accepted(request, operation)

    def patch_failover_group(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        body = request.parse(FailoverGroupBody)
        group = self.backend.group(server, request.params["failoverGroupName"])
        operation = self.backend.put_failover_group(server, group.name, body)
        return self._accepted(request, operation)

    def delete_failover_group(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        operation = self.backend.delete_failover_group(server, request.params["failoverGroupName"])
        return ArmResponse(204) if operation is None else self._accepted(request, operation)

    def _failover(self, request: ArmRequest, kind: str) -> ArmResponse:
        server = self._server(request)
        operation = self.backend.failover(server, request.params["failoverGroupName"], kind)
        return self._accepted(request, operation)

    def failover(self, request: ArmRequest) -> ArmResponse:
        return self._failover(request, FAILOVER_GROUP_FAILOVER)

    def force_failover(self, request: ArmRequest) -> ArmResponse:
        return self._failover(request, FAILOVER_GROUP_FORCE_FAILOVER)

    def try_planned_before_forced_failover(self, request: ArmRequest) -> ArmResponse:
        return self._failover(request, FAILOVER_GROUP_TRY_PLANNED)

    # -- replication links ---------------------------------------------------------------------------
    def list_replication_links(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        database = self.backend.database(server, request.params["databaseName"])
        return _listing([link.to_resource(database, self.estate) for link in self.backend.links_of(database)])

    def get_replication_link(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        database = self.backend.database(server, request.params["databaseName"])
        link_id = request.params["linkId"]
        for link in self.backend.links_of(database):
            if link.id.lower() == link_id.lower():
                return ArmResponse(200, link.to_resource(database, self.estate))
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Sql/servers/{server.name}/databases/{database.name}/replicationLinks/"
            f"{link_id}' under resource group '{server.resource_group}' was not found.",
        )

    def list_replication_links_by_server(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        items = [
            link.to_resource(database, self.estate)
            for database in self.backend.databases_of(server)
            for link in self.backend.links_of(database)
        ]
        return _listing(items)

    # -- operation status ----------------------------------------------------------------------------
    def operation_status(self, request: ArmRequest) -> ArmResponse:
        self.estate.require_region(request.params["locationName"], SQL)
        operation = self.estate.find_operation(request.params["operationId"])
        return status_response(operation, self.estate.settings.retry_after_seconds)

    def operation_result(self, request: ArmRequest) -> ArmResponse:
        self.estate.require_region(request.params["locationName"], SQL)
        operation = self.estate.find_operation(request.params["operationId"])
        return result_response(request, operation, self.estate.settings.retry_after_seconds)
