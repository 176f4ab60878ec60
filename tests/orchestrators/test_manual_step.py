"""manual and webhook steps in the real step sub-orchestration, replayed through the SDK by the devstack engine:
the manual step's own activities run for real (the fake step activities hand its calls to dr.dispatch), the
webhook's run for real against a real local endpoint.

A manual step waits on an external event raised to its own sub-orchestration, its deadline and a cancel, in one
compound of new tasks (orchestrators.step._await_confirmation); a confirmation raised while begin still runs is
kept by the SDK for the wait."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.host import DurableEngine, EventType, RuntimeStatus
from dr import dispatch
from dr.confirmation import STEP_CONFIRMED_EVENT
from tests.async_endpoint import TOKEN, AsyncEndpoint, async_endpoint

from .conftest import FakeSteps, run_input, step

INSTRUCTIONS = "Call the bank's DR desk (+1 555 0100) and ask them to allow West US's egress IP"
SETTING = "DR_WEBHOOK_STANDBY"


def manual(step_id: str = "call", **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "manual", "instructions": INSTRUCTIONS, "timeout": "PT30M", **fields}


def _real(operation: str, payload: dict[str, Any]) -> Any:
    calls: dict[str, Callable[[dict[str, Any]], Any]] = {
        "begin": dispatch.begin,
        "poll": dispatch.poll,
        "teardown": dispatch.teardown,
        "check": dispatch.check,
    }
    return calls[operation](payload)


@pytest.fixture(autouse=True)
def _real_kinds(fake: FakeSteps) -> None:
    for step_id in ("call", "standby"):
        fake.script[step_id] = _real
        fake.checks[step_id] = _real


def _waiting(engine: DurableEngine, run_id: str, step_id: str = "call", *, skip_time: bool = False) -> dict[str, Any]:
    """The step's status once it waits (``skip_time``: jump over the timers before it, e.g. a webhook's polls;
    the check runs after every episode, so the wait's own deadline is not jumped to)."""
    status = engine.wait_for_custom_status(
        f"{run_id}:{step_id}",
        lambda custom: isinstance(custom, dict) and bool(custom.get("waiting")),
        skip_time=skip_time,
    )
    return dict(status.custom_status)


def _confirm(engine: DurableEngine, run_id: str, step_id: str = "call", **fields: Any) -> None:
    body = {"by": "ana", "reason": "bank confirmed", "outcome": "done", "at": "2026-11-30T12:00:00Z", **fields}
    # The Python SDK's client JSON-encodes event data twice: the orchestrator sees a string, as in Azure.
    engine.raise_event(f"{run_id}:{step_id}", STEP_CONFIRMED_EVENT, json.dumps(body))


def _by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in report["steps"]}


def test_the_step_shows_what_to_do_and_waits_until_a_person_confirms(engine: DurableEngine, fake: FakeSteps) -> None:
    iid = engine.start("recovery", run_input([manual(), step("verify", after=["call"])]), instance_id="m1")
    custom = _waiting(engine, iid)
    assert custom["waiting"]["instructions"] == INSTRUCTIONS
    assert custom["waiting"]["confirm"] == f"POST /api/recoveries/{iid}/steps/call/confirm"
    assert custom["waiting"]["on_timeout"] == "fail" and custom["waiting"]["deadline"]
    assert custom["summary"].startswith("waiting for a person to confirm")
    assert fake.ops("verify") == []  # its dependent waits too

    _confirm(engine, iid)
    report = engine.wait(iid, timeout=30).output
    assert report["status"] == "Succeeded"
    call = _by_id(report)["call"]
    assert call["status"] == "succeeded"
    assert call["detail"]["confirmed_by"] == "ana" and call["detail"]["reason"] == "bank confirmed"
    assert call["detail"]["outcome"] == "done" and call["detail"]["instructions"] == INSTRUCTIONS
    assert call["detail"]["waited_seconds"] >= 0
    assert fake.ops("call") == ["begin", "poll"] and fake.ops("verify") == ["begin"]
    assert engine.get_status(f"{iid}:call").custom_status.get("waiting") is None


def test_a_person_reporting_failure_fails_the_step_and_skips_its_dependents(
    engine: DurableEngine, fake: FakeSteps
) -> None:
    iid = engine.start("recovery", run_input([manual(), step("verify", after=["call"])]), instance_id="m2")
    _waiting(engine, iid)
    _confirm(engine, iid, outcome="failed", reason="the bank's desk does not answer")
    report = engine.wait(iid, timeout=30).output
    call, verify = _by_id(report)["call"], _by_id(report)["verify"]
    assert report["status"] == "Failed"
    assert call["status"] == "failed"
    assert call["detail"]["error"]["code"] == "ManualStepFailed"
    assert "ana reported the runbook item failed: the bank's desk does not answer" in call["detail"]["summary"]
    assert call["detail"]["instructions"] == INSTRUCTIONS
    assert verify["status"] == "skipped" and fake.ops("verify") == []


@pytest.mark.parametrize(("policy", "status"), [("fail", "failed"), ("continue", "succeeded")])
def test_the_timeout_applies_the_steps_policy(engine: DurableEngine, policy: str, status: str) -> None:
    iid = engine.start("recovery", run_input([manual(on_timeout=policy)]), instance_id=f"m-{policy}")
    report = engine.wait(iid, timeout=30).output  # the virtual clock jumps to the 30-minute deadline
    call = _by_id(report)["call"]
    assert call["status"] == status
    if policy == "fail":
        assert call["detail"]["error"]["code"] == "ManualStepTimedOut"
        assert report["status"] == "Failed"
    else:
        assert call["detail"]["outcome"] == "timed_out"
        assert "nobody confirmed within PT30M" in call["detail"]["warnings"][0]
        assert report["status"] == "Succeeded"


# The SDK warns when it keeps an event nothing waits for yet (its "deferred" task): that is this test's case.
@pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")
def test_a_confirmation_raised_while_begin_runs_is_not_lost(engine: DurableEngine, fake: FakeSteps) -> None:
    began, release = threading.Event(), threading.Event()

    def slow_begin(operation: str, payload: dict[str, Any]) -> Any:
        if operation == "begin":
            began.set()
            assert release.wait(30)
        return _real(operation, payload)

    fake.script["call"] = slow_begin
    iid = engine.start("recovery", run_input([manual()]), instance_id="m3")
    assert began.wait(30)
    _confirm(engine, iid, by="bo", reason="done before the status showed it")  # nothing waits for it yet
    release.set()
    report = engine.wait(iid, timeout=30).output
    call = _by_id(report)["call"]
    assert call["status"] == "succeeded" and call["detail"]["confirmed_by"] == "bo"
    history = engine.get_status(f"{iid}:call").history or []
    kinds = [
        "confirmed" if event.get("Name") == STEP_CONFIRMED_EVENT else "begin done"
        for event in history
        if event["EventType"] in (EventType.EVENT_RAISED, EventType.TASK_COMPLETED)
        and (event.get("Name") == STEP_CONFIRMED_EVENT or event["EventType"] == EventType.TASK_COMPLETED)
    ]
    assert kinds[:2] == ["confirmed", "begin done"]  # it arrived before the step waited, and was kept


def test_a_cancel_ends_the_wait(engine: DurableEngine, fake: FakeSteps) -> None:
    iid = engine.start("recovery", run_input([manual(), step("verify", after=["call"])]), instance_id="m4")
    _waiting(engine, iid)
    engine.signal_entity("run_graph", iid, "cancel", {"by": "cy", "at": "2026-11-30T00:00:00Z"})
    engine.run_until_idle()
    for instance in (iid, f"{iid}:call"):
        engine.raise_event(instance, "cancel", {"by": "cy", "reason": "false alarm"})
    report = engine.wait(iid, timeout=30).output
    call = _by_id(report)["call"]
    assert report["status"] == "Canceled"
    assert call["status"] == "canceled" and "canceled by cy" in call["detail"]["summary"]
    assert fake.ops("call") == ["begin"] and fake.ops("verify") == []


def test_a_malformed_confirmation_fails_the_step_rather_than_guessing(engine: DurableEngine) -> None:
    iid = engine.start("recovery", run_input([manual()]), instance_id="m5")
    _waiting(engine, iid)
    engine.raise_event(f"{iid}:call", STEP_CONFIRMED_EVENT, {"outcome": "maybe"})
    call = _by_id(engine.wait(iid, timeout=30).output)["call"]
    assert call["status"] == "failed" and call["detail"]["error"]["code"] == "BadConfirmation"


def test_a_drill_skips_or_rehearses_as_the_step_says(engine: DurableEngine, fake: FakeSteps) -> None:
    skipped = engine.wait(engine.start("recovery", run_input([manual(drill="skip")], mode="drill")), timeout=30)
    call = _by_id(skipped.output)["call"]
    assert call["status"] == "succeeded" and call["detail"]["drill"] == "skipped"
    assert "a failover waits for a person to" in call["detail"]["summary"]

    iid = engine.start("recovery", run_input([manual()], mode="drill"), instance_id="m6")
    assert _waiting(engine, iid)["waiting"]["instructions"] == INSTRUCTIONS
    _confirm(engine, iid, reason="rehearsed with the bank")
    report = engine.wait(iid, timeout=30).output
    assert report["status"] == "Succeeded" and _by_id(report)["call"]["detail"]["confirmed_by"] == "ana"


# -- webhook: the real activity against a real endpoint, followed on durable timers ---------------------------


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[AsyncEndpoint]:
    with async_endpoint(polls=2) as running:
        monkeypatch.setenv(SETTING, running.url())
        yield running


def webhook(**fields: Any) -> dict[str, Any]:
    return {"id": "standby", "kind": "webhook", "url_setting": SETTING, **fields}


def test_a_webhook_job_is_followed_on_timers_then_its_dependents_run(
    engine: DurableEngine, fake: FakeSteps, endpoint: AsyncEndpoint
) -> None:
    endpoint.post_answers.append(503)  # the first call fails transiently: the step's retry policy calls again
    plan = [webhook(retry={"attempts": 3, "first_interval": "PT1S"}), manual(after=["standby"])]
    iid = engine.start("recovery", run_input(plan), instance_id="w1")
    _waiting(engine, iid, skip_time=True)
    assert fake.ops("standby") == ["begin", "begin", "poll", "poll", "poll"]
    _confirm(engine, iid)
    report = engine.wait(iid, timeout=30).output
    standby = _by_id(report)["standby"]
    assert report["status"] == "Succeeded" and standby["status"] == "succeeded"
    assert standby["detail"]["followed"] == "location" and standby["detail"]["polls"] == 3
    assert len(endpoint.posts()) == 2 and endpoint.posts()[1].body["run_id"] == iid
    assert TOKEN not in json.dumps(report)


def test_a_canceled_webhook_step_follows_its_job_to_the_end(
    engine: DurableEngine, fake: FakeSteps, endpoint: AsyncEndpoint
) -> None:
    endpoint.reset(polls=3)
    iid = engine.start("recovery", run_input([webhook()]), instance_id="w2")
    engine.wait_for(f"{iid}:standby", lambda status: len(endpoint.reads()) >= 1, skip_time=True)
    engine.signal_entity("run_graph", iid, "cancel", {"by": "cy", "at": "2026-11-30T00:00:00Z"})
    engine.run_until_idle()
    for instance in (iid, f"{iid}:standby"):
        engine.raise_event(instance, "cancel", {"by": "cy", "reason": "stop"})
    status = engine.wait(iid, timeout=30)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    standby = _by_id(status.output)["standby"]
    assert standby["status"] == "succeeded"  # the job it started went on: the step watched it finish
    assert any("finished after the run was canceled" in warning for warning in standby["detail"]["warnings"])
