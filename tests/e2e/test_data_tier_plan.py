"""End to end: the data-tier plan (devstack/demo/data_tier/) on the whole local stack, driven only over HTTP: a
drill that changes nothing in production and deletes its restored server, then, with East US down, a failover
that forces the Cosmos DB account's writes to West US, promotes the orders replica and geo-restores the reports
database; the world is then inspected with the real azure-mgmt-cosmosdb and -postgresqlflexibleservers clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.cosmosdb import CosmosDBManagementClient
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

from devstack.demo.runner import Api
from devstack.stack import LocalStack
from tests.e2e.runs import run_report, start_run
from tests.unit.test_run import REPORT_KEYS

pytestmark = pytest.mark.slow

DATA_TIER = Path(__file__).resolve().parents[2] / "devstack" / "demo" / "data_tier"
PLAN = "shop-data-tier"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(
        state_dir=tmp_path / "stack", timers=False, estate=DATA_TIER / "estate.yaml", plans_dir=DATA_TIER / "plans"
    ) as running:
        yield running


def _run(api: Api, mode: str, reason: str) -> dict[str, Any]:
    """Start a run of the plan over the operator API and follow it to its report."""
    return run_report(api, start_run(api, PLAN, mode, reason), timeout=120, interval=0.3)


def _cosmos(stack: LocalStack) -> CosmosDBManagementClient:
    return stack._arm_client(CosmosDBManagementClient)  # type: ignore[no-any-return]


def _postgresql(stack: LocalStack) -> PostgreSQLManagementClient:
    return stack._arm_client(PostgreSQLManagementClient)  # type: ignore[no-any-return]


def _write_region(stack: LocalStack) -> str:
    return str(
        _cosmos(stack).database_accounts.get("data-eus", "shop-catalog").properties.write_locations[0].location_name
    )


def test_drill_then_failover_of_the_data_tier(stack: LocalStack) -> None:
    api = Api.for_stack(stack)
    pg = _postgresql(stack)

    drill = _run(api, "drill", "weekly data-tier drill")
    assert drill["status"] == "Succeeded", drill
    steps = {step["id"]: step for step in drill["steps"]}
    assert steps["catalog"]["detail"]["action"] == "none (drill: the account is only read)"
    assert steps["orders"]["detail"]["promotion_would_be"] == "planned"
    assert steps["reports"]["detail"]["target_server_id"].endswith("/shop-reports-wus-drill")
    assert steps["reports"]["detail"]["teardown"]["teardown"] == "deleted"
    # Production untouched, the drill's server gone.
    assert _write_region(stack) == "East US"
    assert pg.servers.get("data-wus", "shop-orders-wus").properties.replication_role == "GeoAsyncReplica"
    for name in ("shop-reports-wus-drill", "shop-reports-wus"):
        with pytest.raises(ResourceNotFoundError):
            pg.servers.get("data-wus", name)

    stack.region_outage("eastus")
    report = _run(api, "failover", "East US is down")
    assert report["status"] == "Succeeded", report
    for key in REPORT_KEYS:
        assert key in report
    steps = {step["id"]: step for step in report["steps"]}

    # Cosmos DB: the planned change could not reach East US, so East US was taken offline; West US writes.
    catalog = steps["catalog"]["detail"]
    assert catalog["failover_ran"] == "forced" and catalog["original_write_region"] == "East US"
    assert _write_region(stack) == "West US"
    locations = _cosmos(stack).database_accounts.get("data-eus", "shop-catalog").properties.locations
    assert {loc.location_name: loc.provisioning_state for loc in locations}["East US"] == "Offline"

    # PostgreSQL: the replica promoted (forced: its primary unreachable), the reports database restored.
    orders = pg.servers.get("data-wus", "shop-orders-wus")
    assert orders.properties.replication_role == "None"
    assert steps["orders"]["detail"]["promotion_ran"] == "forced"
    reports = pg.servers.get("data-wus", "shop-reports-wus")
    assert reports.properties.state == "Ready" and reports.location == "westus"
    assert reports.tags["dr-mode"] == "failover"

    # What each store may have lost, and on what it rests; the promotion's is unknown, so the run's is too.
    stores = {store["step"]: store for store in report["rpo_by_store"]}
    assert stores["catalog"]["seconds"] == 900.0 and "< 15 minutes" in stores["catalog"]["basis"]
    assert stores["orders"]["seconds"] is None and stores["orders"]["basis"].startswith("unknown: the primary")
    assert stores["reports"]["seconds"] == 3600.0 and "RPO < 1 hour" in stores["reports"]["basis"]
    assert report["rpo_estimate_seconds"] is None
