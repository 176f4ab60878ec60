"""Microsoft.Web handlers: parse the request, call the backend, shape the response. Nothing else."""

from __future__ import annotations

from .. import resources
from ..estate import Estate
from ..lro import Operation, accepted_at, status_response
from ..routing import ArmRequest, ArmResponse
from .models import AppServicePlan, Site, WebBackend


class WebResponses:
    def __init__(self, estate: Estate, backend: WebBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _plan(self, request: ArmRequest) -> AppServicePlan:
        p = request.params
        return self.backend.plan(p["subscriptionId"], p["resourceGroupName"], p["name"])

    def _site(self, request: ArmRequest) -> Site:
        p = request.params
        return self.backend.site(p["subscriptionId"], p["resourceGroupName"], p["name"])

    # -- plans ---------------------------------------------------------------------------------------------
    def get_plan(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self._plan(request).to_resource(self.backend))

    def list_plans_by_resource_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        group = self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"])
        plans = resources.in_scope(self.backend.plans.values(), group.subscription_id, group.name)
        return ArmResponse(200, {"value": [plan.to_resource(self.backend) for plan in plans]})

    def put_plan(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        plan, operation = self.backend.put_plan(
            p["subscriptionId"], p["resourceGroupName"], p["name"], request.json_object()
        )
        if operation is None:
            return ArmResponse(200, plan.to_resource(self.backend))
        # CreateOrUpdateAppServicePlan.json's 202: both headers name the plan's operationresults/{id}.
        status = _operation_path(plan, operation)
        return accepted_at(
            request,
            self.estate.settings.retry_after_seconds,
            status_path=status,
            location_path=status,
            body=plan.to_resource(self.backend),
        )

    def patch_plan(self, request: ArmRequest) -> ArmResponse:
        plan = self.backend.patch_plan(self._plan(request), request.json_object())
        return ArmResponse(200, plan.to_resource(self.backend))

    def plan_operation(self, request: ArmRequest) -> ArmResponse:
        self._plan(request)
        operation = self.estate.find_operation(request.params["operationId"])
        return status_response(operation, self.estate.settings.retry_after_seconds)

    # -- sites ---------------------------------------------------------------------------------------------
    def get_site(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self._site(request).to_resource())

    def start_site(self, request: ArmRequest) -> ArmResponse:
        self.backend.set_state(self._site(request), "Running")
        return ArmResponse(200)

    def stop_site(self, request: ArmRequest) -> ArmResponse:
        self.backend.set_state(self._site(request), "Stopped")
        return ArmResponse(200)


def _operation_path(plan: AppServicePlan, operation: Operation) -> str:
    return f"{plan.id}/operationresults/{operation.id}"
