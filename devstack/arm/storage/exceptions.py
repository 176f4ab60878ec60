"""The errors Microsoft.Storage answers here. openapi.json (2026-09-01) lists no error codes for
StorageAccounts_GetProperties or StorageAccounts_Failover (only `default: ErrorResponse`): the codes below are
this emulator's; each message says what Azure's documentation gives as the reason, where it is cited."""

from __future__ import annotations

from ..errors import ArmError


def account_type_invalid(sku: str) -> ArmError:
    # `Get-AzStorageAccount -IncludeGeoReplicationStats` (GET ...?$expand=geoReplicationStats) of an LRS account
    # answers "AccountType Standard_LRS is invalid." (azure-powershell issue #15290).
    return ArmError(400, "InvalidAccountType", f"AccountType {sku} is invalid.")


def failover_not_geo_redundant(name: str, sku: str) -> ArmError:
    # Storage disaster recovery guidance: customer-managed failover is for GRS, RA-GRS, GZRS and RA-GZRS accounts.
    return ArmError(
        400,
        "FailoverNotSupportedForAccountType",
        f"Account failover of '{name}' is not supported: its redundancy {sku} is not geo-redundant (GRS, RA-GRS, "
        "GZRS or RA-GZRS).",
    )


def failover_in_progress(name: str) -> ArmError:
    return ArmError(409, "FailoverInProgress", f"A failover of storage account '{name}' is already in progress.")


def last_sync_time_unavailable(name: str) -> ArmError:
    # The message Azure gives when the secondary cannot take over (MicrosoftDocs/azure-docs issue #56128).
    return ArmError(400, "LastSyncTimeUnavailable", f"Last sync time is unavailable for account {name}")


def failover_blocked(name: str, reason: str) -> ArmError:
    return ArmError(400, "FailoverNotSupported", f"Account failover of '{name}' is not supported: {reason}")


def planned_failover_unavailable(name: str, why: str) -> ArmError:
    # StorageAccounts_Failover: "Planned failover is only available while the primary and secondary endpoints are
    # available."
    return ArmError(
        400,
        "PlannedFailoverNotAllowed",
        f"Planned failover of '{name}' is only available while the primary and secondary endpoints are available: "
        f"{why}.",
    )


def planned_failover_nfs(name: str) -> ArmError:
    # NFS 3.0 known issues: "Geo-redundant storage is supported only for unplanned failover scenarios and isn't
    # supported for planned failover."
    return ArmError(
        400,
        "PlannedFailoverNotAllowed",
        f"Planned failover of '{name}' is not supported: NFS 3.0 is enabled (unplanned failover only).",
    )
