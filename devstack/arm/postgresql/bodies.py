"""Request bodies Microsoft.DBforPostgreSQL/flexibleServers accepts, as azure-mgmt-postgresqlflexibleservers 3.0.0
serializes them (definitions Server, ServerProperties, ServerForPatch, ServerPropertiesForPatch, Replica, Backup,
Storage, Sku of specification/postgresql/resource-manager/Microsoft.DBforPostgreSQL/PostgreSQL/stable/2025-08-01/
openapi.json, the newest stable version of the spec the pinned SDK's 2026-10-01 shapes agree with for these
definitions). Properties the emulator does not act on are ignored; the password is never stored."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class SkuBody(_Body):
    name: str
    tier: str


class StorageBody(_Body):
    storage_size_gb: int | None = Field(None, alias="storageSizeGB", ge=32)


class BackupBody(_Body):
    backup_retention_days: int | None = Field(None, ge=7, le=35)
    geo_redundant_backup: Literal["Enabled", "Disabled"] | None = None


class ReplicaBody(_Body):
    promote_mode: Literal["Standalone", "Switchover"] | None = None
    promote_option: Literal["Planned", "Forced"] | None = None


class ServerPropertiesBody(_Body):
    administrator_login: str | None = None
    version: str | None = None
    storage: StorageBody | None = None
    backup: BackupBody | None = None
    create_mode: (
        Literal["Default", "Create", "Update", "PointInTimeRestore", "GeoRestore", "Replica", "ReviveDropped"] | None
    ) = None
    source_server_resource_id: str | None = None
    availability_zone: str | None = None
    replica: ReplicaBody | None = None


class ServerBody(_Body):
    """Server (PUT) and ServerForPatch (PATCH): the same fields the emulator reads."""

    location: str | None = None
    sku: SkuBody | None = None
    tags: dict[str, str] | None = None
    properties: ServerPropertiesBody = Field(default_factory=ServerPropertiesBody)
