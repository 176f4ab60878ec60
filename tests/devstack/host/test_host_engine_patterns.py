"""The Durable patterns of the sample app, run by the engine on a virtual clock (no test sleeps)."""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from datetime import timedelta
from types import ModuleType

import pytest

from devstack.host import DurableEngine, IndexedApp, RealClock, RuntimeStatus
from devstack.host.clock import parse_time
from devstack.host.history import EventType

from .helpers import assert_well_formed, of_type


def test_function_chaining_returns_each_result_in_order(engine: DurableEngine) -> None:
    instance_id = engine.start("hello_sequence", {"cities": ["Tokyo", "Seattle", "London"]})

    status = engine.wait(instance_id)

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert [e["Name"] for e in of_type(status.history, EventType.TASK_SCHEDULED)] == ["say_hello"] * 3
    assert_well_formed(status.history)


def test_fan_out_fan_in_gathers_every_result_in_a_few_episodes(engine: DurableEngine) -> None:
    episodes_before = engine.stats.episodes

    status = engine.wait(engine.start("fan_out_fan_in", {"count": 200}))

    assert status.output == sum(n * n for n in range(200))
    assert len(of_type(status.history, EventType.TASK_COMPLETED)) == 200
    # Completions are batched: far fewer replays than activities.
    assert engine.stats.episodes - episodes_before < 30
    assert_well_formed(status.history)


def test_approval_raised_before_the_deadline_wins_and_cancels_the_timer(engine: DurableEngine) -> None:
    started_at = engine.clock.now()
    instance_id = engine.start("approval_workflow", {"timeout_hours": 24})
    engine.wait_for_custom_status(instance_id, lambda s: s == {"stage": "awaiting approval"})

    engine.raise_event(instance_id, "Approval", {"approved": True, "by": "ops"})
    status = engine.wait(instance_id)

    assert status.output == {"approved": True, "note": "Hello ops!"}
    assert status.custom_status == {"stage": "decided"}
    assert of_type(status.history, EventType.TIMER_FIRED) == []
    # The canceled 24 h timer must not drag the clock forward later.
    engine.run_until_idle()
    assert engine.clock.now() - started_at < timedelta(minutes=1)


def test_approval_times_out_on_the_virtual_clock_without_sleeping(engine: DurableEngine) -> None:
    started_at = engine.clock.now()
    real_start = time.monotonic()

    status = engine.wait(engine.start("approval_workflow", {"timeout_hours": 24}))

    assert status.custom_status == {"stage": "timed out"}
    assert status.output["approved"] is False
    assert parse_time(status.output["timed_out_at"]) == started_at + timedelta(hours=24)
    assert time.monotonic() - real_start < 5


def test_monitor_polls_with_durable_timers_until_the_job_is_done(engine: DurableEngine) -> None:
    started_at = engine.clock.now()

    status = engine.wait(engine.start("monitor_job", {"job": "restore-1", "interval_s": 30}))

    assert status.output["state"] == "done"
    assert status.output["polls"] == 3
    assert parse_time(status.output["finished_at"]) == started_at + timedelta(seconds=60)
    assert status.custom_status == {"polls": 3, "state": "done"}
    assert len(of_type(status.history, EventType.TIMER_FIRED)) == 2
    assert_well_formed(status.history)


def test_activity_retry_waits_the_retry_interval_between_attempts(
    engine: DurableEngine, patterns: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    key = f"retry-{uuid.uuid4()}"

    with caplog.at_level(logging.ERROR, logger="Host.Triggers.DurableTask"):
        iid = engine.start("flaky_with_retry", {"key": key, "fail_times": 2})
        status = engine.wait(iid)

    assert status.output == "succeeded on attempt 3"
    assert patterns.ACTIVITY_CALLS[key] == 3
    failed = of_type(status.history, EventType.TASK_FAILED)
    timers = of_type(status.history, EventType.TIMER_CREATED)
    assert [e["Reason"] for e in failed] == [
        f"Activity function 'flaky' failed:  ConnectionError: transient failure {n} for {key}" for n in (1, 2)
    ]
    # Each failed attempt is logged as the extension logs it (EndToEndTraceHelper.FunctionFailed).
    logged = [r.getMessage() for r in caplog.records if r.name == "Host.Triggers.DurableTask" and iid in r.getMessage()]
    assert len(logged) == 2
    for attempt, line in enumerate(logged, start=1):
        assert line.startswith(f"{iid}: Function 'flaky (Activity)' failed with an error. Reason: ConnectionError: ")
        assert f"transient failure {attempt} for {key}" in line
    for failure, timer in zip(failed, timers, strict=True):
        assert parse_time(timer["FireAt"]) - parse_time(failure["Timestamp"]) == timedelta(seconds=5)
    assert_well_formed(status.history)


def test_retry_backoff_coefficient_and_max_interval_are_honoured(engine: DurableEngine) -> None:
    key = f"backoff-{uuid.uuid4()}"

    status = engine.wait(engine.start("flaky_with_backoff", {"key": key, "fail_times": 3}))

    assert status.output == "succeeded on attempt 4"
    failed = of_type(status.history, EventType.TASK_FAILED)
    timers = of_type(status.history, EventType.TIMER_CREATED)
    delays = [parse_time(t["FireAt"]) - parse_time(f["Timestamp"]) for f, t in zip(failed, timers, strict=True)]
    assert delays == [timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=3)]


def test_retries_give_up_after_max_attempts_and_the_orchestrator_sees_the_last_error(
    engine: DurableEngine, patterns: ModuleType
) -> None:
    key = f"exhaust-{uuid.uuid4()}"

    status = engine.wait(engine.start("retry_exhausted", {"key": key, "fail_times": 10}))

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output["gave_up"] is True
    assert status.output["error"].startswith(
        f"Activity function 'flaky' failed:  ConnectionError: transient failure 2 for {key}"
    )
    assert patterns.ACTIVITY_CALLS[key] == 2
    # As in DurableTask, a retry timer follows the last failure too before the task fails.
    assert len(of_type(status.history, EventType.TIMER_FIRED)) == 2


def test_activity_exception_reaches_the_orchestrator_with_its_reason(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("activity_failure_seen", {"message": "no access to the vault"}))

    # The extension's TaskFailed: `Activity function '<name>' failed: ` and the worker's "<type>: <message>"
    # (cut from the RpcException with its leading space); the SDK raises `Reason \n Details`.
    reason = "Activity function 'fail_with' failed:  PermissionError: no access to the vault"
    assert status.output["caught"].startswith(reason + " \n ")
    (failed,) = of_type(status.history, EventType.TASK_FAILED)
    assert failed["Reason"] == reason
    details = json.loads(failed["Details"])
    assert details["Message"] == " PermissionError: no access to the vault"
    stack = details["InnerException"]["RemoteStackTrace"]
    assert "sample_durable_patterns.py" in stack
    assert "engine.py" not in stack
    assert "invoker.py" not in stack


def test_orchestrator_exception_fails_the_instance_with_its_message(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("failing_orchestrator", None))

    assert status.runtime_status is RuntimeStatus.FAILED
    assert status.output == "Orchestrator function 'failing_orchestrator' failed: the orchestrator gave up"
    (completed,) = of_type(status.history, EventType.EXECUTION_COMPLETED)
    assert completed["OrchestrationStatus"] == "Failed"


def test_sub_orchestrations_with_ids_without_ids_with_retry_and_failing(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("parent_orchestrator", {"value": 3}, instance_id="parent-1"))

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output["doubled"] == 6
    assert status.output["unnamed"] == 12
    assert status.output["retried"] == 24
    assert "Orchestrator function 'failing_child' failed: the child failed" in status.output["child_error"]
    named_child = engine.get_status("parent-1-child")
    assert named_child is not None
    assert named_child.runtime_status is RuntimeStatus.COMPLETED
    assert named_child.parent_instance_id == "parent-1"
    # Without an instance id each attempt of the failing child is its own instance; both failed.
    created = of_type(status.history, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED)
    failing = [e["InstanceId"] for e in created if e["Name"] == "failing_child"]
    assert len(failing) == 2
    for child_id in failing:
        child = engine.get_status(child_id)
        assert child is not None
        assert child.runtime_status is RuntimeStatus.FAILED
    assert len(of_type(status.history, EventType.SUB_ORCHESTRATION_INSTANCE_FAILED)) == 2
    assert_well_formed(status.history)


def test_continue_as_new_starts_a_fresh_history_with_the_new_input(engine: DurableEngine) -> None:
    started_at = engine.clock.now()

    status = engine.wait(engine.start("eternal_counter", {"count": 0, "until": 3}))

    assert status.output == {"count": 3}
    assert status.custom_status == {"count": 3}
    (started,) = of_type(status.history, EventType.EXECUTION_STARTED)
    assert '\\"count\\": 2' in started["Input"]
    assert len(of_type(status.history, EventType.TASK_SCHEDULED)) == 1
    assert engine.clock.now() - started_at >= timedelta(minutes=10)
    assert_well_formed(status.history)


def test_a_nondeterministic_orchestrator_fails_naming_the_divergent_action(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("nondeterministic", None))

    assert status.runtime_status is RuntimeStatus.FAILED
    assert status.output.startswith("Non-Deterministic workflow detected")
    assert "activity 'say_hello'" in status.output
    assert "activity 'square'" in status.output
    assert "sequence ID 0" in status.output


def test_calling_an_unknown_activity_fails_the_orchestration(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("uses_unknown_activity", None))

    assert status.runtime_status is RuntimeStatus.FAILED
    assert "The function 'no_such_activity' doesn't exist" in status.output
    assert "'say_hello'" in status.output


@pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")  # the SDK's note on buffered events
def test_events_raised_before_the_orchestrator_waits_are_buffered(engine: DurableEngine) -> None:
    instance_id = engine.start("event_gate", None)
    engine.raise_event(instance_id, "second", 2)
    engine.raise_event(instance_id, "go", {"x": 1})

    status = engine.wait(instance_id)

    assert status.output == {"go": {"x": 1}, "second": 2}


def test_task_any_resumes_with_the_first_task_to_finish(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("race_first", None))

    assert status.output == "fast"


def test_task_any_over_a_task_yielded_before_stalls_what_follows_as_the_extension_does(
    engine: DurableEngine,
) -> None:
    """The reason dr.graph exists: the orchestrator resumed on `slow`, yet `after` is scheduled only once
    `slower` (the one task the compound action held) has completed, as the extension's shim awaits it."""
    status = engine.wait(engine.start("any_over_running_set", None), timeout=30)
    assert status.output == {"winner": "slow", "after": "after"}
    history = status.history
    scheduled = {json.loads(e["Input"])["tag"]: e["EventId"] for e in of_type(history, EventType.TASK_SCHEDULED)}
    completed_at = {
        e["TaskScheduledId"]: i for i, e in enumerate(history) if e["EventType"] == EventType.TASK_COMPLETED
    }
    after_at = next(
        i
        for i, e in enumerate(history)
        if e["EventType"] == EventType.TASK_SCHEDULED and e["EventId"] == scheduled["after"]
    )
    assert after_at > completed_at[scheduled["slower"]] > completed_at[scheduled["slow"]]


def test_timers_longer_than_six_days_are_chained_in_three_day_steps(engine: DurableEngine) -> None:
    started_at = engine.clock.now()

    status = engine.wait(engine.start("long_sleeper", {"days": 30}))

    assert status.output == {"slept_seconds": 30 * 24 * 3600}
    fire_times = [parse_time(e["FireAt"]) for e in of_type(status.history, EventType.TIMER_CREATED)]
    assert fire_times[0] == started_at + timedelta(days=3)
    assert fire_times[-1] == started_at + timedelta(days=30)
    assert all(b - a <= timedelta(days=6) for a, b in itertools.pairwise(fire_times))


def test_is_replaying_and_played_flags_follow_the_episodes(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("replay_probe", None))

    # Final episode: the code before each old yield is a replay, the code after the last result is new.
    assert status.output["flags"] == [True, True, False]
    assert status.output["results"] == ["Hello a!", "Hello b!"]
    assert len(of_type(status.history, EventType.ORCHESTRATOR_STARTED)) == 3
    assert_well_formed(status.history)


def test_inputs_of_any_json_type_reach_the_orchestrator(engine: DurableEngine) -> None:
    for value, type_name in (({"a": 1}, "dict"), ([1, 2], "list"), ("text", "str"), (7, "int")):
        status = engine.wait(engine.start("echo_input", value))
        assert status.output == {"input": value, "type": type_name}


def test_durable_http_calls_are_reported_as_unsupported(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("uses_durable_http", None))

    assert status.runtime_status is RuntimeStatus.FAILED
    assert "CALL_HTTP" in status.output
    assert "not support" in status.output


def test_durable_timers_fire_in_real_time_with_the_real_clock(sample_app: IndexedApp) -> None:
    with DurableEngine.running(sample_app, clock=RealClock(), verify_replay=True) as engine:
        started = time.monotonic()
        status = engine.wait(engine.start("monitor_job", {"job": "quick", "interval_s": 0.3}), timeout=10)
        elapsed = time.monotonic() - started

    assert status.output["state"] == "done"
    assert 0.6 <= elapsed < 5  # two real 0.3 s timers


def test_interleaved_retries_keep_sequence_numbers_in_step_with_the_sdk(engine: DurableEngine) -> None:
    keys = [f"storm-{uuid.uuid4()}" for _ in range(4)]

    status = engine.wait(engine.start("retry_storm", {"keys": keys}))

    # verify_replay (on in these fixtures) compared the host's numbering with the SDK's at every episode.
    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output
    assert status.output["gathered"] == ["succeeded on attempt 4", "succeeded on attempt 2", "Hello in between!", 10]
    assert status.output["first"] == "succeeded on attempt 3" or status.output["first"] == "succeeded on attempt 2"
    assert status.output["after"] == "Hello after the storm!"
    assert len(of_type(status.history, EventType.TASK_FAILED)) >= 6
    assert_well_formed(status.history)
