"""End to end: a plan of storage_account_failover and app_scale (devstack/demo/storage_compute/) on the whole local
stack, started over the operator API, then the world inspected with real clients (azure-mgmt-storage and
azure-mgmt-web on the ARM emulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.web import WebSiteManagementClient

from devstack.demo.runner import Api
from devstack.stack import LocalStack
from tests.e2e.runs import run_report, start_run

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo" / "storage_compute"
PLAN = "shop-storage-compute"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(
        state_dir=tmp_path / "stack", timers=False, estate=DEMO / "estate.yaml", own_plans=DEMO / "plans"
    ) as running:
        yield running


def _clients(stack: LocalStack) -> tuple[StorageManagementClient, WebSiteManagementClient]:
    return stack._arm_client(StorageManagementClient), stack._arm_client(WebSiteManagementClient)


def _run(api: Api, mode: str) -> dict[str, Any]:
    """Start a run over the operator API and follow its status until it has a report."""
    return run_report(api, start_run(api, PLAN, mode, f"e2e {mode}"), timeout=240, interval=0.5)


def _steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in report["steps"]}


def test_failover_in_an_outage_fails_the_account_over_and_brings_up_the_standby(stack: LocalStack) -> None:
    assert stack.arm is not None
    stack.region_outage("eastus")

    report = _run(Api.for_stack(stack), "failover")

    assert report["status"] == "Succeeded", report
    steps = _steps(report)
    data, compute = steps["data"]["detail"], steps["compute"]["detail"]
    # East US is down: planned_if_available ran an unplanned failover, losing the writes after the Last Sync Time.
    assert data["failover_type"] == "unplanned" and "unavailable" in data["failover_type_reason"]
    assert data["primary_location_after"] == "westus" and data["sku_after"] == "Standard_LRS"
    assert data["rpo_estimate_seconds"] >= 20 and "lastSyncTime" in data["rpo_basis"]
    (store,) = report["rpo_by_store"]
    assert store["step"] == "data" and store["seconds"] == data["rpo_estimate_seconds"]
    assert report["rpo_estimate_seconds"] == data["rpo_estimate_seconds"]
    assert any("re-enable geo-redundancy" in warning for warning in data["warnings"])
    assert {check["name"] for check in data["preflight"]} >= {"geo_redundant", "can_failover", "data_at_risk"}
    assert compute["plan_before"]["capacity"] == 1 and compute["sites_before"]
    assert compute["plan_after"]["capacity"] == 3 and compute["plan_after"]["workers"] == 3
    assert report["service_restored_seconds"] is not None

    storage, web = _clients(stack)
    account = storage.storage_accounts.get_properties("shop-eus", "shopdata")
    assert (account.primary_location, account.sku.name, account.secondary_location) == ("westus", "Standard_LRS", None)
    plan = web.app_service_plans.get("shop-wus", "shop-wus-plan")
    assert (plan.sku.capacity, plan.properties.number_of_workers) == (3, 3)
    assert web.web_apps.get("shop-wus", "shop-wus-app").properties.state == "Running"
    failovers = [r for r in stack.arm.requests() if r.method == "POST" and r.path.endswith("/failover")]
    assert len(failovers) == 1


def test_drill_reads_the_account_scales_only_its_test_resources_and_puts_them_back(stack: LocalStack) -> None:
    assert stack.arm is not None

    report = _run(Api.for_stack(stack), "drill")

    assert report["status"] == "Succeeded", report
    steps = _steps(report)
    data, compute = steps["data"]["detail"], steps["compute"]["detail"]
    assert data["action"] == "none (drill: the account is only read)"
    assert data["failover_would_be"] == "planned"  # both regions up: a planned failover, no data lost
    assert data["rpo_estimate_seconds"] == 0.0
    assert compute["changes"] == [
        "scale App Service plan shop-drill-plan from 1 to 3 instance(s)",
        "start app shop-drill-app (now Stopped)",
    ]
    assert compute["teardown"]["teardown"] == "restored"
    assert report["left_behind"] in (None, [])

    storage, web = _clients(stack)
    account = storage.storage_accounts.get_properties("shop-eus", "shopdata")
    assert (account.primary_location, account.sku.name) == ("eastus", "Standard_RAGRS")
    for plan_name, app in (("shop-wus-plan", "shop-wus-app"), ("shop-drill-plan", "shop-drill-app")):
        assert web.app_service_plans.get("shop-wus", plan_name).sku.capacity == 1
        assert web.web_apps.get("shop-wus", app).properties.state == "Stopped"
    writes = [(r.method, r.path) for r in stack.arm.requests() if r.method in ("POST", "PUT", "PATCH")]
    assert not [w for w in writes if "shopdata" in w[1] or "shop-wus-plan" in w[1] or "shop-wus-app" in w[1]]
