"""Microsoft.Authorization permissions routes (paths as azure-mgmt-authorization 4.0.0 builds them for
api-version 2022-04-01; operations Permissions_ListForResourceGroup and Permissions_ListForResource of
specification/authorization/resource-manager/Microsoft.Authorization/Authorization/stable/2022-04-01/
authorization-RoleDefinitionsCalls.json).

The spec's resource path `{resourceProviderNamespace}/{parentResourcePath}/{resourceType}/{resourceName}`
carries any number of path segments after the namespace (parentResourcePath and resourceType are sent
unencoded, and the spec's own example gives a one-segment parentResourcePath): the router's templates match
one segment per parameter, so there is one route per segment count (2 up to MAX_SEGMENTS), plus the SDK's
form for a top-level resource, whose empty parentResourcePath leaves `{namespace}//{type}/{name}`. Every
template ends in /providers/Microsoft.Authorization/permissions, so no other provider's path matches them.
"""

from __future__ import annotations

from ..routing import Handler, Router
from .models import API_VERSIONS
from .responses import AuthorizationResponses

RESOURCE_TYPE = "Microsoft.Authorization/permissions"
_GROUP = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"
_PERMISSIONS = "/providers/Microsoft.Authorization/permissions"
MAX_SEGMENTS = 8
"""A resource and up to three parents (type/name pairs)."""


def _segments(count: int) -> str:
    return "".join(f"/{{segment{i}}}" for i in range(count))


def register(router: Router, responses: AuthorizationResponses) -> None:
    def add(template: str, handler: Handler) -> None:
        router.add("GET", template, handler, resource_type=RESOURCE_TYPE, api_versions=API_VERSIONS)

    add(_GROUP + _PERMISSIONS, responses.list_for_resource_group)
    provider = _GROUP + "/providers/{resourceProviderNamespace}"
    add(provider + "/" + _segments(2) + _PERMISSIONS, responses.list_for_resource)  # empty parentResourcePath
    for count in range(2, MAX_SEGMENTS + 1):
        add(provider + _segments(count) + _PERMISSIONS, responses.list_for_resource)
