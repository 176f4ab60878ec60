"""The SQL steps against the devstack ARM emulator, through the real azure-mgmt-sql clients the app uses.

One emulator serves the whole package (starting one costs a TLS CA and a server thread); every test gets
it reset, seeded with the shop estate, and its clock frozen at NOW, so geo-backup ages and RPO figures
are exact. Long-running operations run "for an hour" and finish only when a test says so
(`arm.finish_operations()`): each test decides what a poll sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.arm import OPERATION_KINDS, ArmEmulator
from dr.clients import reset_for_tests
from dr.plan import StepBase
from dr.steps import spec_of
from dr.steps.base import StepContext, StepKind, StepProgress

SUB = "00000000-0000-0000-0000-0000000000a1"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BACKUP_AGE = timedelta(minutes=45)
EUS = f"/subscriptions/{SUB}/resourceGroups/shop-eus/providers/Microsoft.Sql/servers/shop-eus"
WUS = f"/subscriptions/{SUB}/resourceGroups/shop-wus/providers/Microsoft.Sql/servers/shop-wus"
SOURCE_DB = f"{EUS}/databases/shop"
FOG_ON_WUS = f"{WUS}/failoverGroups/shop-fog"
FOG_ON_EUS = f"{EUS}/failoverGroups/shop-fog"


class Clock:
    """The emulator's time: frozen unless a test moves it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def shop_estate(*, fog_policy: str = "Automatic", extra_wus_databases: list[dict[str, Any]] | None = None) -> dict:
    """East US primary (server shop-eus, database shop, geo-backup 45 minutes old), West US secondary
    (server shop-wus, where a failover group shop-fog keeps a geo-secondary of 'orders')."""
    group: dict[str, Any] = {
        "name": "shop-fog",
        "primary": "shop-eus",
        "secondary": "shop-wus",
        "databases": ["orders"],
        "failover_policy": fog_policy,
        "replication_lag_seconds": 5,
    }
    if fog_policy == "Automatic":
        group["grace_period_minutes"] = 60
    return {
        "subscription_id": SUB,
        "resource_groups": [
            {"name": "shop-eus", "location": "eastus"},
            {"name": "shop-wus", "location": "westus"},
        ],
        "sql": {
            "servers": [
                {
                    "name": "shop-eus",
                    "resource_group": "shop-eus",
                    "databases": [
                        {
                            "name": "shop",
                            "sku": {"name": "S1", "tier": "Standard"},
                            "geo_backup": {"age_minutes": BACKUP_AGE.total_seconds() / 60},
                        },
                        {"name": "orders", "sku": {"name": "S0", "tier": "Standard"}},
                    ],
                },
                {"name": "shop-wus", "resource_group": "shop-wus", "databases": extra_wus_databases or []},
            ],
            "failover_groups": [group],
        },
        # Operations finish when a test says so; Retry-After 1 keeps any SDK wait short.
        "settings": {
            "retry_after_seconds": 1,
            "default_operation_seconds": 3600,
            "operation_seconds": dict.fromkeys(OPERATION_KINDS, 3600),
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
    """The emulator, reset and seeded with the shop estate; the app's settings point at it."""
    emulator, clock = _emulator
    clock.now = NOW
    emulator.reset()
    emulator.seed(shop_estate())
    monkeypatch.setenv("DR_ARM_ENDPOINT", emulator.url)
    monkeypatch.setenv("DR_ARM_CA_BUNDLE", str(emulator.ca_path))
    monkeypatch.setenv("DR_ARM_TOKEN", "devstack-arm-token")
    reset_for_tests()
    return emulator


def make_ctx(
    step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1", now: datetime = NOW
) -> StepContext:
    return StepContext(run_id=run_id, plan_name="shop", mode=mode, step=step, started_at=NOW, now=now)  # type: ignore[arg-type]


class Driver:
    """Calls a step kind the way the per-step sub-orchestration does: begin, then poll with the state."""

    def __init__(self, kind: StepKind[Any], step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1"):
        self.kind = kind
        self.step = step
        self.ctx = make_ctx(step, mode=mode, run_id=run_id)
        self.params: StepBase = spec_of(step["kind"]).params.model_validate(step)
        self.last: StepProgress | None = None

    def begin(self) -> StepProgress:
        self.last = self.kind.begin(self.ctx, self.params)
        return self.last

    def poll(self, state: dict[str, Any] | None = None) -> StepProgress:
        assert self.last is not None or state is not None
        self.last = self.kind.poll(self.ctx, self.params, state if state is not None else self.last.state, [])
        return self.last

    def teardown(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.kind.teardown(
            self.ctx, self.params, state if state is not None else (self.last.state if self.last else {})
        )


def arm_calls(arm: ArmEmulator, method: str, path_contains: str) -> list[str]:
    """Paths of the ARM requests with this method whose path contains the text (case-insensitive)."""
    return [r.path for r in arm.requests() if r.method == method and path_contains.lower() in r.path.lower()]
