from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dr.graph import GraphState, run_graph_operation
from dr.plan import parse_plan
from dr.run import RunInput, RunState, StepOutcome, canceled_report, run_id_prefix, run_instance_id
from dr.views import run_view

# The report's top-level keys: a contract that tools outside the app read.
REPORT_KEYS = (
    "instance_id",
    "plan",
    "mode",
    "status",
    "trigger",
    "started_at",
    "finished_at",
    "rto_seconds",
    "rpo_estimate_seconds",
    "steps",
)
T0 = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
FOG = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/wus/failoverGroups/fog-"
KINDS = {"a": "sql_failover_group", "b": "sql_failover_group", "c": "health_check", "d": "sql_failover_group"}


def _plan() -> dict[str, Any]:
    return parse_plan(
        {
            "name": "shop",
            "steps": [
                {"id": "a", "kind": "sql_failover_group", "failover_group_id": FOG + "a"},
                {"id": "b", "kind": "sql_failover_group", "failover_group_id": FOG + "b", "after": ["a"]},
                {"id": "c", "kind": "health_check", "url": "http://x/c"},
                {"id": "d", "kind": "sql_failover_group", "failover_group_id": FOG + "d", "after": ["b"]},
            ],
        }
    ).model_dump(mode="json")


def _state() -> RunState:
    run = RunInput(plan=_plan(), mode="failover", trigger={"source": "operator"}, requested_at=T0)
    return RunState("shop--failover--x", run, run.plan, T0 + timedelta(seconds=5))


def _outcome(step_id: str, status: str, end: int, rpo: float | None = None) -> StepOutcome:
    return StepOutcome(
        id=step_id,
        kind=KINDS[step_id],
        status=status,
        started_at=T0 + timedelta(seconds=10),
        finished_at=T0 + timedelta(seconds=end),
        rpo_estimate_seconds=rpo,
        failure={"category": "permanent", "code": "X", "message": "boom"} if status == "failed" else None,
    )


def test_failure_skips_dependents_and_independent_branches_go_on() -> None:
    """The run's graph (dr.graph, what the orchestrator asks) decides starts and skips; RunState reports them."""
    state = _state()
    plan = {
        "steps": [{"id": step.id, "after": list(step.after), "input": {}} for step in state.plan.steps],
        "at": T0,
    }
    graph, answer = run_graph_operation(None, "plan", plan)
    assert [start["id"] for start in answer["start"]] == ["a", "c"]
    state.record_outcome(_outcome("a", "failed", 20))
    state.record_outcome(_outcome("c", "succeeded", 30, rpo=120))
    graph, answer = run_graph_operation(graph, "finished", {"step": "a", "status": "failed", "at": T0})
    graph, _ = run_graph_operation(graph, "finished", {"step": "c", "status": "succeeded", "at": T0})
    skipped = {
        step_id: step for step_id, step in GraphState.model_validate(graph).steps.items() if step.status == "skipped"
    }
    assert answer["start"] == [] and list(skipped) == ["b", "d"]  # d transitively
    for step_id, step in skipped.items():
        state.mark_skipped(step_id, step.summary, T0)
    report = state.report(T0 + timedelta(seconds=40))
    # The verification (c) succeeded: the service serves from the target; the data steps did not all succeed.
    assert report.status == "PartiallySucceeded"
    assert report.rto_seconds == 30.0 and report.service_restored_seconds == 30.0
    # A failed or skipped data step's loss is unknown: the run's RPO is unknown, never a smaller number.
    assert report.rpo_estimate_seconds is None
    assert [store["seconds"] for store in report.rpo_by_store] == [None, None, None]
    by_id = {s["id"]: s for s in report.steps}
    assert by_id["a"]["detail"]["error"]["message"] == "boom"
    assert by_id["b"]["status"] == "skipped" and "a did not succeed" in by_id["b"]["detail"]["summary"]


def test_status_rules() -> None:
    state = _state()
    for step_id in "abcd":
        state.record_outcome(_outcome(step_id, "succeeded", 50))
    assert state.report(T0).status == "Succeeded"
    state = _state()
    for step_id in "abcd":
        state.record_outcome(_outcome(step_id, "failed", 50))
    report = state.report(T0)
    assert report.status == "Failed" and report.rto_seconds is None and report.rpo_estimate_seconds is None
    state = _state()
    state.rejected = True
    assert state.report(T0).status == "Rejected"


def test_report_top_level_contract_keys() -> None:
    report = _state().report(T0).model_dump(mode="json")
    for key in REPORT_KEYS:
        assert key in report
    assert set(report["steps"][0]) == {"id", "kind", "status", "started_at", "finished_at", "detail"}


def test_custom_status_and_view_show_per_step_times() -> None:
    state = _state()
    state.phase = "running"
    state.mark_running("a", T0 + timedelta(seconds=10))
    custom = state.custom_status(T0 + timedelta(seconds=11))
    view = run_view(
        "id1",
        "Running",
        T0,
        T0,
        {"plan": _plan(), "mode": "failover"},
        custom,
        None,
        T0 + timedelta(seconds=25),
        {"a": "copying 10/20"},
    )
    step_a = next(s for s in view.steps if s.id == "a")
    assert (step_a.status, step_a.elapsed_seconds, step_a.summary) == ("running", 15.0, "copying 10/20")
    assert view.plan == "shop" and view.phase == "running"


def test_a_finished_run_never_shows_a_step_running_or_its_time_growing() -> None:
    """Issue #14 case 2: after a terminate the status API showed the run Terminated with steps still running,
    their elapsed time growing."""
    state = _state()
    state.phase = "running"
    state.mark_running("a", T0 + timedelta(seconds=10))
    custom = state.custom_status(T0 + timedelta(seconds=11))
    ended_at = T0 + timedelta(seconds=30)
    views = [
        run_view("id1", "Terminated", T0, ended_at, {"plan": _plan()}, custom, None, T0 + timedelta(seconds=s))
        for s in (60, 600)
    ]
    for view in views:
        step_a = next(s for s in view.steps if s.id == "a")
        assert step_a.status == "canceled" and step_a.elapsed_seconds == 20.0
        assert "may still be changing the estate" in step_a.summary
        assert {s.status for s in view.steps} == {"canceled"}


def test_canceled_report_marks_unfinished_steps() -> None:
    state = _state()
    state.record_outcome(_outcome("a", "succeeded", 20))
    state.mark_running("c", T0)
    report = canceled_report("id1", state.run, state.custom_status(T0), by="ana", reason="wrong plan", at=T0)
    statuses = {s["id"]: s["status"] for s in report.steps}
    assert statuses == {"a": "succeeded", "b": "canceled", "c": "canceled", "d": "canceled"}
    assert report.status == "Canceled" and report.canceled == {
        "by": "ana",
        "reason": "wrong plan",
        "at": report.finished_at,
        "hard": True,
    }


def test_instance_ids_group_by_plan_and_mode() -> None:
    run_id = run_instance_id("shop", "failover", "alert-abc")
    assert run_id.startswith(run_id_prefix("shop", "failover"))
    assert run_id.startswith(run_id_prefix("shop"))
    assert not run_instance_id("shop", "drill", "x").startswith(run_id_prefix("shop", "failover"))


def test_a_run_that_has_not_published_its_status_yet_reads_as_starting() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    pending = run_view("r1", "Pending", now, now, {"mode": "drill"}, None, None, now)
    running = run_view("r1", "Running", now, now, {"mode": "drill"}, None, None, now)
    terminated = run_view("r1", "Terminated", now, now, {"mode": "drill"}, None, None, now)

    assert (pending.phase, running.phase, terminated.phase) == ("starting", "starting", None)


def test_a_naive_requested_at_cannot_fail_the_reporting_phase() -> None:
    # Issue 15 item 3: a naive firedDateTime reached the run, which failed when RTO subtracted it from the
    # orchestration's aware clock ("can't subtract offset-naive and offset-aware datetimes").
    from datetime import UTC as _UTC
    from datetime import datetime as _dt

    from dr.plan import parse_plan as _parse_plan
    from dr.run import RunInput as _RunInput
    from dr.run import RunState as _RunState

    plan = _parse_plan({"name": "p", "steps": [{"id": "probe", "kind": "health_check", "url": "http://x/"}]})
    run_input = _RunInput(plan=plan, mode="failover", trigger={}, requested_at=_dt(2026, 11, 20, 10, 15, 3))
    assert run_input.requested_at.tzinfo is not None
    state = _RunState("p--failover--x", run_input, plan, _dt(2026, 11, 20, 10, 16, tzinfo=_UTC))
    state.mark_running("probe", _dt(2026, 11, 20, 10, 16, tzinfo=_UTC))
    state.steps["probe"].status = "succeeded"
    state.steps["probe"].finished_at = _dt(2026, 11, 20, 10, 17, 3, tzinfo=_UTC)
    assert state.report(_dt(2026, 11, 20, 10, 18, tzinfo=_UTC)).rto_seconds == 120.0


def test_an_operator_sets_the_failover_mode_for_one_run_and_the_plan_file_is_unchanged() -> None:
    from dr.intake import StartRequest, operator_run
    from dr.settings import Settings

    plan = parse_plan(
        {
            "name": "shop",
            "steps": [
                {"id": "db", "kind": "sql_failover_group", "failover_group_id": FOG + "db", "failover_mode": "forced"}
            ],
        }
    )
    request = StartRequest(plan="shop", mode="failover", reason="primary answers", sql_failover_mode="planned")
    _, run = operator_run(plan, request, "ana", T0, Settings())
    assert run.plan.steps[0].failover_mode == "planned"  # type: ignore[union-attr]
    assert run.overrides.sql_failover_mode == "planned"
    assert plan.steps[0].failover_mode == "forced"  # type: ignore[union-attr]


def test_a_step_input_carries_only_the_preflight_checks_its_kind_reads_again() -> None:
    """Step inputs ride in every activity call, the run graph's state and the orchestrator's history: a SQL step
    reuses no pre-flight verdict and carries none; a blob step carries its source verdict and nothing else."""
    from dr.steps.base import Check

    plan = _plan()
    plan["steps"].append(
        {
            "id": "e",
            "kind": "blob_backup",
            "source": {"account_url": "https://p.blob.core.windows.net", "container": "images"},
            "target": {"account_url": "https://s.blob.core.windows.net", "container": "images"},
        }
    )
    run = RunInput(plan=plan, mode="failover", trigger={"source": "operator"}, requested_at=T0)
    state = RunState("shop--failover--x", run, run.plan, T0 + timedelta(seconds=5))
    at = T0 + timedelta(seconds=6)
    facts = {"probe": {"reachable": False, "cause": "timed out"}, "big": "x" * 2000}
    state.record_checks("a", [Check.passed("current_role", "Secondary", replication_role="Secondary")], at)
    unrelated = Check.passed("target_writable", "ok", big="y" * 2000)
    state.record_checks("e", [Check.warning("source_reachable", "no answer", **facts), unrelated], at)

    sql = state.step_input("a", at, in_graph=True).context
    blob = state.step_input("e", at, in_graph=True).context
    assert sql.preflight == [] and sql.fresh_check("current_role", 60) is None
    assert [check.name for check in blob.preflight] == ["source_reachable"]
    assert blob.fresh_check("source_reachable", 60) is not None
    assert len(state.step_input("e", at).model_dump_json()) < 3500  # the 2 KB fact of the other check is left out
