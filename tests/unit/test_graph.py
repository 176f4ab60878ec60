"""The run graph entity's operations (dr.graph): which steps start when, skips, the parallel limit, cancel."""

from __future__ import annotations

from typing import Any

from dr.graph import GraphState, PlanRequest, first_starts, merge_live_status, run_graph_operation

AT = "2026-11-30T08:00:00Z"


def _plan(steps: dict[str, list[str]], max_parallel: int = 20) -> tuple[dict[str, Any], list[str]]:
    request = {
        "steps": [{"id": step, "after": after, "input": {"step": step}} for step, after in steps.items()],
        "max_parallel": max_parallel,
        "at": AT,
    }
    state, answer = run_graph_operation(None, "plan", request)
    return state, [start["id"] for start in answer["start"]]


def _finish(state: dict[str, Any], step: str, status: str = "succeeded") -> tuple[dict[str, Any], list[str]]:
    state, answer = run_graph_operation(state, "finished", {"step": step, "status": status, "at": AT})
    return state, [start["id"] for start in answer["start"]]


def test_a_step_starts_when_its_own_dependencies_succeeded() -> None:
    state, started = _plan({"db": [], "blobs": [], "traffic": ["db"], "verify": ["traffic"]})
    assert started == ["db", "blobs"]
    state, started = _finish(state, "db")
    assert started == ["traffic"]  # blobs still running: it is not traffic's dependency
    state, started = _finish(state, "traffic")
    assert started == ["verify"]
    assert run_graph_operation(state, "plan", {"steps": [], "at": AT})[1]["start"] == []  # a repeated plan: nothing


def test_the_last_dependency_to_finish_starts_a_join_exactly_once() -> None:
    state, _ = _plan({"a": [], "b": [], "join": ["a", "b"]})
    state, started = _finish(state, "a")
    assert started == []
    state, started = _finish(state, "b")
    assert started == ["join"]
    state, started = _finish(state, "b")  # a repeated report changes nothing
    assert started == []


def test_a_failure_skips_dependents_transitively_and_other_branches_go_on() -> None:
    state, _ = _plan({"a": [], "b": ["a"], "c": [], "d": ["b", "c"]})
    state, started = _finish(state, "a", "failed")
    assert started == []
    graph = GraphState.model_validate(state)
    assert graph.steps["b"].status == "skipped" and graph.steps["d"].status == "skipped"
    assert graph.steps["b"].summary == "skipped: a did not succeed"
    assert graph.steps["c"].status == "running"


def test_no_more_than_max_parallel_run_and_the_next_finisher_starts_the_queue() -> None:
    state, started = _plan({f"s{i}": [] for i in range(5)}, max_parallel=2)
    assert started == ["s0", "s1"]
    state, started = _finish(state, "s1")
    assert started == ["s2"]
    state, started = _finish(state, "s0", "failed")
    assert started == ["s3"]
    assert GraphState.model_validate(state).running() == ["s2", "s3"]


def test_cancel_starts_nothing_more_and_marks_what_never_started() -> None:
    state, _ = _plan({"db": [], "traffic": ["db"]})
    state, _ = run_graph_operation(state, "cancel", {"by": "ana", "at": AT})
    state, started = _finish(state, "db")
    assert started == []
    graph = GraphState.model_validate(state)
    assert graph.steps["db"].status == "succeeded"
    assert graph.steps["traffic"].status == "canceled" and "ana" in graph.steps["traffic"].summary


def test_a_cancel_before_the_plan_starts_nothing() -> None:
    state, _ = run_graph_operation(None, "cancel", {"by": "ana", "at": AT})
    request = {"steps": [{"id": "db", "after": [], "input": {}}], "at": AT}
    state, answer = run_graph_operation(state, "plan", request)
    assert answer["start"] == []
    assert GraphState.model_validate(state).steps["db"].status == "canceled"


def _request(steps: dict[str, list[str]], max_parallel: int = 20) -> PlanRequest:
    return PlanRequest(
        steps=[{"id": step, "after": after, "input": {"step": step}} for step, after in steps.items()],
        max_parallel=max_parallel,
        at=AT,  # type: ignore[arg-type]
    )


def test_the_run_starts_what_the_graph_would_and_the_graph_then_starts_nothing_twice() -> None:
    request = _request({"a": [], "b": [], "c": [], "d": ["a"]}, max_parallel=2)
    starts = first_starts(request)
    assert [start.id for start in starts] == ["a", "b"] and starts[0].input == {"step": "a"}
    told = request.model_copy(update={"started": ["a", "b"]}).model_dump(mode="json")
    state, answer = run_graph_operation(None, "plan", told)
    assert answer["start"] == []  # the run started them
    graph = GraphState.model_validate(state)
    assert graph.running() == ["a", "b"] and graph.steps["c"].queued_at == AT
    state, started = _finish(state, "a")
    assert started == ["c"]  # oldest ready first; d became ready after it
    state, started = _finish(state, "b")
    assert started == ["d"]


def test_a_cancel_before_the_runs_plan_keeps_the_steps_it_started_as_running() -> None:
    """The cancel crossed the episode that started the first steps: they run (the run forwards the cancel to
    them) and report back; nothing else starts."""
    state, _ = run_graph_operation(None, "cancel", {"by": "ana", "at": AT})
    told = _request({"a": [], "b": [], "c": ["a"]}).model_copy(update={"started": ["a", "b"]})
    state, answer = run_graph_operation(state, "plan", told.model_dump(mode="json"))
    graph = GraphState.model_validate(state)
    assert answer["start"] == [] and graph.running() == ["a", "b"]
    assert graph.steps["c"].status == "canceled" and "ana" in graph.steps["c"].summary
    state, started = _finish(state, "a")
    assert started == [] and GraphState.model_validate(state).steps["a"].status == "succeeded"


def test_a_step_that_finishes_before_its_runs_plan_arrives_is_told_to_ask_again() -> None:
    state, answer = run_graph_operation(None, "finished", {"step": "a", "status": "succeeded", "at": AT})
    assert answer["plan_pending"] is True and answer["start"] == []
    assert GraphState.model_validate(state).steps == {}  # nothing recorded: the report comes again
    told = _request({"a": [], "b": ["a"]}).model_copy(update={"started": ["a"]})
    state, _ = run_graph_operation(state, "plan", told.model_dump(mode="json"))
    state, started = _finish(state, "a")
    assert started == ["b"]


def test_the_live_status_takes_each_steps_state_from_the_graph() -> None:
    state, _ = _plan({"db": [], "traffic": ["db"]})
    state, _ = _finish(state, "db")
    published = {"phase": "running", "steps": {"db": {"kind": "sql", "status": "running"}, "traffic": {"kind": "tm"}}}
    merged = merge_live_status(published, state)
    assert merged["steps"]["db"]["status"] == "succeeded" and merged["steps"]["db"]["kind"] == "sql"
    assert merged["steps"]["traffic"]["status"] == "running"
