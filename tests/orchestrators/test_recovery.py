"""The recovery and step orchestrators, replayed through the SDK by the devstack engine."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from devstack.host import DurableEngine, RuntimeStatus
from dr.durations import parse_time
from dr.errors import PermanentError, PreconditionError, TransientError

from .conftest import FakeSteps, data_step, run_input, step

SUB_CREATED = 7
TIMER_CREATED = 10
ORCHESTRATOR_STARTED = 12


def _episode_of_child_creation(status: Any) -> dict[str, int]:
    """For each child instance created, the index of the episode that created it."""
    episode = -1
    created: dict[str, int] = {}
    for event in status.history:
        if event["EventType"] == ORCHESTRATOR_STARTED:
            episode += 1
        elif event["EventType"] == SUB_CREATED:
            created[event["InstanceId"].rsplit(":", 1)[-1]] = episode
    return created


def test_independent_steps_fan_out_and_dependencies_wait(engine: DurableEngine, fake: FakeSteps) -> None:
    iid = engine.start("recovery", run_input([step("a"), step("b", after=["a"]), step("c")]), instance_id="r1")
    status = engine.wait(iid)
    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output
    # The run starts the steps with no dependencies together; b is started by a, the step it waits for,
    # when a finishes (dr.graph), not by the run after a wave.
    by_run = _episode_of_child_creation(engine.get_status(iid))
    assert set(by_run) == {"a", "c"} and by_run["a"] == by_run["c"]
    assert set(_episode_of_child_creation(engine.get_status(f"{iid}:a"))) == {"b"}
    report = status.output
    assert report["status"] == "Succeeded"
    assert [s["id"] for s in report["steps"]] == ["a", "b", "c"]
    a, b = report["steps"][0], report["steps"][1]
    assert parse_time(b["started_at"]) >= parse_time(a["finished_at"])
    assert fake.reports and fake.reports[0]["instance_id"] == "r1"
    assert report["report_url"] == "memory://reports/r1.json"


def test_failed_step_skips_dependents_but_not_independent_branches(engine: DurableEngine, fake: FakeSteps) -> None:
    def broken(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise PreconditionError("secondary is degraded", code="SecondaryUnhealthy")

    fake.script["a"] = broken
    plan = [data_step("a"), data_step("b", after=["a"]), step("c")]
    iid = engine.start("recovery", run_input(plan), instance_id="r2")
    report = engine.wait(iid).output
    by_id = {s["id"]: s for s in report["steps"]}
    # The verification step (c) succeeded: the service serves from the target; a data step failed.
    assert report["status"] == "PartiallySucceeded"
    assert by_id["a"]["status"] == "failed"
    assert by_id["a"]["detail"]["error"]["code"] == "SecondaryUnhealthy"
    assert by_id["b"]["status"] == "skipped"
    assert by_id["c"]["status"] == "succeeded"
    assert fake.ops("a") == ["begin"]  # a precondition failure is not retried
    assert fake.ops("b") == []


def test_monitor_pattern_polls_on_durable_timers(engine: DurableEngine, fake: FakeSteps) -> None:
    polls = {"n": 0}

    def slow(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        if op == "begin":
            return {
                "done": False,
                "state": {"op": "restore-1"},
                "poll_after_seconds": 30,
                "summary": "started",
            }
        polls["n"] += 1
        assert payload["state"] == {"op": "restore-1"}
        done = polls["n"] == 3
        return {
            "done": done,
            "state": payload["state"],
            "poll_after_seconds": 30,
            "summary": f"poll {polls['n']}",
            "rpo_estimate_seconds": 42.0,
        }

    fake.script["db"] = slow
    iid = engine.start("recovery", run_input([data_step("db")]), instance_id="r3")
    report = engine.wait(iid).output
    assert report["status"] == "Succeeded" and report["rpo_estimate_seconds"] == 42.0
    child = engine.get_status("r3:db")
    timers = child.events_of_type(TIMER_CREATED)
    assert len(timers) == 3
    fire_times = [parse_time(t["FireAt"]) for t in timers]
    assert all(b - a >= timedelta(seconds=30) for a, b in itertools.pairwise(fire_times))
    db = report["steps"][0]
    assert parse_time(db["finished_at"]) - parse_time(db["started_at"]) >= timedelta(seconds=90)


def test_transient_failures_are_retried_on_timers_then_succeed(engine: DurableEngine, fake: FakeSteps) -> None:
    attempts = {"n": 0}

    def flaky(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise TransientError("throttled", code="TooManyRequests")
        return {"done": True, "summary": "ok after retries"}

    fake.script["a"] = flaky
    iid = engine.start(
        "recovery", run_input([step("a", retry={"attempts": 3, "first_interval": "PT10S"})]), instance_id="r4"
    )
    report = engine.wait(iid).output
    assert report["status"] == "Succeeded"
    assert fake.ops("a") == ["begin", "begin", "begin"]
    assert len(engine.get_status("r4:a").events_of_type(TIMER_CREATED)) == 2


def test_retries_run_out_and_the_failure_is_reported(engine: DurableEngine, fake: FakeSteps) -> None:
    def always_busy(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise TransientError("group busy", code="FailoverGroupBusy")

    fake.script["a"] = always_busy
    iid = engine.start("recovery", run_input([step("a", retry={"attempts": 2})]), instance_id="r5")
    report = engine.wait(iid).output
    assert report["status"] == "Failed"
    assert report["steps"][0]["detail"]["error"] == {
        "category": "transient",
        "code": "FailoverGroupBusy",
        "message": "group busy",
    }
    assert fake.ops("a") == ["begin", "begin"]


def test_step_timeout_fails_the_step(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.script["db"] = lambda op, payload: {"done": False, "poll_after_seconds": 60, "summary": "restoring"}
    iid = engine.start(
        "recovery", run_input([step("db", timeout="PT5M"), step("after", after=["db"])]), instance_id="r6"
    )
    report = engine.wait(iid).output
    db, after = report["steps"]
    assert db["status"] == "failed" and db["detail"]["error"]["code"] == "StepTimedOut"
    assert after["status"] == "skipped"
    assert parse_time(db["finished_at"]) - parse_time(db["started_at"]) <= timedelta(minutes=5, seconds=1)


def test_work_items_fan_out_in_bounded_batches_and_results_keep_order(engine: DurableEngine, fake: FakeSteps) -> None:
    def pages(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        if op == "begin":
            return {
                "done": False,
                "work": [{"page": n} for n in range(10)],
                "max_parallel": 4,
                "state": {"k": 1},
            }
        if op == "work":
            return {"page": payload["item"]["page"], "copied": payload["item"]["page"] * 10}
        results = payload["work_results"]
        assert [r["page"] for r in results] == list(range(10))
        return {"done": True, "detail": {"copied": sum(r["copied"] for r in results)}}

    fake.script["blobs"] = pages
    iid = engine.start("recovery", run_input([step("blobs")]), instance_id="r7")
    report = engine.wait(iid).output
    assert report["steps"][0]["detail"]["copied"] == 450
    assert fake.ops("blobs").count("work") == 10
    # history grows with work items, not with anything finer
    child = engine.get_status("r7:blobs")
    assert len(child.events_of_type(4)) == 12  # begin + 10 work + poll


def test_unexpected_exception_in_a_kind_is_a_permanent_failure(engine: DurableEngine, fake: FakeSteps) -> None:
    def bug(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("properties")

    fake.script["a"] = bug
    report = engine.wait(engine.start("recovery", run_input([step("a")]), instance_id="r8")).output
    assert report["steps"][0]["detail"]["error"]["code"] == "UnexpectedError"
    assert fake.ops("a") == ["begin"]


def test_drill_tears_down_in_reverse_order_with_each_steps_state(engine: DurableEngine, fake: FakeSteps) -> None:
    def stateful(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        step_id = payload["context"]["step"]["id"]
        if op == "teardown":
            assert payload["state"] == {"created": step_id}
            assert payload["context"]["mode"] == "drill"
            return {"deleted": step_id}
        return {"done": True, "state": {"created": step_id}}

    fake.script["a"] = fake.script["b"] = stateful
    steps = [step("a"), step("b", after=["a"])]
    report = engine.wait(engine.start("recovery", run_input(steps, mode="drill"), instance_id="r9")).output
    assert [sid for op, sid, _ in fake.calls if op == "teardown"] == ["b", "a"]
    assert report["mode"] == "drill"
    assert {s["id"]: s["detail"]["teardown"] for s in report["steps"]} == {
        "a": {"deleted": "a"},
        "b": {"deleted": "b"},
    }


def test_a_drill_step_knows_the_failover_values_its_overrides_replaced(engine: DurableEngine, fake: FakeSteps) -> None:
    """From the run's plan snapshot (not the plans folder): what a drill must never write to."""
    steps = [step("a"), step("b")]
    drill = {"overrides": {"a": {"url": "http://127.0.0.1:9/a-drill"}}}
    engine.wait(engine.start("recovery", run_input(steps, mode="drill", drill=drill), instance_id="r12"))
    begins = {sid: payload["context"] for op, sid, payload in fake.calls if op == "begin"}
    assert begins["a"]["step"]["url"] == "http://127.0.0.1:9/a-drill"
    assert begins["a"]["failover_values"] == {"url": "http://127.0.0.1:9/a"}
    assert begins["b"]["failover_values"] == {}
    engine.wait(engine.start("recovery", run_input(steps, drill=drill), instance_id="r13"))
    failover = [payload["context"] for op, sid, payload in fake.calls if op == "begin" and sid == "a"][-1]
    assert failover["step"]["url"] == "http://127.0.0.1:9/a" and failover["failover_values"] is None


def test_teardown_failure_is_reported_not_fatal(engine: DurableEngine, fake: FakeSteps) -> None:
    def leaky(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        if op == "teardown":
            raise PermanentError("delete refused", code="Conflict")
        return {"done": True}

    fake.script["a"] = leaky
    report = engine.wait(engine.start("recovery", run_input([step("a")], mode="drill"), instance_id="r10")).output
    a = report["steps"][0]
    assert a["status"] == "succeeded"
    assert a["detail"]["teardown"]["status"] == "failed" and "delete refused" in a["detail"]["teardown"]["error"]
    assert any("teardown failed" in w for w in report["warnings"])


def test_report_storage_down_still_returns_the_report(engine: DurableEngine, fake: FakeSteps, app: Any) -> None:
    overrides = fake.overrides()

    def storage_down(payload: dict[str, Any]) -> str:
        raise TransientError("storage unreachable", code="ConnectionError")

    overrides["write_report"] = storage_down
    with DurableEngine.running(app, state_dir=None, clock=engine.clock, activity_overrides=overrides) as other:
        report = other.wait(other.start("recovery", run_input([step("a")]), instance_id="r11"), timeout=20).output
    assert report["status"] == "Succeeded" and report["report_url"] is None
    assert any("report not stored" in w for w in report["warnings"])


def test_a_drill_reports_what_it_created_and_for_how_long(engine: DurableEngine, fake: FakeSteps) -> None:
    """Issue #16: the drill's footprint (resource x minutes, until teardown removed it) estimates its cost; what a
    failed teardown left is still standing."""

    payload_created: dict[str, list[dict[str, Any]]] = {}

    def lasting(name: str, *, leak: bool) -> Any:
        def behaviour(op: str, payload: dict[str, Any]) -> dict[str, Any]:
            if op == "teardown":
                if leak:
                    raise PermanentError("delete refused", code="Conflict")
                return {"teardown": f"deleted {name}"}
            if op == "begin":
                payload_created[name] = [
                    {"type": "SQL database", "name": name, "created_at": payload["context"]["now"]}
                ]
                return {
                    "done": False,
                    "state": {},
                    "poll_after_seconds": 600,
                    "detail": {"drill_created": payload_created[name]},
                }
            return {"done": True, "detail": {"drill_created": payload_created[name]}}

        return behaviour

    fake.script["kept"] = lasting("db-drill", leak=False)
    fake.script["leaked"] = lasting("db2-drill", leak=True)
    plan = [data_step("kept"), data_step("leaked")]
    report = engine.wait(engine.start("recovery", run_input(plan, mode="drill")), timeout=30).output
    cost = report["drill_cost"]
    by_name = {item["name"]: item for item in cost["resources"]}
    assert by_name["db-drill"]["removed_at"] is not None and by_name["db-drill"]["minutes"] >= 10
    assert by_name["db2-drill"]["removed_at"] is None and cost["still_standing"] == ["db2-drill"]
    assert cost["resource_minutes"] == round(sum(item["minutes"] for item in cost["resources"]), 2)
