"""The estate format's `postgresql` section (devstack/arm/example_estate.yaml): flexible servers and read replicas.

Part of the data plane so the control plane's seed (control/seed.py) can include it without the provider ever
importing the control plane."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from ..estate import Estate, normalize_location
from ..seeding import References, SeedModel, seeded_provider
from .models import PgServer, PostgreSqlBackend


class PgServerSeed(SeedModel):
    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", min_length=3, max_length=63)
    resource_group: str
    location: str | None = Field(None, description="Defaults to the resource group's location.")
    sku: dict[str, str] = Field(default_factory=lambda: {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"})
    version: str = "16"
    administrator_login: str = "pgadmin"
    geo_redundant_backup: bool = False
    backup_age_minutes: float = Field(10.0, ge=0, description="How old its newest backup (and geo copy) is.")
    replica_of: str | None = Field(None, description="The primary's name (or 'group/name'): this is its read replica.")
    replication_lag_seconds: float = Field(0.0, ge=0)
    tags: dict[str, str] = Field(default_factory=dict)


class PostgreSqlSeed(SeedModel):
    servers: list[PgServerSeed] = Field(default_factory=list)

    def apply(self, estate: Estate, subscription_id: str) -> None:
        backend = seeded_provider(estate, PostgreSqlBackend, "Microsoft.DBforPostgreSQL", needed=bool(self.servers))
        if backend is None:
            return
        now = estate.now()
        by_name: References[PgServer] = References()
        seeded: list[tuple[PgServerSeed, PgServer]] = []
        for seed in self.servers:
            group = estate.resource_group(subscription_id, seed.resource_group)
            server = backend.add_server(
                PgServer(
                    subscription_id=subscription_id,
                    resource_group=group.name,
                    name=seed.name,
                    location=normalize_location(seed.location or group.location),
                    sku=dict(seed.sku),
                    version=seed.version,
                    administrator_login=seed.administrator_login,
                    geo_redundant_backup="Enabled" if seed.geo_redundant_backup else "Disabled",
                    tags=dict(seed.tags),
                    created_at=now - timedelta(days=30),
                    last_backup_at=now - timedelta(minutes=seed.backup_age_minutes),
                    replication_lag_seconds=seed.replication_lag_seconds,
                )
            )
            by_name.add(seed.resource_group, seed.name, server)
            seeded.append((seed, server))
        for seed, server in seeded:
            if seed.replica_of is None:
                continue
            primary = by_name.get(seed.replica_of)
            if primary is None:
                raise ValueError(
                    f"server {seed.name!r} is a replica of {seed.replica_of!r}, which the seed does not define"
                )
            server.source = primary
