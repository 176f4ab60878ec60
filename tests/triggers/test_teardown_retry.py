"""POST /api/recoveries/{id}/teardown over real HTTP (the devstack host, Azurite for reports): which runs may
retry their drill teardown, and the retry itself rewriting the stored report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from devstack.host import RuntimeStatus
from dr.admission import RunSnapshot
from dr.clients import get_clients
from dr.errors import ConflictError
from dr.report import read_report, write_report
from dr.run import RunReport
from dr.teardown import TEARDOWN_RETRY_ORCHESTRATOR, TEARDOWN_WARNING, admit_teardown_retry

from .conftest import Stack

SOME_RUN = "quick--drill--op-20260101T000000-abcdef"  # the body is checked before the run is looked up


def start(stack: Stack, plan: str, mode: str) -> str:
    response = stack.call("POST", "/api/recoveries", json={"plan": plan, "mode": mode, "reason": "game day"})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def finished(stack: Stack, plan: str = "quick", mode: str = "drill") -> str:
    run_id = start(stack, plan, mode)
    done = stack.host.engine.wait(run_id, timeout=30)
    assert done.runtime_status is RuntimeStatus.COMPLETED, done.output
    return run_id


def retry(stack: Stack, run_id: str, body: dict[str, Any] | None = None) -> Any:
    return stack.call("POST", f"/api/recoveries/{run_id}/teardown", json=body or {"reason": "clean up"})


def retries_of(stack: Stack, run_id: str) -> list[Any]:
    return [i for i in stack.instances() if i.instance_id.startswith(f"{run_id}:teardown-retry-")]


def refused(stack: Stack, run_id: str, code: str, words: str) -> None:
    response = retry(stack, run_id)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"], error
    assert retries_of(stack, run_id) == []  # nothing started


def test_a_failover_has_no_drill_teardown_to_retry(stack: Stack) -> None:
    refused(stack, finished(stack, mode="failover"), "NotADrill", "not a drill")


def test_a_drill_still_running_is_refused(stack: Stack) -> None:
    waits = {
        "name": "slowdrill",
        "drill": {"approval_required": True},  # the drill waits for an approval: it stays running
        "approval": {"timeout": "PT1H"},
        "steps": [{"id": "probe", "kind": "health_check", "url": stack.health.url()}],
    }
    (stack.plans_dir / "slowdrill.yaml").write_text(yaml.safe_dump(waits))
    run_id = start(stack, "slowdrill", "drill")
    stack.host.engine.wait_for_custom_status(
        run_id, lambda custom: isinstance(custom, dict) and custom.get("phase") == "awaiting_approval", skip_time=False
    )
    try:
        refused(stack, run_id, "RunInProgress", "still running")
    finally:
        stack.call("POST", f"/api/recoveries/{run_id}/cancel", json={"reason": "test over"})


def test_a_drill_that_left_nothing_behind_is_refused(stack: Stack) -> None:
    run_id = finished(stack)
    assert read_report(get_clients(), run_id)["steps"][0]["detail"]["teardown"] == {"teardown": "nothing to undo"}
    refused(stack, run_id, "NothingLeftBehind", "nothing left behind")


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/recoveries/nope--drill--x/teardown", {"reason": "x"}, 404, "RunNotFound"),
        ("/api/recoveries/..%2Fx/teardown", {"reason": "x"}, 404, "RunNotFound"),
        (f"/api/recoveries/{SOME_RUN}/teardown", {}, 400, "InvalidRequest"),  # no reason
        (f"/api/recoveries/{SOME_RUN}/teardown", {"reason": "x", "extra": 1}, 400, "InvalidRequest"),
    ],
)
def test_bad_requests(stack: Stack, path: str, body: dict[str, Any], status: int, code: str) -> None:
    response = stack.call("POST", path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def fail_teardown_in_report(run_id: str, step_id: str) -> None:
    """The stored report as a drill whose undo of ``step_id`` was refused writes it (a health check's undo
    cannot fail for real: it has nothing to undo, which is what the retry then finds)."""
    stored = read_report(get_clients(), run_id)
    for entry in stored["steps"]:
        if entry["id"] == step_id:
            entry["detail"]["teardown"] = {"status": "failed", "error": "delete refused"}
            entry["detail"]["warnings"] = [TEARDOWN_WARNING]
    stored["warnings"] = [*stored["warnings"], f"{step_id}: {TEARDOWN_WARNING}"]
    write_report(get_clients(), RunReport.model_validate(stored))


def test_retry_of_a_drill_that_left_something_behind(stack: Stack) -> None:
    run_id = finished(stack)
    fail_teardown_in_report(run_id, "probe")

    response = retry(stack, run_id, {"reason": "clean up after the game day", "by": "ana"})
    assert response.status_code == 202, response.text
    body = response.json()
    instance_id = f"{run_id}:teardown-retry-1"
    assert (body["id"], body["run"], body["retry"], body["steps"]) == (instance_id, run_id, 1, ["probe"])
    assert body["statusUri"].endswith(f"/api/recoveries/{run_id}/teardown/1")
    assert response.headers["Location"] == body["statusUri"]
    assert "code=" not in response.text  # no key in a response body

    done = stack.host.engine.wait(instance_id, timeout=30)
    assert done.runtime_status is RuntimeStatus.COMPLETED, done.output
    report = stack.call("GET", f"/api/recoveries/{run_id}/report").json()
    probe = report["steps"][0]
    assert probe["detail"]["teardown"] == {"teardown": "nothing to undo"}  # the real step_teardown ran again
    assert "warnings" not in probe["detail"] and not any(TEARDOWN_WARNING in w for w in report["warnings"])
    assert report["left_behind"] == []
    [record] = report["teardown_retries"]
    assert (record["retry"], record["requested_by"], record["reason"], record["torn_down"]) == (
        1,
        "ana",
        "clean up after the game day",
        ["probe"],
    )
    assert report["status"] == "Succeeded" and report["instance_id"] == run_id

    status = stack.call("GET", f"/api/recoveries/{run_id}/teardown/1")
    assert status.status_code == 200, status.text
    assert status.json()["runtimeStatus"] == "Completed" and status.json()["result"]["left_behind"] == []
    assert stack.call("GET", f"/api/recoveries/{run_id}/teardown/2").status_code == 404
    # Done: a second retry has nothing left to tear down.
    second = retry(stack, run_id)
    assert second.status_code == 409 and second.json()["error"]["code"] == "NothingLeftBehind"


class OneRetryRunning:
    """A finished drill with a teardown retry still running (a retry's life is too short to catch over HTTP)."""

    def __init__(self, run_id: str, run_input: dict[str, Any]) -> None:
        self.run_id = run_id
        self.run_input = run_input

    async def status(self, instance_id: str, *, show_input: bool = False) -> RunSnapshot | None:
        if instance_id == self.run_id:
            return RunSnapshot(instance_id, "recovery", "Completed", input=self.run_input)
        return None

    async def active(self, instance_id_prefix: str) -> list[RunSnapshot]:
        running = RunSnapshot(f"{self.run_id}:teardown-retry-1", TEARDOWN_RETRY_ORCHESTRATOR, "Running")
        return [running] if running.instance_id.startswith(instance_id_prefix) else []

    async def created_between(
        self, start: datetime, end: datetime, instance_id_prefix: str | None = None
    ) -> list[RunSnapshot]:
        return await self.active(instance_id_prefix or "")

    async def terminate(self, instance_id: str, reason: str) -> None: ...

    async def raise_event(self, instance_id: str, name: str, data: dict[str, Any]) -> None:
        raise AssertionError("a teardown retry raises no event")

    async def signal_graph(self, run_id: str, operation: str, request: dict[str, Any]) -> None:
        raise AssertionError("a teardown retry signals no graph")

    async def read_graph(self, run_id: str) -> Any:
        return None

    async def signal_lock(self, plan_name: str, operation: str, request: dict[str, Any]) -> None: ...

    async def read_lock(self, plan_name: str) -> Any: ...


def test_a_second_retry_while_one_runs_is_refused(stack: Stack) -> None:
    run_id = finished(stack)
    fail_teardown_in_report(run_id, "probe")
    run = stack.host.engine.get_status(run_id, history=False)
    assert run is not None
    store = OneRetryRunning(run_id, run.input)

    async def read(instance_id: str) -> dict[str, Any]:
        return read_report(get_clients(), instance_id)

    with pytest.raises(ConflictError) as caught:
        asyncio.run(admit_teardown_retry(store, run_id, read, requested_by="ana", reason="x", now=datetime.now(UTC)))
    assert caught.value.code == "TeardownRetryInProgress" and f"{run_id}:teardown-retry-1" in caught.value.message
