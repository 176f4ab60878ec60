"""Run admission (dr.admission) against an in-memory RunStore: the same questions both triggers ask."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dr.admission import (
    ACTIVE_STATUSES,
    PlanLocked,
    PlanLockState,
    RunSnapshot,
    acquire_plan,
    admit_operator_start,
    alert_refusal,
    awaiting_approval,
    cancel_run,
    plan_lock_operation,
    recovery_run,
)
from dr.errors import ConflictError, NotFoundError
from dr.graph import run_graph_operation
from dr.plan import parse_plan
from dr.run import RECOVERY_ORCHESTRATOR, STEP_ORCHESTRATOR, RunInput, RunReport, RunState, StepCustomStatus
from dr.views import live_summaries

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RUN_ID = "shop--failover--op-20261201T080000-abc123"


@dataclass
class MemoryRuns:
    """A RunStore over a dict, recording what it was asked to terminate."""

    instances: dict[str, RunSnapshot] = field(default_factory=dict)
    terminated: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    graphs: dict[str, Any] = field(default_factory=dict)  # run graph entities' states
    locks: dict[str, Any] = field(default_factory=dict)  # the lock entities' states, operations run at once

    def add(self, run: RunSnapshot) -> None:
        self.instances[run.instance_id] = run

    async def status(self, instance_id: str, *, show_input: bool = False) -> RunSnapshot | None:
        run = self.instances.get(instance_id)
        return run if run is None or show_input else replace(run, input=None)

    async def active(self, instance_id_prefix: str) -> list[RunSnapshot]:
        return [run for run in self.instances.values() if run.instance_id.startswith(instance_id_prefix) and run.active]

    async def terminate(self, instance_id: str, reason: str) -> None:
        self.terminated.append((instance_id, reason))

    async def raise_event(self, instance_id: str, name: str, data: dict[str, Any]) -> None:
        self.events.append((instance_id, name, data))

    async def signal_graph(self, run_id: str, operation: str, request: dict[str, Any]) -> None:
        self.graphs[run_id] = run_graph_operation(self.graphs.get(run_id), operation, request)[0]

    async def read_graph(self, run_id: str) -> Any:
        return self.graphs.get(run_id)

    async def signal_lock(self, plan_name: str, operation: str, request: dict[str, Any]) -> None:
        self.locks[plan_name] = plan_lock_operation(self.locks.get(plan_name), operation, request)

    async def read_lock(self, plan_name: str) -> Any:
        return self.locks.get(plan_name)

    def holder(self, plan_name: str) -> str | None:
        return PlanLockState.model_validate(self.locks.get(plan_name) or {}).holder


def run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _state() -> RunState:
    plan = parse_plan(
        {
            "name": "shop",
            "steps": [
                {"id": "probe", "kind": "health_check", "url": "http://x/a"},
                {"id": "verify", "kind": "health_check", "url": "http://x/b", "after": ["probe"]},
                {"id": "other", "kind": "health_check", "url": "http://x/c"},
            ],
        }
    )
    run_input = RunInput(plan=plan, mode="failover", trigger={"source": "operator"}, requested_at=T0)
    return RunState(RUN_ID, run_input, plan, T0)


def _recovery(state: RunState, status: str = "Running", instance_id: str = RUN_ID) -> RunSnapshot:
    return RunSnapshot(
        instance_id=instance_id,
        name=RECOVERY_ORCHESTRATOR,
        runtime_status=status,
        input=state.run.model_dump(mode="json"),
        custom_status=state.custom_status(T0).model_dump(mode="json"),
    )


def _step(step_id: str, status: str, summary: str = "") -> RunSnapshot:
    custom = StepCustomStatus(step=step_id, summary=summary, calls=1).model_dump(mode="json")
    return RunSnapshot(f"{RUN_ID}:{step_id}", STEP_ORCHESTRATOR, status, custom_status=custom)


@pytest.mark.parametrize("status", ["Pending", "Running", "Suspended"])
def test_a_failover_in_progress_blocks_operator_failovers_and_alerts_alike(status: str) -> None:
    runs = MemoryRuns()
    runs.add(_recovery(_state(), status))
    with pytest.raises(ConflictError, match=RUN_ID):
        run(admit_operator_start(runs, "shop", "failover"))
    refusal = run(alert_refusal(runs, "shop", "shop--failover--alert-abc"))
    assert refusal is not None and refusal.run_id == RUN_ID
    assert refusal.reason == f"plan 'shop': failover already in progress: {RUN_ID}"
    run(admit_operator_start(runs, "shop", "drill"))  # drills are not admitted against failovers


@pytest.mark.parametrize("status", ["Completed", "Failed", "Terminated", "ContinuedAsNew"])
def test_a_finished_failover_blocks_nothing(status: str) -> None:
    assert status not in ACTIVE_STATUSES
    runs = MemoryRuns()
    runs.add(_recovery(_state(), status))
    run(admit_operator_start(runs, "shop", "failover"))
    assert run(alert_refusal(runs, "shop", "shop--failover--alert-abc")) is None


def test_only_recovery_orchestrations_count_not_their_steps() -> None:
    runs = MemoryRuns()
    runs.add(_step("probe", "Running"))  # a step sub-orchestration's id starts with its run's
    run(admit_operator_start(runs, "shop", "failover"))
    with pytest.raises(NotFoundError):
        run(recovery_run(runs, f"{RUN_ID}:probe"))


def test_a_retried_alert_names_the_run_it_started() -> None:
    runs = MemoryRuns()
    runs.add(_recovery(_state(), "Completed"))
    refusal = run(alert_refusal(runs, "shop", RUN_ID))
    assert refusal is not None and refusal.run_id == RUN_ID
    assert refusal.reason == f"duplicate alert: run {RUN_ID} already exists"


def test_a_decision_needs_a_run_in_progress_awaiting_approval() -> None:
    state = _state()
    runs = MemoryRuns()
    runs.add(_recovery(state, "Suspended"))
    with pytest.raises(ConflictError, match="phase starting"):
        run(awaiting_approval(runs, RUN_ID))
    state.phase = "awaiting_approval"
    runs.add(_recovery(state, "Suspended"))
    assert run(awaiting_approval(runs, RUN_ID)).instance_id == RUN_ID
    runs.add(_recovery(state, "Terminated"))
    with pytest.raises(ConflictError, match="status Terminated"):
        run(awaiting_approval(runs, RUN_ID))


def test_graceful_cancel_tells_the_run_and_its_running_steps_and_terminates_nothing() -> None:
    state = _state()
    state.phase = "running"
    state.mark_running("probe", T0)
    state.mark_running("other", T0)
    runs = MemoryRuns()
    runs.add(_recovery(state, "Running"))
    runs.add(_step("probe", "Running"))
    runs.add(_step("other", "Completed"))  # finished since the run last published its status
    run(acquire_plan(runs, "shop", RUN_ID, now=T0))
    canceled = run(cancel_run(runs, RUN_ID, by="dee", reason="wrong plan", now=T0, write=lambda report: "unused"))
    assert not canceled.hard and canceled.report_url is None
    cancel = {"by": "dee", "reason": "wrong plan"}
    assert runs.events == [(RUN_ID, "cancel", cancel), (f"{RUN_ID}:probe", "cancel", cancel)]
    assert runs.terminated == []
    assert runs.holder("shop") == RUN_ID  # the run releases its lock when it ends


def test_hard_cancel_terminates_the_run_and_its_running_steps_and_writes_the_report() -> None:
    state = _state()
    state.phase = "running"
    state.mark_running("probe", T0)
    state.mark_running("other", T0)
    runs = MemoryRuns()
    runs.add(_recovery(state, "Running"))
    runs.add(_step("probe", "Running"))
    runs.add(_step("other", "Completed"))  # finished since the run last published its status
    written: list[RunReport] = []

    def write(report: RunReport) -> str:
        written.append(report)
        return f"https://reports/{report.instance_id}.json"

    now = T0 + timedelta(minutes=3)
    run(acquire_plan(runs, "shop", RUN_ID, now=T0))
    canceled = run(cancel_run(runs, RUN_ID, by="dee", reason="", now=now, write=write, hard=True))
    assert (canceled.by, canceled.reason) == ("dee", "canceled by operator")
    assert canceled.report_url == f"https://reports/{RUN_ID}.json"
    assert runs.terminated == [
        (RUN_ID, "canceled by dee: canceled by operator"),
        (f"{RUN_ID}:probe", "run canceled by dee"),
    ]
    assert runs.holder("shop") is None
    [report] = written
    assert report.status == "Canceled" and report.canceled == {
        "by": "dee",
        "reason": "canceled by operator",
        "at": "2026-12-01T08:03:00Z",
        "hard": True,
    }
    assert {s["id"]: s["status"] for s in report.steps} == {
        "probe": "canceled",
        "verify": "canceled",
        "other": "canceled",
    }
    probe = next(s for s in report.steps if s["id"] == "probe")
    assert "may still be changing the estate" in probe["detail"]["summary"]
    assert any("probe" in w and "other" in w for w in report.warnings)


@pytest.mark.parametrize(("status", "error"), [("Completed", ConflictError), (None, NotFoundError)])
def test_cancel_refuses_a_finished_or_unknown_run(status: str | None, error: type[Exception]) -> None:
    runs = MemoryRuns()
    if status:
        runs.add(_recovery(_state(), status))
    with pytest.raises(error):
        run(cancel_run(runs, RUN_ID, by="dee", reason="x", now=T0, write=lambda report: "unused"))
    assert runs.terminated == []


def test_live_summaries_come_from_the_running_steps_own_status() -> None:
    state = _state()
    state.mark_running("probe", T0)
    runs = MemoryRuns()
    recovery = _recovery(state)
    runs.add(recovery)
    runs.add(_step("probe", "Running", "probing 2/3"))
    runs.add(_step("verify", "Running", "not shown: the run does not show it running"))
    assert run(live_summaries(runs, recovery)) == {"probe": "probing 2/3"}


# -- the per-plan failover lock ---------------------------------------------------------------------------


def test_the_lock_grants_one_holder_and_names_it_to_everyone_else() -> None:
    runs = MemoryRuns()
    run(acquire_plan(runs, "shop", "shop--failover--a", now=T0))
    runs.add(_recovery(_state(), "Running", "shop--failover--a"))
    with pytest.raises(PlanLocked) as refused:
        run(acquire_plan(runs, "shop", "shop--failover--b", now=T0))
    assert refused.value.holder == "shop--failover--a"
    assert str(refused.value.message) == "plan 'shop': failover already in progress: shop--failover--a"
    run(acquire_plan(runs, "other", "other--failover--c", now=T0))  # one lock per plan
    # "release" frees only the holder's own lock.
    runs.locks["shop"] = plan_lock_operation(runs.locks["shop"], "release", {"run_id": "shop--failover--b"})
    assert runs.holder("shop") == "shop--failover--a"
    runs.locks["shop"] = plan_lock_operation(runs.locks["shop"], "release", {"run_id": "shop--failover--a"})
    run(acquire_plan(runs, "shop", "shop--failover--b", now=T0))
    assert runs.holder("shop") == "shop--failover--b"


def test_acquire_is_a_compare_and_set_even_for_the_same_run() -> None:
    state = plan_lock_operation(None, "acquire", {"run_id": "r1", "request": "q1", "at": "2026-12-01T08:00:00Z"})
    state = plan_lock_operation(state, "acquire", {"run_id": "r1", "request": "q2"})
    lock = PlanLockState.model_validate(state)
    assert lock.answer("q1") is not None and lock.answer("q1").granted  # type: ignore[union-attr]
    assert lock.answer("q2") is not None and not lock.answer("q2").granted  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        plan_lock_operation(state, "steal", {"run_id": "r2"})


@pytest.mark.parametrize("status", ["Completed", "Failed", "Terminated"])
def test_a_lock_held_by_a_run_no_longer_active_is_taken_over(status: str) -> None:
    runs = MemoryRuns()
    run(acquire_plan(runs, "shop", RUN_ID, now=T0))
    runs.add(_recovery(_state(), status))
    run(acquire_plan(runs, "shop", "shop--failover--next", now=T0))
    assert runs.holder("shop") == "shop--failover--next"


def test_a_lock_whose_holder_is_not_started_yet_holds_for_a_grace_period() -> None:
    runs = MemoryRuns()
    run(acquire_plan(runs, "shop", "shop--failover--starting", now=T0))
    with pytest.raises(PlanLocked):
        run(acquire_plan(runs, "shop", "shop--failover--next", now=T0 + timedelta(seconds=30)))
    run(acquire_plan(runs, "shop", "shop--failover--next", now=T0 + timedelta(minutes=5)))
    assert runs.holder("shop") == "shop--failover--next"


def test_an_alert_that_finds_its_run_under_the_lock_is_a_duplicate() -> None:
    runs = MemoryRuns()
    assert run(alert_refusal(runs, "shop", RUN_ID, lock=True, now=T0)) is None
    assert runs.holder("shop") == RUN_ID
    # A second delivery of the same alert, before the run exists: the lock names the run itself.
    again = run(alert_refusal(runs, "shop", RUN_ID, lock=True, now=T0))
    assert again is not None and again.reason.startswith("duplicate alert") and again.run_id == RUN_ID
