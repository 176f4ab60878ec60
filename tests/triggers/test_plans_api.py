"""Readiness on the devstack host: the readiness timers (run on demand through the admin API) evaluate plans
with dr.whatif.evaluate_plan against the ARM emulator, store each evaluation in Azurite and log a
structured warning for a plan that is not ready; GET /api/plans and /api/plans/{name} over HTTP."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.mgmt.trafficmanager import TrafficManagerManagementClient
from azure.mgmt.trafficmanager.models import Profile
from azure.storage.blob import BlobServiceClient

from devstack.arm import ArmEmulator
from devstack.azurite import Azurite
from dr.clients import get_clients
from dr.history import REGRESSION_EVENT
from dr.readiness import NOT_READY_EVENT, READY_EVENT, ReadinessRecord, read_readiness
from tests.arm_fixtures import arm_client, arm_settings

from .conftest import Stack, app_settings

SUB = "00000000-0000-0000-0000-0000000000d5"
GROUP = "shop-global"
PROFILE_ID = f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Network/trafficManagerProfiles/shop-tm"


@pytest.fixture(scope="module")
def arm(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArmEmulator]:
    """The ARM emulator, and the app's settings pointing at it (the host runs the app in this process)."""
    with ArmEmulator(state_dir=Path(tmp_path_factory.mktemp("arm"))) as emulator, app_settings(arm_settings(emulator)):
        yield emulator


def seed_profile(arm: ArmEmulator) -> None:
    endpoints = [
        {
            "name": "shop-eus",
            "type": "ExternalEndpoints",
            "target": "eus.example.com",
            "location": "eastus",
            "priority": 1,
        },
        {
            "name": "shop-wus",
            "type": "ExternalEndpoints",
            "target": "wus.example.com",
            "location": "westus",
            "priority": 2,
        },
    ]
    arm.seed(
        {
            "subscription_id": SUB,
            "resource_groups": [{"name": GROUP, "location": "eastus"}],
            "traffic_manager": {
                "profiles": [
                    {
                        "name": "shop-tm",
                        "resource_group": GROUP,
                        "routing_method": "Priority",
                        "ttl": 30,
                        "monitor": {
                            "protocol": "HTTP",
                            "port": 80,
                            "path": "/health",
                            "interval_in_seconds": 10,
                            "tolerated_number_of_failures": 2,
                        },
                        "endpoints": endpoints,
                    }
                ]
            },
        }
    )


def write_plan(stack: Stack, file: str, document: Any) -> None:
    text = document if isinstance(document, str) else yaml.safe_dump(document)
    (stack.plans_dir / file).write_text(text)


def record(plan: str) -> ReadinessRecord | None:
    return read_readiness(get_clients(), plan)


def run_timer(stack: Stack, name: str) -> None:
    response = stack.call("POST", f"/admin/functions/{name}", json={"input": ""})
    assert response.status_code == 202, response.text


def wait_for[T](probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def evaluated_after(plan: str, moment: datetime | None) -> Callable[[], ReadinessRecord | None]:
    def probe() -> ReadinessRecord | None:
        found = record(plan)
        return found if found is not None and (moment is None or found.evaluated_at > moment) else None

    return probe


def events(caplog: pytest.LogCaptureFixture, name: str, plan: str) -> list[dict[str, Any]]:
    found = []
    for entry in caplog.records:
        try:
            fields = json.loads(entry.getMessage())
        except ValueError:
            continue
        if isinstance(fields, dict) and fields.get("event") == name and fields.get("plan") == plan:
            found.append({**fields, "_level": entry.levelno})
    return found


def tm_plan(health_url: str) -> dict[str, Any]:
    return {
        "name": "tm",
        "steps": [
            {
                "id": "traffic",
                "kind": "traffic_manager_failover",
                "profile_id": PROFILE_ID,
                "from_endpoints": ["shop-eus"],
                "to_endpoints": ["shop-wus"],
                "health_url": health_url,
            }
        ],
    }


def test_a_missing_traffic_manager_profile_turns_the_plan_red_then_green_once_it_exists(
    stack: Stack, arm: ArmEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    write_plan(stack, "tm.yaml", tm_plan(stack.health.url()))

    run_timer(stack, "readiness_timer")
    red = wait_for(evaluated_after("tm", None))
    assert (red.readiness, red.ready, red.reason) == ("red", False, "checks_failed")
    assert ("traffic", "profile_exists") in {(c.step, c.check) for c in red.failed_checks}
    assert red.evaluation is not None and red.evaluation["plan"] == "tm"  # the whole evaluation is stored
    assert red.digest == hashlib.sha256((stack.plans_dir / "tm.yaml").read_bytes()).hexdigest()
    warned = wait_for(lambda: events(caplog, NOT_READY_EVENT, "tm"), timeout=10)
    assert len(warned) == 1 and warned[0]["_level"] == logging.WARNING
    line = warned[0]
    assert line["transition"] == "turned_not_ready"
    assert line["evaluated_at"] == red.evaluated_at.isoformat().replace("+00:00", "Z")
    assert {"step": "traffic", "check": "profile_exists"}.items() <= line["failed_checks"][0].items()

    listed = {p["name"]: p for p in stack.call("GET", "/api/plans").json()["plans"]}
    assert listed["tm"]["readiness"] == "red" and listed["tm"]["status"] == "valid"

    seed_profile(arm)
    run_timer(stack, "readiness_timer")
    green = wait_for(evaluated_after("tm", red.evaluated_at))
    assert (green.readiness, green.ready, green.failed_checks) == ("green", True, [])
    assert wait_for(lambda: events(caplog, READY_EVENT, "tm"), timeout=10)
    assert len(events(caplog, NOT_READY_EVENT, "tm")) == 1  # no new warning once ready

    listed = {p["name"]: p for p in stack.call("GET", "/api/plans").json()["plans"]}
    assert listed["tm"]["readiness"] == "green"
    assert listed["tm"]["evaluated_at"] is not None and listed["tm"]["stale"] is False
    assert listed["tm"]["predicted_rto_seconds"] == green.predicted_rto_seconds


def test_a_changed_plan_file_is_re_evaluated_on_the_next_short_tick(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    plan: dict[str, Any] = {
        "name": "edited",
        "steps": [{"id": "probe", "kind": "health_check", "url": stack.health.url()}],
    }
    write_plan(stack, "edited.yaml", plan)
    run_timer(stack, "readiness_changes_timer")  # no stored evaluation yet: evaluated
    first = wait_for(evaluated_after("edited", None))
    assert first.readiness == "green"
    quick = wait_for(evaluated_after("quick", None))

    run_timer(stack, "readiness_changes_timer")  # nothing changed: nothing evaluated
    time.sleep(2)
    assert record("edited") == first

    # The edit names a host that does not resolve (a failed check): the next short tick re-evaluates it.
    plan["steps"][0]["url"] = "http://edited.invalid/health"
    write_plan(stack, "edited.yaml", plan)
    run_timer(stack, "readiness_changes_timer")
    second = wait_for(evaluated_after("edited", first.evaluated_at))
    assert second.digest != first.digest
    assert second.readiness == "red"
    assert events(caplog, NOT_READY_EVENT, "edited")[-1]["transition"] == "turned_not_ready"
    time.sleep(1)
    assert record("quick") == quick  # an unchanged plan is not re-evaluated


def test_get_plans_lists_broken_files_with_file_key_and_message(stack: Stack) -> None:
    write_plan(
        stack,
        "broken.yaml",
        {
            "name": "broken",
            "drill": {"schedule": "0 0 3 * *"},
            "steps": [{"id": "probe", "kind": "health_check", "url": "not-a-url"}],
        },
    )
    write_plan(stack, "garbled.yaml", "name: garbled\nsteps: [unclosed\n")

    response = stack.call("GET", "/api/plans")
    assert response.status_code == 200, response.text
    plans = {p["file"]: p for p in response.json()["plans"]}
    broken = plans["broken.yaml"]
    assert (broken["name"], broken["status"], broken["readiness"], broken["ready"]) == (
        "broken",
        "broken",
        "red",
        False,
    )
    keys = {e["key"]: e for e in broken["errors"]}
    assert set(keys) == {"drill.schedule", "steps.probe.url"}
    assert keys["drill.schedule"]["file"] == "broken.yaml"
    assert "six fields" in keys["drill.schedule"]["message"]
    assert "pattern" in keys["steps.probe.url"]["message"]
    garbled = plans["garbled.yaml"]
    assert garbled["status"] == "broken" and garbled["readiness"] == "red"
    assert garbled["errors"][0]["key"] is None and "not valid YAML" in garbled["errors"][0]["message"]
    assert plans["quick.yaml"]["status"] == "valid" and plans["quick.yaml"]["errors"] == []

    details = stack.call("GET", "/api/plans/broken")
    assert details.status_code == 200, details.text
    assert details.json()["readiness"] == "red" and len(details.json()["errors"]) == 2
    assert stack.call("GET", "/api/plans/nothing-here").status_code == 404
    assert stack.call("GET", "/api/plans/..%2Fetc").status_code == 404
    assert stack.call("GET", "/api/plans", key=False).status_code == 401

    (stack.plans_dir / "broken.yaml").unlink()
    (stack.plans_dir / "garbled.yaml").unlink()


def put_report(
    azurite: Azurite, run_id: str, *, rto: float | None, started: datetime, status: str = "Succeeded"
) -> None:
    plan, mode, _ = run_id.split("--")
    report: dict[str, Any] = {
        "instance_id": run_id,
        "plan": plan,
        "mode": mode,
        "status": status,
        "trigger": {"source": "operator"},
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(seconds=rto or 1)).isoformat(),
        "rto_seconds": rto,
        "rpo_estimate_seconds": None,
        "steps": [],
    }
    service = BlobServiceClient.from_connection_string(azurite.connection_string("secondary"))
    container = service.get_container_client("dr-reports")
    if not container.exists():
        container.create_container()
    container.upload_blob(f"runs/{run_id}.json", json.dumps(report).encode(), overwrite=True, metadata={"plan": plan})


def test_a_drill_rto_regression_is_logged_once_and_shown(
    stack: Stack, azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    start = datetime(2026, 1, 1, 3, tzinfo=UTC)
    rtos = [100.0, 120.0, 90.0, 100.0, 110.0, 150.0]  # baseline median 100; the newest is 50 % over it
    ids = [f"quick--drill--op-202601{day + 1:02d}T030000-00000{day}" for day in range(len(rtos))]
    for day, (run_id, rto) in enumerate(zip(ids, rtos, strict=True)):
        put_report(azurite, run_id, rto=rto, started=start + timedelta(days=day))
    put_report(azurite, "quick--failover--op-20260110T030000-0000aa", rto=999.0, started=start + timedelta(days=9))

    before = record("quick")
    run_timer(stack, "readiness_timer")
    wait_for(evaluated_after("quick", before.evaluated_at if before else None))
    run_timer(stack, "readiness_timer")  # a second evaluation does not log the same drill again
    latest = wait_for(evaluated_after("quick", record("quick").evaluated_at))  # type: ignore[union-attr]
    assert latest.rto_regression is not None and latest.rto_regression.run_id == ids[-1]
    logged = events(caplog, REGRESSION_EVENT, "quick")
    assert len(logged) == 1 and logged[0]["_level"] == logging.WARNING
    assert (logged[0]["run_id"], logged[0]["rto_seconds"], logged[0]["baseline_median_seconds"]) == (
        ids[-1],
        150.0,
        100.0,
    )
    assert logged[0]["baseline_runs"] == list(reversed(ids[:-1]))

    details = stack.call("GET", "/api/plans/quick").json()
    assert details["rto_regression"]["run_id"] == ids[-1]
    # Other tests of the session run plan 'quick' too: only the reports this test wrote are compared.
    written = {*ids, "quick--failover--op-20260110T030000-0000aa"}
    mine = [entry["id"] for entry in details["history"] if entry["id"] in written]
    assert mine[:2] == ["quick--failover--op-20260110T030000-0000aa", ids[-1]]
    assert details["last_drill"]["id"] == ids[-1] and details["last_drill_rto_seconds"] == 150.0
    assert details["evaluation"]["plan"] == "quick" and details["digest"] == details["evaluation"]["digest"]
    assert isinstance(details["recent_runs"], list)
    listed = {p["name"]: p for p in stack.call("GET", "/api/plans").json()["plans"]}
    assert listed["quick"]["last_drill"]["id"] == ids[-1] and listed["quick"]["last_drill_rto_seconds"] == 150.0


# -- a precondition turned off in the emulator flips readiness within one evaluation ------------------------


def evaluate_once(stack: Stack, plan: str) -> ReadinessRecord:
    """One run of the readiness timer, and the evaluation of `plan` it stored."""
    before = record(plan)
    run_timer(stack, "readiness_timer")
    return wait_for(evaluated_after(plan, before.evaluated_at if before else None))


def ready_tm_plan(stack: Stack, arm: ArmEmulator) -> None:
    """The Traffic Manager plan, its profile in the emulator, evaluated ready."""
    seed_profile(arm)
    write_plan(stack, "tm.yaml", tm_plan(stack.health.url()))
    assert evaluate_once(stack, "tm").readiness == "green"


def failed_names(evaluated: ReadinessRecord) -> set[tuple[str, str]]:
    return {(failed.step, failed.check) for failed in evaluated.failed_checks}


def test_a_permission_taken_from_the_identity_turns_the_plan_red_in_one_evaluation(
    stack: Stack, arm: ArmEmulator
) -> None:
    ready_tm_plan(stack, arm)

    # Someone replaces the app's role with a reader's: it may still read the profile, not write it.
    arm.set_permissions("/", [])
    arm.set_permissions(PROFILE_ID, [{"actions": ["Microsoft.Network/trafficManagerProfiles/read"]}])
    try:
        red = evaluate_once(stack, "tm")
    finally:
        arm.set_permissions(PROFILE_ID, [])
        arm.set_permissions("/", [{"actions": ["*"]}])
    assert (red.readiness, red.reason) == ("red", "checks_failed")
    assert failed_names(red) == {("traffic", "permissions_profile")}
    (why,) = [failed.message for failed in red.failed_checks]
    assert "Microsoft.Network/trafficManagerProfiles/write" in why and PROFILE_ID in why

    assert evaluate_once(stack, "tm").readiness == "green"


def test_a_disabled_traffic_manager_profile_turns_the_plan_red_in_one_evaluation(
    stack: Stack, arm: ArmEmulator
) -> None:
    ready_tm_plan(stack, arm)

    profiles = arm_client(TrafficManagerManagementClient, arm, SUB).profiles
    profiles.update(GROUP, "shop-tm", Profile(profile_status="Disabled"))  # as an operator would, through ARM
    red = evaluate_once(stack, "tm")
    assert red.readiness == "red" and ("traffic", "profile_enabled") in failed_names(red)

    profiles.update(GROUP, "shop-tm", Profile(profile_status="Enabled"))
    assert evaluate_once(stack, "tm").readiness == "green"


def test_a_secondary_endpoint_failing_its_probes_turns_the_plan_red_in_one_evaluation(
    stack: Stack, arm: ArmEmulator
) -> None:
    ready_tm_plan(stack, arm)

    arm.set_target_health("wus.example.com", healthy=False)  # Traffic Manager now reports shop-wus Degraded
    try:
        red = evaluate_once(stack, "tm")
    finally:
        arm.set_target_health("wus.example.com", healthy=True)
    assert red.readiness == "red" and ("traffic", "secondary_healthy") in failed_names(red)
    assert "Degraded" in next(f.message for f in red.failed_checks if f.check == "secondary_healthy")

    assert evaluate_once(stack, "tm").readiness == "green"


def test_a_standing_sync_gone_stale_turns_the_plan_red_in_one_evaluation(stack: Stack, azurite: Azurite) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string("secondary"))
    live, copy = f"live-{int(time.time())}", f"copy-{int(time.time())}"
    service.create_container(live).upload_blob("a.txt", b"a")
    service.create_container(copy)
    account = azurite.url_for("secondary")
    write_plan(
        stack,
        "synced.yaml",
        {
            "name": "synced",
            "steps": [
                {
                    "id": "files",
                    "kind": "blob_backup",
                    "source": {"account_url": account, "container": live},
                    "target": {"account_url": account, "container": copy},
                }
            ],
        },
    )
    never = evaluate_once(stack, "synced")
    assert never.readiness == "red" and ("files", "standing_sync_fresh") in failed_names(never)

    run_timer(stack, "standing_sync_timer")  # the timer's sync of every plan's blob steps
    wait_for(lambda: list(service.get_container_client(copy).list_blobs()))
    synced = wait_for(lambda: (found := evaluate_once(stack, "synced")).ready and found)
    assert synced.readiness == "green"

    # The sync stops (its timer is off, say): once its last run is older than DR_SYNC_STALE_MINUTES, the next
    # evaluation turns the plan red and says how old it is.
    with app_settings({"DR_SYNC_STALE_MINUTES": "0.05"}):
        time.sleep(3.5)
        stale = evaluate_once(stack, "synced")
    assert stale.readiness == "red" and failed_names(stale) == {("files", "standing_sync_fresh")}
    assert "DR_SYNC_STALE_MINUTES" in stale.failed_checks[0].message
    (stack.plans_dir / "synced.yaml").unlink()
