"""Request bodies Microsoft.Sql accepts (api-version 2025-01-01), as the SDK serializes them.

Only the fields the emulator acts on are declared; the rest of a body is ignored, as the service ignores
read-only properties a client echoes back. Definitions: Servers.json (Server, ServerUpdate,
ServerExternalAdministrator), Databases.json (Database, DatabaseUpdate), FailoverGroups.json
(FailoverGroup, FailoverGroupUpdate, FailoverGroupReadOnlyEndpoint), all under
specification/sql/resource-manager/Microsoft.Sql/stable/2025-01-01/ in Azure/azure-rest-api-specs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

EnabledFlag = Literal["Enabled", "Disabled"]


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


class ServerExternalAdministratorBody(_Body):
    """ServerExternalAdministrator: the Microsoft Entra administrator set at creation (echoed back)."""

    administrator_type: Literal["ActiveDirectory"] | None = None
    principal_type: Literal["User", "Group", "Application"] | None = None
    login: str | None = None
    sid: str | None = None
    tenant_id: str | None = None
    azure_ad_only_authentication: bool | None = Field(None, alias="azureADOnlyAuthentication")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class ServerPropertiesBody(_Body):
    administrator_login: str | None = None
    administrator_login_password: SecretStr | None = None
    """Accepted and dropped: the emulator stores no secret."""
    version: str | None = None
    minimal_tls_version: Literal["None", "1.0", "1.1", "1.2", "1.3"] | None = None
    public_network_access: Literal["Enabled", "Disabled", "SecuredByPerimeter"] | None = None
    restrict_outbound_network_access: EnabledFlag | None = None
    is_ipv6_enabled: EnabledFlag | None = Field(None, alias="isIPv6Enabled")
    retention_days: int | None = Field(None, ge=0)
    administrators: ServerExternalAdministratorBody | None = None


class ServerBody(_Body):
    """Server (PUT) and ServerUpdate (PATCH: no location)."""

    location: str | None = None
    tags: dict[str, str] | None = None
    properties: ServerPropertiesBody = Field(default_factory=ServerPropertiesBody)


class DatabasePropertiesBody(_Body):
    create_mode: str | None = None
    source_database_id: str | None = None
    recoverable_database_id: str | None = None
    source_resource_id: str | None = None
    restorable_dropped_database_id: str | None = None
    restore_point_in_time: datetime | None = None
    collation: str | None = None
    max_size_bytes: int | None = None
    elastic_pool_id: str | None = None
    zone_redundant: bool | None = None
    requested_backup_storage_redundancy: str | None = None
    license_type: str | None = None
    """LicenseIncluded | BasePrice; checked by the backend (InvalidLicenseType)."""
    read_scale: EnabledFlag | None = None
    preferred_enclave_type: Literal["Default", "VBS"] | None = None


class DatabaseBody(_Body):
    """Database (PUT) and DatabaseUpdate (PATCH: no location)."""

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
    """Disabled | Enabled (checked by the backend with the failover group codes)."""
    target_server: str | None = None
    """A partner server's id (FailoverGroupCreateOrUpdateRequestInvalidReadOnlyEndpointTargetServer)."""


class FailoverGroupPropertiesBody(_Body):
    read_write_endpoint: ReadWriteEndpointBody | None = None
    read_only_endpoint: ReadOnlyEndpointBody | None = None
    partner_servers: list[PartnerInfoBody] | None = None
    databases: list[str] | None = None
    secondary_type: str | None = None


class FailoverGroupBody(_Body):
    tags: dict[str, str] | None = None
    properties: FailoverGroupPropertiesBody = Field(default_factory=FailoverGroupPropertiesBody)
