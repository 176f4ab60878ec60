"""Traffic Manager state and behaviour: profiles, endpoints, the monitor statuses that follow emulated
health, and the answer DNS would give now.

Shapes follow api-version 2026-09-01, the version azure-mgmt-trafficmanager 2.0.0 sends (its
_configuration.py): spec file specification/trafficmanager/resource-manager/Microsoft.Network/
TrafficManager/stable/2026-09-01/trafficmanager.json in Azure/azure-rest-api-specs (EndpointProperties:
`target` is "the fully-qualified DNS name or IP address of the endpoint", `targetResourceId` is "not
applicable to endpoints of type 'ExternalEndpoints'"), and its examples (Profile-PUT-WithNestedEndpoints.json:
NestedEndpoints given by `target` alone, with minChildEndpoints*). Endpoint targets per type: External
needs `target`; Azure needs `targetResourceId`; Nested takes either (the child profile's FQDN or id).
Monitor statuses (from Azure's endpoint-monitoring documentation):
- endpoint: Disabled when disabled; Inactive when its profile is disabled; CheckingEndpoint for a while
  after it is enabled (settings.endpoint_checking_seconds, 0 by default); Degraded when its region
  (endpointLocation, or the target resource's location) is down or its target's health is set down;
  Unmonitored with alwaysServe; Online otherwise.
- profile: Disabled, Inactive (no enabled endpoint), Degraded (any endpoint degraded),
  CheckingEndpoints, or Online.
DNS (resolve): Priority answers with the lowest priority number among enabled, non-degraded endpoints;
Weighted picks by weight among them. When every enabled endpoint is degraded Traffic Manager fails open
and answers as if all were healthy; with no enabled endpoint (or the profile disabled) there is no answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from .. import errors, resources
from ..errors import ArmError, bad_request
from ..estate import Estate, ProviderDefaults
from ..ids import key, provider_id
from .bodies import EndpointBody, EndpointPropertiesBody, MonitorConfigBody, ProfileBody

NETWORK = "Microsoft.Network"
DNS_SUFFIX = "trafficmanager.net"
API_VERSIONS = ("2018-04-01", "2018-08-01", "2022-04-01", "2026-09-01")
# Path segment as clients send it -> (type name in requests, segment in ids/types as Azure returns it).
ENDPOINT_TYPES: dict[str, tuple[str, str]] = {
    "azureendpoints": ("AzureEndpoints", "azureEndpoints"),
    "externalendpoints": ("ExternalEndpoints", "externalEndpoints"),
    "nestedendpoints": ("NestedEndpoints", "nestedEndpoints"),
}
DEFAULT_MONITOR: dict[str, Any] = {
    "protocol": "HTTP",
    "port": 80,
    "path": "/",
    "intervalInSeconds": 30,
    "timeoutInSeconds": 10,
    "toleratedNumberOfFailures": 3,
}
SERVING = {"Online", "CheckingEndpoint", "Unmonitored"}


def endpoint_type(segment: str) -> tuple[str, str]:
    found = ENDPOINT_TYPES.get(segment.lower())
    if found is None:
        raise bad_request(
            f"The endpoint type '{segment}' is invalid. Valid types are AzureEndpoints, ExternalEndpoints "
            "and NestedEndpoints."
        )
    return found


@dataclass
class TmEndpoint:
    name: str
    type_name: str
    """'ExternalEndpoints', 'AzureEndpoints' or 'NestedEndpoints'."""
    endpoint_status: str = "Enabled"
    target: str | None = None
    target_resource_id: str | None = None
    weight: int = 1
    priority: int = 1
    endpoint_location: str | None = None
    passthrough: dict[str, Any] = field(default_factory=dict)
    enabled_at: datetime | None = None

    @property
    def type_segment(self) -> str:
        return ENDPOINT_TYPES[self.type_name.lower()][1]

    def effective_target(self, estate: Estate) -> str | None:
        if self.target:
            return self.target
        return estate.hostname_of(self.target_resource_id) if self.target_resource_id else None

    def effective_location(self, estate: Estate) -> str | None:
        if self.endpoint_location:
            return self.endpoint_location
        return estate.location_of(self.target_resource_id) if self.target_resource_id else None

    def monitor_status(self, profile: TmProfile, estate: Estate) -> str:
        if self.endpoint_status == "Disabled":
            return "Disabled"
        if profile.profile_status == "Disabled":
            return "Inactive"
        if self.passthrough.get("alwaysServe") == "Enabled":
            return "Unmonitored"
        if estate.region_down(self.effective_location(estate)) or not estate.target_healthy(
            self.target, self.target_resource_id, self.effective_target(estate)
        ):
            return "Degraded"
        checking = timedelta(seconds=estate.settings.endpoint_checking_seconds)
        if self.enabled_at is not None and estate.now() - self.enabled_at < checking:
            return "CheckingEndpoint"
        return "Online"

    def to_resource(self, profile: TmProfile, estate: Estate) -> dict[str, Any]:
        properties: dict[str, Any] = dict(self.passthrough)
        properties.update(
            {
                "endpointStatus": self.endpoint_status,
                "endpointMonitorStatus": self.monitor_status(profile, estate),
                "weight": self.weight,
                "priority": self.priority,
            }
        )
        target = self.effective_target(estate)
        if target is not None:
            properties["target"] = target
        if self.target_resource_id is not None:
            properties["targetResourceId"] = self.target_resource_id
        location = self.effective_location(estate)
        if location is not None:
            properties["endpointLocation"] = location
        return {
            "id": f"{profile.id}/{self.type_segment}/{self.name}",
            "name": self.name,
            "type": f"Microsoft.Network/trafficManagerProfiles/{self.type_segment}",
            "properties": properties,
        }


@dataclass
class TmProfile:
    subscription_id: str
    resource_group: str
    name: str
    relative_name: str
    routing_method: str
    ttl: int = 60
    profile_status: str = "Enabled"
    monitor: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_MONITOR))
    tags: dict[str, str] = field(default_factory=dict)
    traffic_view: str = "Disabled"
    extra_properties: dict[str, Any] = field(default_factory=dict)
    """allowedEndpointRecordTypes, maxReturn, recordType: stored as sent."""
    endpoints: dict[str, TmEndpoint] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return provider_id(self.subscription_id, self.resource_group, NETWORK, "trafficManagerProfiles", self.name)

    @property
    def fqdn(self) -> str:
        return f"{self.relative_name}.{DNS_SUFFIX}".lower()

    def ordered_endpoints(self) -> list[TmEndpoint]:
        return sorted(self.endpoints.values(), key=lambda e: (e.priority, e.name.lower()))

    def monitor_status(self, estate: Estate) -> str:
        if self.profile_status == "Disabled":
            return "Disabled"
        statuses = [e.monitor_status(self, estate) for e in self.endpoints.values() if e.endpoint_status == "Enabled"]
        if not statuses:
            return "Inactive"
        if "Degraded" in statuses:
            return "Degraded"
        if "CheckingEndpoint" in statuses:
            return "CheckingEndpoints"
        return "Online"

    def to_resource(self, estate: Estate) -> dict[str, Any]:
        monitor = dict(self.monitor)
        monitor["profileMonitorStatus"] = self.monitor_status(estate)
        properties: dict[str, Any] = {
            "profileStatus": self.profile_status,
            "trafficRoutingMethod": self.routing_method,
            "dnsConfig": {"relativeName": self.relative_name, "fqdn": self.fqdn, "ttl": self.ttl},
            "monitorConfig": monitor,
            "endpoints": [e.to_resource(self, estate) for e in self.ordered_endpoints()],
            "trafficViewEnrollmentStatus": self.traffic_view,
            **self.extra_properties,
        }
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Network/trafficManagerProfiles",
            "location": "global",
            "tags": self.tags,
            "properties": properties,
        }


class ResolveCandidate(BaseModel):
    name: str
    endpoint_type: str
    target: str | None
    priority: int
    weight: int
    endpoint_status: str
    endpoint_monitor_status: str
    serving: bool
    """Traffic Manager would hand this endpoint out now."""


class ResolveAnswer(BaseModel):
    """What a DNS query for the profile's name would return now (stands in for a real lookup)."""

    profile_id: str
    fqdn: str
    ttl: int
    routing_method: str
    endpoint: str | None
    """Name of the endpoint answered with; None is NXDOMAIN (profile disabled or no enabled endpoint)."""
    target: str | None
    fail_open: bool
    """Every enabled endpoint is degraded, so Traffic Manager answers as if all were healthy."""
    candidates: list[ResolveCandidate]


class TrafficManagerBackend(ProviderDefaults):
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.profiles: dict[tuple[str, ...], TmProfile] = {}

    # -- Provider protocol ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.profiles.clear()

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        resources.drop_resource_group(self.profiles, subscription_id, name)

    def hostname_of(self, resource_id: str) -> str | None:
        profile = resources.by_id(self.profiles, resource_id, NETWORK, "trafficManagerProfiles")
        return profile.fqdn if profile is not None else None

    # -- profiles ------------------------------------------------------------------------------------
    def find(self, subscription_id: str, resource_group: str, name: str) -> TmProfile | None:
        return self.profiles.get(key(subscription_id, resource_group, name))

    def profile(self, subscription_id: str, resource_group: str, name: str) -> TmProfile:
        return resources.existing(
            self.estate, self.profiles, subscription_id, resource_group, name, f"{NETWORK}/trafficManagerProfiles"
        )

    def profiles_in(self, subscription_id: str, resource_group: str | None = None) -> list[TmProfile]:
        return resources.in_scope(self.profiles.values(), subscription_id, resource_group)

    def profile_by_name(self, name: str) -> TmProfile | None:
        """By fqdn ('shop.trafficmanager.net'), relative name, or profile resource id."""
        wanted = name.strip().rstrip(".").lower()
        for profile in self.profiles.values():
            if wanted in (profile.fqdn, profile.relative_name.lower(), profile.id.lower()):
                return profile
        return None

    def put_profile(
        self, subscription_id: str, resource_group: str, name: str, body: ProfileBody
    ) -> tuple[TmProfile, bool]:
        group = self.estate.resource_group(subscription_id, resource_group)
        if body.location is not None and body.location.lower() != "global":
            raise errors.location_not_available(body.location, "Microsoft.Network/trafficManagerProfiles", "global")
        props = body.properties
        existing = self.find(subscription_id, resource_group, name)
        if props.traffic_routing_method is None:
            raise bad_request("The 'trafficRoutingMethod' property is required.")
        if props.dns_config is None or not props.dns_config.relative_name:
            raise bad_request("The 'dnsConfig.relativeName' property is required.")
        relative_name = props.dns_config.relative_name
        self._check_dns_name_free(relative_name, existing)
        profile = TmProfile(
            subscription_id=subscription_id,
            resource_group=group.name,
            name=existing.name if existing else name,
            relative_name=relative_name,
            routing_method=props.traffic_routing_method,
            ttl=props.dns_config.ttl if props.dns_config.ttl is not None else 60,
            profile_status=props.profile_status or "Enabled",
            monitor=_monitor(props.monitor_config, DEFAULT_MONITOR),
            tags=dict(body.tags or {}),
            traffic_view=props.traffic_view_enrollment_status or "Disabled",
            extra_properties=_extra_profile_properties(props.model_dump(by_alias=True, exclude_none=True)),
        )
        old_endpoints = existing.endpoints if existing else {}
        for endpoint_body in props.endpoints or []:
            endpoint = self._endpoint_from_body(profile, endpoint_body, old_endpoints)
            profile.endpoints[endpoint.name.lower()] = endpoint
        self._check_priorities(profile)
        self.profiles[key(subscription_id, resource_group, name)] = profile
        return profile, existing is None

    def patch_profile(self, profile: TmProfile, body: ProfileBody) -> TmProfile:
        props = body.properties
        if body.tags is not None:
            profile.tags = dict(body.tags)
        if props.profile_status is not None:
            profile.profile_status = props.profile_status
        if props.traffic_routing_method is not None:
            profile.routing_method = props.traffic_routing_method
        if props.dns_config is not None:
            if props.dns_config.relative_name and props.dns_config.relative_name != profile.relative_name:
                raise bad_request("The relative DNS name of a profile cannot be changed.")
            if props.dns_config.ttl is not None:
                profile.ttl = props.dns_config.ttl
        if props.monitor_config is not None:
            profile.monitor = _monitor(props.monitor_config, profile.monitor)
        if props.traffic_view_enrollment_status is not None:
            profile.traffic_view = props.traffic_view_enrollment_status
        profile.extra_properties.update(_extra_profile_properties(props.model_dump(by_alias=True, exclude_none=True)))
        if props.endpoints is not None:
            old = profile.endpoints
            profile.endpoints = {}
            for endpoint_body in props.endpoints:
                endpoint = self._endpoint_from_body(profile, endpoint_body, old)
                profile.endpoints[endpoint.name.lower()] = endpoint
        self._check_priorities(profile)
        return profile

    def delete_profile(self, subscription_id: str, resource_group: str, name: str) -> bool:
        self.estate.resource_group(subscription_id, resource_group)
        return self.profiles.pop(key(subscription_id, resource_group, name), None) is not None

    def _check_dns_name_free(self, relative_name: str, existing: TmProfile | None) -> None:
        for other in self.profiles.values():
            if other is not existing and other.relative_name.lower() == relative_name.lower():
                raise ArmError(
                    409,
                    "Conflict",
                    f"The domain name '{relative_name}.{DNS_SUFFIX}' is already in use by another profile.",
                )
        if existing is not None and existing.relative_name.lower() != relative_name.lower():
            raise bad_request("The relative DNS name of a profile cannot be changed.")

    def _check_priorities(self, profile: TmProfile) -> None:
        if profile.routing_method != "Priority":
            return
        seen: dict[int, str] = {}
        for endpoint in profile.endpoints.values():
            if endpoint.priority in seen:
                raise bad_request(
                    f"Endpoints '{seen[endpoint.priority]}' and '{endpoint.name}' have the same priority "
                    f"{endpoint.priority}; priorities must be unique within a profile."
                )
            seen[endpoint.priority] = endpoint.name

    # -- endpoints -----------------------------------------------------------------------------------
    def endpoint(self, profile: TmProfile, type_segment: str, name: str) -> TmEndpoint:
        type_name, segment = endpoint_type(type_segment)
        endpoint = profile.endpoints.get(name.lower())
        if endpoint is None or endpoint.type_name != type_name:
            raise errors.resource_not_found(
                f"Microsoft.Network/trafficManagerProfiles/{profile.name}/{segment}/{name}",
                profile.resource_group,
            )
        return endpoint

    def put_endpoint(
        self, profile: TmProfile, type_segment: str, name: str, body: EndpointBody
    ) -> tuple[TmEndpoint, bool]:
        type_name, _ = endpoint_type(type_segment)
        existing = profile.endpoints.get(name.lower())
        if existing is not None and existing.type_name != type_name:
            raise bad_request(f"An endpoint named '{name}' of type {existing.type_name} already exists.")
        endpoint = self._build_endpoint(profile, name, type_name, body.properties, existing)
        profile.endpoints[name.lower()] = endpoint
        try:
            self._check_priorities(profile)
        except ArmError:
            if existing is None:
                del profile.endpoints[name.lower()]
            else:
                profile.endpoints[name.lower()] = existing
            raise
        return endpoint, existing is None

    def patch_endpoint(self, profile: TmProfile, endpoint: TmEndpoint, body: EndpointBody) -> TmEndpoint:
        props = body.properties
        before = (endpoint.priority, endpoint.endpoint_status)
        if props.endpoint_status is not None and props.endpoint_status != endpoint.endpoint_status:
            endpoint.endpoint_status = props.endpoint_status
            if props.endpoint_status == "Enabled":
                endpoint.enabled_at = self.estate.now()
        for attribute in ("target", "target_resource_id", "weight", "priority", "endpoint_location"):
            value = getattr(props, attribute)
            if value is not None:
                setattr(endpoint, attribute, value)
        endpoint.passthrough.update(props.passthrough())
        try:
            self._check_priorities(profile)
        except ArmError:
            endpoint.priority, endpoint.endpoint_status = before
            raise
        return endpoint

    def delete_endpoint(self, profile: TmProfile, type_segment: str, name: str) -> bool:
        type_name, _ = endpoint_type(type_segment)
        existing = profile.endpoints.get(name.lower())
        if existing is None or existing.type_name != type_name:
            return False
        del profile.endpoints[name.lower()]
        return True

    def _endpoint_from_body(self, profile: TmProfile, body: EndpointBody, old: dict[str, TmEndpoint]) -> TmEndpoint:
        if not body.name:
            raise bad_request("Every endpoint in a profile needs a name.")
        segment = (body.type or "").rsplit("/", 1)[-1] or "ExternalEndpoints"
        type_name, _ = endpoint_type(segment)
        return self._build_endpoint(profile, body.name, type_name, body.properties, old.get(body.name.lower()))

    def _build_endpoint(
        self,
        profile: TmProfile,
        name: str,
        type_name: str,
        props: EndpointPropertiesBody,
        existing: TmEndpoint | None,
    ) -> TmEndpoint:
        if type_name == "ExternalEndpoints" and not props.target:
            raise bad_request(f"The endpoint '{name}' needs a target (an FQDN or IP address).")
        if type_name == "AzureEndpoints" and not props.target_resource_id:
            raise bad_request(f"The endpoint '{name}' of type {type_name} needs a targetResourceId.")
        if type_name == "NestedEndpoints" and not (props.target or props.target_resource_id):
            raise bad_request(
                f"The endpoint '{name}' of type {type_name} needs a target (the child profile's FQDN) or a "
                "targetResourceId (the child profile's id)."
            )
        status = props.endpoint_status or "Enabled"
        if existing is not None and existing.endpoint_status == status:
            enabled_at = existing.enabled_at
        else:
            enabled_at = self.estate.now() if status == "Enabled" else None
        others = [e for e in profile.endpoints.values() if e.name.lower() != name.lower()]
        return TmEndpoint(
            name=existing.name if existing else name,
            type_name=type_name,
            endpoint_status=status,
            target=props.target,
            target_resource_id=props.target_resource_id,
            weight=props.weight or 1,
            priority=props.priority
            or (existing.priority if existing else max((e.priority for e in others), default=0) + 1),
            endpoint_location=props.endpoint_location,
            passthrough=props.passthrough(),
            enabled_at=enabled_at,
        )

    # -- DNS -----------------------------------------------------------------------------------------
    def resolve(self, profile: TmProfile, rng: random.Random | None = None) -> ResolveAnswer:
        candidates = [
            ResolveCandidate(
                name=e.name,
                endpoint_type=e.type_name,
                target=e.effective_target(self.estate),
                priority=e.priority,
                weight=e.weight,
                endpoint_status=e.endpoint_status,
                endpoint_monitor_status=(status := e.monitor_status(profile, self.estate)),
                serving=status in SERVING,
            )
            for e in profile.ordered_endpoints()
        ]
        enabled = [c for c in candidates if c.endpoint_status == "Enabled"]
        serving = [c for c in enabled if c.serving]
        fail_open = bool(enabled) and not serving and profile.profile_status == "Enabled"
        pool = serving or (enabled if fail_open else [])
        if profile.profile_status != "Enabled" or not pool:
            chosen = None
        elif profile.routing_method == "Weighted":
            chosen = (rng or random.Random()).choices(pool, weights=[c.weight for c in pool])[0]
        else:
            # Priority; other methods (Performance, Geographic...) answer by priority here too.
            chosen = min(pool, key=lambda c: c.priority)
        return ResolveAnswer(
            profile_id=profile.id,
            fqdn=profile.fqdn,
            ttl=profile.ttl,
            routing_method=profile.routing_method,
            endpoint=chosen.name if chosen else None,
            target=chosen.target if chosen else None,
            fail_open=fail_open,
            candidates=candidates,
        )


def _monitor(body: MonitorConfigBody | None, base: dict[str, Any]) -> dict[str, Any]:
    monitor = dict(base)
    if body is not None:
        monitor.update(body.model_dump(by_alias=True, exclude_none=True))
    return monitor


def _extra_profile_properties(dumped: dict[str, Any]) -> dict[str, Any]:
    return {k: dumped[k] for k in ("allowedEndpointRecordTypes", "maxReturn", "recordType") if k in dumped}
