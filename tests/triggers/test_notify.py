"""Notifications and the run list on the whole devstack: the real app in the devstack host driven over HTTP,
reports in a real Azurite, health checks against a real local endpoint, and a real HTTP webhook receiver.
Only the failover-group step's activities are fakes (there is no SQL here); every other step runs for real."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from devstack.azurite import Azurite
from devstack.host import HostServer
from dr import dispatch
from dr.whatif import PreflightInput, run_preflight
from tests.health_server import HealthServer, health_server
from tests.webhook_receiver import Receiver, webhook_receiver

from .conftest import app_host

SETTING = "DR_NOTIFY_WEBHOOK_OPS"
PUBLIC_URL = "https://dr.example.com"
FOG = "/subscriptions/s/resourceGroups/wus/providers/Microsoft.Sql/servers/shop-sql-wus/failoverGroups/shop-fog"


@dataclass
class Stack:
    host: HostServer
    receiver: Receiver
    health: HealthServer

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"x-functions-key": self.host.function_key}
        return requests.request(method, f"{self.host.url}{path}", headers=headers, timeout=30, **kwargs)

    def start(self, plan: str) -> str:
        response = self.call("POST", "/api/recoveries", json={"plan": plan, "mode": "failover", "reason": "outage"})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def view(self, run_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/api/recoveries/{run_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def listed(self, plan: str, run_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/api/recoveries?plan={plan}")
        assert response.status_code == 200, response.text
        return next(run for run in response.json()["runs"] if run["id"] == run_id)


def until[T](probe: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _fake_fog(operation: str) -> Callable[[dict[str, Any]], Any]:
    """The failover group's activities (no SQL here): a forced failover that loses 3 s; the rest is real."""
    real = {"check": dispatch.check, "begin": dispatch.begin, "poll": dispatch.poll}[operation]

    def call(payload: dict[str, Any]) -> Any:
        if payload["context"]["step"]["kind"] != "sql_failover_group":
            return real(payload)
        if operation == "check":
            return []
        return {"done": True, "summary": "failed over", "rpo_estimate_seconds": 3.0, "detail": {"rpo_basis": "lag"}}

    return call


def _fake_preflight(payload: dict[str, Any]) -> dict[str, Any]:
    """The preflight activity with the failover group's checks faked (no history: not what this tests)."""
    request = PreflightInput.model_validate(payload)
    return run_preflight(request, lambda: [], check=_fake_fog("check")).model_dump(mode="json")


def _write_plans(folder: Path, health: HealthServer) -> None:
    notify = {"webhook_url_setting": SETTING}
    gated = {
        "name": "notified",
        "approval": {"required": True, "timeout": "PT1H"},
        "notify": notify,
        "steps": [
            {"id": "db", "kind": "sql_failover_group", "failover_group_id": FOG, "failover_mode": "forced"},
            {
                "id": "verify",
                "kind": "health_check",
                "url": health.url(),
                "expect_body_contains": "ok",
                "after": ["db"],
            },
        ],
    }
    broken = {  # nothing listens on port 9: the verification fails, so the run does
        "name": "notified-broken",
        "notify": notify,
        "steps": [{"id": "verify", "kind": "health_check", "url": "http://127.0.0.1:9/health", "attempts": 1}],
    }
    (folder / "notified.yaml").write_text(yaml.safe_dump(gated))
    (folder / "broken.yaml").write_text(yaml.safe_dump(broken))


@pytest.fixture(scope="module")
def stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    plans_dir = tmp_path_factory.mktemp("plans")
    with health_server() as health, webhook_receiver() as receiver:
        _write_plans(plans_dir, health)
        overrides: dict[str, Callable[[dict[str, Any]], Any]] = {
            f"step_{operation}": _fake_fog(operation) for operation in ("begin", "poll")
        }
        overrides["preflight"] = _fake_preflight
        env = {"DR_PUBLIC_URL": PUBLIC_URL, SETTING: receiver.url}
        with app_host(azurite, plans_dir, env, activity_overrides=overrides) as host:
            yield Stack(host, receiver, health)


@pytest.fixture(autouse=True)
def _fresh_receiver(stack: Stack) -> None:
    stack.receiver.received.clear()
    stack.receiver.answers.clear()


def test_the_approver_is_told_what_the_run_will_do_then_how_it_ended(stack: Stack) -> None:
    run_id = stack.start("notified")
    waiting = until(lambda: (v := stack.view(run_id))["phase"] == "awaiting_approval" and v, "the approval wait")
    assert [item["action"] for item in waiting["will_do"]] == [
        "forced failover of failover group shop-fog to server shop-sql-wus (may lose data; cannot be undone)",
        f"check {stack.health.url()} answers 200 containing 'ok'",
    ]
    (told,) = stack.receiver.wait_for(1)
    assert told["event"] == "approval_wait" and told["will_do"] == waiting["will_do"]
    assert told["links"]["status"] == f"{PUBLIC_URL}/api/recoveries/{run_id}"
    assert told["links"]["approve"] == f"{PUBLIC_URL}/api/recoveries/{run_id}/approve"
    listed = stack.listed("notified", run_id)
    assert listed["duration_seconds"] is not None and listed["rto_seconds"] is None  # running: no RTO yet

    approved = stack.call("POST", f"/api/recoveries/{run_id}/approve", json={"by": "bo", "reason": "region down"})
    assert approved.status_code == 202, approved.text
    stack.host.engine.wait(run_id, timeout=30)
    finished = stack.receiver.wait_for(2)[1]
    report = stack.call("GET", f"/api/recoveries/{run_id}/report").json()
    assert report["status"] == "Succeeded" and report["warnings"] == []
    assert finished["event"] == "finished" and finished["status"] == "Succeeded"
    assert finished["rto_seconds"] == report["rto_seconds"] and finished["rpo_estimate_seconds"] == 3.0

    listed = stack.listed("notified", run_id)
    assert listed["status"] == "Succeeded" and listed["will_do"] is None
    assert listed["rto_seconds"] == report["rto_seconds"] is not None
    assert listed["rpo_estimate_seconds"] == report["rpo_estimate_seconds"] == 3.0
    assert listed["duration_seconds"] is not None and listed["duration_seconds"] > 0


def test_a_failed_run_is_notified_and_listed_without_rto_or_rpo(stack: Stack) -> None:
    run_id = stack.start("notified-broken")
    stack.host.engine.wait(run_id, timeout=60)
    (failed,) = stack.receiver.wait_for(1)
    assert failed["event"] == "failed" and failed["status"] == "Failed" and failed["run_id"] == run_id
    listed = stack.listed("notified-broken", run_id)
    assert listed["status"] == "Failed" and listed["duration_seconds"] is not None
    assert listed["rto_seconds"] is None and listed["rpo_estimate_seconds"] is None  # not recovered; unknown


def test_a_failing_webhook_leaves_the_outcome_and_keeps_its_url_secret(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack.receiver.answers.extend([500] * 10)
    run_id = stack.start("notified")
    until(lambda: stack.view(run_id)["phase"] == "awaiting_approval", "the approval wait")
    until(lambda: "'approval_wait' not delivered" in caplog.text, "the approval notification to fail", timeout=20)
    assert stack.view(run_id)["phase"] == "awaiting_approval"  # the gate still waits
    approved = stack.call("POST", f"/api/recoveries/{run_id}/approve", json={"by": "bo", "reason": "go"})
    assert approved.status_code == 202, approved.text
    stack.host.engine.wait(run_id, timeout=60)
    report = stack.call("GET", f"/api/recoveries/{run_id}/report").json()
    assert report["status"] == "Succeeded" and stack.receiver.received == []
    assert [w.split(":")[0] for w in report["warnings"]] == [
        f"notification 'approval_wait' not delivered (setting {SETTING}, host 127.0.0.1)",
        f"notification 'finished' not delivered (setting {SETTING}, host 127.0.0.1)",
    ]
    shown = json.dumps([stack.view(run_id), report, stack.listed("notified", run_id)]) + caplog.text
    assert "s3cr3t" not in shown and stack.receiver.url not in shown
