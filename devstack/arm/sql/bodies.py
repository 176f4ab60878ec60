"""Request bodies Microsoft.Sql accepts (api-version 2025-01-01), as the SDK serializes them.

Only the fields the emulator acts on are declared; the rest of a body is ignored, as the service ignores
read-only properties a client echoes back.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class SkuBody(_Body):
    name: str
    tier: str | None = None
    size: str | None = None
    family: str | None = None
    capacity: int | None = None

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True)


class ServerPropertiesBody(_Body):
    administrator_login: str | None = None
    administrator_login_password: SecretStr | None = None
    """Accepted and dropped: the emulator stores no secret."""
    version: str | None = None
    minimal_tls_version: str | None = None
    public_network_access: str | None = None


class ServerBody(_Body):
    location: str | None = None
    tags: dict[str, str] | None = None
    properties: ServerPropertiesBody = Field(default_factory=ServerPropertiesBody)


class DatabasePropertiesBody(_Body):
    create_mode: str | None = None
    source_database_id: str | None = None
    recoverable_database_id: str | None = None
    restore_point_in_time: datetime | None = None
    collation: str | None = None
    max_size_bytes: int | None = None
    elastic_pool_id: str | None = None
    zone_redundant: bool | None = None
    requested_backup_storage_redundancy: str | None = None


class DatabaseBody(_Body):
    location: str | None = None
    sku: SkuBody | None = None
    tags: dict[str, str] | None = None
    properties: DatabasePropertiesBody = Field(default_factory=DatabasePropertiesBody)


class PartnerInfoBody(_Body):
    id: str


class ReadWriteEndpointBody(_Body):
    failover_policy: str | None = None
    failover_with_data_loss_grace_period_minutes: int | None = None


class ReadOnlyEndpointBody(_Body):
    failover_policy: str | None = None
    target_server: str | None = None


class FailoverGroupPropertiesBody(_Body):
    read_write_endpoint: ReadWriteEndpointBody | None = None
    read_only_endpoint: ReadOnlyEndpointBody | None = None
    partner_servers: list[PartnerInfoBody] | None = None
    databases: list[str] | None = None
    secondary_type: str | None = None


class FailoverGroupBody(_Body):
    tags: dict[str, str] | None = None
    properties: FailoverGroupPropertiesBody = Field(default_factory=FailoverGroupPropertiesBody)
