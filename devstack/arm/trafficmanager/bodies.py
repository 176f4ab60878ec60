"""Request bodies Microsoft.Network/trafficmanagerprofiles accepts, as azure-mgmt-trafficmanager 2.0.0
serializes them (definitions Profile, Endpoint, EndpointProperties of trafficmanager.json, api-version
2026-09-01). Properties the emulator does not act on (custom headers, subnets, geo mapping,
minChildEndpoints...) are kept as sent and returned unchanged."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

EndpointStatus = Literal["Enabled", "Disabled"]


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class DnsConfigBody(_Body):
    relative_name: str | None = None
    ttl: int | None = Field(None, ge=0, le=2_147_483_647)


class MonitorConfigBody(_Body):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    protocol: Literal["HTTP", "HTTPS", "TCP"] | None = None
    port: int | None = Field(None, ge=1, le=65535)
    path: str | None = None
    interval_in_seconds: int | None = None
    timeout_in_seconds: int | None = None
    tolerated_number_of_failures: int | None = Field(None, ge=0, le=9)
    profile_monitor_status: str | None = Field(None, exclude=True)
    """Read-only in practice: computed from the endpoints, whatever a client echoes."""


class EndpointPropertiesBody(_Body):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    target_resource_id: str | None = None
    target: str | None = None
    endpoint_status: EndpointStatus | None = None
    weight: int | None = Field(None, ge=1, le=1000)
    priority: int | None = Field(None, ge=1, le=1000)
    endpoint_location: str | None = None
    endpoint_monitor_status: str | None = Field(None, exclude=True)

    def passthrough(self) -> dict[str, Any]:
        """Properties stored as sent (those the emulator does not interpret)."""
        return dict(self.model_extra or {})


class EndpointBody(_Body):
    name: str | None = None
    type: str | None = None
    properties: EndpointPropertiesBody = Field(default_factory=EndpointPropertiesBody)


class ProfilePropertiesBody(_Body):
    profile_status: EndpointStatus | None = None
    traffic_routing_method: (
        Literal["Performance", "Priority", "Weighted", "Geographic", "MultiValue", "Subnet"] | None
    ) = None
    dns_config: DnsConfigBody | None = None
    monitor_config: MonitorConfigBody | None = None
    endpoints: list[EndpointBody] | None = None
    traffic_view_enrollment_status: EndpointStatus | None = None
    allowed_endpoint_record_types: list[str] | None = None
    max_return: int | None = None
    record_type: str | None = None


class ProfileBody(_Body):
    location: str | None = None
    tags: dict[str, str] | None = None
    properties: ProfilePropertiesBody = Field(default_factory=ProfilePropertiesBody)
