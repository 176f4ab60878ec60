"""Storage accounts of the estate (`storage_accounts:`, see devstack/arm/example_estate.yaml) in the Microsoft.Storage
management plane: an entry with a `resource_group` is also an account ARM reports (SKU, regions, geo-replication,
failover). Its blob data stays Azurite's (devstack.local_estate); nothing here touches it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from ..estate import Estate
from ..seeding import SeedModel, seeded_provider
from ..storage.models import StorageBackend


class StorageAccountSeed(SeedModel):
    """A storage account of the estate. Its blob data lives in Azurite (the local stack serves one Azurite account
    per name, devstack.local_estate); its location is the region whose outage makes it unreachable."""

    name: str = Field(pattern=r"^[a-z0-9]{3,24}$")
    location: str
    resource_group: str | None = None
    # With a resource_group the account is also in the Microsoft.Storage management plane (apply_storage_accounts):
    # these are its properties there (location is its primary region).
    sku: str = "Standard_RAGRS"
    kind: Literal["StorageV2", "Storage", "BlobStorage", "BlockBlobStorage", "FileStorage"] = "StorageV2"
    secondary_location: str | None = Field(None, description="Geo-redundant SKUs; default: the primary's pair.")
    replication_lag_seconds: float = Field(0.0, ge=0, description="The Last Sync Time is this long before now.")
    is_hns_enabled: bool = False
    enable_nfs_v3: bool = False
    is_sftp_enabled: bool = False
    failover_blocked: str | None = Field(None, description="A blocker the emulator does not model: no failover.")
    tags: dict[str, str] = Field(default_factory=dict)


def apply_storage_accounts(estate: Estate, subscription_id: str, accounts: Iterable[StorageAccountSeed]) -> None:
    managed = [account for account in accounts if account.resource_group]
    backend = seeded_provider(estate, StorageBackend, "Microsoft.Storage", needed=bool(managed))
    if backend is None:
        return
    for account in managed:
        assert account.resource_group is not None
        backend.add_account(
            subscription_id,
            account.resource_group,
            account.name,
            account.location,
            sku=account.sku,
            kind=account.kind,
            secondary_location=account.secondary_location,
            replication_lag_seconds=account.replication_lag_seconds,
            is_hns_enabled=account.is_hns_enabled,
            enable_nfs_v3=account.enable_nfs_v3,
            is_sftp_enabled=account.is_sftp_enabled,
            failover_blocked=account.failover_blocked,
            tags=dict(account.tags),
        )
