"""What-if over HTTP: POST /api/recoveries {"mode": "what_if"} on the devstack host answers the plan's checks
and its predicted RTO and RPO at once, and changes nothing: no run, no plan lock, only GETs at the ARM
emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from devstack.arm import ArmEmulator
from devstack.azurite import Azurite
from devstack.host import HostServer
from dr.durations import iso
from tests.arm_fixtures import arm_settings
from tests.health_server import HealthServer, health_server

from .conftest import app_host

ROOT = Path(__file__).resolve().parents[2]
ESTATE = ROOT / "devstack" / "demo" / "estate.yaml"
SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups"
PLAN = "whatif-shop"


@dataclass
class WhatIfStack:
    host: HostServer
    arm: ArmEmulator
    health: HealthServer
    azurite: Azurite

    def post(self, body: dict[str, Any], **headers: str) -> requests.Response:
        return requests.post(
            f"{self.host.url}/api/recoveries",
            json=body,
            headers={"x-functions-key": self.host.function_key, **headers},
            timeout=90,
        )


def write_plan(folder: Path, health_url: str) -> None:
    plan = {
        "name": PLAN,
        "approval": {"required": True},
        "steps": [
            {
                "id": "orders-db",
                "kind": "sql_geo_restore",
                "source_database_id": f"{SUB}/shop-eus/providers/Microsoft.Sql/servers/shop-eus/databases/orders",
                "target_server_id": f"{SUB}/shop-wus/providers/Microsoft.Sql/servers/shop-wus",
            },
            {
                "id": "shop-db",
                "kind": "sql_failover_group",
                "failover_group_id": f"{SUB}/shop-wus/providers/Microsoft.Sql/servers/shop-wus/failoverGroups/shop-fog",
            },
            {
                "id": "traffic",
                "kind": "traffic_manager_failover",
                "profile_id": f"{SUB}/shop-global/providers/Microsoft.Network/trafficManagerProfiles/shop",
                "from_endpoints": ["shop-eus"],
                "to_endpoints": ["shop-wus"],
                "health_url": health_url,
                "after": ["orders-db", "shop-db"],
            },
            {"id": "verify", "kind": "health_check", "url": health_url, "after": ["traffic"]},
        ],
    }
    (folder / f"{PLAN}.yaml").write_text(yaml.safe_dump(plan))


@pytest.fixture(scope="module")
def stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhatIfStack]:
    plans_dir = tmp_path_factory.mktemp("plans")
    with health_server() as health, ArmEmulator(state_dir=tmp_path_factory.mktemp("arm")) as arm:
        arm.seed(yaml.safe_load(ESTATE.read_text()))
        write_plan(plans_dir, health.url())
        with app_host(azurite, plans_dir, arm_settings(arm)) as host:
            yield WhatIfStack(host, arm, health, azurite)


def store_past_report(azurite: Azurite, run_id: str, traffic_seconds: float) -> None:
    """A past failover's report in the reports container: its measured traffic step refines the prediction."""
    from azure.storage.blob import BlobServiceClient

    started = datetime.now(UTC) - timedelta(days=1)
    report = {
        "instance_id": run_id,
        "plan": PLAN,
        "mode": "failover",
        "status": "Succeeded",
        "rto_seconds": None,
        "steps": [
            {
                "id": "traffic",
                "kind": "traffic_manager_failover",
                "status": "succeeded",
                "started_at": iso(started),
                "finished_at": iso(started + timedelta(seconds=traffic_seconds)),
                "detail": {"mode": "failover", "already_switched": False},
            }
        ],
    }
    service = BlobServiceClient.from_connection_string(azurite.connection_string("secondary"))
    container = service.get_container_client("dr-reports")
    if not container.exists():
        container.create_container()
    container.upload_blob(f"runs/{run_id}.json", json.dumps(report), overwrite=True)


def test_what_if_answers_the_prediction_and_changes_nothing(stack: WhatIfStack) -> None:
    store_past_report(stack.azurite, f"{PLAN}--failover--alert-{'1' * 20}", 42.0)
    logged_before = len(stack.arm.control.request_log.list())
    instances_before = len(stack.host.engine.list_instances())

    response = stack.post({"plan": PLAN, "mode": "what_if", "reason": "are we ready?"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan"] == PLAN
    assert body["what_if_of"] == "failover"
    assert body["ready"] is True, body["detail"]["failed_checks"]
    assert set(body["checks"]) == {"orders-db", "shop-db", "traffic", "verify"}
    steps = {step["step"]: step for step in body["steps"]}
    assert steps["traffic"]["seconds"] == 42.0
    assert steps["traffic"]["basis"].startswith("measured: median of the newest 1 failover run(s)")
    assert steps["shop-db"]["seconds"] == 30.0 + 5.0  # planned: the documented 30 s + the estate's 5 s lag
    assert steps["orders-db"]["seconds"] == 12 * 3600.0
    assert body["critical_path"] == ["orders-db", "traffic", "verify"]
    assert body["predicted_rto_seconds"] == pytest.approx(steps["verify"]["earliest_finish_seconds"])
    stores = {store["step"]: store for store in body["stores"]}
    assert stores["shop-db"]["seconds"] == 0.0
    assert stores["orders-db"]["seconds"] == pytest.approx(20 * 60, abs=120)  # the estate's 20-minute-old backup
    assert body["predicted_rpo_seconds"] == stores["orders-db"]["seconds"]
    assert body["rpo_bound_by"] == "orders-db"

    # Nothing changed: only reads at ARM, no orchestration started, the plan's lock never taken.
    logged = stack.arm.control.request_log.list()[logged_before:]
    assert logged, "the checks read the estate"
    assert {record.method for record in logged} == {"GET"}
    assert len(stack.host.engine.list_instances()) == instances_before
    exists, _ = stack.host.engine.read_entity_state("plan_lock", PLAN)
    assert not exists


def test_what_if_of_an_unknown_plan_is_a_404(stack: WhatIfStack) -> None:
    missing = stack.post({"plan": "no-such-plan", "mode": "what_if", "reason": "r"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "PlanNotFound"


def test_a_reader_may_ask_a_what_if_but_not_start_a_run(stack: WhatIfStack, roles_enforced: None) -> None:
    """With roles enforced, a what-if (it changes nothing) needs either role, as reading runs does; a start still
    needs the operator role."""
    from tests.triggers.test_operator import encode_principal

    approver = {"x-ms-client-principal": encode_principal("bo@contoso.com", ["dr.approver"])}
    what_if = {"plan": PLAN, "mode": "what_if", "reason": "ready?"}
    assert stack.post(what_if).status_code == 403  # no principal
    assert stack.post(what_if, **approver).status_code == 200
    refused = stack.post({"plan": PLAN, "mode": "failover", "reason": "go"}, **approver)
    assert refused.status_code == 403
    assert "starting a recovery" in refused.text
