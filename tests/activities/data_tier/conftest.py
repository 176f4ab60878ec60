"""The data-tier kinds (cosmos_failover, postgresql_promote) against the devstack ARM emulator, through the real
azure-mgmt-cosmosdb and azure-mgmt-postgresqlflexibleservers clients the app uses.

One emulator serves the package; every test gets it reset and seeded with the data estate below, its clock
frozen at NOW. Long-running operations run "for an hour" and finish only when a test says so
(`arm.finish_operations()`): each test decides what a poll sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devstack.arm import ArmEmulator
from devstack.arm.cosmosdb.models import OPERATION_KINDS as COSMOS_KINDS
from devstack.arm.postgresql.models import OPERATION_KINDS as POSTGRESQL_KINDS
from dr.clients import reset_for_tests
from dr.plan import StepBase
from dr.steps import spec_of
from dr.steps.base import StepContext, StepKind, StepProgress

SUB = "00000000-0000-0000-0000-0000000000d7"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RG_EUS = f"/subscriptions/{SUB}/resourceGroups/data-eus"
RG_WUS = f"/subscriptions/{SUB}/resourceGroups/data-wus"
COSMOS = f"{RG_EUS}/providers/Microsoft.DocumentDB/databaseAccounts"
PG_EUS = f"{RG_EUS}/providers/Microsoft.DBforPostgreSQL/flexibleServers"
PG_WUS = f"{RG_WUS}/providers/Microsoft.DBforPostgreSQL/flexibleServers"
REPLICA_LAG = 4.0
BACKUP_AGE_MINUTES = 12


class Clock:
    """The emulator's time: frozen unless a test moves it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


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


@pytest.fixture(scope="session")
def _emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ArmEmulator, Clock]]:
    clock = Clock()
    with ArmEmulator(state_dir=Path(tmp_path_factory.mktemp("arm")), clock=clock) as arm:
        yield arm, clock


@pytest.fixture
def clock(_emulator: tuple[ArmEmulator, Clock]) -> Clock:
    return _emulator[1]


@pytest.fixture
def arm(_emulator: tuple[ArmEmulator, Clock], monkeypatch: pytest.MonkeyPatch) -> ArmEmulator:
    """The emulator, reset and seeded with the data estate; the app's settings point at it."""
    emulator, clock = _emulator
    clock.now = NOW
    emulator.reset()
    emulator.seed(data_estate())
    monkeypatch.setenv("DR_ARM_ENDPOINT", emulator.url)
    monkeypatch.setenv("DR_ARM_CA_BUNDLE", str(emulator.ca_path))
    monkeypatch.setenv("DR_ARM_TOKEN", "devstack-arm-token")
    reset_for_tests()
    return emulator


class Driver:
    """Calls a step kind the way the per-step sub-orchestration does: begin, then poll with the state."""

    def __init__(self, step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1") -> None:
        from dr.steps import get_kind

        self.kind: StepKind[Any] = get_kind(step["kind"])
        self.ctx = StepContext(run_id=run_id, plan_name="data", mode=mode, step=step, started_at=NOW, now=NOW)  # type: ignore[arg-type]
        self.params: StepBase = spec_of(step["kind"]).params.model_validate(step)
        self.last: StepProgress | None = None

    def check(self) -> dict[str, Any]:
        return {check.name: check for check in self.kind.check(self.ctx, self.params)}

    def begin(self) -> StepProgress:
        self.last = self.kind.begin(self.ctx, self.params)
        return self.last

    def poll(self) -> StepProgress:
        assert self.last is not None
        self.last = self.kind.poll(self.ctx, self.params, self.last.state, [])
        return self.last

    def teardown(self, previous: Any = None) -> dict[str, Any]:
        return self.kind.teardown(self.ctx, self.params, self.last.state if self.last else {}, previous)


def posts(arm: ArmEmulator, path_contains: str, method: str = "POST") -> list[str]:
    """The ARM requests with this method whose path contains the text (case-insensitive)."""
    return [r.path for r in arm.requests() if r.method == method and path_contains.lower() in r.path.lower()]
