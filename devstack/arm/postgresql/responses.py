"""Microsoft.DBforPostgreSQL handlers: parse, call the backend, shape the response. Nothing else."""

from __future__ import annotations

from ..estate import Estate
from ..lro import Operation, accepted_at, result_response, status_response
from ..routing import ArmRequest, ArmResponse
from .bodies import ServerBody
from .models import PgServer, PostgreSqlBackend, result_path, status_path


class PostgreSqlResponses:
    def __init__(self, estate: Estate, backend: PostgreSqlBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _server(self, request: ArmRequest) -> PgServer:
        p = request.params
        return self.backend.server(p["subscriptionId"], p["resourceGroupName"], p["serverName"])

    def _accepted(self, request: ArmRequest, operation: Operation) -> ArmResponse:
        return accepted_at(
            request,
            self.estate.settings.retry_after_seconds,
            status_path=status_path(operation),
            location_path=result_path(operation),
        )

    def get_server(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self._server(request).to_resource(self.backend))

    def list_by_resource_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        servers = self.backend.servers_in(p["subscriptionId"], p["resourceGroupName"])
        return ArmResponse(200, {"value": [s.to_resource(self.backend) for s in servers]})

    def list_servers(self, request: ArmRequest) -> ArmResponse:
        subscription = self.estate.subscription(request.params["subscriptionId"])
        return ArmResponse(
            200, {"value": [s.to_resource(self.backend) for s in self.backend.servers_in(subscription.id)]}
        )

    def list_replicas(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        return ArmResponse(200, {"value": [s.to_resource(self.backend) for s in self.backend.replicas_of(server)]})

    def list_backups(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, {"value": self.backend.backups(self._server(request))})

    def metrics(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self.backend.lag_metric(self._server(request), request))

    def put_server(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        body = request.parse(ServerBody)
        operation = self.backend.put_server(p["subscriptionId"], p["resourceGroupName"], p["serverName"], body)
        return self._accepted(request, operation)

    def patch_server(self, request: ArmRequest) -> ArmResponse:
        server = self._server(request)
        return self._accepted(request, self.backend.update_server(server, request.parse(ServerBody)))

    def delete_server(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        operation = self.backend.delete_server(p["subscriptionId"], p["resourceGroupName"], p["serverName"])
        return ArmResponse(204) if operation is None else self._accepted(request, operation)

    def operation_status(self, request: ArmRequest) -> ArmResponse:
        operation = self.backend.operation(request.params["operationId"])
        return status_response(operation, self.estate.settings.retry_after_seconds, status_path=status_path(operation))

    def operation_result(self, request: ArmRequest) -> ArmResponse:
        operation = self.backend.operation(request.params["operationId"])
        return result_response(
            request, operation, self.estate.settings.retry_after_seconds, location_path=result_path(operation)
        )
