"""Microsoft.Storage state and behaviour: storage accounts (the management plane: their properties, never their
data), their geo-replication and the customer-managed failover.

Shapes follow api-version 2026-09-01, the version azure-mgmt-storage 25.3.0 sends (its _configuration.py): spec
file specification/storage/resource-manager/Microsoft.Storage/stable/2026-09-01/openapi.json in
Azure/azure-rest-api-specs:
- StorageAccounts_GetProperties: `$expand=geoReplicationStats` adds GeoReplicationStats (status Live | Bootstrap |
  Unavailable, lastSyncTime, canFailover, canPlannedFailover, postFailoverRedundancy,
  postPlannedFailoverRedundancy); examples StorageAccountGetPropertiesGeoReplicationStatscanFailover{True,False}.json
  (the index holds them at 2025-08-01; the operation is unchanged in 2026-09-01). `failoverInProgress`: "If the
  failover is in progress, the value will be true, otherwise, it will be null"; `lastGeoFailoverTime`: "not
  returned if there has never been a failover instance"; secondaryLocation/statusOfSecondary only for
  geo-redundant SKUs.
- StorageAccounts_Failover: POST .../failover, `failoverType=Planned` for a planned one; 200/202 with Location and
  Retry-After, `final-state-via: location`; the Location of examples StorageAccountFailover.json and
  StorageAccountFailoverPlanned.json is a subscription-level .../providers/Microsoft.Storage/locations/{location}/
  asyncoperations/{id}?monitor=true. Its description gives the behaviour: unplanned, "the secondary cluster will
  become primary after failover and the account is converted to LRS"; planned, "the primary and secondary clusters
  are swapped after failover and the account remains geo-replicated", "only available while the primary and
  secondary endpoints are available".
- StorageAccounts_Update (PATCH): the SKU change that re-enables geo-redundancy after an unplanned failover; the
  new secondary bootstraps (geoReplicationStats.status Bootstrap, no failover) before it is Live.

Refusals (see exceptions.py): a SKU that is not geo-redundant, a failover already running, a secondary that cannot
take over (unavailable region, status not Live: "Last sync time is unavailable"), a planned failover without both
regions or with NFS 3.0 enabled, and a blocker seeded as `failover_blocked` (what canFailover false reports for
reasons the emulator does not model).

Region outage: the account's management plane still answers (customer-managed failover exists for when the
primary's endpoints are down, and is asked for through ARM): statusOfPrimary goes `unavailable`, the Last Sync Time
stops advancing (nothing new replicates), canPlannedFailover is false. A secondary region down: statusOfSecondary
`unavailable`, geo status Unavailable, no failover at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import errors, resources
from ..estate import Estate, ProviderDefaults, normalize_location
from ..ids import key, provider_id
from ..lro import Operation, iso
from ..sql.skus import paired_region
from . import exceptions as storageerr

STORAGE = "Microsoft.Storage"
API_VERSIONS = ("2023-05-01", "2024-01-01", "2025-01-01", "2025-06-01", "2025-08-01", "2026-09-01")

STORAGE_FAILOVER = "storage_account.failover"
STORAGE_PLANNED_FAILOVER = "storage_account.planned_failover"
# Not an LRO: how long a secondary bootstraps after geo-redundancy is (re-)enabled, before it is Live.
STORAGE_GEO_BOOTSTRAP = "storage_account.geo_bootstrap"
OPERATION_KINDS = (STORAGE_FAILOVER, STORAGE_PLANNED_FAILOVER, STORAGE_GEO_BOOTSTRAP)

# Geo-redundant SKU -> what an unplanned failover leaves ("converted to LRS").
GEO_SKUS: dict[str, str] = {
    "standard_grs": "Standard_LRS",
    "standard_ragrs": "Standard_LRS",
    "standard_gzrs": "Standard_LRS",
    "standard_ragzrs": "Standard_LRS",
    "standardv2_grs": "StandardV2_LRS",
    "standardv2_gzrs": "StandardV2_LRS",
}
READ_ACCESS_SKUS = {"standard_ragrs", "standard_ragzrs"}
SERVICES = ("blob", "dfs", "file", "queue", "table", "web")


def is_geo(sku: str) -> bool:
    return sku.lower() in GEO_SKUS


def tier_of(sku: str) -> str:
    return "Premium" if sku.lower().startswith("premium") else "Standard"


@dataclass
class StorageAccount:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    """The primary region (ARM's `location` follows the primary through a failover)."""
    sku: str
    created_at: datetime
    kind: str = "StorageV2"
    secondary_location: str | None = None
    is_hns_enabled: bool = False
    enable_nfs_v3: bool = False
    is_sftp_enabled: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    replication_lag_seconds: float = 0.0
    """How far the secondary trails the primary: the Last Sync Time is this long before now."""
    bootstrap_until: datetime | None = None
    """While set and in the future the secondary bootstraps (status Bootstrap, no Last Sync Time, no failover)."""
    failover_blocked: str | None = None
    """A documented blocker the emulator does not model otherwise: canFailover false, failover refused with it."""
    last_geo_failover_time: datetime | None = None
    last_failover_data_loss_seconds: float | None = None
    pending: Operation | None = None

    @property
    def id(self) -> str:
        return provider_id(self.subscription_id, self.resource_group, STORAGE, "storageAccounts", self.name)

    @property
    def geo(self) -> bool:
        return is_geo(self.sku)

    def endpoints(self, suffix: str = "") -> dict[str, str]:
        return {service: f"https://{self.name}{suffix}.{service}.core.windows.net/" for service in SERVICES}

    # -- what the account reports ----------------------------------------------------------------------------
    def primary_available(self, estate: Estate) -> bool:
        return not estate.region_down(self.location)

    def secondary_available(self, estate: Estate) -> bool:
        return self.secondary_location is not None and not estate.region_down(self.secondary_location)

    def geo_status(self, estate: Estate) -> str:
        if not self.secondary_available(estate):
            return "Unavailable"
        if self.bootstrap_until is not None and estate.now() < self.bootstrap_until:
            return "Bootstrap"
        return "Live"

    def last_sync_time(self, estate: Estate) -> datetime | None:
        """Every primary write before it is on the secondary. It stops advancing while the primary is down."""
        if self.geo_status(estate) == "Bootstrap" or not self.geo:
            return None
        since = estate.outages.get(normalize_location(self.location))
        until = since if since is not None else estate.now()
        return until - timedelta(seconds=self.replication_lag_seconds)

    def failover_refusal(self, estate: Estate, *, planned: bool) -> errors.ArmError | None:  # noqa: PLR0911
        """Why the service would refuse this failover now (None: it would accept it)."""
        if not self.geo:
            return storageerr.failover_not_geo_redundant(self.name, self.sku)
        if self.pending is not None:
            return storageerr.failover_in_progress(self.name)
        if self.failover_blocked:
            return storageerr.failover_blocked(self.name, self.failover_blocked)
        if self.geo_status(estate) != "Live":
            return storageerr.last_sync_time_unavailable(self.name)
        if planned:
            if self.enable_nfs_v3:
                return storageerr.planned_failover_nfs(self.name)
            if not self.primary_available(estate):
                return storageerr.planned_failover_unavailable(self.name, f"the primary region {self.location} is down")
        return None

    def geo_replication_stats(self, estate: Estate) -> dict[str, Any]:
        stats: dict[str, Any] = {
            "status": self.geo_status(estate),
            "canFailover": self.failover_refusal(estate, planned=False) is None,
            "canPlannedFailover": self.failover_refusal(estate, planned=True) is None,
            "postFailoverRedundancy": GEO_SKUS.get(self.sku.lower(), self.sku),
            "postPlannedFailoverRedundancy": self.sku,
        }
        synced = self.last_sync_time(estate)
        if synced is not None:
            stats["lastSyncTime"] = iso(synced)
        return stats

    def to_resource(self, estate: Estate, *, geo_stats: bool = False) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "creationTime": iso(self.created_at),
            "primaryEndpoints": self.endpoints(),
            "primaryLocation": self.location,
            "statusOfPrimary": "available" if self.primary_available(estate) else "unavailable",
            "encryption": {
                "keySource": "Microsoft.Storage",
                "services": {
                    service: {"enabled": True, "keyType": "Account", "lastEnabledTime": iso(self.created_at)}
                    for service in ("blob", "file")
                },
            },
            "keyCreationTime": {"key1": iso(self.created_at), "key2": iso(self.created_at)},
            "networkAcls": {
                "bypass": "AzureServices",
                "defaultAction": "Allow",
                "ipRules": [],
                "virtualNetworkRules": [],
            },
            "supportsHttpsTrafficOnly": True,
            "isHnsEnabled": self.is_hns_enabled,
            "isNfsV3Enabled": self.enable_nfs_v3,
            "isSftpEnabled": self.is_sftp_enabled,
            "isSkuConversionBlocked": False,
            "accountMigrationInProgress": False,
        }
        if self.kind in ("StorageV2", "BlobStorage"):
            properties["accessTier"] = "Hot"
        if self.geo and self.secondary_location is not None:
            properties["secondaryLocation"] = self.secondary_location
            properties["statusOfSecondary"] = "available" if self.secondary_available(estate) else "unavailable"
            if self.sku.lower() in READ_ACCESS_SKUS:
                properties["secondaryEndpoints"] = self.endpoints("-secondary")
        if self.pending is not None:
            properties["failoverInProgress"] = True
        if self.last_geo_failover_time is not None:
            properties["lastGeoFailoverTime"] = iso(self.last_geo_failover_time)
        if geo_stats:
            properties["geoReplicationStats"] = self.geo_replication_stats(estate)
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Storage/storageAccounts",
            "location": self.location,
            "tags": self.tags,
            "kind": self.kind,
            "sku": {"name": self.sku, "tier": tier_of(self.sku)},
            "properties": properties,
        }


class StorageBackend(ProviderDefaults):
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.accounts: dict[tuple[str, ...], StorageAccount] = {}

    # -- Provider protocol ---------------------------------------------------------------------------------
    def reset(self) -> None:
        self.accounts.clear()

    def tick(self, now: datetime) -> None:
        for account in self.accounts.values():
            if account.bootstrap_until is not None and now >= account.bootstrap_until:
                account.bootstrap_until = None

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        resources.drop_resource_group(self.accounts, subscription_id, name)

    def location_of(self, resource_id: str) -> str | None:
        account = self.by_id(resource_id)
        return account.location if account is not None else None

    # -- accounts ------------------------------------------------------------------------------------------
    def by_id(self, resource_id: str) -> StorageAccount | None:
        return resources.by_id(self.accounts, resource_id, STORAGE, "storageAccounts")

    def accounts_in(self, subscription_id: str, resource_group: str | None = None) -> list[StorageAccount]:
        return resources.in_scope(self.accounts.values(), subscription_id, resource_group)

    def account(self, subscription_id: str, resource_group: str, name: str) -> StorageAccount:
        return resources.existing(
            self.estate, self.accounts, subscription_id, resource_group, name, f"{STORAGE}/storageAccounts"
        )

    def add_account(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        location: str,
        *,
        sku: str = "Standard_RAGRS",
        kind: str = "StorageV2",
        secondary_location: str | None = None,
        **options: Any,
    ) -> StorageAccount:
        group = self.estate.resource_group(subscription_id, resource_group)
        secondary = (secondary_location or paired_region(location)) if is_geo(sku) else None
        account = StorageAccount(
            subscription_id=subscription_id,
            resource_group=group.name,
            name=name,
            location=location,
            sku=sku,
            kind=kind,
            secondary_location=secondary,
            created_at=self.estate.now(),
            **options,
        )
        self.accounts[key(subscription_id, group.name, name)] = account
        return account

    def update(self, account: StorageAccount, *, sku: str | None, tags: dict[str, str] | None) -> StorageAccount:
        """StorageAccounts_Update: tags, and a SKU change. Turning geo-redundancy on gives the account its paired
        secondary, which bootstraps before it can take over; turning it off drops the secondary."""
        if tags is not None:
            account.tags = dict(tags)
        if sku is not None and sku.lower() != account.sku.lower():
            if account.pending is not None:
                raise storageerr.failover_in_progress(account.name)
            was_geo, account.sku = account.geo, sku
            if account.geo and not was_geo:
                account.secondary_location = paired_region(account.location)
                seconds = self.estate.settings.duration_for(STORAGE_GEO_BOOTSTRAP)
                account.bootstrap_until = self.estate.now() + timedelta(seconds=seconds)
            elif not account.geo:
                account.secondary_location = None
                account.bootstrap_until = None
        return account

    # -- failover ------------------------------------------------------------------------------------------
    def failover(self, account: StorageAccount, *, planned: bool) -> Operation:
        refusal = account.failover_refusal(self.estate, planned=planned)
        if refusal is not None:
            raise refusal
        kind = STORAGE_PLANNED_FAILOVER if planned else STORAGE_FAILOVER

        def complete() -> None:
            # The regions may have changed while it ran: a planned failover still needs both.
            if planned and not (account.primary_available(self.estate) and account.secondary_available(self.estate)):
                raise storageerr.planned_failover_unavailable(account.name, "a region went down during the failover")
            if not account.secondary_available(self.estate):
                raise storageerr.last_sync_time_unavailable(account.name)
            now = self.estate.now()
            synced = account.last_sync_time(self.estate)
            old_primary, new_primary = account.location, account.secondary_location or account.location
            account.location = new_primary
            if planned:  # swapped, still geo-redundant, nothing lost (the secondary synchronised first)
                account.secondary_location = old_primary
                account.last_failover_data_loss_seconds = 0.0
            else:  # the secondary alone, converted to LRS: writes after the Last Sync Time are gone
                account.sku = GEO_SKUS[account.sku.lower()]
                account.secondary_location = None
                account.last_failover_data_loss_seconds = (now - synced).total_seconds() if synced else None
            account.replication_lag_seconds = 0.0
            account.last_geo_failover_time = now

        def settle() -> None:
            account.pending = None

        def finished() -> None:
            complete()
            settle()

        operation = self._start(kind, account, finished, abandon=settle)
        account.pending = operation
        return operation

    def _start(
        self, kind: str, account: StorageAccount, complete: Callable[[], None], abandon: Callable[[], None]
    ) -> Operation:
        return self.estate.start_operation(
            kind=kind,
            subscription_id=account.subscription_id,
            resource_group=account.resource_group,
            location=account.location,
            namespace=STORAGE,
            url_noun="asyncoperations",
            complete=complete,
            abandon=abandon,
        )


def status_path(operation: Operation) -> str:
    """The failover's Location: subscription-level, as StorageAccountFailover.json shows it."""
    return operation.subscription_path("asyncoperations")
