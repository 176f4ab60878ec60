"""Azure Front Door through azure-mgmt-cdn (api-version 2026-10-01): read an origin group and its origins into an
:class:`.model.OriginGroupView`, start origin PATCHes, write the test profile's tags, and read Front Door's own
health view of the origins (Azure Monitor's OriginHealthPercentage, through the same client's pipeline).

Invariant: the only module of the kind that touches the SDK; every Azure error leaves it as a :mod:`dr.errors`
error saying what was being done. The health metric is read best-effort: a reading that fails is "unreadable"
(with the reason), never an error, because the switch can be judged by the probes alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ...azure_lro import ARM_CALL_OPTIONS, OperationRef, OperationStatus, check_operation, start_operation
from ...clients import get_clients
from ...durations import iso
from ...errors import azure_errors
from ..sdk import ArmRef, wire_text
from .model import HealthReading, OriginGroupView, OriginSetting, OriginView, ProbeSettings

# Metrics_List (specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/metrics_API.json).
METRICS_API_VERSION = "2023-10-01"
ORIGIN_HEALTH = "OriginHealthPercentage"
# Front Door's health metric arrives in one-minute grains, a few minutes late: look this far back.
METRICS_LOOKBACK = timedelta(minutes=10)


def _client(subscription: str) -> Any:
    return get_clients().cdn(subscription)


def read_group(origin_group_id: str) -> OriginGroupView:
    ref = ArmRef.parse(origin_group_id)
    client = _client(ref.subscription)
    rg, profile_name, name = ref.resource_group, ref.name, ref.child or ""
    with azure_errors(f"read Front Door origin group {profile_name}/{name}"):
        group = client.afd_origin_groups.get(rg, profile_name, name, **ARM_CALL_OPTIONS)
        origins = list(client.afd_origins.list_by_origin_group(rg, profile_name, name, **ARM_CALL_OPTIONS))
        profile = client.profiles.get(rg, profile_name, **ARM_CALL_OPTIONS)
    probe = group.health_probe_settings
    balancing = group.load_balancing_settings
    return OriginGroupView(
        id=origin_group_id,
        subscription=ref.subscription,
        resource_group=rg,
        profile=profile_name,
        name=str(group.name or name),
        probe=ProbeSettings(
            path=probe.probe_path or "/",
            protocol=wire_text(probe.probe_protocol) or "Http",
            request_type=wire_text(probe.probe_request_type) or "HEAD",
            interval_seconds=probe.probe_interval_in_seconds,
        )
        if probe is not None
        else None,
        sample_size=balancing.sample_size if balancing is not None else None,
        successful_samples_required=balancing.successful_samples_required if balancing is not None else None,
        origins=tuple(_origin_view(origin) for origin in origins),
        profile_tags=dict(profile.tags or {}),
    )


def _origin_view(origin: Any) -> OriginView:
    return OriginView(
        name=str(origin.name),
        host_name=str(origin.host_name or ""),
        enabled_state=wire_text(origin.enabled_state) or "Enabled",
        priority=origin.priority,
        weight=origin.weight,
        http_port=origin.http_port or 80,
        https_port=origin.https_port or 443,
        origin_host_header=origin.origin_host_header,
        enforce_certificate_name_check=origin.enforce_certificate_name_check is not False,
        provisioning_state=wire_text(origin.provisioning_state),
        deployment_status=wire_text(origin.deployment_status),
    )


def start_patch(group: OriginGroupView, origin: str, change: OriginSetting) -> OperationRef:
    """Start one AFDOrigins_Update; the reference a later call follows (the change deploys to the edge)."""
    from azure.mgmt.cdn.models import AFDOriginUpdateParameters

    body = AFDOriginUpdateParameters(**change.fields())
    client = _client(group.subscription)
    with azure_errors(f"update origin {origin} of Front Door origin group {group.profile}/{group.name}"):
        return start_operation(
            client.afd_origins.begin_update, group.resource_group, group.profile, group.name, origin, body
        )


def operation_status(group: OriginGroupView, ref: OperationRef, origin: str) -> OperationStatus:
    client = _client(group.subscription)
    with azure_errors(f"follow the update of origin {origin} of {group.profile}/{group.name}"):
        return check_operation(client, ref, endpoint=get_clients().settings.arm_endpoint)


def write_profile_tags(group: OriginGroupView, tags: dict[str, str]) -> None:
    """PATCH the profile's tags (ARM replaces the whole map: pass every tag to keep)."""
    from azure.mgmt.cdn.models import ProfileUpdateParameters

    client = _client(group.subscription)
    with azure_errors(f"tag Front Door profile {group.profile}"):
        start_operation(
            client.profiles.begin_update, group.resource_group, group.profile, ProfileUpdateParameters(tags=tags)
        )


def read_health(group: OriginGroupView, now: datetime) -> HealthReading:
    """Front Door's OriginHealthPercentage of each origin of the group, from the profile's Azure Monitor metrics
    (the latest one-minute average in the last few minutes). Best-effort: see the module docstring."""
    from azure.core.rest import HttpRequest

    settings = get_clients().settings
    url = f"{settings.arm_endpoint.rstrip('/')}{group.profile_id}/providers/Microsoft.Insights/metrics"
    params = {
        "api-version": METRICS_API_VERSION,
        "metricnames": ORIGIN_HEALTH,
        "aggregation": "average",
        "interval": "PT1M",
        "timespan": f"{iso(now - METRICS_LOOKBACK)}/{iso(now)}",
        "$filter": f"OriginGroup eq '{group.name}' and Origin eq '*'",
    }
    try:
        response = _client(group.subscription).send_request(HttpRequest("GET", url, params=params), **ARM_CALL_OPTIONS)
        if response.status_code != 200:
            return HealthReading(readable=False, reason=f"Azure Monitor answered HTTP {response.status_code}")
        body = response.json()
    except Exception as exc:  # best-effort: an unreadable metric leaves the probes to judge
        return HealthReading(readable=False, reason=f"Azure Monitor not reachable ({type(exc).__name__})")
    by_host = {origin.host_name.lower(): origin.name for origin in group.origins}
    by_name = {origin.name.lower(): origin.name for origin in group.origins}
    percent: dict[str, float | None] = {origin.name: None for origin in group.origins}
    for metric in body.get("value") or []:
        for series in metric.get("timeseries") or []:
            dimension = next((str(m.get("value", "")) for m in series.get("metadatavalues") or []), "")
            name = by_host.get(dimension.lower()) or by_name.get(dimension.lower())
            points = [p.get("average") for p in series.get("data") or [] if isinstance(p.get("average"), int | float)]
            if name is not None and points:
                percent[name] = float(points[-1])
    return HealthReading(percent=percent)
