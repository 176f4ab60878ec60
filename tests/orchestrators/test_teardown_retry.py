"""A drill's teardown retried: drill_teardown and drill_teardown_retry, replayed through the SDK by the devstack
engine (virtual clock), with scripted step activities and an in-memory report store.

The retry's input is built the way the HTTP route builds it (dr.teardown.admit_teardown_retry), over the
engine's own instances: the step states come from the step sub-orchestrations' outputs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.host import DurableEngine, IndexedApp, RuntimeStatus, VirtualClock
from dr.admission import RunSnapshot
from dr.errors import NotFoundError, PermanentError
from dr.report import WriteReportInput
from dr.run import step_instance_id
from dr.teardown import (
    TEARDOWN_RETRY_ORCHESTRATOR,
    TEARDOWN_WARNING,
    LeftBehind,
    TeardownRetryInput,
    admit_teardown_retry,
    left_behind,
    teardown_retry_instance_id,
)

from .conftest import FakeSteps, run_input, step

RUN_ID = "shop--drill--op-20260101T000000-abc123"  # read_report only takes ids of the form runs get


class EngineRuns:
    """dr.teardown.TeardownRunStore over the virtual-clock engine (what DurableRuns is over the client)."""

    def __init__(self, engine: DurableEngine) -> None:
        self.engine = engine

    @staticmethod
    def _snapshot(found: Any) -> RunSnapshot:
        return RunSnapshot(
            instance_id=found.instance_id,
            name=found.name,
            runtime_status=found.runtime_status.value,
            created=found.created_time,
            updated=found.last_updated_time,
            input=found.input,
            custom_status=found.custom_status,
            output=found.output,
        )

    async def status(self, instance_id: str, *, show_input: bool = False) -> RunSnapshot | None:
        found = self.engine.get_status(instance_id, history=False)
        return None if found is None else self._snapshot(found)

    async def active(self, instance_id_prefix: str) -> list[RunSnapshot]:
        active = [RuntimeStatus.RUNNING, RuntimeStatus.PENDING, RuntimeStatus.SUSPENDED]
        return [self._snapshot(i) for i in self.engine.list_instances(runtime_status=active, prefix=instance_id_prefix)]

    async def created_between(
        self, start: datetime, end: datetime, instance_id_prefix: str | None = None
    ) -> list[RunSnapshot]:
        return [self._snapshot(i) for i in self.engine.list_instances(prefix=instance_id_prefix)]

    async def terminate(self, instance_id: str, reason: str) -> None:
        raise AssertionError("a teardown retry terminates nothing")

    async def raise_event(self, instance_id: str, name: str, data: dict[str, Any]) -> None:
        raise AssertionError("a teardown retry raises no event")

    async def signal_graph(self, run_id: str, operation: str, request: dict[str, Any]) -> None:
        raise AssertionError("a teardown retry signals no graph")

    async def read_graph(self, run_id: str) -> Any:
        return None

    async def signal_lock(self, plan_name: str, operation: str, request: dict[str, Any]) -> None:
        raise AssertionError("a teardown retry takes no plan lock")

    async def read_lock(self, plan_name: str) -> Any:
        raise AssertionError("a teardown retry takes no plan lock")


class Reports:
    """The reports container in memory, behind the real activities' names and input models."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def write(self, payload: dict[str, Any]) -> str:
        # Through the activity's own input model, as the real write_report reads it: keys a retry adds
        # (left_behind, teardown_retries) must survive the trip.
        report = WriteReportInput.model_validate(payload).report
        self.stored[report.instance_id] = report.model_dump(mode="json")
        self.writes += 1
        return f"memory://reports/{report.instance_id}.json"

    def read(self, payload: dict[str, Any]) -> dict[str, Any]:
        instance_id = payload["instance_id"]
        if instance_id not in self.stored:
            raise NotFoundError(f"run {instance_id!r} has no report (yet)", code="ReportNotFound")
        return self.stored[instance_id]


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def drill_engine(app: IndexedApp, fake: FakeSteps, reports: Reports) -> Iterator[DurableEngine]:
    overrides = {**fake.overrides(), "write_report": reports.write, "read_report": reports.read}
    with DurableEngine.running(app, state_dir=None, clock=VirtualClock(), activity_overrides=overrides) as running:
        yield running


def failing_teardowns(times: int) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """A step that creates something in begin and whose undo is refused ``times`` times, then succeeds."""
    refused = {"n": 0}

    def behaviour(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        step_id = payload["context"]["step"]["id"]
        if op != "teardown":
            return {"done": True, "state": {"created": f"{step_id}-drill-db"}}
        assert payload["state"] == {"created": f"{step_id}-drill-db"}  # the state the step's run ended with
        assert payload["context"]["mode"] == "drill"
        if refused["n"] < times:
            refused["n"] += 1
            raise PermanentError("delete refused: database is locked", code="Conflict")
        return {"deleted": f"{step_id}-drill-db"}

    return behaviour


def drill_with_failed_teardown(engine: DurableEngine, fake: FakeSteps, reports: Reports, *, refusals: int) -> None:
    """Run drill RUN_ID of steps a, b (b after a): b's undo works, a's is refused ``refusals`` times."""
    fake.script["a"] = failing_teardowns(refusals)
    steps = [step("a"), step("b", after=["a"])]
    done = engine.wait(engine.start("recovery", run_input(steps, mode="drill"), instance_id=RUN_ID), timeout=30)
    assert done.runtime_status is RuntimeStatus.COMPLETED, done.output
    assert [entry.step for entry in left_behind(reports.stored[RUN_ID])] == ["a"]


def retry(
    engine: DurableEngine, reports: Reports, *, by: str = "ana", reason: str = "clean up"
) -> tuple[TeardownRetryInput, Any]:
    """Admit and run the next retry, as POST /api/recoveries/{id}/teardown does; its final status."""

    async def read(run_id: str) -> dict[str, Any]:
        return reports.read({"instance_id": run_id})

    admitted = asyncio.run(
        admit_teardown_retry(EngineRuns(engine), RUN_ID, read, requested_by=by, reason=reason, now=datetime.now(UTC))
    )
    instance_id = teardown_retry_instance_id(RUN_ID, admitted.retry)
    engine.start(TEARDOWN_RETRY_ORCHESTRATOR, admitted.model_dump(mode="json"), instance_id=instance_id)
    return admitted, engine.wait(instance_id, timeout=30)


def teardown_calls(fake: FakeSteps) -> list[tuple[str, str]]:
    return [(sid, payload["context"]["run_id"]) for op, sid, payload in fake.calls if op == "teardown"]


def test_retry_tears_down_what_was_left_and_the_report_says_nothing_is_left(
    drill_engine: DurableEngine, fake: FakeSteps, reports: Reports
) -> None:
    drill_with_failed_teardown(drill_engine, fake, reports, refusals=1)
    before = reports.stored[RUN_ID]
    assert f"a: {TEARDOWN_WARNING}" in before["warnings"]

    admitted, status = retry(drill_engine, reports)
    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output
    assert admitted.retry == 1 and admitted.teardown.attempt == 2
    # Only the step left behind is undone again, with the state its run ended with (from r:a's output).
    assert [(t.step, t.state) for t in admitted.teardown.steps] == [("a", {"created": "a-drill-db"})]
    assert teardown_calls(fake) == [("b", RUN_ID), ("a", RUN_ID), ("a", RUN_ID)]
    # A fresh step instance for the retry; the first attempt's history is kept.
    retried = drill_engine.get_status(f"{RUN_ID}:a-teardown-2", history=False)
    assert retried is not None and retried.runtime_status is RuntimeStatus.COMPLETED

    report = reports.stored[RUN_ID]
    by_id = {s["id"]: s for s in report["steps"]}
    assert by_id["a"]["detail"]["teardown"] == {"deleted": "a-drill-db"}
    assert TEARDOWN_WARNING not in by_id["a"]["detail"].get("warnings", [])
    assert by_id["b"]["detail"]["teardown"] == before["steps"][1]["detail"]["teardown"]  # untouched
    assert report["left_behind"] == [] and left_behind(report) == []
    assert not any(TEARDOWN_WARNING in w for w in report["warnings"])
    [record] = report["teardown_retries"]
    assert record["retry"] == 1 and record["instance_id"] == teardown_retry_instance_id(RUN_ID, 1)
    assert (record["requested_by"], record["reason"], record["torn_down"], record["failed"]) == (
        "ana",
        "clean up",
        ["a"],
        [],
    )
    # The run's own keys are what they were.
    assert {k: report[k] for k in ("status", "mode", "started_at", "rto_seconds")} == {
        k: before[k] for k in ("status", "mode", "started_at", "rto_seconds")
    }
    output = status.output
    assert output["left_behind"] == [] and output["report_url"] == f"memory://reports/{RUN_ID}.json"
    assert output["steps"] == [{"step": "a", "result": {"deleted": "a-drill-db"}}]


def test_a_retry_that_fails_again_still_lists_the_step_and_a_later_one_can_finish(
    drill_engine: DurableEngine, fake: FakeSteps, reports: Reports
) -> None:
    drill_with_failed_teardown(drill_engine, fake, reports, refusals=2)

    admitted, status = retry(drill_engine, reports)
    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output  # a failed undo fails no orchestration
    report = reports.stored[RUN_ID]
    expected = LeftBehind(step="a", kind="health_check", error="delete refused: database is locked")
    assert left_behind(report) == [expected]
    assert report["left_behind"] == [expected.model_dump(mode="json")]
    a = next(s for s in report["steps"] if s["id"] == "a")
    assert a["detail"]["teardown"]["status"] == "failed"
    assert a["detail"]["warnings"].count(TEARDOWN_WARNING) == 1
    assert report["warnings"].count(f"a: {TEARDOWN_WARNING}") == 1
    assert report["teardown_retries"][0]["failed"] == ["a"]
    assert status.output["left_behind"] == [expected.model_dump(mode="json")]

    # The next retry is number 2, on fresh instance ids, and this time the undo works.
    admitted, status = retry(drill_engine, reports, by="bo", reason="lock released")
    assert admitted.retry == 2 and admitted.teardown.attempt == 3
    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output
    report = reports.stored[RUN_ID]
    assert report["left_behind"] == [] and left_behind(report) == []
    assert [(r["retry"], r["failed"], r["torn_down"]) for r in report["teardown_retries"]] == [
        (1, ["a"], []),
        (2, [], ["a"]),
    ]
    for attempt in (2, 3):
        assert drill_engine.get_status(f"{RUN_ID}:a-teardown-{attempt}", history=False) is not None
    assert drill_engine.get_status(step_instance_id(RUN_ID, "a"), history=False) is not None


def test_drill_teardown_undoes_in_reverse_plan_order_and_reports_each_step(
    drill_engine: DurableEngine, fake: FakeSteps, reports: Reports
) -> None:
    """The sub-orchestration alone, from RunState-like outcomes (DrillTeardownInput.from_outcomes)."""
    from dr.plan import Plan
    from dr.run import StepOutcome
    from dr.teardown import DRILL_TEARDOWN_ORCHESTRATOR, DrillTeardownInput, DrillTeardownOutput

    fake.script["a"] = failing_teardowns(1)
    plan = Plan.model_validate(run_input([step("a"), step("b", after=["a"]), step("c")], mode="drill")["plan"])
    now = datetime.now(UTC)
    outcomes = {
        sid: StepOutcome(id=sid, kind="health_check", status="succeeded", started_at=now, finished_at=now, state=state)
        for sid, state in (("a", {"created": "a-drill-db"}), ("b", {"x": 1}))  # c never ran: nothing to undo
    }
    teardown = DrillTeardownInput.from_outcomes(RUN_ID, plan, 1.0, outcomes)
    done = drill_engine.wait(
        drill_engine.start(DRILL_TEARDOWN_ORCHESTRATOR, teardown.model_dump(mode="json"), instance_id="t1"), timeout=30
    )
    assert done.runtime_status is RuntimeStatus.COMPLETED, done.output
    output = DrillTeardownOutput.model_validate(done.output)
    assert [entry.step for entry in output.steps] == ["b", "a"]
    assert output.failed() == ["a"]
    a, b = output.result("a"), output.result("b")
    assert a is not None and a.status == "failed" and a.error == "delete refused: database is locked"
    assert b is not None and b.as_dict() == {"removed": "b"}  # the kind's answer as given
    assert drill_engine.get_status(f"{RUN_ID}:b-teardown-1", history=False) is not None
