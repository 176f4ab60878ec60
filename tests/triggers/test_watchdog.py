"""The stuck-run watchdog on the devstack host: a run wedged past its step deadline shows ``stuck`` in
``GET /api/recoveries`` and the timer (run on demand) writes one structured log line for it."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from dr.clients import reset_for_tests
from dr.watchdog import WATCHDOG_EVENT

from .conftest import Stack


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback port that accepts connections (the backlog) and never answers: a probe hangs on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/health"


@pytest.fixture
def no_grace() -> Iterator[None]:
    saved = os.environ.get("DR_WATCHDOG_GRACE_MINUTES")
    os.environ["DR_WATCHDOG_GRACE_MINUTES"] = "0"
    reset_for_tests()
    yield
    if saved is None:
        os.environ.pop("DR_WATCHDOG_GRACE_MINUTES", None)
    else:
        os.environ["DR_WATCHDOG_GRACE_MINUTES"] = saved
    reset_for_tests()


def _json(message: str) -> dict[str, Any]:
    try:
        value = json.loads(message)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def listed(stack: Stack, plan: str) -> list[dict[str, Any]]:
    response = stack.call("GET", "/api/recoveries", params={"plan": plan})
    assert response.status_code == 200, response.text
    return list(response.json()["runs"])


def test_a_run_past_its_step_deadline_is_flagged_and_logged(
    stack: Stack, silent_url: str, no_grace: None, caplog: pytest.LogCaptureFixture
) -> None:
    # One step whose probe hangs for longer than the step's timeout: the step shows running past its deadline
    # while the activity waits for its answer.
    plan = {
        "name": "wedged",
        "steps": [
            {
                "id": "probe",
                "kind": "health_check",
                "url": silent_url,
                "attempts": 1,
                "request_timeout": "PT8S",
                "timeout": "PT1S",
            }
        ],
    }
    (stack.plans_dir / "wedged.yaml").write_text(yaml.safe_dump(plan))
    started = stack.call("POST", "/api/recoveries", json={"plan": "wedged", "mode": "drill", "reason": "watchdog"})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    flagged: dict[str, Any] | None = None
    deadline = time.monotonic() + 20  # pre-flight probes the silent URL first (one bounded 8 s probe)
    while time.monotonic() < deadline and flagged is None:
        flagged = next((run for run in listed(stack, "wedged") if run["id"] == run_id and run.get("stuck")), None)
        time.sleep(0.2)
    assert flagged is not None, listed(stack, "wedged")
    assert flagged["stuck"]["kind"] == "step_deadline"
    assert flagged["stuck"]["step"] == "probe"
    assert flagged["phase"] == "running"

    caplog.set_level(logging.INFO)
    ran = stack.call("POST", "/admin/functions/stuck_run_watchdog", json={"input": ""})
    assert ran.status_code == 202, ran.text
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not records:
        time.sleep(0.1)
        lines = [_json(r.getMessage()) for r in caplog.records]
        records = [line for line in lines if line.get("event") == WATCHDOG_EVENT and line.get("run_id") == run_id]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    record = records[0]
    assert (record["plan"], record["phase"], record["step"]) == ("wedged", "running", "probe")
    assert record["since"] == flagged["stuck"]["since"]

    # Once the step gives up the run moves on and is no longer stuck.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        current = stack.call("GET", f"/api/recoveries/{run_id}").json()
        if current["runtime_status"] not in ("Running", "Pending"):
            break
        time.sleep(0.3)
    assert current["stuck"] is None
