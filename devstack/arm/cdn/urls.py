"""Microsoft.Cdn routes (paths as azure-mgmt-cdn 14.1.0 builds them for api-version 2026-10-01; operations
Profiles_*, AFDEndpoints_*, AFDOriginGroups_*, AFDOrigins_* of specification/cdn/resource-manager/Microsoft.Cdn/
Cdn/stable/2026-10-01/openapi.json), the operation status URL the writes hand out, and Azure Monitor's
Metrics_List on a profile (specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/
metrics_API.json)."""

from __future__ import annotations

from collections.abc import Iterable

from ..routing import Handler, Router
from .models import API_VERSIONS
from .responses import METRIC_API_VERSIONS, CdnResponses

_RG = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Cdn"
_PROFILE = _RG + "/profiles/{profileName}"
_ENDPOINT = _PROFILE + "/afdEndpoints/{endpointName}"
_GROUP = _PROFILE + "/originGroups/{originGroupName}"
_ORIGIN = _GROUP + "/origins/{originName}"


def register(router: Router, responses: CdnResponses) -> None:
    def add(
        method: str, template: str, handler: Handler, resource_type: str, versions: Iterable[str] = API_VERSIONS
    ) -> None:
        router.add(method, template, handler, resource_type=resource_type, api_versions=versions)

    r = responses
    # Before the profile's own routes: a path below a profile that names another provider.
    add(
        "GET",
        _PROFILE + "/providers/Microsoft.Insights/metrics",
        r.metrics,
        "Microsoft.Insights/metrics",
        METRIC_API_VERSIONS,
    )
    add(
        "GET",
        "/subscriptions/{subscriptionId}/providers/Microsoft.Cdn/profiles",
        r.list_profiles,
        "Microsoft.Cdn/profiles",
    )
    add("GET", _RG + "/profiles", r.list_profiles, "Microsoft.Cdn/profiles")
    add("GET", _PROFILE, r.get_profile, "Microsoft.Cdn/profiles")
    add("PUT", _PROFILE, r.put_profile, "Microsoft.Cdn/profiles")
    add("PATCH", _PROFILE, r.patch_profile, "Microsoft.Cdn/profiles")
    add("GET", _PROFILE + "/afdEndpoints", r.list_endpoints, "Microsoft.Cdn/profiles/afdEndpoints")
    add("GET", _ENDPOINT, r.get_endpoint, "Microsoft.Cdn/profiles/afdEndpoints")
    add("PUT", _ENDPOINT, r.put_endpoint, "Microsoft.Cdn/profiles/afdEndpoints")
    add("GET", _PROFILE + "/originGroups", r.list_origin_groups, "Microsoft.Cdn/profiles/originGroups")
    add("GET", _GROUP, r.get_origin_group, "Microsoft.Cdn/profiles/originGroups")
    add("PUT", _GROUP, r.put_origin_group, "Microsoft.Cdn/profiles/originGroups")
    add("PATCH", _GROUP, r.patch_origin_group, "Microsoft.Cdn/profiles/originGroups")
    add("GET", _GROUP + "/origins", r.list_origins, "Microsoft.Cdn/profiles/originGroups/origins")
    add("GET", _ORIGIN, r.get_origin, "Microsoft.Cdn/profiles/originGroups/origins")
    add("PUT", _ORIGIN, r.put_origin, "Microsoft.Cdn/profiles/originGroups/origins")
    add("PATCH", _ORIGIN, r.patch_origin, "Microsoft.Cdn/profiles/originGroups/origins")
    add("DELETE", _ORIGIN, r.delete_origin, "Microsoft.Cdn/profiles/originGroups/origins")
    add("GET", _RG + "/operationresults/{operationId}", r.operation_status, "Microsoft.Cdn/operationresults")
