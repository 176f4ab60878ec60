"""Client operations on the engine: terminate, suspend/resume, instance ids, overrides, purge, restarts."""

from __future__ import annotations

import threading
from pathlib import Path
from types import ModuleType

import pytest

from devstack.host import (
    DurableEngine,
    IndexedApp,
    InstanceAlreadyExistsError,
    InstanceGoneError,
    InstanceNotFoundError,
    RuntimeStatus,
    VirtualClock,
)
from devstack.host.history import EventType

from .helpers import of_type


def _awaiting(engine: DurableEngine, instance_id: str) -> None:
    engine.wait_for_custom_status(instance_id, lambda s: s == {"stage": "awaiting approval"})


def test_terminate_ends_a_running_instance_with_the_reason(engine: DurableEngine) -> None:
    instance_id = engine.start("approval_workflow", {"timeout_hours": 24})
    _awaiting(engine, instance_id)

    engine.terminate(instance_id, "operator cancelled")
    status = engine.wait(instance_id)

    assert status.runtime_status is RuntimeStatus.TERMINATED
    assert status.output == "operator cancelled"
    assert len(of_type(status.history, EventType.EXECUTION_TERMINATED)) == 1
    with pytest.raises(InstanceGoneError):
        engine.raise_event(instance_id, "Approval", {"approved": True})


def test_a_suspended_instance_holds_events_until_resumed(engine: DurableEngine) -> None:
    instance_id = engine.start("approval_workflow", {"timeout_hours": 24})
    _awaiting(engine, instance_id)

    engine.suspend(instance_id, "maintenance")
    engine.raise_event(instance_id, "Approval", {"approved": True, "by": "late"})
    engine.run_until_idle()
    suspended = engine.get_status(instance_id)
    engine.resume(instance_id, "back")
    status = engine.wait(instance_id)

    assert suspended is not None
    assert suspended.runtime_status is RuntimeStatus.SUSPENDED
    assert status.output == {"approved": True, "note": "Hello late!"}
    assert len(of_type(status.history, EventType.EXECUTION_SUSPENDED)) == 1
    assert len(of_type(status.history, EventType.EXECUTION_RESUMED)) == 1


def test_a_running_instance_id_is_refused_and_a_finished_one_can_be_reused(engine: DurableEngine) -> None:
    engine.start("approval_workflow", {"timeout_hours": 1}, instance_id="run-1")
    with pytest.raises(InstanceAlreadyExistsError):
        engine.start("hello_sequence", None, instance_id="run-1")
    first = engine.wait("run-1")

    engine.start("hello_sequence", {"cities": ["Rome"]}, instance_id="run-1")
    second = engine.wait("run-1")

    assert first.runtime_status is RuntimeStatus.COMPLETED
    assert second.name == "hello_sequence"
    assert second.output == ["Hello Rome!"]
    assert len(of_type(second.history, EventType.EXECUTION_STARTED)) == 1


def test_concurrent_starts_of_one_instance_id_create_one_instance(engine: DurableEngine) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        try:
            engine.start("approval_workflow", {"timeout_hours": 1}, instance_id="contended")
            outcomes.append("started")
        except InstanceAlreadyExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused"] * 7 + ["started"]
    assert engine.wait("contended").runtime_status is RuntimeStatus.COMPLETED


def test_unknown_instances_and_orchestrators_are_reported(engine: DurableEngine) -> None:
    with pytest.raises(InstanceNotFoundError):
        engine.raise_event("nobody", "Approval")
    with pytest.raises(Exception, match="doesn't exist, is disabled, or is not an orchestrator function"):
        engine.start("no_such_orchestrator")
    with pytest.raises(Exception, match="must not contain"):
        engine.start("hello_sequence", instance_id="a/b")
    assert engine.get_status("nobody") is None


def test_activity_overrides_run_fakes_under_the_real_names(sample_app: IndexedApp, patterns: ModuleType) -> None:
    calls_before = patterns.ACTIVITY_CALLS.get("say_hello", 0)
    seen: list[str] = []

    def fake_hello(city: str) -> str:
        seen.append(city)
        return f"fake {city}"

    with DurableEngine.running(
        sample_app, clock=VirtualClock(), activity_overrides={"say_hello": fake_hello}, verify_replay=True
    ) as engine:
        status = engine.wait(engine.start("hello_sequence", {"cities": ["Oslo", "Lima"]}))

    assert status.output == ["fake Oslo", "fake Lima"]
    assert seen == ["Oslo", "Lima"]
    assert patterns.ACTIVITY_CALLS.get("say_hello", 0) == calls_before


def test_list_and_purge_instances(engine: DurableEngine) -> None:
    done = engine.start("hello_sequence", {"cities": ["A"]}, instance_id="list-done")
    engine.wait(done)
    engine.start("approval_workflow", {"timeout_hours": 1}, instance_id="list-waiting")
    _awaiting(engine, "list-waiting")

    completed = engine.list_instances(runtime_status=[RuntimeStatus.COMPLETED], prefix="list-")
    running = engine.list_instances(runtime_status=[RuntimeStatus.RUNNING], prefix="list-")
    purged = engine.purge(done)

    assert [s.instance_id for s in completed] == ["list-done"]
    assert [s.instance_id for s in running] == ["list-waiting"]
    assert purged is True
    assert engine.get_status(done) is None
    assert engine.purge(done) is False


def test_state_in_a_state_dir_survives_an_engine_restart(sample_app: IndexedApp, tmp_path: Path) -> None:
    clock = VirtualClock()
    with DurableEngine.running(sample_app, state_dir=tmp_path, clock=clock, verify_replay=True) as first:
        instance_id = first.start("approval_workflow", {"timeout_hours": 24})
        _awaiting(first, instance_id)

    with DurableEngine.running(sample_app, state_dir=tmp_path, clock=clock, verify_replay=True) as second:
        second.raise_event(instance_id, "Approval", {"approved": True, "by": "after restart"})
        status = second.wait(instance_id)

    assert status.output == {"approved": True, "note": "Hello after restart!"}


def test_a_state_dir_serves_one_host_at_a_time(sample_app: IndexedApp, tmp_path: Path) -> None:
    with (
        DurableEngine.running(sample_app, state_dir=tmp_path),
        pytest.raises(Exception, match="another host"),
        DurableEngine.running(sample_app, state_dir=tmp_path),
    ):
        pass


def test_advance_fires_due_timers_in_order(engine: DurableEngine) -> None:
    from datetime import timedelta

    instance_id = engine.start("approval_workflow", {"timeout_hours": 2})
    _awaiting(engine, instance_id)

    engine.advance(timedelta(hours=1))
    halfway = engine.get_status(instance_id)
    engine.advance(timedelta(hours=1, seconds=1))
    status = engine.get_status(instance_id)

    assert halfway is not None
    assert halfway.runtime_status is RuntimeStatus.RUNNING
    assert status is not None
    assert status.custom_status == {"stage": "timed out"}
