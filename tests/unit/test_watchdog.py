"""The stuck-run decision (dr.watchdog): a pure function of a run's last status, its plan snapshot and now."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dr.admission import RunSnapshot
from dr.durations import iso
from dr.run import RECOVERY_ORCHESTRATOR
from dr.settings import Settings
from dr.views import snapshot_view
from dr.watchdog import WATCHDOG_EVENT, WatchdogBounds, find_stuck, log_line, log_record, stuck_reason

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
BOUNDS = WatchdogBounds(phase_bound=timedelta(minutes=30), grace=timedelta(minutes=5))


def run_input(timeouts: dict[str, str | None]) -> dict[str, Any]:
    steps = [
        {"id": step, "kind": "health_check", "url": "https://x/health", "timeout": t} for step, t in timeouts.items()
    ]
    return {"plan": {"name": "shop", "steps": steps}, "mode": "failover", "trigger": {}, "requested_at": iso(T0)}


def status(
    phase: str,
    *,
    updated_at: datetime = T0,
    steps: dict[str, dict[str, Any]] | None = None,
    approval: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "phase": phase,
        "plan": "shop",
        "mode": "failover",
        "approval": approval or {"required": False, "decision": "pending"},
        "steps": steps or {},
        "updated_at": iso(updated_at),
    }


def snapshot(
    custom: dict[str, Any] | None,
    *,
    runtime_status: str = "Running",
    timeouts: dict[str, str | None] | None = None,
    name: str = RECOVERY_ORCHESTRATOR,
    instance_id: str = "shop~failover~1",
) -> RunSnapshot:
    return RunSnapshot(
        instance_id=instance_id,
        name=name,
        runtime_status=runtime_status,
        created=T0,
        updated=T0,
        input=json.dumps(run_input(timeouts or {"db": "PT2H"})),
        custom_status=custom,
    )


def running_step(started: datetime) -> dict[str, dict[str, Any]]:
    return {"db": {"kind": "sql_geo_restore", "status": "running", "started_at": iso(started)}}


def test_a_step_running_past_its_timeout_and_the_grace_is_stuck() -> None:
    run = snapshot(status("running", steps=running_step(T0)))

    assert stuck_reason(run, T0 + timedelta(hours=2, minutes=5), BOUNDS) is None  # exactly at the bound
    stuck = stuck_reason(run, T0 + timedelta(hours=2, minutes=6), BOUNDS)

    assert stuck is not None
    assert stuck.kind == "step_deadline"
    assert stuck.step == "db"
    assert stuck.since == T0
    assert stuck.deadline == T0 + timedelta(hours=2, minutes=5)
    assert "'db'" in stuck.reason and "PT2H" in stuck.reason


def test_a_step_without_timeout_or_not_running_is_never_stuck_by_deadline() -> None:
    late = T0 + timedelta(days=3)
    no_timeout = snapshot(status("running", steps=running_step(T0)), timeouts={"db": None})
    done = snapshot(
        status("running", steps={"db": {"kind": "sql_geo_restore", "status": "succeeded", "started_at": iso(T0)}})
    )
    assert stuck_reason(no_timeout, late, BOUNDS) is None
    assert stuck_reason(done, late, BOUNDS) is None


@pytest.mark.parametrize("phase", ["reporting", "starting"])
def test_a_run_in_a_bounded_phase_too_long_is_stuck(phase: str) -> None:
    run = snapshot(status(phase, updated_at=T0))

    assert stuck_reason(run, T0 + timedelta(minutes=29), BOUNDS) is None
    stuck = stuck_reason(run, T0 + timedelta(minutes=31), BOUNDS)

    assert stuck is not None
    assert stuck.kind == "phase_bound"
    assert stuck.since == T0
    assert phase in stuck.reason


def test_a_run_with_no_status_yet_is_starting_since_it_was_created() -> None:
    run = snapshot(None, runtime_status="Pending")
    stuck = stuck_reason(run, T0 + timedelta(hours=1), BOUNDS)
    assert stuck is not None and stuck.kind == "phase_bound" and "starting" in stuck.reason


def test_approval_is_stuck_only_past_its_deadline_and_the_grace() -> None:
    deadline = T0 + timedelta(minutes=15)
    approval = {"required": True, "decision": "pending", "deadline": iso(deadline)}
    run = snapshot(status("awaiting_approval", approval=approval))

    assert stuck_reason(run, deadline + timedelta(minutes=5), BOUNDS) is None
    stuck = stuck_reason(run, deadline + timedelta(minutes=6), BOUNDS)
    assert stuck is not None and stuck.kind == "approval_deadline"


@pytest.mark.parametrize("runtime_status", ["Completed", "Failed", "Terminated"])
def test_finished_runs_and_other_orchestrations_are_never_stuck(runtime_status: str) -> None:
    late = T0 + timedelta(days=1)
    assert stuck_reason(snapshot(status("reporting"), runtime_status=runtime_status), late, BOUNDS) is None
    assert stuck_reason(snapshot(status("reporting"), name="recovery_step"), late, BOUNDS) is None


def test_bounds_come_from_settings() -> None:
    bounds = WatchdogBounds.from_settings(Settings(watchdog_phase_minutes=2, watchdog_grace_minutes=0.5))
    assert bounds == WatchdogBounds(phase_bound=timedelta(minutes=2), grace=timedelta(seconds=30))
    assert Settings().watchdog_schedule == "0 */5 * * * *"


class _Runs:
    def __init__(self, runs: list[RunSnapshot]) -> None:
        self.runs = runs
        self.prefixes: list[str] = []

    async def active(self, instance_id_prefix: str) -> list[RunSnapshot]:
        self.prefixes.append(instance_id_prefix)
        return self.runs


def test_find_stuck_reports_each_stuck_run_once_with_a_fixed_log_line() -> None:
    now = T0 + timedelta(hours=3)
    runs = _Runs(
        [
            snapshot(status("running", steps=running_step(T0)), instance_id="shop~failover~b"),
            snapshot(status("reporting", updated_at=now - timedelta(minutes=1)), instance_id="shop~drill~c"),
            snapshot(status("reporting", updated_at=T0), instance_id="shop~drill~a"),
        ]
    )

    stuck = asyncio.run(find_stuck(runs, now, BOUNDS))

    assert runs.prefixes == [""]
    assert [item.run_id for item in stuck] == ["shop~drill~a", "shop~failover~b"]
    record = json.loads(log_line(stuck[0]))
    assert record == log_record(stuck[0])
    assert record["event"] == WATCHDOG_EVENT == "DrRunStuck"
    assert (record["run_id"], record["plan"], record["phase"], record["since"]) == (
        "shop~drill~a",
        "shop",
        "reporting",
        "2026-11-20T10:00:00Z",
    )
    assert "\n" not in log_line(stuck[1])


def test_the_run_view_carries_the_stuck_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    from dr.clients import reset_for_tests

    monkeypatch.setenv("DR_WATCHDOG_PHASE_MINUTES", "10")
    reset_for_tests()
    try:
        run = snapshot(status("reporting", updated_at=T0))
        fresh = snapshot_view(run, T0 + timedelta(minutes=5))
        late = snapshot_view(run, T0 + timedelta(minutes=11)).model_dump(mode="json")
    finally:
        monkeypatch.delenv("DR_WATCHDOG_PHASE_MINUTES")
        reset_for_tests()
    assert fresh.stuck is None
    assert late["stuck"]["kind"] == "phase_bound"
    assert late["stuck"]["since"] == "2026-11-20T10:00:00Z"
    assert late["phase"] == "reporting"
