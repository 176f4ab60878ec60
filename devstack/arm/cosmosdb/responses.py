"""Microsoft.DocumentDB handlers: parse, call the backend, shape the response. Nothing else."""

from __future__ import annotations

from ..estate import Estate
from ..lro import Operation, accepted_at, status_response
from ..routing import ArmRequest, ArmResponse
from .bodies import FailoverPoliciesBody, RegionBody
from .models import CosmosAccount, CosmosDbBackend, operation_path


class CosmosDbResponses:
    def __init__(self, estate: Estate, backend: CosmosDbBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _account(self, request: ArmRequest) -> CosmosAccount:
        p = request.params
        return self.backend.account(p["subscriptionId"], p["resourceGroupName"], p["accountName"])

    def _accepted(self, request: ArmRequest, operation: Operation) -> ArmResponse:
        path = operation_path(operation)
        return accepted_at(request, self.estate.settings.retry_after_seconds, status_path=path, location_path=path)

    def get_account(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self._account(request).to_resource())

    def list_by_resource_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        accounts = self.backend.accounts_in(p["subscriptionId"], p["resourceGroupName"])
        return ArmResponse(200, {"value": [a.to_resource() for a in accounts]})

    def list_accounts(self, request: ArmRequest) -> ArmResponse:
        subscription = self.estate.subscription(request.params["subscriptionId"])
        return ArmResponse(200, {"value": [a.to_resource() for a in self.backend.accounts_in(subscription.id)]})

    def failover_priority_change(self, request: ArmRequest) -> ArmResponse:
        account = self._account(request)
        operation = self.backend.failover_priority_change(account, request.parse(FailoverPoliciesBody))
        if operation is None:
            return ArmResponse(204)
        return self._accepted(request, operation)

    def offline_region(self, request: ArmRequest) -> ArmResponse:
        account = self._account(request)
        operation = self.backend.offline_region(account, request.parse(RegionBody).region)
        return self._accepted(request, operation)

    def online_region(self, request: ArmRequest) -> ArmResponse:
        account = self._account(request)
        operation = self.backend.online_region(account, request.parse(RegionBody).region)
        return self._accepted(request, operation)

    def operation_status(self, request: ArmRequest) -> ArmResponse:
        operation = self.backend.operation(request.params["operationId"])
        return status_response(
            operation, self.estate.settings.retry_after_seconds, status_path=operation_path(operation)
        )
