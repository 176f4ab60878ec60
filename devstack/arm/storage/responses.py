"""Microsoft.Storage handlers: parse the request, call the backend, shape the response. Nothing else."""

from __future__ import annotations

from ..estate import Estate
from ..lro import Operation, accepted_at
from ..routing import ArmRequest, ArmResponse
from . import exceptions as storageerr
from .bodies import AccountUpdateBody
from .models import StorageAccount, StorageBackend, status_path


class StorageResponses:
    def __init__(self, estate: Estate, backend: StorageBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _account(self, request: ArmRequest) -> StorageAccount:
        p = request.params
        return self.backend.account(p["subscriptionId"], p["resourceGroupName"], p["accountName"])

    def get_properties(self, request: ArmRequest) -> ArmResponse:
        account = self._account(request)
        expand = {part.strip() for part in request.query.get("$expand", "").split(",") if part.strip()}
        geo_stats = "geoReplicationStats" in expand
        if geo_stats and not account.geo:
            raise storageerr.account_type_invalid(account.sku)
        return ArmResponse(200, account.to_resource(self.estate, geo_stats=geo_stats))

    def list_by_resource_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        group = self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"])
        accounts = self.backend.accounts_in(group.subscription_id, group.name)
        return ArmResponse(200, {"value": [a.to_resource(self.estate) for a in accounts]})

    def list_accounts(self, request: ArmRequest) -> ArmResponse:
        subscription = self.estate.subscription(request.params["subscriptionId"])
        accounts = self.backend.accounts_in(subscription.id)
        return ArmResponse(200, {"value": [a.to_resource(self.estate) for a in accounts]})

    def update(self, request: ArmRequest) -> ArmResponse:
        account = self._account(request)
        body = request.parse(AccountUpdateBody)
        updated = self.backend.update(account, sku=body.sku.name if body.sku else None, tags=body.tags)
        return ArmResponse(200, updated.to_resource(self.estate))

    def failover(self, request: ArmRequest) -> ArmResponse:
        account = self._account(request)
        planned = request.query.get("failoverType", "").lower() == "planned"
        operation = self.backend.failover(account, planned=planned)
        return self._accepted(request, operation)

    def operation_status(self, request: ArmRequest) -> ArmResponse:
        """The Location of a failover: 202 (Location, Retry-After) while it runs, 200 once done, the failure's own
        status and ARM error once failed (ARM's Location protocol, final-state-via location)."""
        operation = self.estate.find_operation(request.params["operationId"])
        if not operation.done:
            return self._accepted(request, operation)
        if operation.error is not None:
            return ArmResponse(operation.error.status, operation.error.envelope())
        return ArmResponse(200)

    def _accepted(self, request: ArmRequest, operation: Operation) -> ArmResponse:
        """202 with only Location (`?monitor=true`, as StorageAccountFailover.json) and Retry-After."""
        retry_after_seconds = self.estate.settings.retry_after_seconds
        return accepted_at(request, retry_after_seconds, location_path=status_path(operation), monitor="true")
