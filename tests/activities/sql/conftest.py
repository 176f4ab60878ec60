"""The SQL steps against the devstack ARM emulator, through the real azure-mgmt-sql clients the app uses.

One emulator serves the activity tests (tests/activities/conftest.py); every test gets it reset, seeded with the
shop estate, and its clock frozen at NOW, so geo-backup ages and RPO figures are exact. Long-running operations
run "for an hour" and finish only when a test says so (`arm.finish_operations()`): each test decides what a poll
sees.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from devstack.arm import OPERATION_KINDS, ArmEmulator
from dr.steps.base import StepContext, StepKind
from tests.activities import kind_calls
from tests.activities.kind_calls import step_context
from tests.arm_fixtures import NOW, Clock, fresh_emulator

SUB = "00000000-0000-0000-0000-0000000000a1"
BACKUP_AGE = timedelta(minutes=45)
EUS = f"/subscriptions/{SUB}/resourceGroups/shop-eus/providers/Microsoft.Sql/servers/shop-eus"
WUS = f"/subscriptions/{SUB}/resourceGroups/shop-wus/providers/Microsoft.Sql/servers/shop-wus"
SOURCE_DB = f"{EUS}/databases/shop"
FOG_ON_WUS = f"{WUS}/failoverGroups/shop-fog"
FOG_ON_EUS = f"{EUS}/failoverGroups/shop-fog"


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


@pytest.fixture
def arm(emulator: ArmEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> ArmEmulator:
    """The emulator, reset and seeded with the shop estate; the app's settings point at it."""
    fresh_emulator(emulator, clock, monkeypatch).seed(shop_estate())
    return emulator


def make_ctx(
    step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1", now: datetime = NOW
) -> StepContext:
    return step_context(step, plan_name="shop", mode=mode, run_id=run_id, now=now)


class Driver(kind_calls.Driver):
    """The kind named first, as the SQL tests name it; teardown takes the state to undo."""

    def __init__(self, kind: StepKind[Any], step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1"):
        super().__init__(step, plan_name="shop", mode=mode, run_id=run_id)
        self.kind = kind

    def teardown(self, state: dict[str, Any] | None = None) -> dict[str, Any]:  # type: ignore[override]
        return super().teardown(state=state)
