"""The estate format's `front_door` section (devstack/arm/example_estate.yaml): Azure Front Door Standard/Premium
profiles with their endpoints, origin groups and origins.

Part of the data plane so the control plane's seed (control/seed.py) can include it without the provider ever
importing the control plane. A seeded profile has been deployed for a while: every resource is Succeeded."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..estate import Estate
from ..seeding import SeedModel, seeded_provider
from .bodies import EndpointBody, OriginBody, OriginGroupBody, ProfileBody
from .models import CdnBackend


class HealthProbeSeed(SeedModel):
    path: str = "/health"
    protocol: Literal["Http", "Https"] = "Https"
    request_type: Literal["GET", "HEAD"] = "HEAD"
    interval_in_seconds: int = Field(100, ge=1, le=255)


class OriginSeed(SeedModel):
    name: str
    host_name: str
    location: str | None = Field(None, description="The region whose outage makes it fail Front Door's probes.")
    azure_origin_id: str | None = None
    priority: int = Field(1, ge=1, le=5)
    weight: int = Field(1000, ge=1, le=1000)
    enabled: bool = True
    origin_host_header: str | None = None
    http_port: int = 80
    https_port: int = 443


class OriginGroupSeed(SeedModel):
    name: str
    health_probe: HealthProbeSeed | None = Field(default_factory=HealthProbeSeed, description="null: not probed.")
    sample_size: int = 4
    successful_samples_required: int = 3
    origins: list[OriginSeed] = Field(default_factory=list)


class FrontDoorProfileSeed(SeedModel):
    name: str
    resource_group: str
    sku: Literal["Standard_AzureFrontDoor", "Premium_AzureFrontDoor"] = "Standard_AzureFrontDoor"
    tags: dict[str, str] = Field(default_factory=dict)
    endpoints: list[str] = Field(
        default_factory=list, description="AFD endpoint names (host <name>-<hash>.z01.azurefd.net)."
    )
    origin_groups: list[OriginGroupSeed] = Field(default_factory=list)


class FrontDoorSeed(SeedModel):
    profiles: list[FrontDoorProfileSeed] = Field(default_factory=list)

    def apply(self, estate: Estate, subscription_id: str) -> None:
        backend = seeded_provider(estate, CdnBackend, "Microsoft.Cdn", needed=bool(self.profiles))
        if backend is None:
            return
        for seed in self.profiles:
            profile = backend.put_profile(
                subscription_id,
                seed.resource_group,
                seed.name,
                ProfileBody.model_validate({"location": "global", "sku": {"name": seed.sku}, "tags": seed.tags}),
            )
            for endpoint in seed.endpoints:
                backend.put_endpoint(profile, endpoint, EndpointBody(location="global"))
            for group_seed in seed.origin_groups:
                probe = group_seed.health_probe
                group = backend.put_origin_group(
                    profile,
                    group_seed.name,
                    OriginGroupBody.model_validate(
                        {
                            "properties": {
                                "loadBalancingSettings": {
                                    "sampleSize": group_seed.sample_size,
                                    "successfulSamplesRequired": group_seed.successful_samples_required,
                                },
                                "healthProbeSettings": None
                                if probe is None
                                else {
                                    "probePath": probe.path,
                                    "probeProtocol": probe.protocol,
                                    "probeRequestType": probe.request_type,
                                    "probeIntervalInSeconds": probe.interval_in_seconds,
                                },
                            }
                        }
                    ),
                )
                for origin in group_seed.origins:
                    body = {
                        "hostName": origin.host_name,
                        "httpPort": origin.http_port,
                        "httpsPort": origin.https_port,
                        "originHostHeader": origin.origin_host_header or origin.host_name,
                        "priority": origin.priority,
                        "weight": origin.weight,
                        "enabledState": "Enabled" if origin.enabled else "Disabled",
                    }
                    if origin.azure_origin_id:
                        body["azureOrigin"] = {"id": origin.azure_origin_id}
                    backend.put_origin(
                        profile,
                        group,
                        origin.name,
                        OriginBody.model_validate({"properties": body}),
                        location=origin.location,
                    )
