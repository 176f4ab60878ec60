"""The operator API over real HTTP: start, watch, approve, reject, cancel; roles when enforced."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import yaml

from devstack.host import RuntimeStatus
from devstack.host.history import EventType
from dr.auth import encode_principal

from .conftest import Stack


def start(stack: Stack, plan: str = "shop", mode: str = "drill", **extra: Any) -> str:
    response = stack.call("POST", "/api/recoveries", json={"plan": plan, "mode": mode, "reason": "game day", **extra})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["plan"] == plan and body["mode"] == mode
    assert body["statusUri"].endswith(f"/api/recoveries/{body['id']}")
    assert body["approveUri"] == body["statusUri"] + "/approve" and body["cancelUri"] == body["statusUri"] + "/cancel"
    assert "code=" not in response.text  # no key in a response body
    return str(body["id"])


def view(stack: Stack, run_id: str) -> dict[str, Any]:
    response = stack.call("GET", f"/api/recoveries/{run_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_phase(stack: Stack, run_id: str, phase: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = view(stack, run_id)
        if current["phase"] == phase:
            return current
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never reached phase {phase}: {current}")


def test_start_watch_approve_and_read_the_report(stack: Stack) -> None:
    run_id = start(stack, mode="failover", requested_by="ana")
    waiting = wait_phase(stack, run_id, "awaiting_approval")
    assert waiting["plan"] == "shop" and waiting["mode"] == "failover" and waiting["requested_by"] == "ana"
    assert [s["status"] for s in waiting["steps"]] == ["pending", "pending"]
    # a second failover of the same plan is refused while this one is in progress
    second = stack.call("POST", "/api/recoveries", json={"plan": "shop", "mode": "failover", "reason": "again"})
    assert second.status_code == 409 and run_id in second.json()["error"]["message"]
    approved = stack.call("POST", f"/api/recoveries/{run_id}/approve", json={"by": "bo", "reason": "primary gone"})
    assert approved.status_code == 202 and approved.json()["by"] == "bo"
    done = stack.host.engine.wait(run_id, timeout=30)
    assert done.runtime_status is RuntimeStatus.COMPLETED
    final = view(stack, run_id)
    assert final["status"] == "Succeeded" and final["phase"] == "done"
    assert all(s["status"] == "succeeded" and s["elapsed_seconds"] is not None for s in final["steps"])
    assert final["approval"]["decision"] == "approved" and final["approval"]["by"] == "bo"
    report = stack.call("GET", f"/api/recoveries/{run_id}/report").json()
    assert report["approval"]["reason"] == "primary gone"
    listed = stack.call("GET", "/api/recoveries?plan=shop").json()["runs"]
    assert run_id in [r["id"] for r in listed]
    # a finished run cannot be approved or canceled again
    assert stack.call("POST", f"/api/recoveries/{run_id}/approve", json={"by": "bo"}).status_code == 409
    assert stack.call("POST", f"/api/recoveries/{run_id}/cancel", json={"reason": "x"}).status_code == 409


def test_reject_records_who_and_why(stack: Stack) -> None:
    run_id = start(stack, mode="failover")
    wait_phase(stack, run_id, "awaiting_approval")
    response = stack.call("POST", f"/api/recoveries/{run_id}/reject", json={"by": "cy", "reason": "false alarm"})
    assert response.status_code == 202
    report = stack.host.engine.wait(run_id, timeout=30).output
    assert report["status"] == "Rejected"
    assert report["approval"] == {**report["approval"], "decision": "rejected", "by": "cy", "reason": "false alarm"}
    assert all(s["status"] == "pending" for s in report["steps"])


def test_cancel_lets_the_run_end_itself_and_write_its_canceled_report(stack: Stack) -> None:
    run_id = start(stack, mode="failover")
    wait_phase(stack, run_id, "awaiting_approval")
    response = stack.call("POST", f"/api/recoveries/{run_id}/cancel", json={"by": "dee", "reason": "wrong region"})
    assert response.status_code == 202, response.text
    assert response.json()["canceled_by"] == "dee" and response.json()["mode"] == "graceful"
    status = stack.host.engine.wait(run_id, timeout=30)
    assert status.runtime_status is RuntimeStatus.COMPLETED  # ended by itself, not terminated
    report = stack.call("GET", f"/api/recoveries/{run_id}/report").json()
    assert report["status"] == "Canceled" and report["canceled"]["by"] == "dee"
    assert report["rto_seconds"] is None
    view = stack.call("GET", f"/api/recoveries/{run_id}").json()
    assert {s["status"] for s in view["steps"]} == {"canceled"}  # nothing shown running under a finished run
    again = stack.call("POST", f"/api/recoveries/{run_id}/cancel", json={"reason": "again"})
    assert again.status_code == 409


def test_cancel_reaches_a_running_step_and_the_run_forwards_it_through_its_durable_client(stack: Stack) -> None:
    """A graceful cancel while a step polls: the step stops at its next poll. The run also raises the cancel to
    the first steps it started (forward_cancel, an activity with a Durable client binding): here through the
    host's real HTTP API, and the step takes the second cancel as a no-op."""
    plan = {
        "name": "polling",
        "steps": [
            {"id": "probe", "kind": "health_check", "url": stack.health.url(), "attempts": 100, "interval": "PT0.5S"}
        ],
    }
    (stack.plans_dir / "polling.yaml").write_text(yaml.safe_dump(plan))
    stack.health.status = 503
    try:
        run_id = start(stack, plan="polling", mode="drill")
        deadline = time.monotonic() + 20
        # Before the run's first status, its view lists no step yet.
        while [s["status"] for s in view(stack, run_id)["steps"]] != ["running"]:
            assert time.monotonic() < deadline, view(stack, run_id)
            time.sleep(0.1)
        response = stack.call("POST", f"/api/recoveries/{run_id}/cancel", json={"by": "dee", "reason": "enough"})
        assert response.status_code == 202, response.text
        report = stack.host.engine.wait(run_id, timeout=30).output
    finally:
        stack.health.status = 200
    probe = report["steps"][0]
    assert report["status"] == "Canceled" and probe["status"] == "canceled"
    assert "canceled by dee; stopped at: attempt" in probe["detail"]["summary"]
    status = stack.host.engine.get_status(run_id)
    scheduled = [e for e in status.events_of_type(EventType.TASK_SCHEDULED) if e["Name"] == "forward_cancel"]
    assert len(scheduled) == 1
    assert status.events_of_type(EventType.TASK_FAILED) == []
    assert not any("may not have reached" in w for w in report.get("warnings", []))


def test_hard_cancel_terminates_and_writes_a_canceled_report(stack: Stack) -> None:
    run_id = start(stack, mode="failover")
    wait_phase(stack, run_id, "awaiting_approval")
    body = {"by": "dee", "reason": "wrong region", "hard": True}
    response = stack.call("POST", f"/api/recoveries/{run_id}/cancel", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["canceled_by"] == "dee" and response.json()["mode"] == "hard"
    assert stack.host.engine.get_status(run_id).runtime_status is RuntimeStatus.TERMINATED
    report = stack.call("GET", f"/api/recoveries/{run_id}/report").json()
    assert report["status"] == "Canceled"
    assert report["canceled"]["by"] == "dee" and report["canceled"]["reason"] == "wrong region"
    assert {s["status"] for s in report["steps"]} == {"canceled"}


def test_drill_needs_no_approval_by_default(stack: Stack) -> None:
    run_id = start(stack, mode="drill")
    report = stack.host.engine.wait(run_id, timeout=30).output
    assert report["status"] == "Succeeded" and report["mode"] == "drill"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/recoveries", {"plan": "ghost", "mode": "drill", "reason": "x"}, 404, "PlanNotFound"),
        ("/api/recoveries", {"plan": "shop", "mode": "sideways", "reason": "x"}, 400, "InvalidRequest"),
        ("/api/recoveries", {"plan": "shop", "mode": "drill"}, 400, "InvalidRequest"),
        ("/api/recoveries", {"plan": "shop", "reason": "x", "surprise": 1}, 400, "InvalidRequest"),
        ("/api/recoveries/nope--drill--x/approve", {"by": "a"}, 404, "RunNotFound"),
        ("/api/recoveries/nope--drill--x/cancel", {}, 404, "RunNotFound"),
    ],
)
def test_bad_requests_say_what_was_wrong_and_start_nothing(
    stack: Stack, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = len(stack.instances())
    response = stack.call("POST", path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert len(stack.instances()) == before


def test_unknown_run_and_missing_report(stack: Stack) -> None:
    assert stack.call("GET", "/api/recoveries/nope").status_code == 404
    assert stack.call("GET", "/api/recoveries/nope/report").json()["error"]["code"] == "ReportNotFound"


def test_roles_are_checked_when_enforced(stack: Stack, roles_enforced: None) -> None:
    body = {"plan": "shop", "mode": "failover", "reason": "x"}
    anonymous = stack.call("POST", "/api/recoveries", json=body)
    assert anonymous.status_code == 403
    approver = {"x-ms-client-principal": encode_principal("bo@contoso.com", ["dr.approver"])}
    operator = {"x-ms-client-principal": encode_principal("ana@contoso.com", ["dr.operator"])}
    assert stack.call("POST", "/api/recoveries", json=body, headers=approver).status_code == 403
    started = stack.call("POST", "/api/recoveries", json=body, headers=operator)
    assert started.status_code == 202
    run_id = started.json()["id"]
    assert stack.call("GET", f"/api/recoveries/{run_id}").status_code == 403
    assert stack.call("GET", f"/api/recoveries/{run_id}", headers=approver).status_code == 200
    stack.host.engine.wait_for_custom_status(
        run_id, lambda custom: isinstance(custom, dict) and custom.get("phase") == "awaiting_approval", skip_time=False
    )
    assert stack.call("POST", f"/api/recoveries/{run_id}/approve", json={}, headers=operator).status_code == 403
    approved = stack.call("POST", f"/api/recoveries/{run_id}/approve", json={"by": "spoofed"}, headers=approver)
    assert approved.status_code == 202 and approved.json()["by"] == "bo@contoso.com"  # the signed-in name wins
    report = stack.host.engine.wait(run_id, timeout=30).output
    assert report["requested_by"] == "ana@contoso.com" and report["approval"]["by"] == "bo@contoso.com"


def _nameless(roles: list[str]) -> dict[str, str]:
    claims = [{"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "val": r} for r in roles]
    document = {"auth_typ": "aad", "claims": claims}
    return {"x-ms-client-principal": base64.b64encode(json.dumps(document).encode()).decode()}


def test_with_roles_enforced_by_comes_from_the_principal_never_the_body(stack: Stack, roles_enforced: None) -> None:
    operator = {"x-ms-client-principal": encode_principal("ana@contoso.com", ["dr.operator"])}
    # A failover waits at its approval gate: the run is still there to cancel (a drill may finish first).
    body = {"plan": "shop", "mode": "failover", "reason": "x", "requested_by": "spoofed"}
    started = stack.call("POST", "/api/recoveries", json=body, headers=operator)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    reader = {"x-ms-client-principal": encode_principal("bo@contoso.com", ["dr.approver"])}
    deadline = time.monotonic() + 20
    while stack.call("GET", f"/api/recoveries/{run_id}", headers=reader).json()["phase"] != "awaiting_approval":
        assert time.monotonic() < deadline, "the failover never reached its approval gate"
        time.sleep(0.1)
    # An approver whose principal has no name claim cannot record any name it likes.
    nameless = stack.call(
        "POST", f"/api/recoveries/{run_id}/approve", json={"by": "anyone"}, headers=_nameless(["dr.approver"])
    )
    assert nameless.status_code == 403 and "name claim" in nameless.text
    nameless_cancel = stack.call(
        "POST", f"/api/recoveries/{run_id}/cancel", json={"by": "x"}, headers=_nameless(["dr.operator"])
    )
    assert nameless_cancel.status_code == 403
    canceled = stack.call("POST", f"/api/recoveries/{run_id}/cancel", json={"by": "spoofed"}, headers=operator)
    assert canceled.status_code == 202 and canceled.json()["canceled_by"] == "ana@contoso.com"


@pytest.mark.parametrize(
    "path",
    [
        "/api/recoveries/..%2F..%2Fdr-state%2Fx/report",
        "/api/recoveries/..%2F..%2Fdr-state%2Fx",
        "/api/recoveries/shop--drill--op-1%2F..%2Fx/report",
    ],
)
def test_instance_ids_are_validated_before_they_reach_storage(
    stack: Stack, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dr.report

    names: list[str] = []
    real = dr.report.report_blob_name
    monkeypatch.setattr(
        dr.report, "report_blob_name", lambda instance_id: names.append(instance_id) or real(instance_id)
    )
    response = stack.call("GET", path)
    assert response.status_code in (400, 404), response.text
    # No blob name was ever built from it (runs of earlier tests may still write their own reports meanwhile).
    assert not [name for name in names if ".." in name or "/" in name]
