"""Microsoft.DBforPostgreSQL flexible servers: primaries and their read replicas, promoting a replica (PATCH
`replica.promoteMode/promoteOption`), geo-restore (PUT `createMode: GeoRestore`), backups and the replica lag
Azure Monitor reports.

Shapes follow what azure-mgmt-postgresqlflexibleservers 3.0.0 sends and reads (api-version 2026-10-01, its
_configuration.py), taken from the newest stable spec the index of Azure/azure-rest-api-specs holds for it:
specification/postgresql/resource-manager/Microsoft.DBforPostgreSQL/PostgreSQL/stable/2025-08-01/openapi.json
(the Server, Replica and Backup definitions the SDK's models declare unchanged):
- Servers_Get 200 (Server); Servers_CreateOrUpdate 202 only and Servers_Update 202 only, both long-running with
  final-state-via azure-async-operation; Servers_Delete 202/204, final-state-via location. The status URLs are
  the subscription's (examples ServersCreateReplica.json, ServersPromoteReplicaAsPlannedSwitchover.json):
  `/subscriptions/{s}/providers/Microsoft.DBforPostgreSQL/locations/{location}/azureAsyncOperation/{id}` and
  `.../operationResults/{id}`.
- Server as ReplicasListByServer.json (2024-08-01) shows it: `replicationRole`, `replicaCapacity`, `replica`
  {role, capacity, replicationState}, `backup` {backupRetentionDays, geoRedundantBackup, earliestRestoreDate}.
- Replica.promoteMode: "Standalone means that the read replica will be promoted to a standalone server, and will
  become a completely independent entity from the replication set. Switchover means that the read replica will
  [swap] roles with the primary server"; promoteOption Planned "waits for data in the read replica to be fully
  synchronized with its source server", Forced does not.
- CreateMode GeoRestore: "restores an existing backup of an existing server, on the paired region of the
  existing server ... with geographically redundant backups enabled"; Replica creates a read replica
  (GeoAsyncReplica in another region, AsyncReplica in the same one).
- The replica lag: Azure Monitor's metric `physical_replication_delay_in_seconds` of the replica (Microsoft.Insights
  metrics, specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/metrics_API.json: Response
  {cost, timespan, interval, value: [Metric {id, type, name, unit, timeseries: [{data: [{timeStamp, maximum}]}]}],
  namespace, resourceregion}).

Region rules: a server's own requests need its region (504 GatewayTimeout while it is down); a geo-restore reads
the source's geo-replicated backup, so it works while the source's region is down; a replica whose primary's
region is down reports replicationState Broken. Error codes the spec does not list are the emulator's choice and
say so where raised (`emulator_code`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import errors, resources
from ..errors import ArmError
from ..estate import Estate, ProviderDefaults, normalize_location
from ..ids import key, provider_id
from ..lro import Operation, iso
from ..routing import ArmRequest
from ..sql.skus import paired_region
from .bodies import ServerBody

POSTGRESQL = "Microsoft.DBforPostgreSQL"
SERVER_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers"
API_VERSIONS = ("2024-08-01", "2025-08-01", "2026-10-01")
METRICS_API_VERSIONS = ("2018-01-01", "2023-10-01", "2024-02-01")
LAG_METRIC = "physical_replication_delay_in_seconds"

SERVER_CREATE = "postgresql.server.create"
SERVER_GEO_RESTORE = "postgresql.server.geo_restore"
SERVER_REPLICA = "postgresql.server.replica"
SERVER_UPDATE = "postgresql.server.update"
SERVER_PROMOTE = "postgresql.server.promote"
SERVER_DELETE = "postgresql.server.delete"
OPERATION_KINDS = (SERVER_CREATE, SERVER_GEO_RESTORE, SERVER_REPLICA, SERVER_UPDATE, SERVER_PROMOTE, SERVER_DELETE)
REPLICA_ROLES = ("AsyncReplica", "GeoAsyncReplica")
# A primary's replicaCapacity (replica.capacity): 5, as `az postgres flexible-server show` answers for a primary;
# no example of the spec shows a primary's (ReplicasListByServer.json shows a replica's, 0).
REPLICA_CAPACITY = 5


def emulator_code(status: int, code: str, message: str) -> ArmError:
    """An error whose code the spec does not list: the emulator's choice (the status is ARM's)."""
    return ArmError(status, code, message)


@dataclass
class PgServer:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    sku: dict[str, str] = field(default_factory=lambda: {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"})
    version: str = "16"
    administrator_login: str | None = "pgadmin"
    storage_size_gb: int = 128
    backup_retention_days: int = 7
    geo_redundant_backup: str = "Disabled"
    availability_zone: str = "1"
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    last_backup_at: datetime | None = None
    source: PgServer | None = None
    """The primary, while this server is a read replica."""
    replication_lag_seconds: float = 0.0
    state: str = "Ready"
    replication_state: str | None = None
    """Set while an operation changes it (Provisioning, Updating); else computed."""
    pending: Operation | None = None

    @property
    def id(self) -> str:
        return provider_id(self.subscription_id, self.resource_group, POSTGRESQL, "flexibleServers", self.name)

    @property
    def key(self) -> tuple[str, ...]:
        return key(self.subscription_id, self.resource_group, self.name)

    @property
    def busy(self) -> bool:
        return self.pending is not None and not self.pending.done

    @property
    def is_replica(self) -> bool:
        return self.source is not None

    def replica_role(self) -> str:
        assert self.source is not None
        same = normalize_location(self.source.location) == normalize_location(self.location)
        return "AsyncReplica" if same else "GeoAsyncReplica"

    def role(self, backend: PostgreSqlBackend) -> str:
        if self.source is not None:
            return self.replica_role()
        return "Primary" if backend.replicas_of(self) else "None"

    def to_resource(self, backend: PostgreSqlBackend) -> dict[str, Any]:
        role = self.role(backend)
        replica: dict[str, Any] = {"role": role, "capacity": 0 if self.is_replica else REPLICA_CAPACITY}
        if self.is_replica:
            assert self.source is not None
            broken = backend.estate.region_down(self.source.location)
            replica["replicationState"] = self.replication_state or ("Broken" if broken else "Active")
        earliest = self.created_at or backend.estate.now()
        properties: dict[str, Any] = {
            "fullyQualifiedDomainName": f"{self.name}.postgres.database.azure.com",
            "version": self.version,
            "minorVersion": "4",
            "state": self.state,
            "availabilityZone": self.availability_zone,
            "storage": {"storageSizeGB": self.storage_size_gb, "autoGrow": "Disabled", "tier": "P10", "iops": 500},
            "dataEncryption": {"type": "SystemManaged"},
            "authConfig": {"activeDirectoryAuth": "Disabled", "passwordAuth": "Enabled"},
            "backup": {
                "backupRetentionDays": self.backup_retention_days,
                "geoRedundantBackup": self.geo_redundant_backup,
                "earliestRestoreDate": iso(
                    max(earliest, backend.estate.now() - timedelta(days=self.backup_retention_days))
                ),
            },
            "network": {"publicNetworkAccess": "Enabled"},
            "highAvailability": {"mode": "Disabled", "state": "NotEnabled"},
            "maintenanceWindow": {"customWindow": "Disabled", "dayOfWeek": 0, "startHour": 0, "startMinute": 0},
            "replicationRole": role,
            "replicaCapacity": replica["capacity"],
            "replica": replica,
        }
        if self.administrator_login is not None:
            properties["administratorLogin"] = self.administrator_login
        if self.source is not None:
            properties["sourceServerResourceId"] = self.source.id
        return {
            "sku": dict(self.sku),
            "properties": properties,
            "location": self.location,
            "tags": self.tags,
            "id": self.id,
            "name": self.name,
            "type": SERVER_TYPE,
        }


class PostgreSqlBackend(ProviderDefaults):
    """All Microsoft.DBforPostgreSQL state of the estate (callers hold `estate.lock`)."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.servers: dict[tuple[str, ...], PgServer] = {}

    # -- Provider protocol ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.servers.clear()

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        for server in [s for s in self.servers.values() if s.key[:2] == key(subscription_id, name)]:
            self._drop(server)

    def location_of(self, resource_id: str) -> str | None:
        server = self.by_id(resource_id)
        return server.location if server is not None else None

    def hostname_of(self, resource_id: str) -> str | None:
        server = self.by_id(resource_id)
        return f"{server.name}.postgres.database.azure.com" if server is not None else None

    # -- look-ups ------------------------------------------------------------------------------------
    def by_id(self, resource_id: str) -> PgServer | None:
        return resources.by_id(self.servers, resource_id, POSTGRESQL, "flexibleServers")

    def find(self, subscription_id: str, resource_group: str, name: str) -> PgServer | None:
        return self.servers.get(key(subscription_id, resource_group, name))

    def server(self, subscription_id: str, resource_group: str, name: str) -> PgServer:
        """The server, reachable only while its region is up (ARM's 404 when there is none)."""
        found = self.find(subscription_id, resource_group, name)
        if found is None:
            raise errors.resource_not_found(f"{SERVER_TYPE}/{name}", resource_group)
        self.estate.require_region(found.location, POSTGRESQL)
        return found

    def servers_in(self, subscription_id: str, resource_group: str | None = None) -> list[PgServer]:
        """Lists leave out the servers of a region that is down (their provider does not answer)."""
        listed = resources.in_scope(self.servers.values(), subscription_id, resource_group)
        return [s for s in listed if not self.estate.region_down(s.location)]

    def replicas_of(self, server: PgServer) -> list[PgServer]:
        return [s for s in self.servers.values() if s.source is server]

    def add_server(self, server: PgServer) -> PgServer:
        self.servers[server.key] = server
        return server

    # -- create, update, delete ----------------------------------------------------------------------
    def put_server(self, subscription_id: str, resource_group: str, name: str, body: ServerBody) -> Operation:
        group = self.estate.resource_group(subscription_id, resource_group)
        existing = self.find(subscription_id, resource_group, name)
        mode = body.properties.create_mode or "Default"
        if existing is not None:
            if mode not in ("Default", "Create", "Update"):
                raise emulator_code(409, "ServerAlreadyExists", f"Specified server name '{name}' is already used.")
            return self.update_server(self.server(subscription_id, resource_group, name), body)
        if not body.location:
            raise errors.location_required()
        self.estate.require_region(body.location, POSTGRESQL)
        server = PgServer(
            subscription_id=subscription_id,
            resource_group=group.name,
            name=name,
            location=normalize_location(body.location),
            tags=dict(body.tags or {}),
            created_at=self.estate.now(),
            state="Provisioning",
        )
        if mode in ("Default", "Create"):
            kind = SERVER_CREATE
            self._apply_create_properties(server, body)
        elif mode == "Replica":
            kind = SERVER_REPLICA
            source = self._source(body)
            self.estate.require_region(source.location, POSTGRESQL)
            if source.is_replica:
                raise emulator_code(
                    400,
                    "InvalidSourceServer",
                    f"Server '{source.name}' is a read replica: a replica's source must be a primary.",
                )
            self._copy_from(server, source)
            server.source = source
            server.replication_state = "Provisioning"
        elif mode == "GeoRestore":
            kind = SERVER_GEO_RESTORE
            source = self._source(body)  # its geo-backup answers while its region is down
            if source.geo_redundant_backup != "Enabled":
                raise emulator_code(
                    400,
                    "GeoRestoreNotSupported",
                    f"Server '{source.name}' does not have geographically redundant backups enabled: it cannot be "
                    "geo-restored.",
                )
            paired = paired_region(source.location)
            if paired is not None and normalize_location(body.location) != paired:
                raise emulator_code(
                    400,
                    "InvalidGeoRestoreLocation",
                    f"A geo-restore of server '{source.name}' ({source.location}) goes to its paired region "
                    f"'{paired}', not '{body.location}'.",
                )
            self._copy_from(server, source)
            server.last_backup_at = self.estate.now()
            server.geo_redundant_backup = (
                body.properties.backup.geo_redundant_backup
                if body.properties.backup and body.properties.backup.geo_redundant_backup
                else "Disabled"
            )
        else:
            raise emulator_code(400, "UnsupportedCreateMode", f"createMode '{mode}' is not emulated.")
        if body.sku is not None:
            server.sku = {"name": body.sku.name, "tier": body.sku.tier}
        self.servers[server.key] = server

        def complete() -> None:
            server.state = "Ready"
            server.replication_state = None

        return self._start(kind, server, complete, abandon=lambda: self.servers.pop(server.key, None), result=True)

    def _apply_create_properties(self, server: PgServer, body: ServerBody) -> None:
        props = body.properties
        server.administrator_login = props.administrator_login
        server.version = props.version or server.version
        if props.storage and props.storage.storage_size_gb:
            server.storage_size_gb = props.storage.storage_size_gb
        if props.backup:
            server.backup_retention_days = props.backup.backup_retention_days or server.backup_retention_days
            server.geo_redundant_backup = props.backup.geo_redundant_backup or server.geo_redundant_backup
        server.last_backup_at = self.estate.now()

    def _copy_from(self, server: PgServer, source: PgServer) -> None:
        server.sku = dict(source.sku)
        server.version = source.version
        server.administrator_login = source.administrator_login
        server.storage_size_gb = source.storage_size_gb
        server.backup_retention_days = source.backup_retention_days

    def _source(self, body: ServerBody) -> PgServer:
        source_id = body.properties.source_server_resource_id
        if not source_id:
            raise errors.invalid_request_content("properties.sourceServerResourceId is required for this createMode")
        source = self.by_id(source_id)
        if source is None:
            raise emulator_code(404, "SourceServerNotFound", f"Source server '{source_id}' was not found.")
        return source

    def update_server(self, server: PgServer, body: ServerBody) -> Operation:
        if server.busy:
            raise emulator_code(409, "ServerBusy", f"Server '{server.name}' is busy with another operation.")
        if body.tags is not None:
            server.tags = dict(body.tags)
        replica = body.properties.replica
        if replica is not None and (replica.promote_mode or replica.promote_option):
            return self._promote(server, replica.promote_mode or "Standalone", replica.promote_option or "Planned")
        props = body.properties

        def apply() -> None:
            if body.sku is not None:
                server.sku = {"name": body.sku.name, "tier": body.sku.tier}
            if props.storage and props.storage.storage_size_gb:
                server.storage_size_gb = props.storage.storage_size_gb
            if props.backup and props.backup.backup_retention_days:
                server.backup_retention_days = props.backup.backup_retention_days
            server.state = "Ready"

        server.state = "Updating"
        return self._start(SERVER_UPDATE, server, apply, result=True)

    def _promote(self, server: PgServer, mode: str, option: str) -> Operation:
        if server.source is None:
            raise emulator_code(
                400,
                "ServerIsNotReplica",
                f"Server '{server.name}' is not a read replica: only a read replica can be promoted.",
            )
        primary = server.source

        def complete() -> None:
            primary_down = self.estate.region_down(primary.location)
            if primary_down and (option == "Planned" or mode == "Switchover"):
                raise emulator_code(
                    409,
                    "PrimaryServerUnavailable",
                    f"The source server '{primary.name}' is unavailable: a planned promotion waits for the replica to "
                    "synchronize with it and a switchover needs it; use promoteOption Forced with promoteMode "
                    "Standalone.",
                )
            server.source = None
            server.replication_state = None
            server.state = "Ready"
            server.last_backup_at = self.estate.now()
            if mode == "Switchover":
                primary.source = server

        server.replication_state = "Updating"
        return self._start(SERVER_PROMOTE, server, complete, result=True, abandon=lambda: _clear(server))

    def delete_server(self, subscription_id: str, resource_group: str, name: str) -> Operation | None:
        self.estate.resource_group(subscription_id, resource_group)
        server = self.find(subscription_id, resource_group, name)
        if server is None:
            return None
        self.estate.require_region(server.location, POSTGRESQL)
        if server.busy:
            raise emulator_code(409, "ServerBusy", f"Server '{server.name}' is busy with another operation.")
        server.state = "Dropping"
        return self._start(SERVER_DELETE, server, lambda: self._drop(server))

    def _drop(self, server: PgServer) -> None:
        # A primary's replicas become standalone servers when it is deleted.
        for replica in self.replicas_of(server):
            replica.source = None
        self.servers.pop(server.key, None)

    # -- what Azure Monitor and the backups API report ------------------------------------------------
    def set_replication_lag(self, server_id: str, seconds: float) -> None:
        server = self.by_id(server_id)
        if server is None or server.source is None:
            raise KeyError(f"{server_id!r} is not a read replica")
        server.replication_lag_seconds = seconds

    def lag_metric(self, server: PgServer, request: ArmRequest) -> dict[str, Any]:
        now = self.estate.now()
        data = [{"timeStamp": iso(now.replace(second=0, microsecond=0)), "maximum": server.replication_lag_seconds}]
        wanted = request.query.get("metricnames", LAG_METRIC)
        if wanted.lower() != LAG_METRIC:
            raise emulator_code(400, "BadRequest", f"Failed to find metric configuration for {wanted!r}.")
        return {
            "cost": 0,
            "timespan": f"{iso(now - timedelta(minutes=5))}/{iso(now)}",
            "interval": "PT1M",
            "value": [
                {
                    "id": f"{server.id}/providers/Microsoft.Insights/metrics/{LAG_METRIC}",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": LAG_METRIC, "localizedValue": "Read Replica Lag (Preview)"},
                    "unit": "Seconds",
                    "timeseries": [{"metadatavalues": [], "data": data}] if server.is_replica else [],
                    "errorCode": "Success",
                }
            ],
            "namespace": SERVER_TYPE,
            "resourceregion": server.location,
        }

    def backups(self, server: PgServer) -> list[dict[str, Any]]:
        if server.last_backup_at is None:
            return []
        stamp = server.last_backup_at.strftime("%Y%m%dT%H%M%S")
        return [
            {
                "id": f"{server.id}/backups/backup_{stamp}",
                "name": f"backup_{stamp}",
                "type": f"{SERVER_TYPE}/backups",
                "properties": {
                    "backupType": "Full",
                    "completedTime": iso(server.last_backup_at),
                    "source": "Automatic",
                },
            }
        ]

    # -- operations ----------------------------------------------------------------------------------
    def _start(
        self,
        kind: str,
        server: PgServer,
        complete: Any,
        *,
        abandon: Any = None,
        result: bool = False,
    ) -> Operation:
        operation = self.estate.start_operation(
            kind=kind,
            subscription_id=server.subscription_id,
            resource_group=server.resource_group,
            location=server.location,
            namespace=POSTGRESQL,
            url_noun="",
            complete=complete,
            abandon=abandon,
            result=(lambda: server.to_resource(self)) if result else None,
        )
        server.pending = operation
        return operation

    def operation(self, operation_id: str) -> Operation:
        found = self.estate.find_operation(operation_id)
        if found.namespace != POSTGRESQL:
            raise errors.operation_not_found()
        return found


def _clear(server: PgServer) -> None:
    server.replication_state = None
    server.state = "Ready"


# -- long-running operations, on the subscription's status URLs ---------------------------------------------


def status_path(operation: Operation) -> str:
    return operation.subscription_path("azureAsyncOperation")


def result_path(operation: Operation) -> str:
    return operation.subscription_path("operationResults")
