"""The approval gate: an external event raced with a durable timer."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from devstack.host import DurableEngine, RuntimeStatus
from dr.durations import parse_time

from .conftest import FakeSteps, run_input, step


def _awaiting(custom: Any) -> bool:
    return isinstance(custom, dict) and custom.get("phase") == "awaiting_approval"


def _gated(on_timeout: str = "abort") -> dict[str, Any]:
    return run_input([step("a")], approval={"required": True, "timeout": "PT15M", "on_timeout": on_timeout})


def test_nothing_runs_before_approval_then_it_proceeds(engine: DurableEngine, fake: FakeSteps) -> None:
    iid = engine.start("recovery", _gated(), instance_id="ap1")
    status = engine.wait_for_custom_status(iid, _awaiting, skip_time=False)
    assert fake.changes() == []
    assert status.custom_status["approval"]["deadline"]
    # The Python SDK's client JSON-encodes event data twice (the orchestrator then sees a string): both work.
    engine.raise_event(iid, "approval", json.dumps({"approved": True, "by": "ana", "reason": "region is down"}))
    report = engine.wait(iid).output
    assert report["status"] == "Succeeded"
    assert report["approval"]["decision"] == "approved" and report["approval"]["by"] == "ana"
    assert fake.ops("a") == ["begin"]


def test_rejection_runs_nothing(engine: DurableEngine, fake: FakeSteps) -> None:
    iid = engine.start("recovery", _gated(), instance_id="ap2")
    engine.wait_for_custom_status(iid, _awaiting, skip_time=False)
    engine.raise_event(iid, "approval", {"approved": False, "by": "bo", "reason": "false alarm"})
    status = engine.wait(iid)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    report = status.output
    assert report["status"] == "Rejected"
    assert report["approval"]["reason"] == "false alarm"
    assert [s["status"] for s in report["steps"]] == ["pending"]
    assert fake.changes() == []
    assert fake.reports[0]["status"] == "Rejected"


@pytest.mark.parametrize(("policy", "expected", "ran"), [("abort", "Rejected", False), ("proceed", "Succeeded", True)])
def test_timeout_applies_the_plan_policy(
    engine: DurableEngine, fake: FakeSteps, policy: str, expected: str, ran: bool
) -> None:
    iid = engine.start("recovery", _gated(policy), instance_id=f"ap-{policy}")
    report = engine.wait(iid).output  # the virtual clock jumps to the 15-minute timer
    assert report["status"] == expected
    assert report["approval"]["decision"] == f"timed_out_{policy}"
    assert bool(fake.changes()) is ran
    decided = parse_time(report["approval"]["decided_at"])
    assert decided - parse_time(report["started_at"]) >= timedelta(minutes=15)


def test_drill_skips_approval_unless_the_drill_policy_asks(engine: DurableEngine, fake: FakeSteps) -> None:
    plan = run_input([step("a")], mode="drill", approval={"required": True})
    report = engine.wait(engine.start("recovery", plan, instance_id="ap3")).output
    assert report["status"] == "Succeeded" and report["approval"] is None
