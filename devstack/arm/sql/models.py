"""Microsoft.Sql state and behaviour: logical servers, databases, geo-backups (recoverable databases),
failover groups and their replication links.

Shapes follow api-version 2025-01-01, the version azure-mgmt-sql 4.0.0 sends (its _configuration.py):
every key a response carries is a declared field of the SDK model, so nothing is lost or invented. Spec
files (Azure/azure-rest-api-specs, specification/sql/resource-manager/Microsoft.Sql/stable/2025-01-01/):
- Servers.json: Server/ServerProperties (isIPv6Enabled, retentionDays, restrictOutboundNetworkAccess,
  administrators echoed as given at creation), PUT 200/201/202 and PATCH (Servers_Update) 200/202, both
  long-running; examples ServerGet.json, ServerUpdate.json.
- Databases.json: Database/DatabaseProperties (sku and currentSku with capacity, defaultSecondaryLocation,
  licenseType and maxLogSizeBytes on vCore databases, kind per purchasing model), createMode Recovery by
  recoverableDatabaseId, sourceDatabaseId ("the recoverable database resource ID") or sourceResourceId,
  PATCH (Databases_Update) 200/202 long-running with final-state-via location; examples
  GetVCoreDatabase.json, CreateDatabaseMin.json, CreateDatabaseCopyMode.json,
  CreateDwDatabaseCrossSubscriptionRecovery.json, PatchDatabaseDefaultEnclave.json. SKUs: skus.py.
- FailoverGroups.json: FailoverGroupReadOnlyEndpoint {failoverPolicy, targetServer}; examples
  FailoverGroupGet.json, FailoverGroupUpdate.json.

Region rules (why some look-ups skip the region check): a server's own resources need its region's
resource provider, so they time out while that region is down; geo-backups are geo-replicated metadata,
so recoverable databases stay readable and restorable during the outage (that is what geo-restore is for).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import errors
from ..estate import Estate, normalize_location
from ..ids import key, parse_resource_id, provider_id
from ..lro import Operation, iso
from . import exceptions as sqlerr
from . import skus
from .bodies import DatabaseBody, FailoverGroupBody, ServerBody, SkuBody

SQL = "Microsoft.Sql"
API_VERSIONS = (
    "2021-11-01",
    "2022-05-01-preview",
    "2022-08-01-preview",
    "2023-05-01-preview",
    "2023-08-01",
    "2024-05-01-preview",
    "2025-01-01",
)

# Kinds of long-running operation, for per-kind durations and planned failures.
SERVER_CREATE = "server.create"
SERVER_UPDATE = "server.update"
SERVER_DELETE = "server.delete"
DATABASE_CREATE = "database.create"
DATABASE_COPY = "database.copy"
DATABASE_GEO_RESTORE = "database.geo_restore"
DATABASE_POINT_IN_TIME_RESTORE = "database.point_in_time_restore"
DATABASE_UPDATE = "database.update"
DATABASE_DELETE = "database.delete"
FAILOVER_GROUP_CREATE = "failover_group.create"
FAILOVER_GROUP_UPDATE = "failover_group.update"
FAILOVER_GROUP_DELETE = "failover_group.delete"
FAILOVER_GROUP_FAILOVER = "failover_group.failover"
FAILOVER_GROUP_FORCE_FAILOVER = "failover_group.force_failover"
FAILOVER_GROUP_TRY_PLANNED = "failover_group.try_planned_before_forced_failover"
OPERATION_KINDS = (
    SERVER_CREATE,
    SERVER_UPDATE,
    SERVER_DELETE,
    DATABASE_CREATE,
    DATABASE_COPY,
    DATABASE_GEO_RESTORE,
    DATABASE_POINT_IN_TIME_RESTORE,
    DATABASE_UPDATE,
    DATABASE_DELETE,
    FAILOVER_GROUP_CREATE,
    FAILOVER_GROUP_UPDATE,
    FAILOVER_GROUP_DELETE,
    FAILOVER_GROUP_FAILOVER,
    FAILOVER_GROUP_FORCE_FAILOVER,
    FAILOVER_GROUP_TRY_PLANNED,
)

DEFAULT_SKU: dict[str, Any] = {"name": "S0", "tier": "Standard"}
DEFAULT_COLLATION = "SQL_Latin1_General_CP1_CI_AS"
DEFAULT_MAX_SIZE_BYTES = skus.DEFAULT_MAX_SIZE_BYTES
POINT_IN_TIME_RETENTION = timedelta(days=7)
DEFAULT_SERVER_RETENTION_DAYS = 7
RECONNECT_AFTER = timedelta(minutes=5)
"""How long an old primary left stale by a forced failover takes to reconnect once its region is back.
Azure documents that it switches to secondary when back online, not how long that takes: an assumption."""
"""Soft-delete retention a server reports when none was set (ServerGet.json, ServerUpdate.json)."""
LICENSE_TYPES = ("LicenseIncluded", "BasePrice")


@dataclass
class SqlServer:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    administrator_login: str | None = None
    version: str = "12.0"
    minimal_tls_version: str = "1.2"
    public_network_access: str = "Enabled"
    restrict_outbound_network_access: str = "Disabled"
    is_ipv6_enabled: str = "Disabled"
    retention_days: int = DEFAULT_SERVER_RETENTION_DAYS
    administrators: dict[str, Any] | None = None
    """ServerExternalAdministrator as given at creation (Servers.json: mutability read, create)."""
    tags: dict[str, str] = field(default_factory=dict)
    pending: Operation | None = None

    @property
    def id(self) -> str:
        return provider_id(self.subscription_id, self.resource_group, SQL, "servers", self.name)

    @property
    def key(self) -> tuple[str, ...]:
        return key(self.subscription_id, self.resource_group, self.name)

    @property
    def fqdn(self) -> str:
        return f"{self.name}.database.windows.net"

    def to_resource(self) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "version": self.version,
            "state": "Ready",
            "fullyQualifiedDomainName": self.fqdn,
            "privateEndpointConnections": [],
            "minimalTlsVersion": self.minimal_tls_version,
            "publicNetworkAccess": self.public_network_access,
            "restrictOutboundNetworkAccess": self.restrict_outbound_network_access,
            "isIPv6Enabled": self.is_ipv6_enabled,
            "retentionDays": self.retention_days,
        }
        if self.administrator_login is not None:
            properties["administratorLogin"] = self.administrator_login
        if self.administrators is not None:
            properties["administrators"] = dict(self.administrators)
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Sql/servers",
            "location": self.location,
            "tags": self.tags,
            "kind": "v12.0",
            "properties": properties,
        }


@dataclass
class SqlDatabase:
    server: SqlServer
    name: str
    sku: dict[str, Any]
    status: str
    created_at: datetime
    collation: str = DEFAULT_COLLATION
    max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES
    zone_redundant: bool = False
    license_type: str | None = None
    """Kept as requested; reported on vCore databases only (LicenseIncluded unless set)."""
    read_scale: str | None = None
    preferred_enclave_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    database_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    pending: Operation | None = None
    failover_group: FailoverGroup | None = None
    restored_from: str | None = None
    """Id of the geo-backup or database a restore/copy came from (read through the control API)."""

    @property
    def id(self) -> str:
        return f"{self.server.id}/databases/{self.name}"

    @property
    def key(self) -> tuple[str, ...]:
        return (*self.server.key, self.name.lower())

    @property
    def busy(self) -> bool:
        return self.pending is not None and not self.pending.done

    @property
    def objective(self) -> skus.ServiceObjective:
        return skus.resolve(self.sku, strict=False)

    def to_resource(self, backend: SqlBackend) -> dict[str, Any]:
        objective = self.objective
        properties: dict[str, Any] = {
            "collation": self.collation,
            "maxSizeBytes": self.max_size_bytes,
            "status": self.status,
            "databaseId": self.database_id,
            "creationDate": iso(self.created_at),
            "currentServiceObjectiveName": objective.objective,
            "requestedServiceObjectiveName": objective.objective,
            "catalogCollation": DEFAULT_COLLATION,
            "zoneRedundant": self.zone_redundant,
            # Premium and Business Critical come with a readable replica (GetVCoreDatabase.json).
            "readScale": self.read_scale
            or ("Enabled" if objective.tier in ("Premium", "BusinessCritical") else "Disabled"),
            "currentSku": objective.wire(),
            "currentBackupStorageRedundancy": "Geo",
            "requestedBackupStorageRedundancy": "Geo",
            "earliestRestoreDate": iso(self.created_at),
            "maintenanceConfigurationId": f"/subscriptions/{self.server.subscription_id}/providers/"
            "Microsoft.Maintenance/publicMaintenanceConfigurations/SQL_Default",
            "isLedgerOn": False,
            "isInfraEncryptionEnabled": False,
        }
        # The region paired with the server's, failover group or not (CreateDwDatabaseCrossSubscription-
        # Recovery.json: westus -> eastus).
        secondary_location = skus.paired_region(self.server.location)
        if secondary_location is not None:
            properties["defaultSecondaryLocation"] = secondary_location
        if objective.is_vcore:
            properties["licenseType"] = self.license_type or "LicenseIncluded"
            properties["maxLogSizeBytes"] = int(self.max_size_bytes * skus.VCORE_LOG_SHARE)
        if self.preferred_enclave_type is not None:
            properties["preferredEnclaveType"] = self.preferred_enclave_type
        group = self.failover_group
        if group is not None:
            properties["failoverGroupId"] = group.id_on(self.server)
        if backend.link_for_secondary(self) is not None:
            properties["secondaryType"] = "Geo"
        resource: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Sql/servers/databases",
            "location": self.server.location,
            "tags": self.tags,
            "sku": objective.wire(),
            "kind": objective.kind,
            "properties": properties,
        }
        return resource


@dataclass
class GeoBackup:
    """A recoverable database: the latest geo-replicated backup of a database, restorable elsewhere."""

    server: SqlServer
    database_name: str
    last_available_backup_date: datetime
    edition: str = "Standard"
    service_level_objective: str = "S0"

    @property
    def id(self) -> str:
        return f"{self.server.id}/recoverableDatabases/{self.database_name}"

    def to_resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.database_name,
            "type": "Microsoft.Sql/servers/recoverableDatabases",
            "properties": {
                "edition": self.edition,
                "serviceLevelObjective": self.service_level_objective,
                "lastAvailableBackupDate": iso(self.last_available_backup_date),
                "elasticPoolName": None,
            },
        }


@dataclass
class ReplicationLink:
    id: str
    primary: SqlDatabase
    secondary: SqlDatabase
    started_at: datetime
    lag_seconds: float = 0.0
    stale_primary: SqlDatabase | None = None
    """The old primary of a forced failover that has not reconnected yet (FailoverGroup.stale_primary)."""

    def involves(self, database: SqlDatabase) -> bool:
        return database is self.primary or database is self.secondary

    def to_resource(self, database: SqlDatabase, estate: Estate) -> dict[str, Any]:
        partner = self.secondary if database is self.primary else self.primary
        believes_primary = database is self.primary or database is self.stale_primary
        role, partner_role = ("Primary", "Secondary") if believes_primary else ("Secondary", "Primary")
        # With either side's region down, no log flows: the link shows as suspended until it is back; so
        # it does while the old primary of a forced failover has not rejoined as secondary.
        either_down = (
            estate.region_down(partner.server.location)
            or estate.region_down(database.server.location)
            or self.stale_primary is not None
        )
        return {
            "id": f"{database.id}/replicationLinks/{self.id}",
            "name": self.id,
            "type": "Microsoft.Sql/servers/databases/replicationLinks",
            "properties": {
                "partnerServer": partner.server.name,
                "partnerDatabase": partner.name,
                "partnerDatabaseId": partner.id,
                "partnerLocation": partner.server.location,
                "role": role,
                "partnerRole": partner_role,
                "replicationMode": "ASYNC",
                "startTime": iso(self.started_at),
                "percentComplete": 100,
                "replicationState": "SUSPENDED" if either_down else "CATCH_UP",
                "isTerminationAllowed": True,
                "linkType": "GEO",
            },
        }


@dataclass
class FailoverGroup:
    name: str
    primary: SqlServer
    secondary: SqlServer
    failover_policy: str
    grace_period_minutes: int | None
    database_names: list[str]
    read_only_policy: str = "Disabled"
    tags: dict[str, str] = field(default_factory=dict)
    pending: Operation | None = None
    seeding: bool = False
    last_data_loss_seconds: float | None = None
    """Replication lag at the last forced failover: the writes that failover threw away."""
    stale_primary: SqlServer | None = None
    """The old primary of a forced failover that could not be told (its region was down): until it
    reconnects it still reads the group as Primary, so the estate has two primaries. Microsoft's
    Switch-AzSqlDatabaseFailoverGroup reference (learn.microsoft.com/powershell/module/az.sql/
    switch-azsqldatabasefailovergroup): with AllowDataLoss "the command only waits until the new primary
    assumes its role", and "when the original primary server is back online, all formerly primary
    databases in it will switch to the secondary role"."""
    stale_back_since: datetime | None = None
    """When the stale primary's region was first seen up again (it reconnects RECONNECT_AFTER later)."""

    @property
    def busy(self) -> bool:
        return self.pending is not None and not self.pending.done

    def members(self) -> tuple[SqlServer, SqlServer]:
        return self.primary, self.secondary

    def has_member(self, server: SqlServer) -> bool:
        return server is self.primary or server is self.secondary

    def partner_of(self, server: SqlServer) -> SqlServer:
        return self.secondary if server is self.primary else self.primary

    def role_of(self, server: SqlServer) -> str:
        """The role `server` reads for itself; a stale old primary still believes it is the primary."""
        return "Primary" if server is self.primary or server is self.stale_primary else "Secondary"

    def believed_partner_role(self, server: SqlServer) -> str:
        """The partner's role as `server` sees it: the stale old primary still sees its partner as its
        secondary; everyone else sees the truth."""
        partner = self.partner_of(server)
        if server is self.stale_primary or partner is self.stale_primary:
            return "Secondary"
        return self.role_of(partner)

    def id_on(self, server: SqlServer) -> str:
        return f"{server.id}/failoverGroups/{self.name}"

    def to_resource(self, server: SqlServer, estate: Estate) -> dict[str, Any]:
        """The group as seen from one member server (ids and roles are relative to it)."""
        partner = self.partner_of(server)
        read_write: dict[str, Any] = {"failoverPolicy": self.failover_policy}
        if self.grace_period_minutes is not None:
            read_write["failoverWithDataLossGracePeriodMinutes"] = self.grace_period_minutes
        if self.seeding:
            state = "SEEDING"
        elif (
            estate.region_down(partner.location)
            or estate.region_down(server.location)
            or self.stale_primary is not None  # no log flows until the old primary rejoins as secondary
        ):
            state = "SUSPENDED"
        else:
            state = "CATCH_UP"
        # The stale old primary's read-only listener still points at what it believes is its secondary.
        read_only_target = partner if server is self.stale_primary else self.secondary
        return {
            "id": self.id_on(server),
            "name": self.name,
            "type": "Microsoft.Sql/servers/failoverGroups",
            "location": server.location,
            "tags": self.tags,
            "properties": {
                "readWriteEndpoint": read_write,
                # The read-only listener points at the secondary (the one partner): targetServer is its id
                # from either member's view (FailoverGroupGet.json, FailoverGroupUpdate.json).
                "readOnlyEndpoint": {"failoverPolicy": self.read_only_policy, "targetServer": read_only_target.id},
                "replicationRole": self.role_of(server),
                "replicationState": state,
                "partnerServers": [
                    {
                        "id": partner.id,
                        "location": partner.location,
                        "replicationRole": self.believed_partner_role(server),
                    }
                ],
                "databases": [f"{server.id}/databases/{name}" for name in self.database_names],
            },
        }


class SqlBackend:
    """All Microsoft.Sql state of the estate, and the operations on it (callers hold `estate.lock`)."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.servers: dict[tuple[str, ...], SqlServer] = {}
        self.databases: dict[tuple[str, ...], SqlDatabase] = {}
        self.geo_backups: dict[tuple[str, ...], GeoBackup] = {}
        self.failover_groups: list[FailoverGroup] = []
        self.links: list[ReplicationLink] = []

    # -- Provider protocol ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.servers.clear()
        self.databases.clear()
        self.geo_backups.clear()
        self.failover_groups.clear()
        self.links.clear()

    def tick(self, now: datetime) -> None:
        """Automatic failover policy: once the primary's region has been down for the grace period,
        Azure forces the failover itself. An old primary left stale by a forced failover reconnects (and
        turns secondary) RECONNECT_AFTER after its region is back."""
        for group in self.failover_groups:
            self._reconnect_stale_primary(group, now)
            if group.failover_policy != "Automatic" or group.busy or group.seeding:
                continue
            down_since = self.estate.outages.get(normalize_location(group.primary.location))
            if down_since is None or self.estate.region_down(group.secondary.location):
                continue
            grace = timedelta(minutes=group.grace_period_minutes or 60)
            if now - down_since >= grace:
                self._swap_roles(group, forced=True)

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        for server in [s for s in self.servers.values() if s.key[:2] == key(subscription_id, name)]:
            self._drop_server(server)

    def location_of(self, resource_id: str) -> str | None:
        server = self._server_from_id(resource_id)
        return server.location if server is not None else None

    def hostname_of(self, resource_id: str) -> str | None:
        server = self._server_from_id(resource_id)
        return server.fqdn if server is not None else None

    def _server_from_id(self, resource_id: str) -> SqlServer | None:
        parsed = parse_resource_id(resource_id)
        if parsed is None or parsed.namespace.lower() != SQL.lower() or parsed.segments[0][0].lower() != "servers":
            return None
        return self.servers.get(key(parsed.subscription_id, parsed.resource_group, parsed.segments[0][1]))

    # -- look-ups ------------------------------------------------------------------------------------
    def find_server(self, subscription_id: str, resource_group: str, name: str) -> SqlServer | None:
        return self.servers.get(key(subscription_id, resource_group, name))

    def server(self, subscription_id: str, resource_group: str, name: str, *, as_parent: bool = False) -> SqlServer:
        """The server, or ARM's 404 (ResourceNotFound for the server itself, ParentResourceNotFound when
        the caller addresses one of its children)."""
        self.estate.resource_group(subscription_id, resource_group)
        server = self.find_server(subscription_id, resource_group, name)
        if server is None:
            if as_parent:
                raise errors.parent_resource_not_found(f"Microsoft.Sql/servers/{name}")
            raise errors.resource_not_found(f"Microsoft.Sql/servers/{name}", resource_group)
        return server

    def live_server(
        self, subscription_id: str, resource_group: str, name: str, *, as_parent: bool = False
    ) -> SqlServer:
        """The server, reachable only while its region is up."""
        server = self.server(subscription_id, resource_group, name, as_parent=as_parent)
        self.estate.require_region(server.location, SQL)
        return server

    def database(self, server: SqlServer, name: str) -> SqlDatabase:
        database = self.databases.get((*server.key, name.lower()))
        if database is None:
            raise errors.resource_not_found(
                f"Microsoft.Sql/servers/{server.name}/databases/{name}", server.resource_group
            )
        return database

    def databases_of(self, server: SqlServer) -> list[SqlDatabase]:
        return [db for db in self.databases.values() if db.server is server]

    def database_by_id(self, database_id: str) -> SqlDatabase | None:
        parsed = parse_resource_id(database_id)
        if parsed is None or not parsed.type_is(SQL, "servers", "databases"):
            return None
        return self.databases.get(key(parsed.subscription_id, parsed.resource_group, parsed.name(0), parsed.name(1)))

    def groups_of(self, server: SqlServer) -> list[FailoverGroup]:
        return [g for g in self.failover_groups if g.has_member(server)]

    def group(self, server: SqlServer, name: str) -> FailoverGroup:
        for group in self.groups_of(server):
            if group.name.lower() == name.lower():
                return group
        raise errors.resource_not_found(
            f"Microsoft.Sql/servers/{server.name}/failoverGroups/{name}", server.resource_group
        )

    def links_of(self, database: SqlDatabase) -> list[ReplicationLink]:
        return [link for link in self.links if link.involves(database)]

    def link_for_secondary(self, database: SqlDatabase) -> ReplicationLink | None:
        return next((link for link in self.links if link.secondary is database), None)

    def geo_backups_of(self, server: SqlServer) -> list[GeoBackup]:
        return [b for b in self.geo_backups.values() if b.server is server]

    def geo_backup(self, server: SqlServer, name: str) -> GeoBackup:
        backup = self.geo_backups.get((*server.key, name.lower()))
        if backup is None:
            raise errors.resource_not_found(
                f"Microsoft.Sql/servers/{server.name}/recoverableDatabases/{name}", server.resource_group
            )
        return backup

    # -- servers -------------------------------------------------------------------------------------
    def add_server(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        location: str,
        *,
        administrator_login: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> SqlServer:
        server = SqlServer(
            subscription_id,
            self.estate.resource_group(subscription_id, resource_group).name,
            name,
            normalize_location(location),
            administrator_login=administrator_login,
            tags=dict(tags or {}),
        )
        self.servers[server.key] = server
        return server

    def put_server(self, subscription_id: str, resource_group: str, name: str, body: ServerBody) -> Operation:
        self.estate.resource_group(subscription_id, resource_group)
        server = self.find_server(subscription_id, resource_group, name)
        if server is None:
            return self._create_server(subscription_id, resource_group, name, body)
        return self.update_server(server, body)

    def update_server(self, server: SqlServer, body: ServerBody) -> Operation:
        """PUT on an existing server, or PATCH (Servers_Update): the properties given change, the rest
        stay. administratorLogin cannot change once created; the password is accepted and dropped."""
        self.estate.require_region(server.location, SQL)
        if server.pending is not None and not server.pending.done:
            raise sqlerr.conflicting_server_operation()
        props = body.properties
        tags = dict(body.tags) if body.tags is not None else server.tags
        changes: dict[str, Any] = {
            "minimal_tls_version": props.minimal_tls_version,
            "public_network_access": props.public_network_access,
            "restrict_outbound_network_access": props.restrict_outbound_network_access,
            "is_ipv6_enabled": props.is_ipv6_enabled,
            "retention_days": props.retention_days,
        }
        administrators = _administrators(props.administrators, server.administrators)

        def apply() -> None:
            server.tags = tags
            for attribute, value in changes.items():
                if value is not None:
                    setattr(server, attribute, value)
            if administrators is not None:
                server.administrators = administrators

        operation = self._start(SERVER_UPDATE, server, "server", apply, result=server.to_resource)
        server.pending = operation
        return operation

    def _create_server(self, subscription_id: str, resource_group: str, name: str, body: ServerBody) -> Operation:
        """The new server is usable as soon as it is accepted; a failed create removes it again."""
        if not body.location:
            raise errors.location_required()
        self.estate.require_region(body.location, SQL)
        props = body.properties
        administrators = _administrators(props.administrators, None)
        server = self.add_server(
            subscription_id,
            resource_group,
            name,
            body.location,
            administrator_login=props.administrator_login,
            tags=body.tags,
        )
        server.minimal_tls_version = props.minimal_tls_version or server.minimal_tls_version
        server.public_network_access = props.public_network_access or server.public_network_access
        server.restrict_outbound_network_access = (
            props.restrict_outbound_network_access or server.restrict_outbound_network_access
        )
        server.is_ipv6_enabled = props.is_ipv6_enabled or server.is_ipv6_enabled
        if props.retention_days is not None:
            server.retention_days = props.retention_days
        server.administrators = administrators
        operation = self._start(
            SERVER_CREATE,
            server,
            "server",
            complete=lambda: None,
            abandon=lambda: self._drop_server(server),
            result=server.to_resource,
        )
        server.pending = operation
        return operation

    def delete_server(self, subscription_id: str, resource_group: str, name: str) -> Operation | None:
        self.estate.resource_group(subscription_id, resource_group)
        server = self.find_server(subscription_id, resource_group, name)
        if server is None:
            return None
        self.estate.require_region(server.location, SQL)
        operation = self._start(SERVER_DELETE, server, "server", lambda: self._drop_server(server))
        server.pending = operation
        return operation

    def _drop_server(self, server: SqlServer) -> None:
        for group in self.groups_of(server):
            self.failover_groups.remove(group)
            for database in self.databases.values():
                if database.failover_group is group:
                    database.failover_group = None
        for database in self.databases_of(server):
            self._drop_database(database)
        for backup in self.geo_backups_of(server):
            self.geo_backups.pop((*server.key, backup.database_name.lower()), None)
        self.servers.pop(server.key, None)

    # -- databases -----------------------------------------------------------------------------------
    def add_database(
        self,
        server: SqlServer,
        name: str,
        *,
        sku: dict[str, Any] | None = None,
        status: str = "Online",
        tags: dict[str, str] | None = None,
        created_at: datetime | None = None,
    ) -> SqlDatabase:
        stored = skus.canonical(sku or DEFAULT_SKU, strict=False)
        database = SqlDatabase(
            server=server,
            name=name,
            sku=stored,
            status=status,
            created_at=created_at or self.estate.now(),
            max_size_bytes=skus.default_max_size_bytes(skus.resolve(stored, strict=False)),
            tags=dict(tags or {}),
        )
        self.databases[database.key] = database
        return database

    def add_geo_backup(
        self, server: SqlServer, database_name: str, last_backup: datetime, sku: dict[str, Any]
    ) -> GeoBackup:
        objective = skus.resolve(sku, strict=False)
        backup = GeoBackup(
            server=server,
            database_name=database_name,
            last_available_backup_date=last_backup,
            edition=objective.tier or "Standard",
            service_level_objective=objective.objective or "S0",
        )
        self.geo_backups[(*server.key, database_name.lower())] = backup
        return backup

    def put_database(self, server: SqlServer, name: str, body: DatabaseBody) -> Operation:
        """Create (per createMode) or update. The new database exists at once, in the status Azure shows
        while the operation runs (Creating, Copying, Restoring), so a repeated PUT finds it busy."""
        self.estate.require_region(server.location, SQL)
        existing = self.databases.get((*server.key, name.lower()))
        mode = (body.properties.create_mode or "Default").strip()
        if existing is not None:
            if existing.busy:
                raise sqlerr.conflicting_database_operation()
            if mode.lower() != "default":
                raise sqlerr.remote_database_exists()
            return self._update_database(existing, body)
        if not body.location:
            raise errors.location_required()
        _check_license_type(body)
        handlers = {
            "default": self._create_default,
            "copy": self._create_copy,
            "recovery": self._create_geo_restore,
            "pointintimerestore": self._create_point_in_time_restore,
        }
        create = handlers.get(mode.lower())
        if create is None:
            raise sqlerr.unsupported_create_mode(mode)
        return create(server, name, body)

    def update_database(self, server: SqlServer, name: str, body: DatabaseBody) -> Operation:
        """PATCH (Databases_Update): the database must exist; only what the body gives changes."""
        self.estate.require_region(server.location, SQL)
        database = self.database(server, name)
        if body.properties.create_mode is not None and body.properties.create_mode.strip().lower() != "default":
            raise sqlerr.method_not_allowed_on_create_mode()
        if database.busy:
            raise sqlerr.conflicting_database_operation()
        return self._update_database(database, body)

    def _update_database(self, database: SqlDatabase, body: DatabaseBody) -> Operation:
        _check_license_type(body)
        props = body.properties
        sku = _sku(body.sku, database.sku)
        tags = dict(body.tags) if body.tags is not None else database.tags
        max_size = props.max_size_bytes or database.max_size_bytes
        changes: dict[str, Any] = {
            "zone_redundant": props.zone_redundant,
            "license_type": props.license_type,
            "read_scale": props.read_scale,
            "preferred_enclave_type": props.preferred_enclave_type,
        }

        def apply() -> None:
            database.sku, database.tags, database.max_size_bytes = sku, tags, max_size
            for attribute, value in changes.items():
                if value is not None:
                    setattr(database, attribute, value)

        operation = self._start(
            DATABASE_UPDATE, database.server, "database", apply, result=lambda: database.to_resource(self)
        )
        database.pending = operation
        return operation

    def _new_database(
        self, server: SqlServer, name: str, body: DatabaseBody, sku: dict[str, Any], status: str
    ) -> SqlDatabase:
        database = self.add_database(server, name, sku=sku, status=status, tags=body.tags)
        props = body.properties
        if props.collation:
            database.collation = props.collation
        if props.max_size_bytes:
            database.max_size_bytes = props.max_size_bytes
        if props.zone_redundant is not None:
            database.zone_redundant = props.zone_redundant
        database.license_type = props.license_type
        database.read_scale = props.read_scale
        database.preferred_enclave_type = props.preferred_enclave_type
        return database

    def _run_creation(self, kind: str, database: SqlDatabase) -> Operation:
        def complete() -> None:
            database.status = "Online"
            database.created_at = self.estate.now()
            # Its first backup replicates to the paired region: from now on it is geo-restorable.
            self.add_geo_backup(database.server, database.name, self.estate.now(), database.sku)

        operation = self._start(
            kind,
            database.server,
            "database",
            complete,
            abandon=lambda: self._drop_database(database),
            result=lambda: database.to_resource(self),
        )
        database.pending = operation
        return operation

    def _create_default(self, server: SqlServer, name: str, body: DatabaseBody) -> Operation:
        sku = _sku(body.sku, DEFAULT_SKU)
        return self._run_creation(DATABASE_CREATE, self._new_database(server, name, body, sku, "Creating"))

    def _source_database(self, body: DatabaseBody, *, resource_id_allowed: bool) -> SqlDatabase:
        """The live source of a copy or point-in-time restore: sourceDatabaseId, or sourceResourceId
        where Databases.json allows it (PointInTimeRestore, Restore, Recovery)."""
        props = body.properties
        source_id = props.source_database_id
        if props.source_resource_id:
            if not resource_id_allowed or source_id or props.recoverable_database_id:
                raise sqlerr.source_resource_id_with_other_source()
            source_id = props.source_resource_id
        if not source_id:
            raise sqlerr.missing_source_database_id()
        parsed = parse_resource_id(source_id)
        if parsed is None or not parsed.type_is(SQL, "servers", "databases"):
            raise sqlerr.invalid_source_database_id()
        source = self.database_by_id(source_id)
        if source is None:
            raise sqlerr.source_database_not_found()
        # Copying or restoring from a live database needs the source region's service.
        self.estate.require_region(source.server.location, SQL)
        return source

    def _create_copy(self, server: SqlServer, name: str, body: DatabaseBody) -> Operation:
        source = self._source_database(body, resource_id_allowed=False)
        database = self._new_database(server, name, body, _sku(body.sku, source.sku), "Copying")
        database.restored_from = source.id
        return self._run_creation(DATABASE_COPY, database)

    def _create_point_in_time_restore(self, server: SqlServer, name: str, body: DatabaseBody) -> Operation:
        source = self._source_database(body, resource_id_allowed=True)
        if body.properties.restore_point_in_time is None:
            raise sqlerr.missing_restore_point_in_time()
        database = self._new_database(server, name, body, _sku(body.sku, source.sku), "Restoring")
        database.restored_from = source.id
        return self._run_creation(DATABASE_POINT_IN_TIME_RESTORE, database)

    def _create_geo_restore(self, server: SqlServer, name: str, body: DatabaseBody) -> Operation:
        props = body.properties
        if props.source_resource_id and (
            props.source_database_id or props.recoverable_database_id or props.restorable_dropped_database_id
        ):
            raise sqlerr.source_resource_id_with_other_source()
        backup = self._geo_backup_for(
            props.recoverable_database_id or props.source_database_id or props.source_resource_id
        )
        sku = _sku(body.sku, {"name": backup.service_level_objective, "tier": backup.edition})
        database = self._new_database(server, name, body, sku, "Restoring")
        database.restored_from = backup.id
        return self._run_creation(DATABASE_GEO_RESTORE, database)

    def _geo_backup_for(self, recoverable_id: str | None) -> GeoBackup:
        """A geo-restore names its source by recoverable database id (…/recoverableDatabases/x) or by
        the original database id (…/databases/x), in recoverableDatabaseId, sourceDatabaseId or (the
        form of CreateDwDatabaseCrossSubscriptionRecovery.json) sourceResourceId, possibly in another
        subscription; either way the geo-backup is what gets restored, and the source server's region may
        be down."""
        if not recoverable_id:
            raise sqlerr.missing_recoverable_database_id()
        parsed = parse_resource_id(recoverable_id)
        if parsed is None or not (
            parsed.type_is(SQL, "servers", "recoverableDatabases") or parsed.type_is(SQL, "servers", "databases")
        ):
            raise sqlerr.invalid_recoverable_database_id()
        backup = self.geo_backups.get(
            key(parsed.subscription_id, parsed.resource_group, parsed.name(0), parsed.name(1))
        )
        if backup is None:
            raise sqlerr.source_database_not_found()
        return backup

    def delete_database(self, server: SqlServer, name: str) -> Operation | None:
        self.estate.require_region(server.location, SQL)
        database = self.databases.get((*server.key, name.lower()))
        if database is None:
            return None
        if database.busy:
            raise sqlerr.conflicting_database_operation()
        operation = self._start(DATABASE_DELETE, server, "database", lambda: self._drop_database(database))
        database.pending = operation
        return operation

    def _drop_database(self, database: SqlDatabase) -> None:
        self.databases.pop(database.key, None)
        self.links = [link for link in self.links if not link.involves(database)]
        group = database.failover_group
        if group is not None and database.server is group.primary:
            group.database_names = [n for n in group.database_names if n.lower() != database.name.lower()]

    # -- failover groups -----------------------------------------------------------------------------
    def put_failover_group(self, server: SqlServer, name: str, body: FailoverGroupBody) -> Operation:
        self.estate.require_region(server.location, SQL)
        existing = next((g for g in self.groups_of(server) if g.name.lower() == name.lower()), None)
        if existing is not None:
            return self._update_failover_group(existing, server, body)
        props = body.properties
        policy, grace = _read_write_endpoint(props.read_write_endpoint)
        partners = props.partner_servers or []
        if not partners:
            raise sqlerr.failover_group_invalid_partner()
        if len(partners) > 1:
            raise sqlerr.failover_group_unsupported_partner_count()
        partner = self._server_from_id(partners[0].id)
        if partner is None:
            raise sqlerr.failover_group_invalid_partner()
        if partner is server:
            raise sqlerr.failover_group_invalid_partner()
        if normalize_location(partner.location) == normalize_location(server.location):
            raise sqlerr.failover_group_same_region()
        names = self._group_database_names(server, props.databases or [], exclude=None)
        read_only_policy = self._read_only_endpoint(props.read_only_endpoint, partner) or "Disabled"
        group = FailoverGroup(
            name=name,
            primary=server,
            secondary=partner,
            failover_policy=policy,
            grace_period_minutes=grace,
            database_names=names,
            read_only_policy=read_only_policy,
            tags=dict(body.tags or {}),
            seeding=True,
        )
        self.failover_groups.append(group)

        def complete() -> None:
            # Seeding needs the partner's region too.
            self.estate.require_region(group.secondary.location, SQL)
            group.seeding = False
            self.replicate(group)

        operation = self._start(
            FAILOVER_GROUP_CREATE,
            server,
            "failoverGroup",
            complete,
            abandon=lambda: self._remove_group(group),
            result=lambda: group.to_resource(server, self.estate),
        )
        group.pending = operation
        return operation

    def _read_only_endpoint(self, endpoint: Any, partner: SqlServer) -> str | None:
        """The read-only endpoint's failover policy, checked (FailoverGroups.json:
        FailoverGroupReadOnlyEndpoint): Disabled or Enabled, and a targetServer among the partners."""
        if endpoint is None:
            return None
        policy = endpoint.failover_policy
        if policy is not None and policy.lower() not in ("disabled", "enabled"):
            raise sqlerr.failover_group_invalid(f"unknown readOnlyEndpoint failoverPolicy '{policy}'")
        if endpoint.target_server is not None and self._server_from_id(endpoint.target_server) is not partner:
            raise sqlerr.failover_group_invalid_read_only_target()
        return policy.capitalize() if policy is not None else None

    def _group_database_names(
        self, server: SqlServer, database_ids: Iterable[str], exclude: FailoverGroup | None
    ) -> list[str]:
        names: list[str] = []
        for database_id in database_ids:
            parsed = parse_resource_id(database_id)
            if parsed is None or not parsed.type_is(SQL, "servers", "databases"):
                raise sqlerr.failover_group_invalid_databases()
            database = self.database_by_id(database_id)
            if database is None or database.server is not server:
                raise sqlerr.failover_group_invalid_database_server()
            if database.failover_group is not None and database.failover_group is not exclude:
                raise sqlerr.database_in_other_failover_group()
            names.append(database.name)
        return names

    def replicate(self, group: FailoverGroup) -> None:
        """Each primary database gets its geo-secondary on the partner (created if missing) and a link."""
        for name in group.database_names:
            primary = self.databases.get((*group.primary.key, name.lower()))
            if primary is None:
                continue
            primary.failover_group = group
            secondary = self.databases.get((*group.secondary.key, name.lower()))
            if secondary is None:
                secondary = self.add_database(group.secondary, name, sku=primary.sku)
            secondary.failover_group = group
            if not any(link.primary is primary and link.secondary is secondary for link in self.links):
                self.links.append(ReplicationLink(str(uuid.uuid4()), primary, secondary, self.estate.now()))

    def _update_failover_group(self, group: FailoverGroup, server: SqlServer, body: FailoverGroupBody) -> Operation:
        if server is not group.primary:
            raise sqlerr.failover_group_request_on_secondary()
        if group.busy:
            raise sqlerr.failover_group_busy()
        props = body.properties
        policy, grace = (
            _read_write_endpoint(props.read_write_endpoint)
            if props.read_write_endpoint is not None
            else (group.failover_policy, group.grace_period_minutes)
        )
        names = (
            self._group_database_names(server, props.databases, exclude=group)
            if props.databases is not None
            else group.database_names
        )
        tags = dict(body.tags) if body.tags is not None else group.tags
        read_only_policy = self._read_only_endpoint(props.read_only_endpoint, group.secondary) or group.read_only_policy

        def apply() -> None:
            removed = {n.lower() for n in group.database_names} - {n.lower() for n in names}
            for database in self.databases.values():
                if database.failover_group is group and database.name.lower() in removed:
                    database.failover_group = None
            group.failover_policy, group.grace_period_minutes, group.tags = policy, grace, tags
            group.read_only_policy = read_only_policy
            group.database_names = names
            self.replicate(group)

        operation = self._start(
            FAILOVER_GROUP_UPDATE,
            server,
            "failoverGroup",
            apply,
            result=lambda: group.to_resource(server, self.estate),
        )
        group.pending = operation
        return operation

    def delete_failover_group(self, server: SqlServer, name: str) -> Operation | None:
        self.estate.require_region(server.location, SQL)
        group = next((g for g in self.groups_of(server) if g.name.lower() == name.lower()), None)
        if group is None:
            return None
        if server is not group.primary:
            raise sqlerr.failover_group_request_on_secondary()
        if group.busy:
            raise sqlerr.failover_group_busy()
        operation = self._start(FAILOVER_GROUP_DELETE, server, "failoverGroup", lambda: self._remove_group(group))
        group.pending = operation
        return operation

    def _remove_group(self, group: FailoverGroup) -> None:
        """The group goes; its databases and their geo-replication links stay (as in Azure)."""
        if group in self.failover_groups:
            self.failover_groups.remove(group)
        for database in self.databases.values():
            if database.failover_group is group:
                database.failover_group = None

    def failover(self, server: SqlServer, name: str, kind: str) -> Operation:
        """Planned (`failover`), forced (`forceFailoverAllowDataLoss`) or hybrid
        (`tryPlannedBeforeForcedFailover`), issued on the secondary (FailoverGroups.json, 2025-01-01).

        A planned failover synchronizes with the primary first: with the primary's region down it runs
        until it gives up with 400 PlannedFailoverTimedOut ("User invoked planned failover, and it timed out
        while trying to contact the partner management service", FailoverGroups.json's error list). The
        forced one promotes the secondary at once, losing whatever the replication lag held. The hybrid
        "tries planned before forced failover but might still result in data loss" (its operation
        description): planned while the primary answers, forced when it cannot."""
        self.estate.require_region(server.location, SQL)
        group = self.group(server, name)
        if server is group.primary or server is group.stale_primary:  # the stale one believes it is primary
            raise sqlerr.failover_request_on_primary()
        if group.busy:
            raise sqlerr.failover_group_busy()

        def complete() -> None:
            if group.primary is server:  # already promoted meanwhile (automatic policy)
                return
            primary_down = self.estate.region_down(group.primary.location)
            if kind == FAILOVER_GROUP_FAILOVER and primary_down:
                raise sqlerr.planned_failover_timed_out()
            self._swap_roles(group, forced=kind == FAILOVER_GROUP_FORCE_FAILOVER or primary_down)

        operation = self._start(
            kind, server, "failoverGroup", complete, result=lambda: group.to_resource(server, self.estate)
        )
        group.pending = operation
        return operation

    def _swap_roles(self, group: FailoverGroup, *, forced: bool) -> None:
        lag = max((link.lag_seconds for link in self._group_links(group)), default=0.0)
        group.last_data_loss_seconds = lag if forced else 0.0
        old_primary = group.primary
        # A forced failover does not wait for the old primary (Switch-AzSqlDatabaseFailoverGroup: "only
        # waits until the new primary assumes its role"): one that cannot be reached keeps reading the
        # group as Primary until it is back online and reconnects.
        unreachable = forced and self.estate.region_down(old_primary.location)
        group.primary, group.secondary = group.secondary, group.primary
        group.stale_primary = old_primary if unreachable else None
        group.stale_back_since = None
        for link in self._group_links(group):
            link.stale_primary = link.primary if unreachable else None
            link.primary, link.secondary = link.secondary, link.primary
        for name in group.database_names:
            promoted = self.databases.get((*group.primary.key, name.lower()))
            if promoted is not None and (*group.primary.key, name.lower()) not in self.geo_backups:
                self.add_geo_backup(group.primary, name, self.estate.now(), promoted.sku)

    def _reconnect_stale_primary(self, group: FailoverGroup, now: datetime) -> None:
        """The stale old primary switches to the secondary role once it is back online (Microsoft's
        Switch-AzSqlDatabaseFailoverGroup reference). How long that takes is not documented; the emulator
        lets RECONNECT_AFTER pass after its region's outage ends, so a caller can observe the window in
        which both servers read Primary. Writes it took while stale are lost when it rejoins."""
        stale = group.stale_primary
        if stale is None:
            return
        if self.estate.region_down(stale.location):
            group.stale_back_since = None
            return
        if group.stale_back_since is None:
            group.stale_back_since = now
        reconnect_after = timedelta(seconds=self.estate.settings.sql_stale_primary_reconnect_seconds)
        if now - group.stale_back_since >= reconnect_after:
            group.stale_primary = None
            group.stale_back_since = None
            for link in self._group_links(group):
                link.stale_primary = None

    def _group_links(self, group: FailoverGroup) -> list[ReplicationLink]:
        names = {n.lower() for n in group.database_names}
        return [
            link
            for link in self.links
            if link.primary.name.lower() in names
            and {link.primary.server.key, link.secondary.server.key} == {group.primary.key, group.secondary.key}
        ]

    # -- replication lag (control API) ---------------------------------------------------------------
    def set_replication_lag(self, database_id: str, seconds: float) -> int:
        database = self.database_by_id(database_id)
        if database is None:
            raise KeyError(database_id)
        links = self.links_of(database)
        for link in links:
            link.lag_seconds = seconds
        return len(links)

    def replication_lag(self, database_id: str) -> float | None:
        database = self.database_by_id(database_id)
        if database is None:
            raise KeyError(database_id)
        links = self.links_of(database)
        return max(link.lag_seconds for link in links) if links else None

    # -- helpers -------------------------------------------------------------------------------------
    def _start(
        self,
        kind: str,
        server: SqlServer,
        url_noun: str,
        complete: Callable[[], None],
        abandon: Callable[[], None] | None = None,
        result: Callable[[], Any] | None = None,
    ) -> Operation:
        return self.estate.start_operation(
            kind=kind,
            subscription_id=server.subscription_id,
            resource_group=server.resource_group,
            location=server.location,
            namespace=SQL,
            url_noun=url_noun,
            complete=complete,
            abandon=abandon,
            result=result,
        )


def _sku(requested: SkuBody | None, fallback: dict[str, Any]) -> dict[str, Any]:
    """The SKU to store: the requested one (checked: MismatchedSkuNameAndTier/Capacity), else the
    fallback (the source's or the default)."""
    return skus.canonical(requested.to_wire()) if requested is not None else dict(fallback)


def _check_license_type(body: DatabaseBody) -> None:
    license_type = body.properties.license_type
    if license_type is not None and license_type not in LICENSE_TYPES:
        raise sqlerr.invalid_license_type()


def _administrators(body: Any, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """ServerExternalAdministrator to keep. azureADOnlyAuthentication only changes through its own API
    once the server exists (Servers.json, `administrators`)."""
    if body is None:
        return current
    if not body.login:
        raise sqlerr.invalid_external_administrator_login()
    if not body.sid:
        raise sqlerr.invalid_external_administrator_sid()
    wire: dict[str, Any] = body.to_wire()
    if current is not None:
        wire.pop("azureADOnlyAuthentication", None)
        if "azureADOnlyAuthentication" in current:
            wire["azureADOnlyAuthentication"] = current["azureADOnlyAuthentication"]
    return wire


def _read_write_endpoint(endpoint: Any) -> tuple[str, int | None]:
    if endpoint is None or not endpoint.failover_policy:
        raise sqlerr.failover_group_invalid_read_write_endpoint()
    policy = str(endpoint.failover_policy)
    grace = endpoint.failover_with_data_loss_grace_period_minutes
    if policy.lower() == "automatic":
        if grace is None:
            raise sqlerr.failover_group_grace_period_required()
        return "Automatic", grace
    if policy.lower() == "manual":
        if grace is not None:
            raise sqlerr.failover_group_grace_period_with_manual()
        return "Manual", None
    raise sqlerr.failover_group_invalid(f"unknown failoverPolicy '{policy}'")
