"""Microsoft.Storage through azure-mgmt-storage: read an account (with its geo-replication stats), tag it, start its
failover as an ARM long-running operation (:mod:`dr.azure_lro`) and look at that operation once per call.

Invariant: the only module of the kind that calls the SDK. Every call is bounded (few in-call retries,
``ARM_CALL_OPTIONS``) and every Azure error leaves as a :mod:`dr.errors` error saying what was being done, except
where a caller must tell answers apart (None for "a failover is already running").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ...azure_lro import ARM_CALL_OPTIONS, OperationRef, OperationStatus, check_operation, start_operation
from ...clients import get_clients
from ...errors import NotFoundError, azure_errors, from_azure_error
from ..sdk import wire_text
from .model import AccountRef, AccountView, FailoverType, GeoStats

if TYPE_CHECKING:
    from azure.mgmt.storage import StorageManagementClient


def client(ref: AccountRef) -> StorageManagementClient:
    return get_clients().storage(ref.subscription)


def read_account(ref: AccountRef) -> tuple[AccountView, dict[str, str]]:
    """The account and its tags. ARM refuses ``$expand=geoReplicationStats`` for an account that is not
    geo-redundant (400): then the account is read without it and the view says why the stats are missing."""
    storage = client(ref)
    what = f"read storage account {ref.name}"
    unreadable: str | None = None
    with azure_errors(what):
        try:
            account = storage.storage_accounts.get_properties(
                ref.resource_group, ref.name, expand="geoReplicationStats", **ARM_CALL_OPTIONS
            )
        except ResourceNotFoundError as exc:
            raise NotFoundError(
                f"{what}: not found in resource group {ref.resource_group} ({from_azure_error(exc, what=what).code})",
                code="StorageAccountNotFound",
            ) from None
        except HttpResponseError as exc:
            if exc.status_code != 400:
                raise
            unreadable = from_azure_error(exc, what="$expand=geoReplicationStats").message
            account = storage.storage_accounts.get_properties(ref.resource_group, ref.name, **ARM_CALL_OPTIONS)
    return account_view(account, unreadable), dict(account.tags or {})


def account_view(account: Any, geo_unreadable: str | None = None) -> AccountView:
    """An azure-mgmt-storage StorageAccount as plain values."""
    properties = account.properties
    stats = properties.geo_replication_stats if properties is not None else None
    return AccountView(
        name=str(account.name),
        sku=wire_text(account.sku.name) if account.sku is not None else "unknown",
        kind=wire_text(account.kind),
        primary_location=properties.primary_location if properties else account.location,
        secondary_location=properties.secondary_location if properties else None,
        status_of_primary=wire_text(properties.status_of_primary) if properties else None,
        status_of_secondary=wire_text(properties.status_of_secondary) if properties else None,
        failover_in_progress=bool(properties.failover_in_progress) if properties else False,
        last_geo_failover_time=properties.last_geo_failover_time if properties else None,
        is_hns_enabled=bool(properties.is_hns_enabled) if properties else False,
        enable_nfs_v3=bool(properties.enable_nfs_v3) if properties else False,
        is_sftp_enabled=bool(properties.is_sftp_enabled) if properties else False,
        geo=GeoStats(
            status=wire_text(stats.status),
            last_sync_time=stats.last_sync_time,
            can_failover=stats.can_failover,
            can_planned_failover=stats.can_planned_failover,
            post_failover_redundancy=wire_text(stats.post_failover_redundancy),
        )
        if stats is not None
        else None,
        geo_unreadable=geo_unreadable,
    )


def write_tags(ref: AccountRef, tags: dict[str, str]) -> None:
    """PATCH the account's tags (StorageAccounts_Update replaces the whole map: pass every tag to keep)."""
    from azure.mgmt.storage.models import StorageAccountUpdateParameters

    with azure_errors(f"tag storage account {ref.name}"):
        client(ref).storage_accounts.update(
            ref.resource_group, ref.name, StorageAccountUpdateParameters(tags=tags), **ARM_CALL_OPTIONS
        )


def start_failover(ref: AccountRef, kind: FailoverType, what: str) -> OperationRef | None:
    """POST .../failover; planned with ``failoverType=Planned``. The SDK's default is Planned, so an unplanned
    failover passes None to leave the parameter out. None: ARM answered 409, a failover is already running."""
    failover_type = "Planned" if kind == "planned" else None
    try:
        return start_operation(
            client(ref).storage_accounts.begin_failover, ref.resource_group, ref.name, failover_type=failover_type
        )
    except HttpResponseError as exc:
        if exc.status_code == 409:
            return None
        raise from_azure_error(exc, what=what) from exc


def operation_status(ref: AccountRef, operation: OperationRef, what: str) -> OperationStatus:
    """One look at the failover's Location (only ever on the ARM endpoint the clients were built for)."""
    with azure_errors(what):
        return check_operation(client(ref), operation, endpoint=get_clients().settings.arm_endpoint)
