"""End to end: a plan that mixes a webhook step (an Automation runbook / Logic App standing in: 202 + Location,
followed until done), a manual step (a person confirms over the operator API) and a health check, run as a
failover and as a drill on the whole local stack through the HTTP API only; then the world is inspected: what
the endpoint received, the stored report, and that the webhook's token appears in no status or report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.demo.runner import Api
from devstack.stack import DEMO_DIR, LocalStack
from tests.async_endpoint import TOKEN, AsyncEndpoint, async_endpoint
from tests.e2e.runs import run_report, stack_with_rendered_plan, start_run
from tests.unit.test_run import REPORT_KEYS

pytestmark = pytest.mark.slow

HERE = DEMO_DIR / "manual_webhook"
PLAN = "shop-runbook"


@pytest.fixture
def endpoint() -> Iterator[AsyncEndpoint]:
    with async_endpoint(polls=2) as running:
        yield running


@pytest.fixture
def stack(tmp_path: Path, endpoint: AsyncEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    # The webhook URLs are app settings (secrets); the host runs in this process and reads them at each call.
    monkeypatch.setenv("DR_WEBHOOK_STANDBY", endpoint.url("standby"))
    monkeypatch.setenv("DR_WEBHOOK_STANDBY_DRILL", endpoint.url("standby-drill"))
    with stack_with_rendered_plan(tmp_path, HERE) as running:
        yield running


def _until_waiting(api: Api, run_id: str, step: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = api.json("GET", f"/api/recoveries/{run_id}", (200,))
        assert TOKEN not in str(view)
        found = next((s for s in view.get("steps") or [] if s["id"] == step), None)
        if found and found["status"] == "waiting":
            return view
        assert view["runtime_status"] in ("Pending", "Running"), view
        time.sleep(0.2)
    raise AssertionError(f"step {step} of {run_id} never waited")


def _finished(api: Api, run_id: str) -> dict[str, Any]:
    return run_report(api, run_id, timeout=60, interval=0.2)


def _start(api: Api, mode: str) -> str:
    return start_run(api, PLAN, mode, "payment region drill" if mode == "drill" else "East US is down")


def test_failover_then_drill_with_a_person_and_a_runbook(stack: LocalStack, endpoint: AsyncEndpoint) -> None:
    api = Api.for_stack(stack)

    # -- failover ---------------------------------------------------------------------------------------
    run_id = _start(api, "failover")
    view = _until_waiting(api, run_id, "firewall")
    firewall = next(s for s in view["steps"] if s["id"] == "firewall")
    assert "egress IP 203.0.113.7" in firewall["waiting"]["instructions"]
    assert firewall["waiting"]["confirm"] == f"POST /api/recoveries/{run_id}/steps/firewall/confirm"
    assert next(s for s in view["steps"] if s["id"] == "standby")["status"] == "succeeded"
    assert next(s for s in view["steps"] if s["id"] == "verify")["status"] == "pending"
    (post,) = endpoint.posts()
    assert post.path == f"/hooks/standby/{TOKEN}"
    assert {key: post.body[key] for key in ("plan", "run_id", "mode", "step", "reason", "data")} == {
        "plan": PLAN,
        "run_id": run_id,
        "mode": "failover",
        "step": "standby",
        "reason": "East US is down",
        "data": {"tier": "web", "instances": 4},
    }
    assert len(endpoint.reads()) == 3  # two 202s, then done

    confirm = {"by": "ana", "reason": "NOC allowed 203.0.113.7; test payment ok"}
    answer = api.json("POST", f"/api/recoveries/{run_id}/steps/firewall/confirm", (202,), json=confirm)
    assert answer["by"] == "ana" and answer["outcome"] == "done"
    report = _finished(api, run_id)
    for key in REPORT_KEYS:
        assert key in report
    assert report["status"] == "Succeeded", report
    steps = {s["id"]: s for s in report["steps"]}
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    assert steps["standby"]["detail"]["followed"] == "location" and steps["standby"]["detail"]["polls"] == 3
    assert steps["standby"]["detail"]["host"] == "127.0.0.1"
    assert steps["firewall"]["detail"]["confirmed_by"] == "ana"
    assert steps["firewall"]["detail"]["reason"] == confirm["reason"]
    assert report["rto_seconds"] > 0
    stored = api.json("GET", f"/api/recoveries/{run_id}/report", (200,))
    assert stored["steps"] == report["steps"]
    html = api.call("GET", f"/api/recoveries/{run_id}/report.html")
    assert html.status_code == 200 and "egress IP 203.0.113.7" in html.text
    assert TOKEN not in str(stored) and TOKEN not in html.text

    # -- drill: the drill runbook, a person rehearses, production's hook untouched ---------------------------
    drill_id = _start(api, "drill")
    _until_waiting(api, drill_id, "firewall")
    assert [call.path for call in endpoint.posts()] == [f"/hooks/standby/{TOKEN}", f"/hooks/standby-drill/{TOKEN}"]
    assert endpoint.posts()[1].body["mode"] == "drill"
    api.json(
        "POST", f"/api/recoveries/{drill_id}/steps/firewall/confirm", (202,), json={"by": "bo", "reason": "rehearsed"}
    )
    drill = _finished(api, drill_id)
    assert drill["status"] == "Succeeded", drill
    steps = {s["id"]: s for s in drill["steps"]}
    assert steps["standby"]["detail"]["setting"] == "DR_WEBHOOK_STANDBY_DRILL"
    assert steps["standby"]["detail"]["drill"] == "called"
    assert "nothing to undo" in steps["standby"]["detail"]["teardown"]["teardown"]
    assert steps["firewall"]["detail"]["confirmed_by"] == "bo"
    assert drill["left_behind"] == []
    assert TOKEN not in str(drill)
