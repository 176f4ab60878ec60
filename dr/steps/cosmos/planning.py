"""The cosmos_failover decisions, as pure functions over an :class:`AccountView` (what ARM says of the account):
what the service would refuse and why, the failover priorities that make the target the write region, and what
a failover may lose.

Invariant: nothing here calls Azure or imports its SDK; every figure says what it rests on.

RPO by consistency, from Microsoft Learn, "Consistency levels in Azure Cosmos DB", table "Consistency levels and
data durability" (https://learn.microsoft.com/azure/cosmos-db/consistency-levels), for accounts with more than one
region and a single write region: Strong 0; Bounded staleness K & T (at most K versions or T seconds behind);
Session, Consistent prefix and Eventual "< 15 minutes".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ...plan import CosmosFailoverStep, region_key

FailoverKind = Literal["planned", "forced"]
DOCUMENTED_LOOSE_RPO_SECONDS = 15 * 60.0
CONSISTENCY_DOC = "Azure Cosmos DB consistency levels, table 'Consistency levels and data durability'"


class RegionView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    failover_priority: int
    offline: bool = False

    @property
    def key(self) -> str:
        return region_key(self.name)


class AccountView(BaseModel):
    """The account as ARM reports it (plain values, no SDK types)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    regions: tuple[RegionView, ...]
    write_regions: tuple[str, ...]
    multi_write: bool = False
    automatic_failover: bool = False
    consistency: str = "Session"
    max_staleness_prefix: int | None = None
    max_interval_seconds: int | None = None

    def region(self, name: str) -> RegionView | None:
        return next((r for r in self.regions if r.key == region_key(name)), None)

    @property
    def write_region(self) -> str | None:
        return self.write_regions[0] if self.write_regions else None

    def is_write_region(self, name: str) -> bool:
        return self.write_region is not None and region_key(self.write_region) == region_key(name)

    def facts(self) -> dict[str, object]:
        return {
            "account_id": self.id,
            "write_region": self.write_region,
            "regions": [
                {"name": r.name, "failover_priority": r.failover_priority, "offline": r.offline}
                for r in sorted(self.regions, key=lambda r: r.failover_priority)
            ],
            "consistency": self.consistency,
            "enable_automatic_failover": self.automatic_failover,
            "enable_multiple_write_locations": self.multi_write,
        }


class Refusal(BaseModel):
    code: str
    message: str


def refusal(view: AccountView, params: CosmosFailoverStep) -> Refusal | None:
    """Why the service would not make ``target_region`` the write region (None: it would)."""
    regions = ", ".join(r.name for r in view.regions)
    if view.multi_write:
        return Refusal(
            code="MultiRegionWrites",
            message=f"account {view.name} has multi-region writes: every region ({regions}) already takes writes, "
            "and failover priorities there only order regions for conflicts and outages. Clients fail over by their "
            "preferred regions; remove the step, or turn multi-region writes off if one write region is wanted",
        )
    if len(view.regions) < 2:
        return Refusal(
            code="SingleRegionAccount",
            message=f"account {view.name} has one region ({regions}): there is no region to fail over to; add "
            f"{params.target_region} as a region of the account (with its data replicated) before a failover",
        )
    if view.region(params.target_region) is None:
        return Refusal(
            code="TargetRegionNotInAccount",
            message=f"{params.target_region} is not a region of account {view.name} (its regions: {regions}): fix "
            "target_region, or add the region to the account first",
        )
    return None


def new_priorities(view: AccountView, target: str) -> list[tuple[str, int]]:
    """Every region with its new failover priority: the target 0, the others in their current order after it."""
    ordered = sorted(view.regions, key=lambda r: r.failover_priority)
    chosen = next(r for r in ordered if r.key == region_key(target))
    return [(r.name, index) for index, r in enumerate([chosen, *(r for r in ordered if r is not chosen)])]


def forced_rpo(view: AccountView) -> tuple[float | None, str]:
    """What taking the write region offline may lose: the account's consistency bounds it."""
    level = view.consistency
    if level == "Strong":
        return 0.0, f"Strong consistency: a write is acknowledged once every region has it: RPO 0 ({CONSISTENCY_DOC})"
    if level == "BoundedStaleness":
        if view.max_interval_seconds is None:
            return None, "unknown: Bounded staleness without maxIntervalInSeconds in the account's consistencyPolicy"
        return float(view.max_interval_seconds), (
            f"Bounded staleness: the other regions trail the write region by at most "
            f"K={view.max_staleness_prefix} versions or T={view.max_interval_seconds} s, whichever comes first; the "
            f"bound T is reported ({CONSISTENCY_DOC}: RPO K & T)"
        )
    if level in ("Session", "ConsistentPrefix", "Eventual"):
        return DOCUMENTED_LOOSE_RPO_SECONDS, (
            f"{level} consistency with one write region: documented RPO < 15 minutes ({CONSISTENCY_DOC}); an upper "
            "bound Microsoft documents, not a measurement of this account's replication"
        )
    return None, f"unknown: consistency level {level!r} has no documented RPO"


def failover_rpo(view: AccountView, kind: FailoverKind) -> tuple[float | None, str]:
    if kind == "planned":
        return 0.0, (
            "planned failover (failover priority change): Cosmos DB moves the writes once the regions agree: no "
            "data loss"
        )
    return forced_rpo(view)


def expected_kind(params: CosmosFailoverStep) -> FailoverKind:
    """What the step starts with: forced only when the plan says forced (planned_then_forced tries planned)."""
    return "forced" if params.failover_mode == "forced" else "planned"


def account_what(view_name: str, target: str) -> str:
    return f"make {target} the write region of Cosmos DB account {view_name}"
