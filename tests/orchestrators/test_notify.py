"""Notifications of a recovery run (orchestrators/notify.py), to a real HTTP webhook on 127.0.0.1: the approval
wait with what the run will do, the end (finished or failed), and a webhook that fails changing nothing but a
warning. The notify activity is the app's own (only the step activities are fakes)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.host import DurableEngine, IndexedApp, RuntimeStatus, VirtualClock
from dr.clients import reset_for_tests
from dr.errors import PermanentError
from tests.webhook_receiver import Receiver, closed_port_url, webhook_receiver

from .conftest import FakeSteps, data_step, run_input, step, traffic_step

SETTING = "DR_NOTIFY_WEBHOOK_OPS"
TASK_SCHEDULED = 4
GATED = {"required": True, "timeout": "PT15M", "on_timeout": "abort"}


@pytest.fixture
def engine(app: IndexedApp, fake: FakeSteps) -> Iterator[DurableEngine]:
    # Every episode replayed twice and compared: notifications must not make the orchestrator nondeterministic.
    with DurableEngine.running(
        app, state_dir=None, clock=VirtualClock(), activity_overrides=fake.overrides(), verify_replay=True
    ) as running:
        yield running


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with webhook_receiver() as server:
        monkeypatch.setenv(SETTING, server.url)
        monkeypatch.setenv("DR_PUBLIC_URL", "https://dr.example.com")
        reset_for_tests()
        yield server


def notifying(steps: list[dict[str, Any]], *, on: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    notify: dict[str, Any] = {"webhook_url_setting": SETTING, **({"on": on} if on is not None else {})}
    return run_input(steps, notify=notify, **fields)


def _awaiting(custom: Any) -> bool:
    return isinstance(custom, dict) and custom.get("phase") == "awaiting_approval"


def _scheduled(engine: DurableEngine, iid: str) -> list[str]:
    status = engine.get_status(iid)
    assert status is not None
    return [str(event.get("Name")) for event in status.events_of_type(TASK_SCHEDULED)]


def _forced_db(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"done": True, "summary": "failed over", "rpo_estimate_seconds": 3.0, "detail": {"rpo_basis": "lag"}}


def test_approval_wait_then_finished(engine: DurableEngine, fake: FakeSteps, receiver: Receiver) -> None:
    fake.script["db"] = _forced_db
    steps = [data_step("db", failover_mode="forced"), traffic_step("traffic", after=["db"])]
    iid = engine.start("recovery", notifying(steps, approval=GATED), instance_id="n1")
    status = engine.wait_for_custom_status(iid, _awaiting, skip_time=False)
    will_do = status.custom_status["will_do"]
    assert [item["action"] for item in will_do] == [
        "forced failover of failover group fog-db to server wus-db (may lose data; cannot be undone)",
        "disable endpoint eus and enable wus in Traffic Manager profile traffic",
    ]
    (waiting,) = receiver.wait_for(1)
    assert waiting["event"] == "approval_wait" and waiting["status"] == "awaiting_approval"
    assert waiting["will_do"] == will_do and waiting["run_id"] == iid and waiting["plan"] == "shop"
    assert waiting["approval_deadline"] == status.custom_status["approval"]["deadline"]
    assert waiting["links"]["approve"] == f"https://dr.example.com/api/recoveries/{iid}/approve"
    assert "forced failover of failover group fog-db" in waiting["text"]
    assert fake.changes() == []  # told before anything changed

    engine.raise_event(iid, "approval", {"approved": True, "by": "ana", "reason": "region down"})
    report = engine.wait(iid).output
    assert report["status"] == "Succeeded" and report["warnings"] == []
    finished = receiver.wait_for(2)[1]
    assert finished["event"] == "finished" and finished["status"] == "Succeeded"
    assert finished["rto_seconds"] == report["rto_seconds"] is not None
    assert finished["rpo_estimate_seconds"] == report["rpo_estimate_seconds"] == 3.0
    assert finished["will_do"] is None and "ended **Succeeded**" in finished["text"]
    assert _scheduled(engine, iid).count("notify") == 2


def test_a_failed_run_notifies_failed(engine: DurableEngine, fake: FakeSteps, receiver: Receiver) -> None:
    def broken(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise PermanentError("HTTP 503 from the secondary", code="Unhealthy")

    fake.script["verify"] = broken
    report = engine.wait(engine.start("recovery", notifying([step("verify")]), instance_id="n2")).output
    assert report["status"] == "Failed"
    (failed,) = receiver.wait_for(1)
    assert failed["event"] == "failed" and failed["status"] == "Failed" and failed["rto_seconds"] is None
    assert failed["failed_steps"] and failed["failed_steps"][0].startswith("verify (failed): ")


def test_a_run_canceled_at_the_gate_notifies_failed(engine: DurableEngine, receiver: Receiver) -> None:
    iid = engine.start("recovery", notifying([step("verify")], approval=GATED), instance_id="n3")
    engine.wait_for_custom_status(iid, _awaiting, skip_time=False)
    receiver.wait_for(1)
    engine.raise_event(iid, "cancel", {"by": "dee", "reason": "wrong region"})
    assert engine.wait(iid).output["status"] == "Canceled"
    canceled = receiver.wait_for(2)[1]
    assert (canceled["event"], canceled["status"], canceled["decided_by"]) == ("failed", "Canceled", "dee")
    assert canceled["decision_reason"] == "wrong region"


def test_a_drill_notifies_too_and_only_the_events_asked_for(engine: DurableEngine, receiver: Receiver) -> None:
    report = engine.wait(engine.start("recovery", notifying([step("a")], mode="drill"), instance_id="n4")).output
    assert report["status"] == "Succeeded"
    (done,) = receiver.wait_for(1)
    assert (done["event"], done["mode"]) == ("finished", "drill")
    quiet = engine.start("recovery", notifying([step("a")], on=["failed"]), instance_id="n5")
    assert engine.wait(quiet).output["status"] == "Succeeded"
    plain = engine.start("recovery", run_input([step("a")]), instance_id="n6")
    assert engine.wait(plain).output["status"] == "Succeeded"
    assert "notify" not in _scheduled(engine, quiet) + _scheduled(engine, plain)
    assert receiver.events() == ["finished"]


@pytest.mark.parametrize("webhook", ["500", "refused"])
def test_a_failing_webhook_changes_nothing_but_a_warning(
    engine: DurableEngine,
    fake: FakeSteps,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    webhook: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    if webhook == "500":
        receiver.answers = [500] * 20
    else:
        monkeypatch.setenv(SETTING, closed_port_url())
        reset_for_tests()
    iid = engine.start("recovery", notifying([step("verify")], approval=GATED), instance_id=f"n7-{webhook}")
    engine.wait_for_custom_status(iid, _awaiting, skip_time=False)
    # The gate still waits for its approver after the failed notification.
    deadline = time.monotonic() + 20
    while not caplog.records and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "notification 'approval_wait' not delivered" in caplog.text
    status = engine.get_status(iid)
    assert status is not None and status.runtime_status is RuntimeStatus.RUNNING
    assert status.custom_status["phase"] == "awaiting_approval"
    engine.raise_event(iid, "approval", {"approved": True, "by": "ana", "reason": "go"})
    final = engine.wait(iid, timeout=30)
    report = final.output
    assert report["status"] == "Succeeded" and report["approval"]["decision"] == "approved"
    why = "HTTP 500 after 3 attempts" if webhook == "500" else "connection refused after 3 attempts"
    assert report["warnings"] == [
        f"notification 'approval_wait' not delivered (setting {SETTING}, host 127.0.0.1): {why}",
        f"notification 'finished' not delivered (setting {SETTING}, host 127.0.0.1): {why}",
    ]
    assert fake.reports[0]["warnings"] == report["warnings"]  # the stored report says so too
    assert receiver.received == []
    everything = json.dumps([final.output, final.custom_status, final.history], default=str) + caplog.text
    assert "s3cr3t" not in everything
