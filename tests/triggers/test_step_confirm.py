"""POST /api/recoveries/{id}/steps/{step}/confirm on the devstack host: the real app over real HTTP, reports in a
real Azurite, a real local health endpoint for the step after the manual one. The run's status shows the
waiting step with its instructions; the confirmation reaches the step; everything else is refused with a 4xx
that says why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml

from devstack.azurite import Azurite
from dr.auth import encode_principal
from tests.health_server import health_server

from . import conftest
from .conftest import app_host

INSTRUCTIONS = "Ask the payment provider to allow West US's egress IP 203.0.113.7"


class Stack(conftest.Stack):
    def start(self, mode: str = "failover") -> str:
        response = self.call("POST", "/api/recoveries", json={"plan": "runbook", "mode": mode, "reason": "outage"})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def confirm(self, run_id: str, step: str = "call", **body: Any) -> requests.Response:
        return self.call("POST", f"/api/recoveries/{run_id}/steps/{step}/confirm", json=body)

    def waiting_step(self, run_id: str, step: str = "call", timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.call("GET", f"/api/recoveries/{run_id}").json()
            found = next((s for s in view.get("steps") or [] if s["id"] == step), None)
            if found and found["status"] == "waiting":
                return dict(found)
            time.sleep(0.1)
        raise AssertionError(f"step {step} of {run_id} never showed waiting")


@pytest.fixture(scope="module")
def stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    plans_dir = tmp_path_factory.mktemp("plans")
    with health_server() as health:
        plan = {
            "name": "runbook",
            "steps": [
                {"id": "call", "kind": "manual", "instructions": INSTRUCTIONS, "timeout": "PT1H"},
                {"id": "verify", "kind": "health_check", "url": health.url(), "after": ["call"]},
            ],
        }
        (plans_dir / "runbook.yaml").write_text(yaml.safe_dump(plan))
        with app_host(azurite, plans_dir) as host:
            yield Stack(host, plans_dir, health)


def test_the_status_shows_the_wait_and_a_confirmation_lets_the_run_go_on(stack: Stack) -> None:
    run_id = stack.start()
    call = stack.waiting_step(run_id)
    assert call["waiting"]["instructions"] == INSTRUCTIONS
    assert call["waiting"]["confirm"] == f"POST /api/recoveries/{run_id}/steps/call/confirm"
    assert INSTRUCTIONS in call["summary"]
    view = stack.call("GET", f"/api/recoveries/{run_id}").json()
    assert next(s for s in view["steps"] if s["id"] == "verify")["status"] == "pending"

    confirmed = stack.confirm(run_id, by="ana", reason="provider allowed it at 03:12")
    assert confirmed.status_code == 202, confirmed.text
    assert confirmed.json() == {
        "id": run_id,
        "step": "call",
        "outcome": "done",
        "by": "ana",
        "statusUri": f"{stack.host.url}/api/recoveries/{run_id}",
    }
    report = stack.host.engine.wait(run_id, timeout=30).output
    assert report["status"] == "Succeeded"
    detail = report["steps"][0]["detail"]
    assert detail["confirmed_by"] == "ana" and detail["reason"] == "provider allowed it at 03:12"
    assert detail["instructions"] == INSTRUCTIONS

    late = stack.confirm(run_id, by="ana")
    assert late.status_code == 409 and late.json()["error"]["code"] == "RunEnded"


def test_what_cannot_be_confirmed_is_refused_with_the_reason(stack: Stack) -> None:
    run_id = stack.start()
    stack.waiting_step(run_id)
    cases = [
        (stack.confirm(run_id, step="nope", by="ana"), 404, "StepNotFound"),
        (stack.confirm(run_id, step="verify", by="ana"), 409, "NotAManualStep"),
        (stack.confirm(run_id, reason="no name"), 409, "Conflict"),
        (stack.confirm(run_id, by="ana", outcome="maybe"), 400, "InvalidRequest"),
        (stack.confirm(run_id, by="ana", extra=1), 400, "InvalidRequest"),
        (stack.confirm("shop--failover--op-20261130T120000-abcdef", by="ana"), 404, "RunNotFound"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
    assert stack.confirm(run_id, step="..%2F..", by="ana").status_code == 404
    assert stack.call("POST", f"/api/recoveries/{run_id}/steps/call/confirm", json={}).status_code == 409
    no_key = requests.post(f"{stack.host.url}/api/recoveries/{run_id}/steps/call/confirm", json={"by": "a"}, timeout=10)
    assert no_key.status_code == 401

    failed = stack.confirm(run_id, by="bo", outcome="failed", reason="the provider's line is dead")
    assert failed.status_code == 202, failed.text
    report = stack.host.engine.wait(run_id, timeout=30).output
    assert report["status"] == "Failed"
    call, verify = report["steps"]
    assert call["status"] == "failed" and "the provider's line is dead" in call["detail"]["summary"]
    assert verify["status"] == "skipped"


def test_with_roles_enforced_an_operator_confirms_as_the_signed_in_name(stack: Stack, roles_enforced: None) -> None:
    operator = {"x-ms-client-principal": encode_principal("ana@contoso.com", ["dr.operator"])}
    approver = {"x-ms-client-principal": encode_principal("bo@contoso.com", ["dr.approver"])}
    started = stack.call(
        "POST", "/api/recoveries", json={"plan": "runbook", "mode": "drill", "reason": "rehearsal"}, headers=operator
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    stack.host.engine.wait_for_custom_status(
        f"{run_id}:call", lambda custom: isinstance(custom, dict) and bool(custom.get("waiting")), skip_time=False
    )
    path = f"/api/recoveries/{run_id}/steps/call/confirm"
    assert stack.call("POST", path, json={"by": "bo"}, headers=approver).status_code == 403
    confirmed = stack.call("POST", path, json={"by": "spoofed"}, headers=operator)
    assert confirmed.status_code == 202 and confirmed.json()["by"] == "ana@contoso.com"
    report = stack.host.engine.wait(run_id, timeout=30).output
    assert report["steps"][0]["detail"]["confirmed_by"] == "ana@contoso.com"
