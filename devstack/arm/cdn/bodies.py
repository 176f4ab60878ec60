"""Request bodies Microsoft.Cdn accepts for Azure Front Door, as azure-mgmt-cdn 14.1.0 serializes them
(api-version 2026-10-01; definitions Profile, ProfileUpdateParameters, AFDEndpoint, AFDOriginGroup,
AFDOriginGroupUpdateParameters, AFDOrigin, AFDOriginUpdateParameters, HealthProbeParameters,
LoadBalancingSettingsParameters of specification/cdn/resource-manager/Microsoft.Cdn/Cdn/stable/2026-10-01/
openapi.json in Azure/azure-rest-api-specs).

Declared: what the emulator acts on, with the spec's bounds (origin priority 1-5, weight 1-1000, ports
1-65535, probe interval 1-255 s); the rest of a body is ignored as the service ignores read-only properties.
A create and an update share a model: on an update every field is optional (a PATCH sends only what changes).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

EnabledState = Literal["Enabled", "Disabled"]
AFD_SKUS = ("Standard_AzureFrontDoor", "Premium_AzureFrontDoor")


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class SkuBody(_Body):
    name: str


class ProfilePropertiesBody(_Body):
    origin_response_timeout_seconds: int | None = Field(None, ge=16)


class ProfileBody(_Body):
    location: str | None = None
    sku: SkuBody | None = None
    tags: dict[str, str] | None = None
    properties: ProfilePropertiesBody = Field(default_factory=ProfilePropertiesBody)


class EndpointPropertiesBody(_Body):
    enabled_state: EnabledState | None = None
    auto_generated_domain_name_label_scope: (
        Literal["TenantReuse", "SubscriptionReuse", "ResourceGroupReuse", "NoReuse"] | None
    ) = None


class EndpointBody(_Body):
    location: str | None = None
    tags: dict[str, str] | None = None
    properties: EndpointPropertiesBody = Field(default_factory=EndpointPropertiesBody)


class HealthProbeBody(_Body):
    probe_path: str | None = None
    probe_request_type: Literal["NotSet", "GET", "HEAD"] | None = None
    probe_protocol: Literal["NotSet", "Http", "Https"] | None = None
    probe_interval_in_seconds: int | None = Field(None, ge=1, le=255)


class LoadBalancingBody(_Body):
    sample_size: int | None = None
    successful_samples_required: int | None = None
    additional_latency_in_milliseconds: int | None = None


class OriginGroupPropertiesBody(_Body):
    load_balancing_settings: LoadBalancingBody | None = None
    health_probe_settings: HealthProbeBody | None = None
    traffic_restoration_time_to_healed_or_new_endpoints_in_minutes: int | None = Field(None, ge=0, le=50)
    session_affinity_state: EnabledState | None = None


class OriginGroupBody(_Body):
    properties: OriginGroupPropertiesBody = Field(default_factory=OriginGroupPropertiesBody)


class ResourceReferenceBody(_Body):
    id: str | None = None


class OriginPropertiesBody(_Body):
    azure_origin: ResourceReferenceBody | None = None
    host_name: str | None = Field(None, min_length=1)
    http_port: int | None = Field(None, ge=1, le=65535)
    https_port: int | None = Field(None, ge=1, le=65535)
    origin_host_header: str | None = None
    priority: int | None = Field(None, ge=1, le=5)
    weight: int | None = Field(None, ge=1, le=1000)
    enabled_state: EnabledState | None = None
    enforce_certificate_name_check: bool | None = None


class OriginBody(_Body):
    properties: OriginPropertiesBody = Field(default_factory=OriginPropertiesBody)
