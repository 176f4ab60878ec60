"""What the storage failover kind reads and remembers: the account as ARM reports it (plain values, no SDK
types) and the step's state between calls.

Invariant: the state is small JSON and holds everything the report needs at the end, because a failover erases
what it was computed from (after an unplanned one the account has no secondary and no Last Sync Time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from ..operation import OperationState
from ..sdk import ArmRef

FailoverType = Literal["planned", "unplanned"]


def region(name: str | None) -> str | None:
    """ARM location names compare without case and spaces ('West US' is 'westus')."""
    return name.replace(" ", "").lower() if name else None


class AccountRef(ArmRef):
    """A Microsoft.Storage/storageAccounts id."""


class GeoStats(BaseModel):
    """geoReplicationStats: whether the secondary can take over, and up to when it has every write."""

    status: str | None = None
    last_sync_time: datetime | None = None
    can_failover: bool | None = None
    can_planned_failover: bool | None = None
    post_failover_redundancy: str | None = None


class AccountView(BaseModel):
    """A storage account as one read found it."""

    name: str
    sku: str
    kind: str | None = None
    primary_location: str | None = None
    secondary_location: str | None = None
    status_of_primary: str | None = None
    status_of_secondary: str | None = None
    failover_in_progress: bool = False
    last_geo_failover_time: datetime | None = None
    is_hns_enabled: bool = False
    enable_nfs_v3: bool = False
    is_sftp_enabled: bool = False
    geo: GeoStats | None = None
    geo_unreadable: str | None = None
    """Why geoReplicationStats could not be read (ARM refuses the expansion for an account that is not
    geo-redundant)."""

    def facts(self) -> dict[str, Any]:
        """The account as the report shows it (no secrets: ARM's account properties hold none)."""
        found: dict[str, Any] = {
            "account": self.name,
            "sku": self.sku,
            "primary_location": self.primary_location,
            "secondary_location": self.secondary_location,
            "status_of_primary": self.status_of_primary,
            "status_of_secondary": self.status_of_secondary,
            "failover_in_progress": self.failover_in_progress,
        }
        if self.geo is not None:
            found["geo_replication"] = self.geo.model_dump(mode="json")
        if self.last_geo_failover_time is not None:
            found["last_geo_failover_time"] = self.last_geo_failover_time.isoformat()
        return found


class FailoverState(OperationState):
    """What the step remembers between begin and the polls (the facts of the account before the failover)."""

    account_id: str
    target_location: str
    failover_type: FailoverType
    waiting_for_running_failover: bool = False
    rpo_basis: str = "unknown"
