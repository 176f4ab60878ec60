"""Alerts meet the plan's state (dr.plan_state) over real HTTP: anti-flap within the cool-down, no second
failover of a plan already failed over, and a failback started by an alert about the secondary."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from devstack.alert_samples import alert
from dr.clients import get_clients
from dr.plan import PlanRegions
from dr.plan_state import PlanState, after_run, write_plan_state
from dr.report import write_report
from dr.run import RunReport

from .conftest import Stack

PLAN = "home"
FAILOVER_RUN = "home--failover--op-20261130T030000-abcdef"
REGIONS = PlanRegions(primary="eastus", secondary="westus")


@pytest.fixture
def failed_over(stack: Stack) -> Iterator[None]:
    """Plan 'home' failed over by FAILOVER_RUN (its report stored), its cool-down of PT10M long past."""
    plan = {
        "name": PLAN,
        "trigger": {"alert_rules": ["home-primary-down"]},
        "regions": REGIONS.model_dump(),
        "cooldown": "PT10M",
        "steps": [{"id": "verify", "kind": "health_check", "url": stack.health.url()}],
        "failback": {
            "trigger": {"alert_rules": ["home-secondary-down"]},
            "primary_health": {"urls": [stack.health.url()], "probes": 3, "over": "PT1H"},
        },
    }
    path = stack.plans_dir / "home.yaml"
    path.write_text(yaml.safe_dump(plan))
    switched_at = datetime.now(UTC) - timedelta(hours=1)
    _set_state(switched_at)
    report = {
        "instance_id": FAILOVER_RUN,
        "plan": PLAN,
        "mode": "failover",
        "status": "Succeeded",
        "trigger": {"source": "operator"},
        "started_at": "2026-11-30T03:00:00Z",
        "finished_at": "2026-11-30T03:01:00Z",
        "rto_seconds": 60.0,
        "rpo_estimate_seconds": None,
        "steps": [{"id": "verify", "kind": "health_check", "status": "succeeded", "detail": {}}],
    }
    write_report(get_clients(), RunReport.model_validate(report))
    yield
    path.unlink()


def _set_state(switched_at: datetime) -> None:
    state = after_run(
        PlanState.of(PLAN, REGIONS),
        REGIONS,
        run_id=FAILOVER_RUN,
        mode="failover",
        status="Succeeded",
        traffic_statuses=["succeeded"],
        at=switched_at,
    )
    write_plan_state(get_clients(), state)


def _alert(rule: str) -> dict[str, Any]:
    return alert(
        rule=rule,
        alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}",
        alertTargetIDs=["/subscriptions/s/resourcegroups/home-elsewhere"],  # no other plan's target
    )


@pytest.mark.usefixtures("failed_over")
def test_a_primary_alert_for_a_plan_already_failed_over_starts_nothing(stack: Stack) -> None:
    response = stack.post_alert(_alert("home-primary-down"))
    assert response.status_code == 200, response.text
    assert "already failed over: westus serves" in response.json()["ignored"]
    assert not [i for i in stack.instances() if i.instance_id.startswith(f"{PLAN}--")]


@pytest.mark.usefixtures("failed_over")
def test_within_the_cool_down_an_alert_starts_nothing_and_says_until_when(stack: Stack) -> None:
    switched_at = datetime.now(UTC) - timedelta(minutes=2)
    _set_state(switched_at)
    response = stack.post_alert(_alert("home-secondary-down"))
    assert response.status_code == 200, response.text
    (detail,) = response.json()["details"]
    assert "cool-down of PT10M" in detail["ignored"]
    until = datetime.fromisoformat(detail["until"].replace("Z", "+00:00"))
    assert abs((until - (switched_at + timedelta(minutes=10))).total_seconds()) < 1
    assert not [i for i in stack.instances() if i.instance_id.startswith(f"{PLAN}--")]


@pytest.mark.usefixtures("failed_over")
def test_an_alert_about_the_secondary_starts_a_failback_that_waits_for_the_primary(stack: Stack) -> None:
    response = stack.post_alert(_alert("home-secondary-down"))
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    assert run_id.startswith(f"{PLAN}--failback--alert-")
    status = stack.call("GET", f"/api/recoveries/{run_id}").json()
    assert status["mode"] == "failback" and status["phase"] in ("starting", "primary_health")
    # A retry of the same alert finds it; the plan's lock keeps a failover out meanwhile.
    cancel = stack.call("POST", f"/api/recoveries/{run_id}/cancel", json={"reason": "test over", "hard": True})
    assert cancel.status_code in (200, 202), cancel.text
