"""Microsoft.Resources: subscriptions and resource groups (enough for the estate to exist)."""

from __future__ import annotations

from pydantic import BaseModel

from . import errors
from .estate import Estate
from .routing import ArmRequest, ArmResponse, Handler, Router

_GROUP = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"
RESOURCE_GROUPS = "Microsoft.Resources/resourceGroups"


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
        return ArmResponse(200, self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"]).to_resource())

    def group_exists(self, request: ArmRequest) -> ArmResponse:
        """HEAD: 204 when the group exists, 404 when not (the SDK's check_existence)."""
        p = request.params
        self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"])
        return ArmResponse(204)

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
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/subscriptions/{subscriptionId}", r.get_subscription),
        ("GET", "/subscriptions/{subscriptionId}/resourcegroups", r.list_groups),
        ("GET", _GROUP, r.get_group),
        ("HEAD", _GROUP, r.group_exists),
        ("PUT", _GROUP, r.put_group),
        ("DELETE", _GROUP, r.delete_group),
    ]
    for method, template, handler in routes:
        router.add(method, template, handler, resource_type=RESOURCE_GROUPS, api_versions=None)
