"""The data-tier kinds (cosmos_failover, postgresql_promote) against the devstack ARM emulator, through the real
azure-mgmt-cosmosdb and azure-mgmt-postgresqlflexibleservers clients the app uses.

One emulator serves the activity tests (tests/activities/conftest.py); every test gets it reset and seeded with
the data estate below, its clock frozen at NOW. Long-running operations run "for an hour" and finish only when a
test says so (`arm.finish_operations()`): each test decides what a poll sees.
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack.arm import ArmEmulator
from devstack.arm.cosmosdb.models import OPERATION_KINDS as COSMOS_KINDS
from devstack.arm.postgresql.models import OPERATION_KINDS as POSTGRESQL_KINDS
from tests.activities import kind_calls
from tests.arm_fixtures import Clock, arm_calls, fresh_emulator

SUB = "00000000-0000-0000-0000-0000000000d7"
RG_EUS = f"/subscriptions/{SUB}/resourceGroups/data-eus"
RG_WUS = f"/subscriptions/{SUB}/resourceGroups/data-wus"
COSMOS = f"{RG_EUS}/providers/Microsoft.DocumentDB/databaseAccounts"
PG_EUS = f"{RG_EUS}/providers/Microsoft.DBforPostgreSQL/flexibleServers"
PG_WUS = f"{RG_WUS}/providers/Microsoft.DBforPostgreSQL/flexibleServers"
REPLICA_LAG = 4.0
BACKUP_AGE_MINUTES = 12


def data_estate() -> dict[str, Any]:
    """Cosmos DB accounts written in East US with West US to take over (Session, Bounded staleness, Strong), one
    single-region and one multi-write account; PostgreSQL: pg-eus (geo-redundant backups) with its read replica
    pg-wus in West US, and pg-nogeo (no geo-redundant backups)."""
    two = ["East US", "West US"]
    return {
        "subscription_id": SUB,
        "resource_groups": [{"name": "data-eus", "location": "eastus"}, {"name": "data-wus", "location": "westus"}],
        "cosmosdb": {
            "accounts": [
                {"name": "shop-cosmos", "resource_group": "data-eus", "regions": two},
                {
                    "name": "bounded-cosmos",
                    "resource_group": "data-eus",
                    "regions": ["East US", "North Europe", "West US"],
                    "consistency": "BoundedStaleness",
                    "max_staleness_prefix": 1000,
                    "max_interval_in_seconds": 60,
                },
                {"name": "strong-cosmos", "resource_group": "data-eus", "regions": two, "consistency": "Strong"},
                {"name": "solo-cosmos", "resource_group": "data-eus", "regions": ["East US"]},
                {
                    "name": "multi-cosmos",
                    "resource_group": "data-eus",
                    "regions": two,
                    "multiple_write_locations": True,
                },
            ]
        },
        "postgresql": {
            "servers": [
                {
                    "name": "pg-eus",
                    "resource_group": "data-eus",
                    "geo_redundant_backup": True,
                    "backup_age_minutes": BACKUP_AGE_MINUTES,
                },
                {
                    "name": "pg-wus",
                    "resource_group": "data-wus",
                    "replica_of": "pg-eus",
                    "replication_lag_seconds": REPLICA_LAG,
                },
                {"name": "pg-nogeo", "resource_group": "data-eus"},
            ]
        },
        "settings": {
            "retry_after_seconds": 1,
            "default_operation_seconds": 3600,
            "operation_seconds": dict.fromkeys((*COSMOS_KINDS, *POSTGRESQL_KINDS), 3600),
        },
    }


@pytest.fixture
def arm(emulator: ArmEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> ArmEmulator:
    """The emulator, reset and seeded with the data estate; the app's settings point at it."""
    fresh_emulator(emulator, clock, monkeypatch).seed(data_estate())
    return emulator


class Driver(kind_calls.Driver):
    def __init__(self, step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1") -> None:
        super().__init__(step, plan_name="data", mode=mode, run_id=run_id)


def posts(arm: ArmEmulator, path_contains: str, method: str = "POST") -> list[str]:
    """The ARM requests with this method whose path contains the text (case-insensitive)."""
    return arm_calls(arm, method, path_contains)
