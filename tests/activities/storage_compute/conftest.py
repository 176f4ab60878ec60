"""The storage_account_failover and app_scale kinds against the devstack ARM emulator, through the real
azure-mgmt-storage and azure-mgmt-web clients the app uses.

One emulator serves the package; every test gets it reset and seeded with a small estate (an RA-GRS account
primary in East US; a standby App Service plan and app in West US, and a drill plan and app beside them), its
clock frozen at NOW, so Last Sync Times and RPO figures are exact. Long-running operations run "for an hour" and
finish when a test says so (`arm.finish_operations()`): each test decides what a poll sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.arm import ArmEmulator, StaticTokenCredential
from dr.clients import reset_for_tests
from dr.plan import StepBase
from dr.steps import get_kind, spec_of
from dr.steps.base import StepContext, StepProgress

SUB = "00000000-0000-0000-0000-0000000000c1"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LAG_SECONDS = 30.0
RG_EUS = f"/subscriptions/{SUB}/resourceGroups/shop-eus"
RG_WUS = f"/subscriptions/{SUB}/resourceGroups/shop-wus"
ACCOUNT = f"{RG_EUS}/providers/Microsoft.Storage/storageAccounts/shopdata"
LRS_ACCOUNT = f"{RG_EUS}/providers/Microsoft.Storage/storageAccounts/shoplogs"
PLAN = f"{RG_WUS}/providers/Microsoft.Web/serverfarms/shop-wus-plan"
SITE = f"{RG_WUS}/providers/Microsoft.Web/sites/shop-wus-app"
WORKER = f"{RG_WUS}/providers/Microsoft.Web/sites/shop-wus-worker"
DRILL_PLAN = f"{RG_WUS}/providers/Microsoft.Web/serverfarms/shop-drill-plan"
DRILL_SITE = f"{RG_WUS}/providers/Microsoft.Web/sites/shop-drill-app"
CONSUMPTION_PLAN = f"{RG_WUS}/providers/Microsoft.Web/serverfarms/shop-functions"
KINDS = ("storage_account.failover", "storage_account.planned_failover", "storage_account.geo_bootstrap")


class Clock:
    """The emulator's time: frozen unless a test moves it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def estate() -> dict[str, Any]:
    return {
        "subscription_id": SUB,
        "resource_groups": [{"name": "shop-eus", "location": "eastus"}, {"name": "shop-wus", "location": "westus"}],
        "storage_accounts": [
            {
                "name": "shopdata",
                "location": "eastus",
                "resource_group": "shop-eus",
                "sku": "Standard_RAGRS",
                "replication_lag_seconds": LAG_SECONDS,
            },
            {"name": "shoplogs", "location": "eastus", "resource_group": "shop-eus", "sku": "Standard_LRS"},
        ],
        "web": {
            "plans": [
                {"name": "shop-wus-plan", "resource_group": "shop-wus", "sku": {"name": "P1v3", "tier": "PremiumV3"}},
                {"name": "shop-drill-plan", "resource_group": "shop-wus", "sku": {"name": "B1", "tier": "Basic"}},
                {
                    "name": "shop-functions",
                    "resource_group": "shop-wus",
                    "sku": {"name": "Y1", "tier": "Dynamic", "capacity": 0},
                    "kind": "functionapp",
                },
            ],
            "sites": [
                {"name": "shop-wus-app", "resource_group": "shop-wus", "plan": "shop-wus-plan", "state": "Stopped"},
                {"name": "shop-wus-worker", "resource_group": "shop-wus", "plan": "shop-wus-plan"},
                {"name": "shop-drill-app", "resource_group": "shop-wus", "plan": "shop-drill-plan", "state": "Stopped"},
            ],
        },
        # Operations finish when a test says so; Retry-After 1 keeps any SDK wait short.
        "settings": {
            "retry_after_seconds": 1,
            "default_operation_seconds": 3600,
            "operation_seconds": {**dict.fromkeys(KINDS, 3600), "serverfarm.scale": 3600},
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
def arm(_emulator: tuple[ArmEmulator, Clock], monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmEmulator]:
    """The emulator, reset and seeded; the app's settings point at it."""
    emulator, clock = _emulator
    clock.now = NOW
    emulator.reset()
    emulator.seed(estate())
    monkeypatch.setenv("DR_ARM_ENDPOINT", emulator.url)
    monkeypatch.setenv("DR_ARM_CA_BUNDLE", str(emulator.ca_path))
    monkeypatch.setenv("DR_ARM_TOKEN", "devstack-arm-token")
    reset_for_tests()
    yield emulator
    reset_for_tests()


def sdk_kwargs(arm: ArmEmulator) -> dict[str, Any]:
    """For the tests' own clients (arranging and inspecting the world, outside the code under test)."""
    return {"base_url": arm.url, "connection_verify": str(arm.ca_path), "polling_interval": 0.05}


def storage_client(arm: ArmEmulator) -> Any:
    from azure.mgmt.storage import StorageManagementClient

    return StorageManagementClient(StaticTokenCredential(), SUB, **sdk_kwargs(arm))


def web_client(arm: ArmEmulator) -> Any:
    from azure.mgmt.web import WebSiteManagementClient

    return WebSiteManagementClient(StaticTokenCredential(), SUB, **sdk_kwargs(arm))


def calls(arm: ArmEmulator, method: str, path_contains: str) -> list[str]:
    return [r.path for r in arm.requests() if r.method == method and path_contains.lower() in r.path.lower()]


class Driver:
    """Calls a kind the way the per-step sub-orchestration does: begin, then poll with the last state."""

    def __init__(self, step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1") -> None:
        self.kind = get_kind(step["kind"])
        self.params: StepBase = spec_of(step["kind"]).params.model_validate(step)
        self.ctx = StepContext(
            run_id=run_id,
            plan_name="shop",
            mode=mode,  # type: ignore[arg-type]
            step=self.params.model_dump(mode="json"),
            started_at=NOW,
            now=NOW,
        )
        self.last: StepProgress | None = None

    def at(self, now: datetime) -> Driver:
        self.ctx = self.ctx.model_copy(update={"now": now})
        return self

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
        state = self.last.state if self.last else {}
        return self.kind.teardown(self.ctx, self.params, state, previous)
