"""End to end: fail over, write in the secondary, bring the primary back, re-protect, fail back — on the whole
local stack over HTTP — then the end state read with real clients, and the anti-flap rule an alert meets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.demo.runner import PLAN, Api, failback, outage_alert
from devstack.stack import LocalStack

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(state_dir=tmp_path / "stack", timers=False) as running:
        yield running


def test_failover_then_failback_brings_data_traffic_and_database_home(stack: LocalStack, tmp_path: Path) -> None:
    api = Api.for_stack(stack)

    # Nothing to fail back before a failover: refused, and nothing starts.
    refused = api.call("POST", "/api/recoveries", json={"plan": PLAN, "mode": "failback", "reason": "too early"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "NotFailedOver"

    said: list[str] = []
    result = failback(stack, api, said.append, tmp_path)
    assert all(result.checks.values()), result.checks  # data, traffic, database, public name, plan state
    report = result.report
    assert report["status"] == "Succeeded" and report["mode"] == "failback"
    assert report["failback"]["of"].startswith(f"{PLAN}--failover--alert-")
    assert report["failback"]["primary_health"]["streak"] >= 3
    assert report["approval"]["decision"] == "approved"  # the plan's own approval aside, a failback asks
    assert report["estate_after"]["active"] == "primary"
    assert report["estate_after"]["protection_direction"] == "eastus → westus"
    steps = {step["id"]: step for step in report["steps"]}
    assert steps["shop-db"]["detail"]["failover_ran"] == "planned"  # home without data loss
    images = steps["images"]["detail"]
    assert images["conflicts_kept"] >= 1 and images["conflict_samples"]
    # The re-protect sync had brought West US's writes home already: the failback found nothing left to copy.
    assert images["copied"] == 0 and steps["invoices"]["detail"]["copied"] == 0
    assert any("re-protect" in line for line in said)

    # Anti-flap: an alert for the primary right after the failback starts nothing, and says until when.
    answer = api.call("POST", "/api/alerts", json=outage_alert())
    assert answer.status_code == 200, answer.text
    details = answer.json()["details"][0]
    assert "cool-down" in details["ignored"] and details["until"]
    plan = api.json("GET", f"/api/plans/{PLAN}", (200,))
    assert plan["estate"]["active"] == "primary" and plan["estate"]["failover_run_id"] is None
