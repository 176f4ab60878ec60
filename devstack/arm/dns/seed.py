"""The estate format's `dns` section (devstack/arm/example_estate.yaml): public Azure DNS zones and their record
sets (CNAME and A here; the API takes every type).

Part of the data plane so the control plane's seed (control/seed.py) can include it without the provider ever
importing the control plane."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..estate import Estate
from ..seeding import SeedModel, seeded_provider
from .bodies import RecordSetBody, ZoneBody
from .models import DnsBackend


class RecordSeed(SeedModel):
    name: str = Field(description="Relative to the zone; '@' for the apex.")
    type: Literal["CNAME", "A"] = "CNAME"
    ttl: int = Field(300, ge=0)
    target: str | None = Field(None, description="CNAME: the canonical name.")
    target_resource_id: str | None = Field(
        None, description="CNAME: the host name of an emulated resource (an AFD endpoint, a Traffic Manager profile)."
    )
    addresses: list[str] = Field(default_factory=list, description="A: IPv4 addresses.")
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _data_fits_type(self) -> RecordSeed:
        if self.type == "CNAME" and not (self.target or self.target_resource_id):
            raise ValueError(f"CNAME record {self.name!r} needs a target or a target_resource_id")
        if self.type == "A" and not self.addresses:
            raise ValueError(f"A record {self.name!r} needs addresses")
        return self


class ZoneSeed(SeedModel):
    name: str
    resource_group: str
    tags: dict[str, str] = Field(default_factory=dict)
    records: list[RecordSeed] = Field(default_factory=list)


class DnsSeed(SeedModel):
    zones: list[ZoneSeed] = Field(default_factory=list)

    def apply(self, estate: Estate, subscription_id: str) -> None:
        backend = seeded_provider(estate, DnsBackend, "Microsoft.Network/dnsZones", needed=bool(self.zones))
        if backend is None:
            return
        for seed in self.zones:
            zone, _ = backend.put_zone(
                subscription_id, seed.resource_group, seed.name, ZoneBody(location="global", tags=seed.tags)
            )
            for record in seed.records:
                target = record.target
                if record.target_resource_id:
                    target = estate.hostname_of(record.target_resource_id)
                    if target is None:
                        raise ValueError(f"record {record.name!r}: no emulated resource {record.target_resource_id!r}")
                data = (
                    {"CNAMERecord": {"cname": target}}
                    if record.type == "CNAME"
                    else {"ARecords": [{"ipv4Address": address} for address in record.addresses]}
                )
                body = RecordSetBody.model_validate(
                    {"properties": {"TTL": record.ttl, "metadata": record.metadata, **data}}
                )
                backend.put_record_set(zone, record.type, record.name, body)
