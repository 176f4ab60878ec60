"""front_door_origins and dns_record_switch against the devstack ARM emulator, through the azure-mgmt-cdn and
azure-mgmt-dns clients the app builds (dr.clients), with health URLs served by a real local HTTP server.

The activity tests share one emulator (its clock frozen at NOW unless a test moves it, so Front Door's deployments
and the verify window line up with the step's ctx.now) and one health server (tests/activities/conftest.py); every
test starts from an empty estate with fast operations and every health URL answering 200.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.steps.base import StepContext
from tests.activities.kind_calls import step_context
from tests.arm_fixtures import Clock, fresh_emulator

SUB = "00000000-0000-0000-0000-0000000000e1"
GROUP = "edge"
CDN = f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Cdn/profiles"
ORIGIN_GROUP_ID = f"{CDN}/shop-fd/originGroups/web"
DRILL_PROFILE_ID = f"{CDN}/shop-fd-drill"
ZONE_ID = f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Network/dnsZones/shop.example.com"
FD_HOST = "shop-fd.z01.azurefd.net"
TM_HOST = "shop-bypass.trafficmanager.net"
OPERATION_SECONDS = 30.0


@pytest.fixture
def arm(emulator: ArmEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> ArmEmulator:
    fresh_emulator(emulator, clock, monkeypatch)
    emulator.configure(retry_after_seconds=0, default_operation_seconds=OPERATION_SECONDS)
    emulator.seed({"subscription_id": SUB, "resource_groups": [{"name": GROUP, "location": "eastus"}]})
    return emulator


def origin(name: str, location: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "host_name": f"{name}.example.com", "location": location} | fields


def seed_front_door(arm: ArmEmulator, *origins: dict[str, Any], name: str = "shop-fd", probe: bool = True) -> None:
    """A Front Door profile in `edge` with origin group `web` (probed over HTTPS unless probe=False)."""
    arm.seed(
        {
            "subscription_id": SUB,
            "front_door": {
                "profiles": [
                    {
                        "name": name,
                        "resource_group": GROUP,
                        "endpoints": ["shop"],
                        "origin_groups": [
                            {"name": "web", "origins": list(origins), **({} if probe else {"health_probe": None})}
                        ],
                    }
                ]
            },
        }
    )


def shop_origins(arm: ArmEmulator, *, name: str = "shop-fd", wus_enabled: bool = False) -> None:
    """The usual pair: shop-eus (eastus) serving, shop-wus (westus) standing by, disabled unless told."""
    seed_front_door(
        arm,
        origin("shop-eus", "eastus", priority=1),
        origin("shop-wus", "westus", priority=1, enabled=wus_enabled),
        name=name,
    )


def seed_zone(arm: ArmEmulator, *records: dict[str, Any]) -> None:
    arm.seed(
        {
            "subscription_id": SUB,
            "dns": {"zones": [{"name": "shop.example.com", "resource_group": GROUP, "records": list(records)}]},
        }
    )


def context(
    step_fields: dict[str, Any],
    *,
    mode: str = "failover",
    run_id: str = "edge--failover--run1",
    now: datetime | None = None,
    force: bool = False,
) -> StepContext:
    return step_context(step_fields, plan_name="edge", mode=mode, run_id=run_id, now=now, force=force)
