"""The storage_account_failover and app_scale kinds against the devstack ARM emulator, through the real
azure-mgmt-storage and azure-mgmt-web clients the app uses.

One emulator serves the activity tests (tests/activities/conftest.py); every test gets it reset and seeded with a
small estate (an RA-GRS account primary in East US; a standby App Service plan and app in West US, and a drill plan
and app beside them), its clock frozen at NOW, so Last Sync Times and RPO figures are exact. Long-running
operations run "for an hour" and finish when a test says so (`arm.finish_operations()`): each test decides what a
poll sees.
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.failback import FailoverToUndo, failback_plan
from dr.plan import StepBase, parse_plan
from tests.activities import kind_calls
from tests.arm_fixtures import Clock, arm_client, fresh_emulator

SUB = "00000000-0000-0000-0000-0000000000c1"
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


@pytest.fixture
def arm(emulator: ArmEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> ArmEmulator:
    """The emulator, reset and seeded; the app's settings point at it."""
    fresh_emulator(emulator, clock, monkeypatch).seed(estate())
    return emulator


def storage_client(arm: ArmEmulator) -> Any:
    from azure.mgmt.storage import StorageManagementClient

    return arm_client(StorageManagementClient, arm, SUB)


def web_client(arm: ArmEmulator) -> Any:
    from azure.mgmt.web import WebSiteManagementClient

    return arm_client(WebSiteManagementClient, arm, SUB)


class Driver(kind_calls.Driver):
    def __init__(self, step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1") -> None:
        super().__init__(step, plan_name="shop", mode=mode, run_id=run_id)


def failback_step(arm: ArmEmulator, step: dict[str, Any]) -> StepBase:
    """The step a failback plan runs to undo `step`'s failover: the failover driven to its end (its operations
    finished), its report entry handed to dr.failback."""
    failover = Driver(step)
    failover.begin()
    arm.finish_operations()
    done = failover.poll()
    plan = parse_plan(
        {
            "name": "shop",
            "steps": [step],
            "failback": {"primary_health": {"urls": ["https://shop-eus.example.com/health"]}},
        }
    )
    entry = {"id": step["id"], "kind": step["kind"], "status": "succeeded", "detail": done.detail}
    return failback_plan(plan, FailoverToUndo.from_report({"instance_id": "run-1", "steps": [entry]})).plan.steps[0]
