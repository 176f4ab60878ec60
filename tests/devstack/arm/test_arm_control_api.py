"""The control API over HTTP, the seed format, and the command line (`python -m devstack.arm`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from azure.core.exceptions import HttpResponseError
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.trafficmanager import TrafficManagerManagementClient

from devstack.arm import EXAMPLE_ESTATE, OPERATION_KINDS, ArmEmulator, EstateSeed, StaticTokenCredential
from tests.arm_fixtures import arm_client

from .arm_helpers import SHOP_DB_ID, SUB, error_code

REPO = Path(__file__).resolve().parents[3]


class Control:
    def __init__(self, url: str, ca: Path) -> None:
        self.url, self.ca = url + "/_emulator", str(ca)

    def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        response = requests.request(
            method, self.url + path, json=body, params=params or None, verify=self.ca, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def control(arm: ArmEmulator) -> Control:
    return Control(arm.url, arm.ca_path)


def test_example_estate_is_a_valid_seed() -> None:
    seed = EstateSeed.model_validate(yaml.safe_load(Path(EXAMPLE_ESTATE).read_text()))

    assert [s.name for s in seed.sql.servers] == ["shop-eus", "shop-wus"]
    assert seed.sql.failover_groups[0].name == "shop-fog"
    assert [(e.name, e.priority) for e in seed.traffic_manager.profiles[0].endpoints] == [
        ("shop-eus", 1),
        ("shop-wus", 2),
    ]


def test_seed_rejects_unknown_keys(arm: ArmEmulator) -> None:
    with pytest.raises(ValueError, match="sql_servers"):
        arm.seed({"subscription_id": SUB, "sql_servers": []})


def test_reset_and_seed_over_http(control: Control, arm: ArmEmulator, sql: SqlManagementClient) -> None:
    control.call("POST", "/reset")
    with pytest.raises(HttpResponseError) as caught:
        arm_client(SqlManagementClient, arm, SUB, retry_total=0).servers.list().next()
    assert error_code(caught.value) == "SubscriptionNotFound"

    estate = yaml.safe_load(Path(EXAMPLE_ESTATE).read_text())
    response = requests.post(
        control.url + "/seed",
        data=yaml.safe_dump(estate),
        headers={"Content-Type": "application/yaml"},
        verify=control.ca,
        timeout=10,
    )
    assert response.status_code == 200
    assert sorted(s.name for s in sql.servers.list()) == ["shop-eus", "shop-wus"]


def test_bad_control_requests_are_400(control: Control) -> None:
    response = requests.post(control.url + "/faults", json={"status": 503}, verify=control.ca, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidControlRequest"


def test_settings_over_http(control: Control, arm: ArmEmulator) -> None:
    updated = control.call("PUT", "/settings", {"operation_seconds": {"database.geo_restore": 30}})

    assert updated["operation_seconds"]["database.geo_restore"] == 30
    assert arm.settings().duration_for("database.geo_restore") == 30
    response = requests.put(
        control.url + "/settings", json={"operation_seconds": {"nope": 1}}, verify=control.ca, timeout=10
    )
    assert response.status_code == 400
    assert "database.geo_restore" in OPERATION_KINDS


def test_faults_regions_health_and_resolve_over_http(control: Control, tm: TrafficManagerManagementClient) -> None:
    fault = control.call("POST", "/faults", {"path": "*/trafficmanagerprofiles/*", "status": 503, "count": 3})
    assert control.call("GET", "/faults")[0]["id"] == fault["id"]
    control.call("DELETE", "/faults")
    assert control.call("GET", "/faults") == []

    control.call("POST", "/regions/eastus/outage")
    assert [r["location"] for r in control.call("GET", "/regions")] == ["eastus"]
    answer = control.call("GET", "/trafficmanager/resolve", name="shop-devstack.trafficmanager.net")
    assert answer["endpoint"] == "shop-wus"
    assert {c["name"]: c["endpoint_monitor_status"] for c in answer["candidates"]} == {
        "shop-eus": "Degraded",
        "shop-wus": "Online",
    }
    control.call("POST", "/regions/eastus/restore")
    control.call("POST", "/health", {"target": "shop-eus.example.com", "healthy": False})
    assert tm.endpoints.get("shop-global", "shop", "ExternalEndpoints", "shop-eus").endpoint_monitor_status == (
        "Degraded"
    )


def test_operations_over_http(control: Control, arm: ArmEmulator, sql: SqlManagementClient) -> None:
    from azure.mgmt.sql.models import Database

    arm.set_operation_duration("database.create", 60)
    poller = sql.databases.begin_create_or_update("shop-wus", "shop-wus", "later", Database(location="westus"))
    [operation] = control.call("GET", "/operations")
    assert (operation["kind"], operation["status"]) == ("database.create", "InProgress")

    control.call("POST", "/operations/finish")
    assert poller.result().status == "Online"

    control.call("POST", "/operations/fail", {"kind": "database.delete", "code": "OperationCancelled"})
    with pytest.raises(HttpResponseError) as caught:
        sql.databases.begin_delete("shop-wus", "shop-wus", "later").result()
    assert error_code(caught.value) == "OperationCancelled"
    assert sql.databases.get("shop-wus", "shop-wus", "later").status == "Online"  # the delete was undone


def test_replication_lag_and_request_log_over_http(control: Control, sql: SqlManagementClient) -> None:
    database_id = SHOP_DB_ID
    control.call("PUT", "/sql/replication-lag", {"database_id": database_id, "seconds": 7.5})
    assert control.call("GET", "/sql/replication-lag", database_id=database_id)["seconds"] == 7.5

    control.call("DELETE", "/requests")
    sql.servers.get("shop-eus", "shop-eus")
    [record] = control.call("GET", "/requests")
    assert (record["method"], record["status"], record["api_version"]) == ("GET", 200, "2025-01-01")


def test_command_line_serves_seeds_and_stops_on_sigterm(tmp_path: Path) -> None:
    state_dir = tmp_path / "arm-state"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.arm",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
            "--seed",
            EXAMPLE_ESTATE,
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("ARM emulator listening on https://127.0.0.1:"), banner
        info = json.loads((state_dir / "arm.json").read_text())
        assert info["url"] in banner
        assert Path(info["ca_path"]) == (state_dir / "ca.pem").resolve()

        with SqlManagementClient(
            StaticTokenCredential(), SUB, base_url=info["url"], connection_verify=info["ca_path"]
        ) as client:
            assert client.failover_groups.get("shop-wus", "shop-wus", "shop-fog").replication_role == "Secondary"
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=20)
    assert returncode == 0
