"""Microsoft.Resources: subscriptions and resource groups (enough for the estate to exist)."""

from __future__ import annotations

from pydantic import BaseModel

from . import errors
from .estate import Estate
from .routing import ArmRequest, ArmResponse, Router

_GROUP = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"


class ResourceGroupBody(BaseModel):
    location: str | None = None
    tags: dict[str, str] | None = None


class ResourceGroupResponses:
    def __init__(self, estate: Estate) -> None:
        self.estate = estate

    def get_subscription(self, request: ArmRequest) -> ArmResponse:
        subscription = self.estate.subscription(request.params["subscriptionId"])
        return ArmResponse(
            200,
            {
                "id": f"/subscriptions/{subscription.id}",
                "subscriptionId": subscription.id,
                "displayName": subscription.display_name,
                "state": "Enabled",
            },
        )

    def list_groups(self, request: ArmRequest) -> ArmResponse:
        subscription = self.estate.subscription(request.params["subscriptionId"])
        return ArmResponse(200, {"value": [g.to_resource() for g in subscription.resource_groups.values()]})

    def get_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        return ArmResponse(
            200, self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"]).to_resource()
        )

    def put_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        body = request.parse(ResourceGroupBody)
        if not body.location:
            raise errors.location_required()
        group, created = self.estate.put_resource_group(
            p["subscriptionId"], p["resourceGroupName"], body.location, body.tags
        )
        return ArmResponse(201 if created else 200, group.to_resource())

    def delete_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"])
        self.estate.delete_resource_group(p["subscriptionId"], p["resourceGroupName"])
        return ArmResponse(200)


def register(router: Router, responses: ResourceGroupResponses) -> None:
    r = responses
    kinds = {"resource_type": "Microsoft.Resources/resourceGroups", "api_versions": None}
    router.add("GET", "/subscriptions/{subscriptionId}", r.get_subscription, **kinds)  # type: ignore[arg-type]
    router.add("GET", "/subscriptions/{subscriptionId}/resourcegroups", r.list_groups, **kinds)  # type: ignore[arg-type]
    router.add("GET", _GROUP, r.get_group, **kinds)  # type: ignore[arg-type]
    router.add("PUT", _GROUP, r.put_group, **kinds)  # type: ignore[arg-type]
    router.add("DELETE", _GROUP, r.delete_group, **kinds)  # type: ignore[arg-type]
