"""Storage accounts of the estate (`storage_accounts:`, see devstack/arm/example_estate.yaml) in the Microsoft.Storage
management plane: an entry with a `resource_group` is also an account ARM reports (SKU, regions, geo-replication,
failover). Its blob data stays Azurite's (devstack.local_estate); nothing here touches it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..estate import Estate
from ..storage.models import StorageBackend


class StorageAccountEntry(Protocol):
    """What an estate's storage account says of its management plane (control.seed.StorageAccountSeed)."""

    @property
    def name(self) -> str: ...

    @property
    def location(self) -> str: ...

    @property
    def resource_group(self) -> str | None: ...

    @property
    def sku(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def secondary_location(self) -> str | None: ...

    @property
    def replication_lag_seconds(self) -> float: ...

    @property
    def is_hns_enabled(self) -> bool: ...

    @property
    def enable_nfs_v3(self) -> bool: ...

    @property
    def is_sftp_enabled(self) -> bool: ...

    @property
    def failover_blocked(self) -> str | None: ...

    @property
    def tags(self) -> dict[str, str]: ...


def apply_storage_accounts(estate: Estate, subscription_id: str, accounts: Iterable[StorageAccountEntry]) -> None:
    managed = [account for account in accounts if account.resource_group]
    if not managed:
        return
    backend = next(p for p in estate.providers if isinstance(p, StorageBackend))
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
