"""Microsoft.DocumentDB handlers: parse, call the backend, shape the response. Nothing else."""

from __future__ import annotations

from ..estate import Estate
from ..routing import ArmRequest, ArmResponse
from .bodies import FailoverPoliciesBody, RegionBody
from .models import CosmosAccount, CosmosDbBackend, accepted, status_response


class CosmosDbResponses:
    def __init__(self, estate: Estate, backend: CosmosDbBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _account(self, request: ArmRequest) -> CosmosAccount:
        p = request.params
        return self.backend.account(p["subscriptionId"], p["resourceGroupName"], p["accountName"])

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
        return accepted(request, operation, self.estate.settings.retry_after_seconds)

    def offline_region(self, request: ArmRequest) -> ArmResponse:
        account = self._account(request)
        operation = self.backend.offline_region(account, request.parse(RegionBody).region)
        return accepted(request, operation, self.estate.settings.retry_after_seconds)

    def online_region(self, request: ArmRequest) -> ArmResponse:
        account = self._account(request)
        operation = self.backend.online_region(account, request.parse(RegionBody).region)
        return accepted(request, operation, self.estate.settings.retry_after_seconds)

    def operation_status(self, request: ArmRequest) -> ArmResponse:
        operation = self.backend.operation(request.params["operationId"])
        return status_response(operation, self.estate.settings.retry_after_seconds)
