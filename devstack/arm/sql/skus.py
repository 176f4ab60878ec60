"""Database SKUs and service objectives, and the region pairs Microsoft.Sql reports as a database's
defaultSecondaryLocation.

A request may name a SKU by service objective (`{"name": "S1"}`, `{"name": "GP_Gen5_2"}`) or by SKU name
and capacity (`{"name": "Standard", "capacity": 20}`, `{"name": "GP_Gen5", "capacity": 2}`); responses
always give the SKU name, tier and capacity, and the objective in currentServiceObjectiveName. From the
2025-01-01 examples (specification/sql/resource-manager/Microsoft.Sql/stable/2025-01-01/examples/):
CreateDatabaseCopyMode.json (request {"name": "S0", "tier": "Standard"} -> sku {"name": "Standard",
"tier": "Standard", "capacity": 10}, currentServiceObjectiveName "S0"), CreateDatabaseMin.json (the
default SKU is that S0), GetVCoreDatabase.json / ListVCoreDatabasesByServer.json (sku {"name":
"BC_Gen5", "tier": "BusinessCritical", "capacity": 2} for objective "BC_Gen5_2"),
CreateDwDatabaseCrossSubscriptionRecovery.json (DW1000c -> {"name": "DataWarehouse", "capacity": 9000}).
DTU capacities: https://learn.microsoft.com/azure/azure-sql/database/resource-limits-dtu-single-databases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ArmError

# Service objective -> (tier, DTUs).
DTU_OBJECTIVES: dict[str, tuple[str, int]] = {
    "Basic": ("Basic", 5),
    "S0": ("Standard", 10),
    "S1": ("Standard", 20),
    "S2": ("Standard", 50),
    "S3": ("Standard", 100),
    "S4": ("Standard", 200),
    "S6": ("Standard", 400),
    "S7": ("Standard", 800),
    "S9": ("Standard", 1600),
    "S12": ("Standard", 3000),
    "P1": ("Premium", 125),
    "P2": ("Premium", 250),
    "P4": ("Premium", 500),
    "P6": ("Premium", 1000),
    "P11": ("Premium", 1750),
    "P15": ("Premium", 4000),
}
DTU_TIERS = ("Basic", "Standard", "Premium")
VCORE_EDITIONS = {"GP": "GeneralPurpose", "BC": "BusinessCritical", "HS": "Hyperscale"}
_VCORE_OBJECTIVE = re.compile(r"^(?P<edition>GP|BC|HS)(?P<serverless>_S)?_(?P<family>[A-Za-z0-9]+)_(?P<capacity>\d+)$")
_VCORE_NAME = re.compile(r"^(?P<edition>GP|BC|HS)(?P<serverless>_S)?_(?P<family>[A-Za-z0-9]+)$")
_DW_OBJECTIVE = re.compile(r"^DW(?P<units>\d+)c$", re.IGNORECASE)
DW_CAPACITY_PER_UNIT = 9  # DW1000c is capacity 9000 (CreateDwDatabaseCrossSubscriptionRecovery.json)

DEFAULT_MAX_SIZE_BYTES = 268_435_456_000  # 250 GB (CreateDatabaseMin.json, GetVCoreDatabase.json)
MAX_SIZE_BYTES_BY_TIER = {
    "Basic": 2_147_483_648,
    "DataWarehouse": 263_882_790_666_240,  # CreateDwDatabaseCrossSubscriptionRecovery.json
}
VCORE_LOG_SHARE = 0.3
"""vCore databases: max log size is 30% of max data size (1024 GB -> 307 GB), per
https://learn.microsoft.com/azure/azure-sql/database/resource-limits-vcore-single-databases."""


def sku_error(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


@dataclass(frozen=True)
class ServiceObjective:
    objective: str
    """currentServiceObjectiveName: 'S1', 'GP_Gen5_2', 'DW1000c'."""
    name: str
    """sku.name: 'Standard', 'GP_Gen5', 'DataWarehouse'."""
    tier: str | None
    family: str | None = None
    capacity: int | None = None
    serverless: bool = False
    known: bool = True
    """False for a name the catalogue does not know: passed through as requested."""

    @property
    def is_vcore(self) -> bool:
        return self.tier in VCORE_EDITIONS.values()

    @property
    def kind(self) -> str:
        """The database's `kind`, as the examples show it per purchasing model."""
        if self.tier == "DataWarehouse":
            return "v12.0,user,datawarehouse,gen2"
        if self.is_vcore:
            return "v12.0,user,vcore,serverless" if self.serverless else "v12.0,user,vcore"
        return "v12.0,user"

    def wire(self) -> dict[str, Any]:
        """`sku` / `currentSku` in a response."""
        sku: dict[str, Any] = {"name": self.name}
        if self.tier is not None:
            sku["tier"] = self.tier
        if self.family is not None:
            sku["family"] = self.family
        if self.capacity is not None:
            sku["capacity"] = self.capacity
        return sku

    def stored(self, requested_tier: str | None) -> dict[str, Any]:
        """The SKU as the emulator keeps it: the service objective, plus the tier if the request gave
        one (what a client asked for, without the parts the objective implies)."""
        sku: dict[str, Any] = {"name": self.objective}
        if requested_tier is not None:
            sku["tier"] = requested_tier
        if not self.known:  # keep what cannot be derived from the name
            if self.family is not None:
                sku["family"] = self.family
            if self.capacity is not None:
                sku["capacity"] = self.capacity
        return sku


def resolve(sku: Mapping[str, Any], *, strict: bool = True) -> ServiceObjective:
    """The service objective a requested SKU names. strict: refuse a tier or capacity that contradicts
    the name with Microsoft.Sql's codes (Databases.json error list); not strict (seeds): trust the name."""
    name = str(sku.get("name") or "")
    tier = sku.get("tier")
    family = sku.get("family")
    capacity = sku.get("capacity")
    capacity = int(capacity) if capacity is not None else None
    found = _resolve(name, capacity, family)
    if not found.known:
        tier = str(tier) if tier is not None else None
        return ServiceObjective(found.objective, found.name, tier, found.family, found.capacity, known=False)
    if strict and tier is not None and str(tier).lower() != (found.tier or "").lower():
        raise sku_error("MismatchedSkuNameAndTier", "Mismatch between SKU name and tier.")
    if strict and capacity is not None and capacity != found.capacity:
        raise sku_error("MismatchedSkuNameAndCapacity", "Mismatch between SKU name and capacity.")
    return found


def _resolve(name: str, capacity: int | None, family: Any) -> ServiceObjective:
    for by_purchasing_model in (_dtu, _vcore_by_name, _data_warehouse):
        if (found := by_purchasing_model(name, capacity)) is not None:
            return found
    # Anything else (ElasticPool, Free, hardware the patterns above do not know): passed through.
    return ServiceObjective(name, name, None, str(family) if family else None, capacity, known=False)


def _dtu(name: str, capacity: int | None) -> ServiceObjective | None:
    if name in DTU_OBJECTIVES:
        tier, dtus = DTU_OBJECTIVES[name]
        return ServiceObjective(name, tier, tier, None, dtus)
    if name not in DTU_TIERS:
        return None
    # By tier name and capacity: the objective of that tier with that many DTUs (lowest if none given).
    objectives = [(o, d) for o, (t, d) in DTU_OBJECTIVES.items() if t == name]
    chosen = next((o for o, d in objectives if d == capacity), None) if capacity is not None else objectives[0][0]
    if chosen is None:
        raise sku_error("MismatchedSkuNameAndCapacity", "Mismatch between SKU name and capacity.")
    tier, dtus = DTU_OBJECTIVES[chosen]
    return ServiceObjective(chosen, name, tier, None, dtus)


def _vcore_by_name(name: str, capacity: int | None) -> ServiceObjective | None:
    if found := _VCORE_OBJECTIVE.match(name):
        return _vcore(found, int(found["capacity"]))
    if found := _VCORE_NAME.match(name):
        if capacity is None:
            raise sku_error(
                "DatabaseInvalidSkuPropertyCombination",
                "The properties of the requested sku are inconsistent: a vCore SKU name needs a capacity.",
            )
        return _vcore(found, capacity)
    return None


def _data_warehouse(name: str, capacity: int | None) -> ServiceObjective | None:
    if found := _DW_OBJECTIVE.match(name):
        units = int(found["units"])
        return ServiceObjective(f"DW{units}c", "DataWarehouse", "DataWarehouse", None, units * DW_CAPACITY_PER_UNIT)
    if name == "DataWarehouse" and capacity:
        units = capacity // DW_CAPACITY_PER_UNIT
        return ServiceObjective(f"DW{units}c", "DataWarehouse", "DataWarehouse", None, capacity)
    return None


def _vcore(found: re.Match[str], capacity: int) -> ServiceObjective:
    serverless = bool(found["serverless"])
    prefix = f"{found['edition']}{'_S' if serverless else ''}_{found['family']}"
    return ServiceObjective(
        f"{prefix}_{capacity}",
        prefix,
        VCORE_EDITIONS[found["edition"]],
        found["family"],
        capacity,
        serverless,
    )


def canonical(sku: Mapping[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """A requested SKU in the form the emulator stores (see ServiceObjective.stored)."""
    tier = sku.get("tier")
    return resolve(sku, strict=strict).stored(str(tier) if tier is not None else None)


def default_max_size_bytes(objective: ServiceObjective) -> int:
    return MAX_SIZE_BYTES_BY_TIER.get(objective.tier or "", DEFAULT_MAX_SIZE_BYTES)


# Azure region pairs: https://learn.microsoft.com/azure/reliability/cross-region-replication-azure
# (a database's defaultSecondaryLocation). Pairs are mutual unless listed one way below.
_PAIRS = (
    ("eastus", "westus"),
    ("eastus2", "centralus"),
    ("northcentralus", "southcentralus"),
    ("westus2", "westcentralus"),
    ("canadacentral", "canadaeast"),
    ("northeurope", "westeurope"),
    ("uksouth", "ukwest"),
    ("francecentral", "francesouth"),
    ("germanywestcentral", "germanynorth"),
    ("norwayeast", "norwaywest"),
    ("switzerlandnorth", "switzerlandwest"),
    ("swedencentral", "swedensouth"),
    ("eastasia", "southeastasia"),
    ("japaneast", "japanwest"),
    ("koreacentral", "koreasouth"),
    ("australiaeast", "australiasoutheast"),
    ("australiacentral", "australiacentral2"),
    ("centralindia", "southindia"),
    ("southafricanorth", "southafricawest"),
    ("uaenorth", "uaecentral"),
    ("chinanorth", "chinaeast"),
    ("chinanorth2", "chinaeast2"),
)
_ONE_WAY = {"westus3": "eastus", "brazilsouth": "southcentralus", "westindia": "southindia"}
REGION_PAIRS: dict[str, str] = {
    **dict(_PAIRS),
    **{b: a for a, b in _PAIRS},
    **_ONE_WAY,
}


def paired_region(location: str) -> str | None:
    return REGION_PAIRS.get(location.replace(" ", "").lower())
