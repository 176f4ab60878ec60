"""Traffic Manager through azure-mgmt-trafficmanager: read a profile into a :class:`.model.ProfileView`, PATCH
endpoints, write the profile's tags.

Invariant: the only module of the kind that touches the SDK; every Azure error leaves it as a
:mod:`dr.errors` error saying what was being done (:func:`dr.errors.azure_errors`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...clients import get_clients
from ...errors import azure_errors
from ..sdk import ArmRef, wire_text
from .model import EndpointView, MonitorView, ProfileView
from .planner import EndpointPatch

ENDPOINT_TYPES = {name.lower(): name for name in ("AzureEndpoints", "ExternalEndpoints", "NestedEndpoints")}


def profile_view(profile: Any, profile_id: str) -> ProfileView:
    """Read an azure-mgmt-trafficmanager Profile into a ProfileView."""
    ref = ArmRef.parse(profile_id)
    monitor = profile.monitor_config
    dns = profile.dns_config
    endpoints = []
    for endpoint in profile.endpoints or []:
        type_segment = str(endpoint.type or "").rsplit("/", 1)[-1].lower()
        endpoints.append(
            EndpointView(
                name=str(endpoint.name),
                endpoint_type=ENDPOINT_TYPES.get(type_segment, type_segment),
                status=wire_text(endpoint.endpoint_status),
                monitor_status=wire_text(endpoint.endpoint_monitor_status),
                priority=endpoint.priority,
                weight=endpoint.weight,
                target=endpoint.target,
                location=endpoint.endpoint_location,
                headers=_headers(endpoint.custom_headers),
            )
        )
    return ProfileView(
        id=profile_id,
        resource_group=ref.resource_group,
        name=ref.name,
        routing_method=wire_text(profile.traffic_routing_method) or "",
        status=wire_text(profile.profile_status) or "Enabled",
        ttl=dns.ttl if dns is not None else None,
        fqdn=dns.fqdn if dns is not None else None,
        monitor=MonitorView(
            protocol=(wire_text(monitor.protocol) or "HTTP").upper(),
            port=monitor.port,
            path=monitor.path,
            interval_seconds=monitor.interval_in_seconds,
            tolerated_failures=monitor.tolerated_number_of_failures,
            timeout_seconds=monitor.timeout_in_seconds,
            headers=_headers(monitor.custom_headers),
            expected=tuple(
                (int(item.min), int(item.max))
                for item in monitor.expected_status_code_ranges or []
                if item.min is not None and item.max is not None
            ),
        )
        if monitor is not None
        else MonitorView(),
        endpoints=tuple(endpoints),
        tags=dict(profile.tags or {}),
    )


def _headers(items: Iterable[Any] | None) -> dict[str, str]:
    return {str(item.name): str(item.value) for item in items or [] if item.name}


def _client(profile_id: str) -> Any:
    return get_clients().traffic_manager(ArmRef.parse(profile_id).subscription)


def read_profile(profile_id: str) -> ProfileView:
    ref = ArmRef.parse(profile_id)
    client = _client(profile_id)
    with azure_errors(f"read Traffic Manager profile {ref.name}"):
        profile = client.profiles.get(ref.resource_group, ref.name)
    return profile_view(profile, profile_id)


def apply_patches(profile: ProfileView, patches: list[EndpointPatch]) -> None:
    from azure.mgmt.trafficmanager.models import Endpoint

    client = _client(profile.id)
    field_names = {"status": "endpoint_status", "priority": "priority", "weight": "weight"}
    for patch in patches:
        body = Endpoint(**{field_names[field]: value for field, value in patch.change.fields().items()})
        with azure_errors(f"update endpoint {patch.endpoint} of profile {profile.name}"):
            client.endpoints.update(profile.resource_group, profile.name, patch.endpoint_type, patch.endpoint, body)


def write_tags(profile: ProfileView, tags: dict[str, str]) -> None:
    """PATCH the profile's tags (ARM replaces the whole map: pass every tag to keep)."""
    from azure.mgmt.trafficmanager.models import Profile

    client = _client(profile.id)
    with azure_errors(f"tag Traffic Manager profile {profile.name}"):
        client.profiles.update(profile.resource_group, profile.name, Profile(tags=tags))
