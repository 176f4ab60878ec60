"""Pre-flight before the first change, graceful cancel, dependency-driven scheduling and honest outcomes
(the recovery orchestrator through the SDK, activities scripted)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.host import DurableEngine, IndexedApp, VirtualClock
from devstack.host.history import EventType
from dr.clients import reset_for_tests
from dr.durations import parse_time
from dr.errors import PermanentError
from dr.graph import PlanRequest
from dr.run import RunInput, RunState

from .conftest import FakeSteps, check, data_step, run_input, step, traffic_step


def _phase(phase: str) -> Any:
    return lambda custom: isinstance(custom, dict) and custom.get("phase") == phase


def _running(step_id: str) -> Any:
    return lambda custom: (
        isinstance(custom, dict) and custom.get("steps", {}).get(step_id, {}).get("status") == "running"
    )


def _polling(polls: int, *, done_at: int | None = None, rpo: float | None = None) -> Any:
    """A step that starts a cloud operation and finishes on poll ``done_at`` (never, if None)."""
    seen = {"n": 0}

    def behaviour(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        if op == "begin":
            return {"done": False, "state": {"op": 1}, "poll_after_seconds": 30, "summary": "operation started"}
        seen["n"] += 1
        done = done_at is not None and seen["n"] >= done_at
        return {
            "done": done,
            "state": {"op": 1},
            "poll_after_seconds": 30,
            "summary": "operation done" if done else f"in progress ({seen['n']})",
            "rpo_estimate_seconds": rpo,
        }

    return behaviour


# -- pre-flight -----------------------------------------------------------------------------------------


def test_failed_preflight_stops_a_failover_before_its_first_change(engine: DurableEngine, fake: FakeSteps) -> None:
    """Issue case 1: the SQL step forced the failover group over, then the traffic step refused (secondary
    Degraded) and the estate ended split. Pre-flight now finds the refusal before anything changes."""
    fake.checks["traffic"] = [check("secondary_fit", "failed", "secondary endpoint 'wus' is Degraded")]
    plan = [data_step("db"), traffic_step("traffic", after=["db"])]
    iid = engine.start("recovery", run_input(plan), instance_id="pf1")
    status = engine.wait_for_custom_status(iid, _phase("awaiting_approval"), skip_time=False)
    assert status.custom_status["preflight"]["failed"] == ["traffic: secondary endpoint 'wus' is Degraded"]
    assert status.custom_status["approval"]["preflight_failed"] == ["traffic: secondary endpoint 'wus' is Degraded"]
    report = engine.wait(iid).output  # nobody decides: the gate's timer fires
    assert fake.changes() == []
    assert report["status"] == "Rejected"
    assert report["approval"]["decision"] == "timed_out_abort"
    assert report["preflight"]["passed"] is False
    assert report["rto_seconds"] is None


def test_failed_preflight_never_proceeds_on_timeout_even_when_the_plan_says_proceed(
    engine: DurableEngine, fake: FakeSteps
) -> None:
    fake.checks["db"] = [check("group_exists", "failed", "failover group fog-db not found")]
    approval = {"required": True, "timeout": "PT5M", "on_timeout": "proceed"}
    report = engine.wait(engine.start("recovery", run_input([data_step("db")], approval=approval))).output
    assert report["approval"]["decision"] == "timed_out_abort"
    assert fake.changes() == []


def test_an_approver_overrides_failed_checks_knowingly(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.checks["traffic"] = [check("secondary_fit", "failed", "secondary endpoint 'wus' is Degraded")]
    iid = engine.start("recovery", run_input([data_step("db"), traffic_step("traffic")]), instance_id="pf3")
    engine.wait_for_custom_status(iid, _phase("awaiting_approval"), skip_time=False)
    # Approving without saying so is not an override: a hand-raised event cannot slip past the checks.
    engine.raise_event(iid, "approval", json.dumps({"approved": True, "by": "ana", "reason": "go"}))
    report = engine.wait(iid).output
    assert report["status"] == "Rejected" and fake.changes() == []

    iid = engine.start("recovery", run_input([data_step("db"), traffic_step("traffic")]), instance_id="pf4")
    engine.wait_for_custom_status(iid, _phase("awaiting_approval"), skip_time=False)
    decision = {"approved": True, "by": "ana", "reason": "secondary is fine", "override_failed_checks": True}
    engine.raise_event(iid, "approval", decision)
    report = engine.wait(iid).output
    assert report["status"] == "Succeeded"
    assert report["approval"]["overrode_failed_checks"] is True
    assert report["approval"]["preflight_failed"] == ["traffic: secondary endpoint 'wus' is Degraded"]
    # The override reaches the steps as the operator's force: the traffic step that refused in pre-flight (a
    # cool-down, a Degraded secondary) must not refuse again after the data steps have already moved.
    begins = [payload for op, _, payload in fake.changes() if op == "begin"]
    assert begins and all(payload["context"]["force"] for payload in begins)


def test_a_check_that_cannot_run_is_a_failed_check_not_a_pass(engine: DurableEngine, fake: FakeSteps) -> None:
    def crash(op: str, payload: dict[str, Any]) -> Any:
        raise RuntimeError("check crashed")

    fake.checks["db"] = crash
    iid = engine.start("recovery", run_input([data_step("db")]), instance_id="pf5")
    status = engine.wait_for_custom_status(iid, _phase("awaiting_approval"), skip_time=False)
    assert "could not run" in status.custom_status["preflight"]["failed"][0]


def test_a_drill_is_not_stopped_by_preflight_and_goes_as_far_as_it_can(engine: DurableEngine, fake: FakeSteps) -> None:
    """Issue case 6: a drill stopped at its first failure, so a second misspelled name was found only by a
    second drill. Pre-flight checks every step; the steps after a failed one still report their checks."""
    fake.checks["db"] = [check("group_exists", "failed", "failover group fog-db not found")]
    fake.checks["web"] = [check("profile_exists", "failed", "profile 'web' not found")]
    fake.script["db"] = lambda op, payload: (_ for _ in ()).throw(PermanentError("fog-db not found"))
    plan = [data_step("db"), traffic_step("web", after=["db"]), data_step("other")]
    report = engine.wait(engine.start("recovery", run_input(plan, mode="drill"))).output
    by_id = {s["id"]: s for s in report["steps"]}
    assert by_id["db"]["status"] == "failed"
    assert by_id["other"]["status"] == "succeeded"
    assert by_id["web"]["status"] == "skipped"
    assert "profile 'web' not found" in by_id["web"]["detail"]["summary"]
    assert sorted(report["preflight"]["failed"]) == [
        "db: failover group fog-db not found",
        "web: profile 'web' not found",
    ]
    assert report["status"] == "Failed" and report["rto_seconds"] is None


# -- scheduling -----------------------------------------------------------------------------------------


def test_a_step_starts_when_its_own_dependencies_finish_not_when_a_wave_does(
    engine: DurableEngine, fake: FakeSteps
) -> None:
    """Issue #21: traffic waited for two blob steps it does not depend on (waves)."""
    fake.script["slow"] = _polling(0, done_at=10)  # ten polls of 30 s
    plan = [
        data_step("db"),
        data_step("slow"),
        traffic_step("traffic", after=["db"]),
        step("verify", after=["traffic"]),
    ]
    report = engine.wait(engine.start("recovery", run_input(plan), instance_id="dep1"), timeout=30).output
    by_id = {s["id"]: s for s in report["steps"]}
    assert report["status"] == "Succeeded"
    assert parse_time(by_id["traffic"]["started_at"]) == parse_time(by_id["db"]["finished_at"])
    assert parse_time(by_id["verify"]["finished_at"]) < parse_time(by_id["slow"]["finished_at"])
    # Service restored (traffic and verification done) long before every step is.
    assert report["service_restored_seconds"] < report["rto_seconds"] - 200


def test_no_more_than_max_parallel_steps_run_at_once(engine: DurableEngine, fake: FakeSteps) -> None:
    for i in range(6):
        fake.script[f"s{i}"] = _polling(0, done_at=2)
    plan = [data_step(f"s{i}") for i in range(6)]
    report = engine.wait(engine.start("recovery", run_input(plan, max_parallel_steps=2)), timeout=30).output
    assert report["status"] == "Succeeded"
    spans = [(parse_time(s["started_at"]), parse_time(s["finished_at"])) for s in report["steps"]]
    for start, _ in spans:
        assert sum(1 for s, f in spans if s <= start < f) <= 2


def test_a_failed_step_skips_its_dependents_transitively_while_other_branches_go_on(
    engine: DurableEngine, fake: FakeSteps
) -> None:
    fake.script["a"] = lambda op, payload: (_ for _ in ()).throw(PermanentError("gone"))
    fake.script["c"] = _polling(0, done_at=3)
    plan = [data_step("a"), data_step("b", after=["a"]), data_step("d", after=["b", "c"]), data_step("c")]
    report = engine.wait(engine.start("recovery", run_input(plan)), timeout=30).output
    by_id = {s["id"]: s for s in report["steps"]}
    assert [by_id[i]["status"] for i in "abcd"] == ["failed", "skipped", "succeeded", "skipped"]
    assert "a did not succeed" in by_id["b"]["detail"]["summary"]
    assert fake.ops("b") == [] and fake.ops("d") == []


def test_a_first_step_that_finishes_before_its_graph_has_the_plan_asks_again(
    engine: DurableEngine, fake: FakeSteps
) -> None:
    """The run starts its first steps and signals the plan to the graph in one episode; messages of different
    senders are not ordered, so a first step may report before the plan is there. It must not lose its
    dependents: the graph says "plan pending" and the step asks again."""
    run = RunInput.model_validate(run_input([data_step("db"), traffic_step("traffic", after=["db"])]))
    now = datetime.now(UTC)
    state = RunState("early", run, run.plan, now)
    inputs = {s.id: state.step_input(s.id, now, in_graph=True).model_dump(mode="json") for s in run.plan.steps}
    iid = engine.start("recovery_step", inputs["db"], instance_id="early:db")
    engine.run_until_idle()  # db is done and was told the plan is pending; its retry timer waits
    status = engine.get_status(iid)
    assert status is not None and status.runtime_status == "Running" and fake.ops("traffic") == []
    request = PlanRequest(
        steps=[{"id": s.id, "after": list(s.after), "input": inputs[s.id]} for s in run.plan.steps],
        at=now,
        started=["db"],
    )
    engine.signal_entity("run_graph", "early", "plan", request.model_dump(mode="json"))
    outcome = engine.wait(iid, timeout=30).output
    assert [d["id"] for d in outcome["descendants"]] == ["traffic"]
    assert fake.ops("traffic") == ["begin"]


# -- cancel ---------------------------------------------------------------------------------------------


def _cancel(engine: DurableEngine, run_id: str, *steps: str, by: str = "ana", reason: str = "stop") -> None:
    """What the operator API's graceful cancel does (dr.admission.cancel_run): the run hears the cancel, the
    run's graph starts nothing new, then the steps the API saw running (``steps``) hear it."""
    engine.raise_event(run_id, "cancel", {"by": by, "reason": reason})
    engine.signal_entity("run_graph", run_id, "cancel", {"by": by, "at": "2026-11-30T00:00:00Z"})
    engine.run_until_idle()
    for step_id in steps:
        engine.raise_event(f"{run_id}:{step_id}", "cancel", {"by": by, "reason": reason})


def test_a_cancel_during_preflight_starts_no_step(engine: DurableEngine, fake: FakeSteps) -> None:
    """The first steps start in the episode that has the pre-flight's answer: a cancel raised while the checks
    run must be heard before that, or a step would begin after the operator stopped the run."""
    checking, release = threading.Event(), threading.Event()

    def slow_check(op: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
        checking.set()
        assert release.wait(10)
        return [check("group_exists", "passed", "fog-db found")]

    fake.checks["db"] = slow_check
    plan = [data_step("db"), traffic_step("traffic", after=["db"])]
    iid = engine.start("recovery", run_input(plan), instance_id="cpf")
    assert checking.wait(10)
    # As _cancel, without waiting for the engine to be idle: the pre-flight holds it busy.
    engine.raise_event(iid, "cancel", {"by": "ana", "reason": "false alarm"})
    engine.signal_entity("run_graph", iid, "cancel", {"by": "ana", "at": "2026-11-30T00:00:00Z"})
    engine.wait_for_custom_status(iid, lambda custom: bool(custom and custom.get("canceled")), skip_time=False)
    release.set()
    report = engine.wait(iid, timeout=30).output
    assert report["status"] == "Canceled" and report["canceled"]["reason"] == "false alarm"
    assert fake.changes() == []  # nothing began
    assert {s["status"] for s in report["steps"]} == {"canceled"}
    assert all("not started: run canceled by ana" in s["detail"]["summary"] for s in report["steps"])
    assert report["preflight"]["passed"] is True  # the read-only checks finished and are reported


def test_a_cancel_while_the_approver_is_being_notified_is_not_lost(
    app: IndexedApp, fake: FakeSteps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-flight's cancel waiter is still open while the approval notification is sent, so a cancel raised
    then reaches that waiter, not the gate's: the gate must see it, not wait for an approver."""
    monkeypatch.setenv("DR_NOTIFY_WEBHOOK_OPS", "http://127.0.0.1:9/hook")
    reset_for_tests()
    notifying, release = threading.Event(), threading.Event()

    def slow_notify(payload: dict[str, Any]) -> dict[str, Any]:
        notifying.set()
        assert release.wait(10)
        return {"event": payload["notification"]["event"], "delivered": True, "setting": payload["setting"]}

    plan = run_input(
        [data_step("db")],
        approval={"required": True, "timeout": "PT15M"},
        notify={"webhook_url_setting": "DR_NOTIFY_WEBHOOK_OPS"},
    )
    overrides = {**fake.overrides(), "notify": slow_notify}
    with DurableEngine.running(app, state_dir=None, clock=VirtualClock(), activity_overrides=overrides) as engine:
        fake.engine = engine
        iid = engine.start("recovery", plan, instance_id="cn")
        assert notifying.wait(10)
        engine.raise_event(iid, "cancel", {"by": "ana", "reason": "false alarm"})
        engine.signal_entity("run_graph", iid, "cancel", {"by": "ana", "at": "2026-11-30T00:00:00Z"})
        # The cancel is in the run's history (heard by an open waiter) before the notification's answer.
        deadline = time.monotonic() + 10
        while not (status := engine.get_status(iid)) or not status.events_of_type(EventType.EVENT_RAISED):
            assert time.monotonic() < deadline, "the cancel never reached the run's history"
            time.sleep(0.02)
        release.set()
        report = engine.wait(iid, timeout=10).output
    reset_for_tests()
    assert report["status"] == "Canceled" and report["approval"]["reason"] == "run canceled while awaiting approval"
    assert fake.changes() == []


def test_a_cancel_that_crosses_the_first_starts_still_reaches_them(engine: DurableEngine, fake: FakeSteps) -> None:
    """The API raises the cancel to the steps it sees running; it can read them before the run's first steps
    are in its graph. The run forwards the cancel to those it started."""
    fake.script["probe"] = _polling(0)  # a verification that would poll forever
    iid = engine.start("recovery", run_input([step("probe"), step("after", after=["probe"])]), instance_id="cx")
    engine.wait_for_custom_status(iid, _running("probe"), skip_time=False)
    _cancel(engine, iid)  # the API saw no running step
    report = engine.wait(iid, timeout=30).output
    by_id = {s["id"]: s for s in report["steps"]}
    assert fake.forwarded == [["probe"]]
    assert by_id["probe"]["status"] == "canceled"
    assert "stopped at: in progress (1)" in by_id["probe"]["detail"]["summary"]
    assert by_id["after"]["status"] == "canceled" and fake.ops("after") == []
    assert report["status"] == "Canceled"


def test_cancel_lets_an_inflight_failover_settle_and_reports_what_happened(
    engine: DurableEngine, fake: FakeSteps
) -> None:
    """Issue case 2: canceled during a forced failover, the report said 'canceled' with an empty detail while
    the failover completed 40 s later, and the status showed steps running under a finished run."""
    fake.script["db"] = _polling(0, done_at=3, rpo=7.0)
    plan = [data_step("db"), traffic_step("traffic", after=["db"])]
    iid = engine.start("recovery", run_input(plan), instance_id="c1")
    engine.wait_for_custom_status(iid, _running("db"), skip_time=False)
    _cancel(engine, iid, "db", reason="wrong region")
    report = engine.wait(iid, timeout=30).output
    by_id = {s["id"]: s for s in report["steps"]}
    assert report["status"] == "Canceled"
    assert report["canceled"]["by"] == "ana"
    assert by_id["db"]["status"] == "succeeded"  # the failover did complete: say so
    assert any("finished after the run was canceled" in w for w in by_id["db"]["detail"]["warnings"])
    assert by_id["traffic"]["status"] == "canceled"
    assert "not started" in by_id["traffic"]["detail"]["summary"]
    assert fake.ops("traffic") == []
    assert report["rto_seconds"] is None
    statuses = {s["status"] for s in engine.get_status(iid).custom_status["steps"].values()}
    assert "running" not in statuses and "pending" not in statuses


def test_cancel_stops_a_step_that_does_not_need_to_settle(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.script["probe"] = _polling(0)  # a verification that would poll forever
    iid = engine.start("recovery", run_input([step("probe")]), instance_id="c2")
    engine.wait_for_custom_status(iid, _running("probe"), skip_time=False)
    _cancel(engine, iid, "probe", by="bo", reason="drill over")
    report = engine.wait(iid, timeout=30).output
    probe = report["steps"][0]
    assert probe["status"] == "canceled"
    assert "stopped at: in progress (1)" in probe["detail"]["summary"]  # noticed at its next poll
    assert report["status"] == "Canceled"


def test_a_step_that_never_settles_is_reported_not_left_running(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.script["db"] = _polling(0)  # the failover never finishes
    iid = engine.start("recovery", run_input([data_step("db")]), instance_id="c3")
    engine.wait_for_custom_status(iid, _running("db"), skip_time=False)
    _cancel(engine, iid, "db")
    report = engine.wait(iid, timeout=60).output
    db = report["steps"][0]
    assert db["status"] == "canceled"
    assert "may still complete in Azure" in db["detail"]["summary"]


def test_cancel_while_awaiting_approval_runs_nothing(engine: DurableEngine, fake: FakeSteps) -> None:
    approval = {"required": True, "timeout": "PT15M"}
    iid = engine.start("recovery", run_input([data_step("db")], approval=approval), instance_id="c4")
    engine.wait_for_custom_status(iid, _phase("awaiting_approval"), skip_time=False)
    engine.raise_event(iid, "cancel", {"by": "ana", "reason": "false alarm"})
    report = engine.wait(iid).output
    assert report["status"] == "Canceled" and fake.changes() == []


# -- honest outcome -------------------------------------------------------------------------------------


def test_traffic_never_moved_is_failed_not_partially_succeeded(engine: DurableEngine, fake: FakeSteps) -> None:
    """Issue case 5: PartiallySucceeded was reported when traffic never moved (the service was still down)."""
    fake.script["traffic"] = lambda op, payload: (_ for _ in ()).throw(PermanentError("switch refused"))
    plan = (
        [data_step("db", rpo=None), traffic_step("traffic", after=["db"])]
        if False
        else [
            data_step("db"),
            traffic_step("traffic", after=["db"]),
        ]
    )
    report = engine.wait(engine.start("recovery", run_input(plan))).output
    assert report["status"] == "Failed"
    assert report["rto_seconds"] is None and report["service_restored_seconds"] is None


def test_failed_drill_reports_no_rto(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.script["traffic"] = lambda op, payload: (_ for _ in ()).throw(PermanentError("profile gone"))
    plan = [data_step("db"), traffic_step("traffic", after=["db"])]
    report = engine.wait(engine.start("recovery", run_input(plan, mode="drill"))).output
    assert report["status"] == "Failed" and report["rto_seconds"] is None


def test_rpo_is_unknown_not_zero_when_any_store_is_unknown(engine: DurableEngine, fake: FakeSteps) -> None:
    """Issue case 4: a forced failover with unknown loss reported rpo_estimate_seconds 0 on the run."""
    fake.script["a"] = lambda op, payload: {
        "done": True,
        "summary": "ok",
        "rpo_estimate_seconds": 7.0,
        "detail": {"rpo_basis": "replication lag before the failover"},
    }
    fake.script["b"] = lambda op, payload: {
        "done": True,
        "summary": "ok",
        "detail": {"rpo_basis": "unknown: lag unreadable"},
    }
    report = engine.wait(engine.start("recovery", run_input([data_step("a"), data_step("b")]))).output
    assert report["rpo_estimate_seconds"] is None
    stores = {s["step"]: s for s in report["rpo_by_store"]}
    assert stores["a"]["seconds"] == 7.0 and stores["a"]["basis"] == "replication lag before the failover"
    assert stores["b"]["seconds"] is None and stores["b"]["basis"].startswith("unknown")


# -- run-time overrides -----------------------------------------------------------------------------------


def test_an_approver_can_choose_the_failover_mode_for_this_run(engine: DurableEngine, fake: FakeSteps) -> None:
    """Issue case 3: with the primary healthy (a mistaken trigger, approved), the step still forced the failover:
    the mode was fixed in the plan. The approver now picks it for this run, and the report records it."""
    approval = {"required": True, "timeout": "PT15M"}
    iid = engine.start("recovery", run_input([data_step("db", failover_mode="forced")], approval=approval))
    engine.wait_for_custom_status(iid, _phase("awaiting_approval"), skip_time=False)
    decision = {"approved": True, "by": "ana", "reason": "primary is up", "overrides": {"sql_failover_mode": "planned"}}
    engine.raise_event(iid, "approval", decision)
    report = engine.wait(iid).output
    [begin] = [payload for op, sid, payload in fake.calls if op == "begin" and sid == "db"]
    assert begin["context"]["step"]["failover_mode"] == "planned"
    assert report["overrides"] == {"sql_failover_mode": "planned"}
    assert report["approval"]["overrides"] == {"sql_failover_mode": "planned"}


def test_the_run_graph_is_deleted_once_every_outcome_is_recorded(engine: DurableEngine, fake: FakeSteps) -> None:
    iid = engine.start("recovery", run_input([data_step("db"), data_step("after", after=["db"])]))
    assert engine.wait(iid).output["status"] == "Succeeded"
    engine.run_until_idle()
    exists, _ = engine.read_entity_state("run_graph", iid)
    assert not exists
