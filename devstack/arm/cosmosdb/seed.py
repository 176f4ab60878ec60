"""The estate format's `cosmosdb` section (devstack/arm/example_estate.yaml): database accounts and their regions.

Part of the data plane so the control plane's seed (control/seed.py) can include it without the provider ever
importing the control plane."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from ..estate import Estate
from ..seeding import SeedModel, seeded_provider
from .models import CosmosAccount, CosmosDbBackend, CosmosRegion


class CosmosAccountSeed(SeedModel):
    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", min_length=3, max_length=50)
    resource_group: str
    regions: list[str] = Field(min_length=1, description="In failover priority order: the first is the write region.")
    consistency: Literal["Eventual", "Session", "BoundedStaleness", "Strong", "ConsistentPrefix"] = "Session"
    max_staleness_prefix: int = Field(100, ge=1, description="Bounded staleness K (Azure's default 100).")
    max_interval_in_seconds: int = Field(5, ge=5, description="Bounded staleness T (Azure's default 5 s).")
    location: str | None = Field(None, description="The account's own location; defaults to the first region.")
    automatic_failover: bool = Field(False, description="enableAutomaticFailover (service-managed failover).")
    multiple_write_locations: bool = False
    offline_regions: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


class CosmosSeed(SeedModel):
    accounts: list[CosmosAccountSeed] = Field(default_factory=list)

    def apply(self, estate: Estate, subscription_id: str) -> None:
        backend = seeded_provider(estate, CosmosDbBackend, "Microsoft.DocumentDB", needed=bool(self.accounts))
        if backend is None:
            return
        for seed in self.accounts:
            estate.resource_group(subscription_id, seed.resource_group)
            offline = {r.replace(" ", "").lower() for r in seed.offline_regions}
            regions = [
                CosmosRegion(name=name, failover_priority=index, offline=name.replace(" ", "").lower() in offline)
                for index, name in enumerate(seed.regions)
            ]
            backend.add_account(
                CosmosAccount(
                    subscription_id=subscription_id,
                    resource_group=estate.resource_group(subscription_id, seed.resource_group).name,
                    name=seed.name,
                    location=seed.location or seed.regions[0],
                    regions=regions,
                    consistency_level=seed.consistency,
                    max_staleness_prefix=seed.max_staleness_prefix,
                    max_interval_in_seconds=seed.max_interval_in_seconds,
                    enable_automatic_failover=seed.automatic_failover,
                    enable_multiple_write_locations=seed.multiple_write_locations,
                    tags=dict(seed.tags),
                    instance_id=str(uuid.uuid4()),
                )
            )
