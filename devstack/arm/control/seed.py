"""Seeding an estate from a YAML/JSON description (see devstack/arm/example_estate.yaml for the format).

A seed adds to what is there (call reset() first for a clean slate). Servers are referenced by name, or
as 'resource-group/name' when two resource groups hold servers of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from ..cdn.seed import FrontDoorSeed
from ..cosmosdb.seed import CosmosSeed
from ..dns.seed import DnsSeed
from ..estate import EmulatorSettings, Estate
from ..postgresql.seed import PostgreSqlSeed
from ..seeding import References, SeedModel
from ..sql.models import FailoverGroup, SqlBackend, SqlServer
from ..trafficmanager.bodies import ProfileBody
from ..trafficmanager.models import TrafficManagerBackend
from .seed_storage import StorageAccountSeed, apply_storage_accounts
from .seed_web import WebSeed


class ResourceGroupSeed(SeedModel):
    name: str
    location: str
    tags: dict[str, str] = Field(default_factory=dict)


class GeoBackupSeed(SeedModel):
    last_available_backup_date: datetime | None = None
    age_minutes: float = Field(60.0, ge=0, description="Used when no date is given: the backup is this old.")


class DatabaseSeed(SeedModel):
    name: str
    sku: dict[str, Any] = Field(default_factory=lambda: {"name": "S0", "tier": "Standard"})
    tags: dict[str, str] = Field(default_factory=dict)
    geo_backup: bool | GeoBackupSeed = Field(
        True, description="Its recoverable database (geo-backup): true (an hour old), false, or details."
    )


class SqlServerSeed(SeedModel):
    name: str
    resource_group: str
    location: str | None = Field(None, description="Defaults to the resource group's location.")
    administrator_login: str | None = "sqladmin"
    tags: dict[str, str] = Field(default_factory=dict)
    databases: list[DatabaseSeed] = Field(default_factory=list)


class FailoverGroupSeed(SeedModel):
    name: str
    primary: str
    secondary: str
    databases: list[str] = Field(default_factory=list, description="Database names on the primary.")
    failover_policy: Literal["Manual", "Automatic"] = "Manual"
    grace_period_minutes: int | None = Field(None, description="Required with Automatic.")
    replication_lag_seconds: float = Field(0.0, ge=0)


class SqlSeed(SeedModel):
    servers: list[SqlServerSeed] = Field(default_factory=list)
    failover_groups: list[FailoverGroupSeed] = Field(default_factory=list)


class MonitorSeed(SeedModel):
    protocol: Literal["HTTP", "HTTPS", "TCP"] = "HTTPS"
    port: int = 443
    path: str | None = "/health"
    interval_in_seconds: int = 30
    timeout_in_seconds: int = 10
    tolerated_number_of_failures: int = 3


class EndpointSeed(SeedModel):
    name: str
    type: Literal["ExternalEndpoints", "AzureEndpoints", "NestedEndpoints"] = "ExternalEndpoints"
    target: str | None = None
    target_resource_id: str | None = None
    location: str | None = Field(None, description="endpointLocation: the region whose outage degrades it.")
    priority: int | None = None
    weight: int = 1
    status: Literal["Enabled", "Disabled"] = "Enabled"


class ProfileSeed(SeedModel):
    name: str
    resource_group: str
    relative_name: str | None = Field(None, description="DNS label; defaults to the profile name.")
    routing_method: Literal["Priority", "Weighted", "Performance", "Geographic", "MultiValue", "Subnet"] = "Priority"
    ttl: int = 30
    status: Literal["Enabled", "Disabled"] = "Enabled"
    monitor: MonitorSeed = Field(default_factory=MonitorSeed)
    tags: dict[str, str] = Field(default_factory=dict)
    endpoints: list[EndpointSeed] = Field(default_factory=list)


class TrafficManagerSeed(SeedModel):
    profiles: list[ProfileSeed] = Field(default_factory=list)


class ExternalResourceSeed(SeedModel):
    """An Azure resource outside the emulated providers (a web app) that AzureEndpoints can target."""

    id: str
    location: str
    hostname: str


class EstateSeed(SeedModel):
    subscription_id: str
    subscription_name: str | None = None
    resource_groups: list[ResourceGroupSeed] = Field(default_factory=list)
    sql: SqlSeed = Field(default_factory=SqlSeed)
    traffic_manager: TrafficManagerSeed = Field(default_factory=TrafficManagerSeed)
    cosmosdb: CosmosSeed = Field(default_factory=CosmosSeed)
    postgresql: PostgreSqlSeed = Field(default_factory=PostgreSqlSeed)
    web: WebSeed = Field(default_factory=WebSeed)
    front_door: FrontDoorSeed = Field(default_factory=FrontDoorSeed)
    dns: DnsSeed = Field(default_factory=DnsSeed)
    resources: list[ExternalResourceSeed] = Field(default_factory=list)
    storage_accounts: list[StorageAccountSeed] = Field(default_factory=list)
    settings: EmulatorSettings | None = None
    regions_down: list[str] = Field(default_factory=list)


def load_seed(source: EstateSeed | Mapping[str, Any] | str | Path) -> EstateSeed:
    """A seed from a model, a mapping, or a YAML/JSON file path."""
    if isinstance(source, EstateSeed):
        return source
    if isinstance(source, Mapping):
        return EstateSeed.model_validate(dict(source))
    path = Path(source)
    return EstateSeed.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def apply_seed(estate: Estate, sql: SqlBackend, tm: TrafficManagerBackend, seed: EstateSeed) -> None:
    now = estate.now()
    sub = seed.subscription_id
    estate.add_subscription(sub, seed.subscription_name)
    if seed.settings is not None:
        estate.settings = seed.settings.model_copy()
    for group in seed.resource_groups:
        estate.put_resource_group(sub, group.name, group.location, group.tags)
    for resource in seed.resources:
        estate.add_external_resource(resource.id, resource.location, resource.hostname)

    servers: References[SqlServer] = References()
    for server_seed in seed.sql.servers:
        location = server_seed.location or estate.resource_group(sub, server_seed.resource_group).location
        server = sql.add_server(
            sub,
            server_seed.resource_group,
            server_seed.name,
            location,
            administrator_login=server_seed.administrator_login,
            tags=server_seed.tags,
        )
        servers.add(server_seed.resource_group, server_seed.name, server)
        for db_seed in server_seed.databases:
            database = sql.add_database(server, db_seed.name, sku=db_seed.sku, tags=db_seed.tags, created_at=now)
            if db_seed.geo_backup is False:
                continue
            backup = db_seed.geo_backup if isinstance(db_seed.geo_backup, GeoBackupSeed) else GeoBackupSeed()
            taken = backup.last_available_backup_date or now - timedelta(minutes=backup.age_minutes)
            sql.add_geo_backup(server, database.name, taken, database.sku)

    for group_seed in seed.sql.failover_groups:
        primary, secondary = _server(servers, group_seed.primary), _server(servers, group_seed.secondary)
        failover_group = FailoverGroup(
            name=group_seed.name,
            primary=primary,
            secondary=secondary,
            failover_policy=group_seed.failover_policy,
            grace_period_minutes=group_seed.grace_period_minutes if group_seed.failover_policy == "Automatic" else None,
            database_names=[sql.database(primary, name).name for name in group_seed.databases],
        )
        sql.failover_groups.append(failover_group)
        sql.replicate(failover_group)
        for name in failover_group.database_names:
            sql.set_replication_lag(sql.database(primary, name).id, group_seed.replication_lag_seconds)

    for profile_seed in seed.traffic_manager.profiles:
        profile, _ = tm.put_profile(sub, profile_seed.resource_group, profile_seed.name, _profile_body(profile_seed))
        for endpoint in profile.endpoints.values():
            endpoint.enabled_at = None  # a seeded estate has been up for a while: no CheckingEndpoint

    seed.cosmosdb.apply(estate, sub)
    seed.postgresql.apply(estate, sub)
    apply_storage_accounts(estate, sub, seed.storage_accounts)
    seed.web.apply(estate, sub)
    seed.front_door.apply(estate, sub)
    seed.dns.apply(estate, sub)

    for location in seed.regions_down:
        estate.outages.setdefault(location.replace(" ", "").lower(), now)


def _server(servers: References[SqlServer], reference: str) -> SqlServer:
    server = servers.get(reference)
    if server is None:
        raise ValueError(f"failover group names server {reference!r}, which the seed does not define")
    return server


def _profile_body(seed: ProfileSeed) -> ProfileBody:
    monitor = seed.monitor.model_dump(exclude_none=True)
    return ProfileBody.model_validate(
        {
            "location": "global",
            "tags": seed.tags,
            "properties": {
                "profileStatus": seed.status,
                "trafficRoutingMethod": seed.routing_method,
                "dnsConfig": {"relativeName": seed.relative_name or seed.name, "ttl": seed.ttl},
                "monitorConfig": monitor,
                "endpoints": [
                    {
                        "name": e.name,
                        "type": f"Microsoft.Network/trafficManagerProfiles/{e.type}",
                        "properties": {
                            k: v
                            for k, v in {
                                "target": e.target,
                                "targetResourceId": e.target_resource_id,
                                "endpointLocation": e.location,
                                "priority": e.priority,
                                "weight": e.weight,
                                "endpointStatus": e.status,
                            }.items()
                            if v is not None
                        },
                    }
                    for e in seed.endpoints
                ],
            },
        }
    )
