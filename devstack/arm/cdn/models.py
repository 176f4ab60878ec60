"""Azure Front Door (Standard/Premium) state and behaviour: profiles, endpoints, origin groups, origins, and the
health Front Door's own probes give each origin.

Shapes follow api-version 2026-10-01, the version azure-mgmt-cdn 14.1.0 sends (its _configuration.py): spec
file specification/cdn/resource-manager/Microsoft.Cdn/Cdn/stable/2026-10-01/openapi.json in
Azure/azure-rest-api-specs, and its examples (AFDOrigins_Update.json: a PATCH answers 202 with the resource,
provisioningState Updating, and an Azure-AsyncOperation header on .../providers/Microsoft.Cdn/operationresults/
{id}; AFDOriginGroups_Get.json, AFDEndpoints_ListByProfile.json, Profiles_List.json: ids in
`/resourcegroups/.../origingroups/...` casing, types `Microsoft.Cdn/profiles/origingroups/origins`). Writes to
endpoints, origin groups and origins are long-running (AFDOrigins_Create/Update/Delete answer 200/201/202
and 200/202/204 in the SDK): the resource shows the new values at once, provisioningState Creating or
Updating, and Succeeded (deploymentStatus Succeeded) when the operation ends, after the configured duration.
A profile PATCH of tags alone completes at once (200): nothing is deployed to the edge.

Health: Front Door probes every enabled origin of a group whose healthProbeSettings are set (a disabled origin
is not probed; a group without probe settings is not probed at all, every origin counted healthy). ARM's
resources carry no health; Azure Monitor's OriginHealthPercentage metric of the profile does (Origin and
OriginGroup dimensions), which :meth:`CdnBackend.origin_health` answers (routes in .urls, the metrics shape
in .responses). An origin fails its probes while its region is down (the emulator's own `location` of the
origin, from the seed, or the region of its azureOrigin resource) or its host is set unhealthy
(`set_target_health`); an origin whose update is still deploying is not probed yet.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import errors, resources
from ..errors import ArmError, bad_request
from ..estate import Estate, ProviderDefaults
from ..ids import key, parse_resource_id
from ..lro import Operation
from .bodies import (
    AFD_SKUS,
    EndpointBody,
    HealthProbeBody,
    LoadBalancingBody,
    OriginBody,
    OriginGroupBody,
    OriginPropertiesBody,
    ProfileBody,
)

CDN = "Microsoft.Cdn"
API_VERSIONS = ("2024-02-01", "2024-09-01", "2025-04-15", "2025-06-01", "2026-10-01")
# The long-running writes (see start_deployment): their durations and failures are set like SQL's.
OPERATION_KINDS = ("cdn.endpoint.write", "cdn.origin_group.write", "cdn.origin.write", "cdn.origin.delete")
DEFAULT_LOAD_BALANCING: dict[str, Any] = {
    "sampleSize": 4,
    "successfulSamplesRequired": 3,
    "additionalLatencyInMilliseconds": 50,
}


@dataclass
class AfdOrigin:
    name: str
    host_name: str
    http_port: int = 80
    https_port: int = 443
    origin_host_header: str | None = None
    priority: int | None = None
    weight: int | None = None
    enabled_state: str = "Enabled"
    enforce_certificate_name_check: bool = True
    azure_origin_id: str | None = None
    location: str | None = None
    """Not in ARM: the region whose outage makes the origin fail Front Door's probes (the seed's)."""
    provisioning_state: str = "Succeeded"
    deployment_status: str = "NotStarted"

    def to_resource(self, profile: CdnProfile, group: AfdOriginGroup) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "deploymentStatus": self.deployment_status,
            "enabledState": self.enabled_state,
            "enforceCertificateNameCheck": self.enforce_certificate_name_check,
            "hostName": self.host_name,
            "httpPort": self.http_port,
            "httpsPort": self.https_port,
            "originGroupName": group.name,
            "originHostHeader": self.origin_host_header,
            "priority": self.priority,
            "provisioningState": self.provisioning_state,
            "sharedPrivateLinkResource": None,
            "weight": self.weight,
        }
        if self.azure_origin_id is not None:
            properties["azureOrigin"] = {"id": self.azure_origin_id}
        return {
            "name": self.name,
            "type": "Microsoft.Cdn/profiles/origingroups/origins",
            "id": f"{group.id(profile)}/origins/{self.name}",
            "properties": properties,
        }


@dataclass
class AfdOriginGroup:
    name: str
    load_balancing: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_LOAD_BALANCING))
    health_probe: dict[str, Any] | None = None
    restoration_minutes: int | None = None
    session_affinity_state: str = "Disabled"
    origins: dict[str, AfdOrigin] = field(default_factory=dict)
    provisioning_state: str = "Succeeded"
    deployment_status: str = "NotStarted"

    def id(self, profile: CdnProfile) -> str:
        return f"{profile.id}/origingroups/{self.name}"

    def to_resource(self, profile: CdnProfile) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "deploymentStatus": self.deployment_status,
            "loadBalancingSettings": dict(self.load_balancing),
            "provisioningState": self.provisioning_state,
            "sessionAffinityState": self.session_affinity_state,
        }
        if self.health_probe is not None:
            properties["healthProbeSettings"] = dict(self.health_probe)
        if self.restoration_minutes is not None:
            properties["trafficRestorationTimeToHealedOrNewEndpointsInMinutes"] = self.restoration_minutes
        return {
            "name": self.name,
            "type": "Microsoft.Cdn/profiles/origingroups",
            "id": self.id(profile),
            "properties": properties,
        }


@dataclass
class AfdEndpoint:
    name: str
    host_name: str
    tags: dict[str, str] = field(default_factory=dict)
    enabled_state: str = "Enabled"
    label_scope: str = "TenantReuse"
    provisioning_state: str = "Succeeded"
    deployment_status: str = "NotStarted"

    def to_resource(self, profile: CdnProfile) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "Microsoft.Cdn/profiles/afdendpoints",
            "id": f"{profile.id}/afdendpoints/{self.name}",
            "location": "global",
            "properties": {
                "autoGeneratedDomainNameLabelScope": self.label_scope,
                "deploymentStatus": self.deployment_status,
                "enabledState": self.enabled_state,
                "hostName": self.host_name,
                "provisioningState": self.provisioning_state,
            },
            "tags": dict(self.tags),
        }


@dataclass
class CdnProfile:
    subscription_id: str
    resource_group: str
    name: str
    sku: str
    tags: dict[str, str] = field(default_factory=dict)
    origin_response_timeout_seconds: int = 60
    front_door_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    provisioning_state: str = "Succeeded"
    endpoints: dict[str, AfdEndpoint] = field(default_factory=dict)
    origin_groups: dict[str, AfdOriginGroup] = field(default_factory=dict)

    @property
    def id(self) -> str:
        group = f"/subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}"
        return f"{group}/providers/{CDN}/profiles/{self.name}"

    def to_resource(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "Microsoft.Cdn/profiles",
            "id": self.id,
            "kind": "frontdoor",
            "location": "global",
            "properties": {
                "frontDoorId": self.front_door_id,
                "logScrubbing": {"scrubbingRules": [], "state": "Enabled"},
                "originResponseTimeoutSeconds": self.origin_response_timeout_seconds,
                "provisioningState": self.provisioning_state,
                "resourceState": "Active",
            },
            "sku": {"name": self.sku},
            "tags": dict(self.tags),
        }


@dataclass(frozen=True)
class OriginHealth:
    """One origin as Front Door's probes see it now: OriginHealthPercentage, or None when it is not probed."""

    origin_group: str
    origin: str
    host_name: str
    percent: float | None


def endpoint_host_name(subscription_id: str, resource_group: str, profile: str, name: str) -> str:
    """`<name>-<16 characters>.z01.azurefd.net`, as AFDEndpoints_ListByProfile.json shows: the suffix is stable
    per endpoint here (TenantReuse keeps it across re-creations in Azure)."""
    digest = hashlib.sha256(key(subscription_id, resource_group, profile, name).__repr__().encode()).hexdigest()
    return f"{name.lower()}-{digest[:16]}.z01.azurefd.net"


class CdnBackend(ProviderDefaults):
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.profiles: dict[tuple[str, ...], CdnProfile] = {}

    # -- Provider protocol ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.profiles.clear()

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        resources.drop_resource_group(self.profiles, subscription_id, name)

    def hostname_of(self, resource_id: str) -> str | None:
        """An AFD endpoint's host name (a Traffic Manager endpoint or a CNAME may point at it)."""
        parsed = parse_resource_id(resource_id)
        if parsed is None or not parsed.type_is(CDN, "profiles", "afdEndpoints"):
            return None
        profile = self.find(parsed.subscription_id, parsed.resource_group, parsed.name(0))
        endpoint = profile.endpoints.get(parsed.name().lower()) if profile is not None else None
        return endpoint.host_name if endpoint is not None else None

    # -- profiles ------------------------------------------------------------------------------------
    def find(self, subscription_id: str, resource_group: str, name: str) -> CdnProfile | None:
        return self.profiles.get(key(subscription_id, resource_group, name))

    def profile(self, subscription_id: str, resource_group: str, name: str) -> CdnProfile:
        return resources.existing(self.estate, self.profiles, subscription_id, resource_group, name, f"{CDN}/profiles")

    def profiles_in(self, subscription_id: str, resource_group: str | None = None) -> list[CdnProfile]:
        return resources.in_scope(self.profiles.values(), subscription_id, resource_group)

    def put_profile(self, subscription_id: str, resource_group: str, name: str, body: ProfileBody) -> CdnProfile:
        group = self.estate.resource_group(subscription_id, resource_group)
        if body.location is None:
            raise errors.location_required()
        if body.location.lower() != "global":
            raise errors.location_not_available(body.location, f"{CDN}/profiles", "global")
        if body.sku is None or body.sku.name not in AFD_SKUS:
            # Classic CDN SKUs exist, but the emulator models Front Door Standard/Premium only.
            raise bad_request(f"The sku of profile '{name}' must be one of {', '.join(AFD_SKUS)} here.")
        existing = self.find(subscription_id, resource_group, name)
        if existing is not None:
            if existing.sku != body.sku.name:
                raise bad_request("The sku of a profile cannot be changed.")
            existing.tags = dict(body.tags or {})
            return existing
        profile = CdnProfile(subscription_id, group.name, name, body.sku.name, tags=dict(body.tags or {}))
        if body.properties.origin_response_timeout_seconds is not None:
            profile.origin_response_timeout_seconds = body.properties.origin_response_timeout_seconds
        self.profiles[key(subscription_id, resource_group, name)] = profile
        return profile

    def patch_profile(self, profile: CdnProfile, body: ProfileBody) -> CdnProfile:
        if body.tags is not None:
            profile.tags = dict(body.tags)
        if body.properties.origin_response_timeout_seconds is not None:
            profile.origin_response_timeout_seconds = body.properties.origin_response_timeout_seconds
        return profile

    # -- endpoints -----------------------------------------------------------------------------------
    def endpoint(self, profile: CdnProfile, name: str) -> AfdEndpoint:
        type_path = f"{CDN}/profiles/{profile.name}/afdendpoints"
        return resources.child(profile.endpoints, name, type_path, profile.resource_group)

    def put_endpoint(self, profile: CdnProfile, name: str, body: EndpointBody) -> AfdEndpoint:
        if body.location is not None and body.location.lower() != "global":
            raise errors.location_not_available(body.location, f"{CDN}/profiles/afdendpoints", "global")
        existing = profile.endpoints.get(name.lower())
        props = body.properties
        endpoint = existing or AfdEndpoint(
            name, endpoint_host_name(profile.subscription_id, profile.resource_group, profile.name, name)
        )
        endpoint.tags = dict(body.tags or {})
        endpoint.enabled_state = props.enabled_state or endpoint.enabled_state
        endpoint.label_scope = props.auto_generated_domain_name_label_scope or endpoint.label_scope
        profile.endpoints[name.lower()] = endpoint
        return endpoint

    # -- origin groups -------------------------------------------------------------------------------
    def origin_group(self, profile: CdnProfile, name: str) -> AfdOriginGroup:
        type_path = f"{CDN}/profiles/{profile.name}/origingroups"
        return resources.child(profile.origin_groups, name, type_path, profile.resource_group)

    def put_origin_group(self, profile: CdnProfile, name: str, body: OriginGroupBody) -> AfdOriginGroup:
        existing = profile.origin_groups.get(name.lower())
        group = AfdOriginGroup(name=existing.name if existing else name)
        if existing is not None:
            group.origins = existing.origins
        self._apply_group(group, body, replace=True)
        profile.origin_groups[name.lower()] = group
        return group

    def patch_origin_group(self, group: AfdOriginGroup, body: OriginGroupBody) -> AfdOriginGroup:
        self._apply_group(group, body, replace=False)
        return group

    def _apply_group(self, group: AfdOriginGroup, body: OriginGroupBody, *, replace: bool) -> None:
        props = body.properties
        if props.load_balancing_settings is not None or replace:
            group.load_balancing = _load_balancing(props.load_balancing_settings)
        if props.health_probe_settings is not None or replace:
            group.health_probe = _health_probe(props.health_probe_settings)
        if props.traffic_restoration_time_to_healed_or_new_endpoints_in_minutes is not None:
            group.restoration_minutes = props.traffic_restoration_time_to_healed_or_new_endpoints_in_minutes
        if props.session_affinity_state is not None:
            group.session_affinity_state = props.session_affinity_state

    # -- origins -------------------------------------------------------------------------------------
    def origin(self, profile: CdnProfile, group: AfdOriginGroup, name: str) -> AfdOrigin:
        type_path = f"{CDN}/profiles/{profile.name}/origingroups/{group.name}/origins"
        return resources.child(group.origins, name, type_path, profile.resource_group)

    def put_origin(
        self, profile: CdnProfile, group: AfdOriginGroup, name: str, body: OriginBody, *, location: str | None = None
    ) -> AfdOrigin:
        props = body.properties
        if not props.host_name:
            raise bad_request(f"The origin '{name}' needs a hostName.")
        existing = group.origins.get(name.lower())
        origin = AfdOrigin(name=existing.name if existing else name, host_name=props.host_name)
        origin.location = location or (existing.location if existing else None)
        _apply_origin(origin, props)
        self._check_host_free(profile, group, origin)
        group.origins[name.lower()] = origin
        return origin

    def patch_origin(
        self, profile: CdnProfile, group: AfdOriginGroup, origin: AfdOrigin, body: OriginBody
    ) -> AfdOrigin:
        before = AfdOrigin(**origin.__dict__)
        _apply_origin(origin, body.properties)
        try:
            self._check_host_free(profile, group, origin)
        except ArmError:
            origin.__dict__.update(before.__dict__)
            raise
        return origin

    def _check_host_free(self, profile: CdnProfile, group: AfdOriginGroup, origin: AfdOrigin) -> None:
        # AFDOrigin.hostName: "This should be unique across all origins in an endpoint" (openapi.json); the
        # emulator holds it to the origin group.
        for other in group.origins.values():
            if other.name.lower() != origin.name.lower() and other.host_name.lower() == origin.host_name.lower():
                raise bad_request(
                    f"The origin host name '{origin.host_name}' is already used by origin '{other.name}' of origin "
                    f"group '{group.name}'."
                )

    # -- deployment (the LROs' effects) ----------------------------------------------------------------
    def start_deployment(
        self, profile: CdnProfile, target: AfdOrigin | AfdOriginGroup | AfdEndpoint, *, kind: str, creating: bool
    ) -> Operation:
        """The write's long-running operation: the resource shows Creating/Updating until it ends."""
        target.provisioning_state = "Creating" if creating else "Updating"
        target.deployment_status = "InProgress"

        def complete() -> None:
            target.provisioning_state = "Succeeded"
            target.deployment_status = "Succeeded"

        def abandon() -> None:
            target.provisioning_state = "Failed"
            target.deployment_status = "Failed"

        return self._start(profile, kind, complete, abandon)

    def start_origin_delete(self, profile: CdnProfile, group: AfdOriginGroup, origin: AfdOrigin) -> Operation:
        origin.provisioning_state = "Deleting"

        def complete() -> None:
            group.origins.pop(origin.name.lower(), None)

        return self._start(profile, "cdn.origin.delete", complete)

    def _start(
        self, profile: CdnProfile, kind: str, complete: Callable[[], None], abandon: Callable[[], None] | None = None
    ) -> Operation:
        # Front Door is global: its operations are filed under the profile's group, location "global".
        return self.estate.start_operation(
            kind=kind,
            subscription_id=profile.subscription_id,
            resource_group=profile.resource_group,
            location="global",
            namespace=CDN,
            url_noun="",
            complete=complete,
            abandon=abandon,
        )

    # -- health (Azure Monitor's OriginHealthPercentage) -----------------------------------------------
    def origin_health(self, profile: CdnProfile) -> list[OriginHealth]:
        found: list[OriginHealth] = []
        for group in profile.origin_groups.values():
            for origin in group.origins.values():
                found.append(
                    OriginHealth(group.name, origin.name, origin.host_name, self._health_percent(group, origin))
                )
        return found

    def _health_percent(self, group: AfdOriginGroup, origin: AfdOrigin) -> float | None:
        if group.health_probe is None or origin.enabled_state != "Enabled":
            return None  # not probed: no data point, as in Azure Monitor
        if origin.provisioning_state != "Succeeded":
            return None  # its configuration has not reached the edge yet
        location = origin.location or (
            self.estate.location_of(origin.azure_origin_id) if origin.azure_origin_id else None
        )
        if self.estate.region_down(location) or not self.estate.target_healthy(
            origin.host_name, origin.azure_origin_id
        ):
            return 0.0
        return 100.0


def _load_balancing(body: LoadBalancingBody | None) -> dict[str, Any]:
    settings = dict(DEFAULT_LOAD_BALANCING)
    if body is not None:
        settings.update(body.model_dump(by_alias=True, exclude_none=True))
    if settings["successfulSamplesRequired"] > settings["sampleSize"]:
        raise bad_request("successfulSamplesRequired cannot be larger than sampleSize.")
    return settings


def _health_probe(body: HealthProbeBody | None) -> dict[str, Any] | None:
    if body is None:
        return None
    probe = {"probePath": "/", "probeRequestType": "HEAD", "probeProtocol": "Http", "probeIntervalInSeconds": 100}
    probe.update(body.model_dump(by_alias=True, exclude_none=True))
    return probe


def _apply_origin(origin: AfdOrigin, props: OriginPropertiesBody) -> None:
    for attribute in ("host_name", "http_port", "https_port", "priority", "weight", "enabled_state"):
        value = getattr(props, attribute)
        if value is not None:
            setattr(origin, attribute, value)
    if props.origin_host_header is not None:
        origin.origin_host_header = props.origin_host_header
    if props.enforce_certificate_name_check is not None:
        origin.enforce_certificate_name_check = props.enforce_certificate_name_check
    if props.azure_origin is not None:
        origin.azure_origin_id = props.azure_origin.id
