"""End to end: the demo's failover and drill on the whole local stack, driven only over HTTP, then the
world inspected with real clients (Azurite, the ARM emulator's SDK view, the app's public health)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.demo.runner import CONTAINERS, Api, DemoResult, drill, failover, post_outage_alert
from devstack.stack import LocalStack
from tests.unit.test_run import REPORT_KEYS

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(state_dir=tmp_path / "stack", timers=False) as running:
        yield running


def _contents(stack: LocalStack, account: str, container: str) -> dict[str, tuple[str, str | None, dict[str, str]]]:
    client = stack.blob_service(account).get_container_client(container)
    found = {}
    for blob in client.list_blobs(include=["metadata"]):
        data = client.download_blob(blob.name).readall()
        found[blob.name] = (hashlib.sha256(data).hexdigest(), blob.content_settings.content_type, dict(blob.metadata))
    return found


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_alert_driven_failover_end_to_end(stack: LocalStack, tmp_path: Path) -> None:
    said: list[str] = []
    result: DemoResult = failover(stack, Api.for_stack(stack), said.append, tmp_path)
    report = result.report
    assert report["status"] == "Succeeded", report
    for key in REPORT_KEYS:
        assert key in report
    assert report["trigger"]["source"] == "alert" and report["trigger"]["monitoring_service"] == "Resource Health"
    assert {s["status"] for s in report["steps"]} == {"succeeded"}
    assert report["rto_seconds"] > 0
    stored = Api.for_stack(stack).json("GET", f"/api/recoveries/{result.run_id}/report", (200,))
    assert stored["steps"] == report["steps"]

    # Blobs: everything as of the last sync is on the secondary, identical (bytes, content type, metadata);
    # what changed after the sync is not (the primary was unreachable at failover) and the RPO covers it.
    changed = set(result.changed_after_sync)
    for container in CONTAINERS:
        primary = _contents(stack, "primary", container)
        secondary = _contents(stack, "secondary", container)
        for name, (digest, content_type, metadata) in primary.items():
            if f"{container}/{name}" in changed:
                assert secondary.get(name, ("",))[0] != digest, f"{name} was changed after the sync"
                continue
            assert secondary[name][0] == digest, name
            assert secondary[name][1] == content_type
            assert {k: v for k, v in secondary[name][2].items() if not k.startswith("dr_")} == metadata
    first_change = min(
        _time(b.last_modified.isoformat())
        for b in stack.blob_service("primary").get_container_client("images").list_blobs()
        if f"images/{b.name}" in changed
    )
    blob_steps = [s for s in report["steps"] if s["kind"] == "blob_backup"]
    for step in blob_steps:
        detail = step["detail"]
        assert detail["source_unavailable"] and detail["warnings"]
        assert _time(detail["last_sync_at"]) <= first_change
        window = (_time(report["trigger"]["fired_at"]) - _time(detail["last_sync_at"])).total_seconds()
        assert detail["rpo_estimate_seconds"] >= window - 1
    # The failover group was forced with its primary unreachable: its loss cannot be read, so the run's RPO is
    # unknown (null), never the blob steps' smaller figure; each store says what its number rests on.
    stores = {store["step"]: store for store in report["rpo_by_store"]}
    assert report["rpo_estimate_seconds"] is None
    assert stores["shop-db"]["seconds"] is None and stores["shop-db"]["basis"].startswith("unknown")
    for step in blob_steps:
        assert stores[step["id"]]["seconds"] == step["detail"]["rpo_estimate_seconds"]
    assert report["service_restored_seconds"] is not None

    # Database: the geo-restored database is online on the secondary server, the group primary there.
    sql = stack.sql_client()
    orders = sql.databases.get("shop-wus", "shop-wus", "orders")
    assert orders.status == "Online" and orders.create_mode in (None, "Recovery")
    assert sql.failover_groups.get("shop-wus", "shop-wus", "shop-fog").replication_role == "Primary"

    # Traffic: DNS answers with the secondary, the primary endpoint is disabled, the public name is healthy.
    assert stack.arm is not None and stack.info is not None
    assert stack.arm.resolve(_profile_id("shop")).endpoint == "shop-wus"
    public = requests.get(f"{stack.info.apps_url}/shop/health", timeout=5)
    assert public.status_code == 200 and public.json()["region"] == "westus"
    profile = _endpoints(stack)
    assert profile["shop-eus"] == "Disabled" and profile["shop-wus"] == "Enabled"
    assert any("approved by" in line for line in said)


def test_drill_changes_nothing_in_production_and_cleans_up(stack: LocalStack) -> None:
    said: list[str] = []
    result = drill(stack, Api.for_stack(stack), said.append)
    assert result.report["status"] == "Succeeded", result.report
    assert result.checks and all(result.checks.values()), result.checks
    teardowns = {s["id"]: s["detail"].get("teardown") for s in result.report["steps"]}
    assert teardowns["orders-db"]["teardown"] == "deleted"


def _profile_id(name: str) -> str:
    from devstack.stack import PUBLIC_NAMES

    return PUBLIC_NAMES[name]


def _endpoints(stack: LocalStack) -> dict[str, Any]:
    return {e.name: e.endpoint_status for e in stack.traffic_client().profiles.get("shop-global", "shop").endpoints}


def test_an_unfit_secondary_stops_the_failover_before_the_database_moves(stack: LocalStack) -> None:
    """Issue case 1: with the secondary unhealthy, the SQL step forced the failover group over and then the
    traffic step refused: database in West US, traffic in East US. Pre-flight now finds the refusal first."""
    api = Api.for_stack(stack)
    stack.region_outage("eastus")
    assert stack.apps is not None
    stack.apps.regions_down.add("westus")  # the secondary's health URL answers 503
    run_id = post_outage_alert(api)
    deadline = time.monotonic() + 60
    view: dict[str, Any] = {}
    while time.monotonic() < deadline and view.get("phase") != "awaiting_approval":
        view = api.json("GET", f"/api/recoveries/{run_id}", (200,))
        time.sleep(0.3)
    failed = view["approval"]["preflight_failed"]
    assert any(line.startswith("traffic: ") for line in failed), failed

    # Approving without saying so is refused; the checks are repeated to the approver.
    plain = api.call("POST", f"/api/recoveries/{run_id}/approve", json={"by": "ana", "reason": "go"})
    assert plain.status_code == 409 and "PreflightFailed" in plain.text and "traffic" in plain.text
    api.json("POST", f"/api/recoveries/{run_id}/reject", (202,), json={"by": "ana", "reason": "secondary unfit"})
    while time.monotonic() < deadline and not (view := api.json("GET", f"/api/recoveries/{run_id}", (200,)))["report"]:
        time.sleep(0.3)
    report = view["report"]
    assert report["status"] == "Rejected" and report["preflight"]["passed"] is False

    # Nothing moved: the failover group is still secondary in West US, no database was restored, traffic as before.
    sql = stack.sql_client()
    assert sql.failover_groups.get("shop-wus", "shop-wus", "shop-fog").replication_role == "Secondary"
    assert "orders" not in {db.name for db in sql.databases.list_by_server("shop-wus", "shop-wus")}
    profile = stack.traffic_client().profiles.get("shop-global", "shop")
    enabled = {e.name: e.endpoint_status for e in profile.endpoints}
    assert enabled["shop-eus"] == "Enabled"
