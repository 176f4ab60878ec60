"""Microsoft.Cdn routes (paths as azure-mgmt-cdn 14.1.0 builds them for api-version 2026-10-01; operations
Profiles_*, AFDEndpoints_*, AFDOriginGroups_*, AFDOrigins_* of specification/cdn/resource-manager/Microsoft.Cdn/
Cdn/stable/2026-10-01/openapi.json), the operation status URL the writes hand out, and Azure Monitor's
Metrics_List on a profile (specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/
metrics_API.json)."""

from __future__ import annotations

from ..routing import Router, resource_group_scope, subscription_scope
from .models import API_VERSIONS, CDN
from .responses import METRIC_API_VERSIONS, CdnResponses

_RG = resource_group_scope(CDN)
_PROFILE = _RG + "/profiles/{profileName}"
_ENDPOINT = _PROFILE + "/afdEndpoints/{endpointName}"
_GROUP = _PROFILE + "/originGroups/{originGroupName}"
_ORIGIN = _GROUP + "/origins/{originName}"


def register(router: Router, responses: CdnResponses) -> None:
    routes, r = router.provider(CDN, API_VERSIONS), responses
    # Before the profile's own routes: a path below a profile that names another provider.
    routes.monitor_metrics(_PROFILE, r.metrics, METRIC_API_VERSIONS)
    add = routes.add
    add("GET", subscription_scope(CDN) + "/profiles", r.list_profiles, "profiles")
    add("GET", _RG + "/profiles", r.list_profiles, "profiles")
    add("GET", _PROFILE, r.get_profile, "profiles")
    add("PUT", _PROFILE, r.put_profile, "profiles")
    add("PATCH", _PROFILE, r.patch_profile, "profiles")
    add("GET", _PROFILE + "/afdEndpoints", r.list_endpoints, "profiles/afdEndpoints")
    add("GET", _ENDPOINT, r.get_endpoint, "profiles/afdEndpoints")
    add("PUT", _ENDPOINT, r.put_endpoint, "profiles/afdEndpoints")
    add("GET", _PROFILE + "/originGroups", r.list_origin_groups, "profiles/originGroups")
    add("GET", _GROUP, r.get_origin_group, "profiles/originGroups")
    add("PUT", _GROUP, r.put_origin_group, "profiles/originGroups")
    add("PATCH", _GROUP, r.patch_origin_group, "profiles/originGroups")
    add("GET", _GROUP + "/origins", r.list_origins, "profiles/originGroups/origins")
    add("GET", _ORIGIN, r.get_origin, "profiles/originGroups/origins")
    add("PUT", _ORIGIN, r.put_origin, "profiles/originGroups/origins")
    add("PATCH", _ORIGIN, r.patch_origin, "profiles/originGroups/origins")
    add("DELETE", _ORIGIN, r.delete_origin, "profiles/originGroups/origins")
    add("GET", _RG + "/operationresults/{operationId}", r.operation_status, "operationresults")
