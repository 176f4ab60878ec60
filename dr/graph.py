"""A recovery run's step graph, held by a Durable entity (RUN_GRAPH_ENTITY, key = the run id) so that each step
starts the moment its own ``after`` steps succeeded, not when a wave of unrelated steps is done.

Why an entity: the Python SDK cannot wait on "whichever running step finishes next" safely. A ``task_any`` over
steps yielded before sends the host a compound action without them (the SDK schedules a task once), and the
extension's shim awaits each action in order (OutOfProcOrchestrationShim.ProcessAsyncActionsV2): the host then
waits for something else than the orchestrator and every action issued in between stalls
(azure-functions-durable-python #603). So the graph moves from the finishing side: a step's sub-orchestration
reports ``finished`` to this entity (the backend runs one operation at a time, so exactly one finisher learns
that a dependent became ready) and starts what the answer names as its own sub-orchestrations. At most
``max_parallel`` steps run at once; a ready step beyond that waits in the queue for the next finisher.

The first steps are started by the run itself, in the episode that has the pre-flight's answer: ``first_starts``
is the entity's own ``plan`` answer computed in the orchestrator (the operation is pure), and the run then
signals ``plan`` with the steps it ``started``. Waiting for the entity's answer instead cost one entity round
trip and one orchestrator episode before any step began (docs/rto-benchmark.md). The signal may reach the
entity after a cancel (a cancel raised while the run started its first steps): those steps are then kept as
running, since they are, and the run itself forwards the cancel to them. It may even, in principle, arrive
after a first step's ``finished`` (different senders' messages are not ordered): that report is answered
``plan_pending`` and changes nothing, and the step asks again.

The entity is also the run's live view while steps run (the orchestrator is blocked then): the status API reads
its state. Operations are pure functions of the state (``run_graph_operation``); the entity function adapts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .durations import iso

RUN_GRAPH_ENTITY = "run_graph"
GraphStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "canceled"]
DONE = ("succeeded", "failed", "skipped", "canceled")


class GraphStep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    after: list[str] = Field(default_factory=list)
    status: GraphStatus = "pending"
    input: dict[str, Any] = Field(default_factory=dict, description="The step sub-orchestration's input.")
    queued_at: str | None = Field(None, description="When it became ready (all its dependencies succeeded).")
    started_at: str | None = None
    finished_at: str | None = None
    summary: str = ""


class GraphState(BaseModel):
    """The entity's state: every step of the run, in plan order."""

    model_config = ConfigDict(extra="ignore")

    steps: dict[str, GraphStep] = Field(default_factory=dict)
    max_parallel: int = 20
    canceled_by: str | None = None

    def running(self) -> list[str]:
        return [step_id for step_id, step in self.steps.items() if step.status == "running"]


class StepStart(BaseModel):
    """A step the caller must start now, with its sub-orchestration input."""

    id: str
    input: dict[str, Any]


class GraphAnswer(BaseModel):
    """What ``plan`` and ``finished`` answer: the steps to start now (the caller starts them)."""

    start: list[StepStart] = Field(default_factory=list)
    plan_pending: bool = Field(
        False, description="A finished step reported before the run's plan reached the graph: ask again."
    )


class PlanRequest(BaseModel):
    steps: list[dict[str, Any]] = Field(description="[{'id', 'after', 'input'}] in plan order.")
    max_parallel: int = Field(20, ge=1)
    at: datetime
    started: list[str] | None = Field(
        None, description="The steps the run already started (first_starts); None: the graph answers which."
    )


class FinishedRequest(BaseModel):
    step: str
    status: Literal["succeeded", "failed", "canceled"]
    summary: str = ""
    at: datetime


class CancelGraphRequest(BaseModel):
    by: str
    at: datetime


def merge_live_status(custom_status: Any, graph: Any) -> Any:
    """A run's published status with each step's state from its graph entity (the orchestrator does not
    publish while it waits for the steps): what the status API, the watchdog and cancel read."""
    if not isinstance(custom_status, dict) or not isinstance(graph, dict):
        return custom_status
    live = GraphState.model_validate(graph)
    steps = dict(custom_status.get("steps") or {})
    for step_id, step in live.steps.items():
        entry = dict(steps.get(step_id) or {})
        entry.update(status=step.status, started_at=step.started_at, finished_at=step.finished_at)
        if step.summary or step.status in DONE:
            entry["summary"] = step.summary or entry.get("summary", "")
        steps[step_id] = entry
    return {**custom_status, "steps": steps}


def _settle(state: GraphState, at: str) -> list[StepStart]:
    """Skip what can no longer run, then start what is ready, oldest first, up to max_parallel running."""
    _skip_and_queue(state, at)
    if state.canceled_by is not None:
        return []
    free = state.max_parallel - len(state.running())
    ready = [
        step_id for step_id, step in state.steps.items() if step.status == "pending" and step.queued_at is not None
    ]
    ready.sort(key=lambda step_id: state.steps[step_id].queued_at or "")  # stable: plan order within a moment
    starts = []
    for step_id in ready[: max(0, free)]:
        step = state.steps[step_id]
        step.status, step.started_at = "running", at
        starts.append(StepStart(id=step_id, input=step.input))
    return starts


def _skip_and_queue(state: GraphState, at: str) -> None:
    """Skip what can no longer run (transitively); mark what became ready as queued."""
    changed = True
    while changed:  # a skip may make more skips (transitively)
        changed = False
        for step in state.steps.values():
            if step.status != "pending":
                continue
            blocked = [dep for dep in step.after if state.steps[dep].status in ("failed", "skipped", "canceled")]
            if blocked:
                step.status, step.finished_at, changed = "skipped", at, True
                step.summary = f"skipped: {', '.join(blocked)} did not succeed"
    for step in state.steps.values():
        if (
            step.status == "pending"
            and step.queued_at is None
            and all(state.steps[dep].status == "succeeded" for dep in step.after)
        ):
            step.queued_at = at


def first_starts(request: PlanRequest) -> list[StepStart]:
    """The steps a new graph starts at once: what ``plan`` answers on a graph that has not been canceled."""
    graph = GraphState()
    _add_steps(graph, request)
    return _settle(graph, iso(request.at))


def _add_steps(graph: GraphState, request: PlanRequest) -> None:
    graph.max_parallel = request.max_parallel
    graph.steps = {
        str(item["id"]): GraphStep(after=list(item.get("after") or []), input=dict(item["input"]))
        for item in request.steps
    }


def _record_started(graph: GraphState, started: list[str], at: str) -> None:
    """The run started these itself (first_starts): running, whether or not a cancel came first."""
    for step_id in started:
        step = graph.steps.get(step_id)
        if step is not None:
            step.status, step.queued_at, step.started_at, step.finished_at, step.summary = "running", at, at, None, ""


def _take_plan(graph: GraphState, ask: PlanRequest) -> list[StepStart]:
    """A new graph's steps; what it starts (none when the run started its first steps itself)."""
    _add_steps(graph, ask)
    at = iso(ask.at)
    if graph.canceled_by is not None:  # canceled before the steps began: none starts
        for never in graph.steps.values():
            never.status, never.finished_at = "canceled", at
            never.summary = f"not started: run canceled by {graph.canceled_by}"
    if ask.started is None:
        return _settle(graph, at)
    _record_started(graph, ask.started, at)
    _skip_and_queue(graph, at)
    return []


def run_graph_operation(state: Any, operation: str, request: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One operation: (the new state, the answer). Unknown operations change nothing and answer nothing."""
    graph = GraphState.model_validate(state) if isinstance(state, dict) else GraphState()
    answer = GraphAnswer()
    if operation == "plan":
        ask = PlanRequest.model_validate(request)
        if not graph.steps:  # a replayed or repeated "plan" must not restart anything
            answer.start = _take_plan(graph, ask)
    elif operation == "finished":
        ask_done = FinishedRequest.model_validate(request)
        step = graph.steps.get(ask_done.step)
        if not graph.steps:  # the run's plan has not arrived yet (see the module's docstring)
            answer.plan_pending = True
        elif step is not None and step.status not in DONE:
            step.status, step.finished_at, step.summary = ask_done.status, iso(ask_done.at), ask_done.summary[:300]
            answer.start = _settle(graph, iso(ask_done.at))
    elif operation == "cancel":
        ask_cancel = CancelGraphRequest.model_validate(request)
        if graph.canceled_by is None:
            graph.canceled_by = ask_cancel.by
            for pending in graph.steps.values():
                if pending.status == "pending":
                    pending.status, pending.finished_at = "canceled", iso(ask_cancel.at)
                    pending.summary = f"not started: run canceled by {ask_cancel.by}"
    elif operation == "state":
        return graph.model_dump(mode="json"), graph.model_dump(mode="json")
    return graph.model_dump(mode="json"), answer.model_dump(mode="json")
