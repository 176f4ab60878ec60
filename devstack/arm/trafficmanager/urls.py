"""Traffic Manager routes (paths as azure-mgmt-trafficmanager 2.0.0 builds them; operations of
specification/trafficmanager/resource-manager/Microsoft.Network/TrafficManager/stable/2026-09-01/
trafficmanager.json)."""

from __future__ import annotations

from ..routing import Router, resource_group_scope, subscription_scope
from .models import API_VERSIONS, NETWORK
from .responses import TrafficManagerResponses

_PROFILES = resource_group_scope(NETWORK) + "/trafficmanagerprofiles"
_PROFILE = _PROFILES + "/{profileName}"
_ENDPOINT = _PROFILE + "/{endpointType}/{endpointName}"


def register(router: Router, responses: TrafficManagerResponses) -> None:
    add, r = router.provider(NETWORK, API_VERSIONS).add, responses
    add("GET", subscription_scope(NETWORK) + "/trafficmanagerprofiles", r.list_profiles, "trafficManagerProfiles")
    add("GET", _PROFILES, r.list_profiles_by_resource_group, "trafficManagerProfiles")
    add("GET", _PROFILE, r.get_profile, "trafficManagerProfiles")
    add("PUT", _PROFILE, r.put_profile, "trafficManagerProfiles")
    add("PATCH", _PROFILE, r.patch_profile, "trafficManagerProfiles")
    add("DELETE", _PROFILE, r.delete_profile, "trafficManagerProfiles")
    add("GET", _ENDPOINT, r.get_endpoint, "trafficManagerProfiles/endpoints")
    add("PUT", _ENDPOINT, r.put_endpoint, "trafficManagerProfiles/endpoints")
    add("PATCH", _ENDPOINT, r.patch_endpoint, "trafficManagerProfiles/endpoints")
    add("DELETE", _ENDPOINT, r.delete_endpoint, "trafficManagerProfiles/endpoints")
