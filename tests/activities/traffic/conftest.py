"""traffic_manager_failover against the devstack ARM emulator, through the azure-mgmt-trafficmanager
client the app builds (dr.clients), with health URLs served by a real local HTTP server.

The activity tests share one emulator and one health server (tests/activities/conftest.py); every test gets the
emulator reset and its clock set to NOW (the step's ctx.now follows the same clock, so "CheckingEndpoint for 60 s"
and the verify window line up), and every health URL answering 200 again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.plan import TrafficManagerFailoverStep
from dr.steps.base import StepContext
from tests.activities.kind_calls import step_context
from tests.arm_fixtures import Clock, fresh_emulator
from tests.health_server import HealthUrls

SUB = "00000000-0000-0000-0000-0000000000b7"
GROUP = "shop-global"
PROFILES = f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Network/trafficManagerProfiles"
PROFILE_ID = f"{PROFILES}/shop"
DRILL_PROFILE_ID = f"{PROFILES}/shop-drill"


@pytest.fixture
def arm(emulator: ArmEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> ArmEmulator:
    return fresh_emulator(emulator, clock, monkeypatch)


def endpoint(name: str, location: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "ExternalEndpoints",
        "target": f"{name}.example.com",
        "location": location,
    } | fields


def seed_profile(
    arm: ArmEmulator,
    *endpoints: dict[str, Any],
    name: str = "shop",
    routing_method: str = "Priority",
    monitor: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    ttl: int = 30,
) -> None:
    """A profile in shop-global (monitor: HTTP on the health server's port, interval 10 s, 2 tolerated
    failures, TTL 30 s unless given: expected DNS convergence (2 + 1) * 10 + 30 = 60 s)."""
    arm.seed(
        {
            "subscription_id": SUB,
            "resource_groups": [{"name": GROUP, "location": "eastus"}],
            "traffic_manager": {
                "profiles": [
                    {
                        "name": name,
                        "resource_group": GROUP,
                        "routing_method": routing_method,
                        "ttl": ttl,
                        "tags": tags or {},
                        "monitor": monitor
                        or {
                            "protocol": "HTTP",
                            "port": 80,
                            "path": "/health",
                            "interval_in_seconds": 10,
                            "tolerated_number_of_failures": 2,
                        },
                        "endpoints": list(endpoints),
                    }
                ]
            },
        }
    )


def shop_priority(arm: ArmEmulator, *, name: str = "shop", wus_status: str = "Enabled") -> None:
    seed_profile(
        arm,
        endpoint("shop-eus", "eastus", priority=1),
        endpoint("shop-wus", "westus", priority=2, status=wus_status),
        name=name,
    )


def step(health: HealthUrls, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "traffic",
        "kind": "traffic_manager_failover",
        "profile_id": PROFILE_ID,
        "from_endpoints": ["shop-eus"],
        "to_endpoints": ["shop-wus"],
        "health_url": health.url("/wus/health"),
        "verify_window": "PT5M",
        "probe_timeout": "PT2S",
    }
    values.update(fields)
    return TrafficManagerFailoverStep.model_validate(values).model_dump(mode="json")


def context(
    step_fields: dict[str, Any],
    *,
    mode: str = "failover",
    run_id: str = "shop--failover--run1",
    now: datetime | None = None,
    force: bool = False,
    plan_name: str = "shop-eastus-to-westus",
) -> StepContext:
    return step_context(step_fields, plan_name=plan_name, mode=mode, run_id=run_id, now=now, force=force)
