"""Replay the SDK's action list against the history, the way the extension's out-of-proc shim does.

The SDK decides *what* the orchestrator does (the action tree its `handle` returns each episode); the host
decides *which sequence number* each task has and which tasks are new. The extension does this by
re-issuing every action through DurableTask's context, awaiting top-level actions one after another
(one per `yield`) and expanding WhenAll/WhenAny children at once; retries add a timer after each failed
attempt and a new attempt after the timer. Sequence numbers are consumed in that order, which is also
the order the SDK assigns them, so both sides agree.

While walking the history this also checks determinism: every task the history says was scheduled must
be scheduled again, with the same kind, name and input, at the same sequence number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from . import entities
from .actions import Action, ActionType, RetryOptions
from .clock import parse_time
from .history import Event, EventType


class NonDeterminismError(Exception):
    """The orchestrator's replay diverged from its recorded history."""


class UnsupportedActionError(Exception):
    """The orchestrator used an API the devstack host does not implement (durable HTTP)."""


class TaskKind(StrEnum):
    ACTIVITY = "activity"
    TIMER = "timer"
    SUB_ORCHESTRATION = "sub-orchestration"
    # An entity operation: a call (the orchestrator waits for the response) or a signal (fire and forget).
    # Either is one EventSent with the sequence number as EventId (DurableTask.Core's SendEvent).
    ENTITY = "entity operation"


_CREATED_EVENT_KIND = {
    EventType.TASK_SCHEDULED: TaskKind.ACTIVITY,
    EventType.TIMER_CREATED: TaskKind.TIMER,
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: TaskKind.SUB_ORCHESTRATION,
    EventType.EVENT_SENT: TaskKind.ENTITY,
}

# Actions that schedule one task of a kind; with retry, a timer and a new attempt follow each failure.
_TASK_OF = {
    ActionType.CALL_ACTIVITY: TaskKind.ACTIVITY,
    ActionType.CREATE_TIMER: TaskKind.TIMER,
    ActionType.CALL_SUB_ORCHESTRATOR: TaskKind.SUB_ORCHESTRATION,
}
_RETRIED_TASK_OF = {
    ActionType.CALL_ACTIVITY_WITH_RETRY: TaskKind.ACTIVITY,
    ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY: TaskKind.SUB_ORCHESTRATION,
}
_ENTITY_ACTIONS = (ActionType.CALL_ENTITY, ActionType.SIGNAL_ENTITY, ActionType.SCHEDULED_SIGNAL_ENTITY)


class _Node:
    def __init__(self) -> None:
        self.done = False
        self.succeeded = False
        self._listeners: list[Callable[[_Node], None]] = []

    def on_done(self, listener: Callable[[_Node], None]) -> None:
        if self.done:
            listener(self)
        else:
            self._listeners.append(listener)

    def finish(self, succeeded: bool) -> None:
        if self.done:
            return
        self.done = True
        self.succeeded = succeeded
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener(self)


@dataclass(eq=False)
class ScheduledTask:
    """A task with a sequence number: an activity call, a durable timer or a sub-orchestration."""

    kind: TaskKind
    task_id: int
    name: str | None = None
    input_json: str | None = None
    fire_at: datetime | None = None
    instance_id: str | None = None
    canceled: bool = False
    is_retry_timer: bool = False
    version: str | None = None  # sub-orchestrations: the `version` the SDK sent
    operation: str | None = None  # entity operations
    signal: bool = False
    request_id: str | None = None
    node: _Node = field(default_factory=_Node)

    def describe(self) -> str:
        if self.kind is TaskKind.TIMER:
            return "a retry timer" if self.is_retry_timer else "a durable timer"
        if self.kind is TaskKind.ENTITY:
            verb = "a signal" if self.signal else "a call"
            return f"{verb} of operation '{self.operation}' on entity '{self.instance_id}'"
        return f"{self.kind.value} '{self.name}'"


@dataclass
class ReplayOutcome:
    """What the host must do after an episode."""

    new_tasks: list[ScheduledTask]
    canceled_timer_ids: set[int]
    continue_as_new_input: str | None
    continued_as_new: bool
    # For cross-checking against the SDK: the next sequence number and the tasks still open.
    next_sequence: int = 0
    open_task_ids: frozenset[int] = frozenset()
    # Top-level actions not issued yet: the shim still awaits an earlier one the orchestrator no longer waits
    # for (a task_any over tasks yielded before; see verify_against_sdk). They are issued once it completes.
    actions_waiting: int = 0


def _describe_event(event: Event) -> str:
    kind = _CREATED_EVENT_KIND[EventType(event["EventType"])]
    if kind is TaskKind.TIMER:
        return "a durable timer"
    if kind is TaskKind.ENTITY:
        request = _request_of(event)
        verb = "a signal" if request.get("signal") else "a call"
        return f"{verb} of operation '{request.get('op')}' on entity '{event.get('InstanceId')}'"
    return f"{kind.value} '{event.get('Name')}'"


def _request_of(event: Event) -> dict[str, Any]:
    try:
        request = json.loads(event.get("Input") or "{}")
    except ValueError:
        return {}
    return request if isinstance(request, dict) else {}


class ActionReplayer:
    """Walk one episode's history with the action list; see the module docstring."""

    def __init__(self, actions: list[Action], *, instance_id: str, sub_orchestration_id: Callable[[int], str]) -> None:
        self._actions = actions
        self._cursor = 0
        self._next_id = 0
        self._tasks: dict[int, ScheduledTask] = {}
        self._created: set[int] = set()
        self._event_waiters: dict[str, list[_Node]] = {}
        self._buffered_events: set[str] = set()
        self._instance_id = instance_id
        self._sub_orchestration_id = sub_orchestration_id
        self._now_text: str | None = None
        self._continue_as_new_input: str | None = None
        self._continued_as_new = False
        # Entity calls waiting for their response (an EventRaised named after the request id).
        self._entity_waiters: dict[str, ScheduledTask] = {}
        self._guid_counter = 0

    # -- walking the history --------------------------------------------------------------------------

    def replay(self, history: list[Event]) -> ReplayOutcome:
        for event in history:
            kind = EventType(event["EventType"])
            if kind is EventType.ORCHESTRATOR_STARTED:
                self._now_text = event["Timestamp"]  # parsed only if a retry needs it
            elif kind is EventType.EXECUTION_STARTED:
                self._advance()
            elif kind in _CREATED_EVENT_KIND:
                self._match_created(event, _CREATED_EVENT_KIND[kind])
            elif kind in (EventType.TASK_COMPLETED, EventType.TASK_FAILED):
                self._complete(event["TaskScheduledId"], TaskKind.ACTIVITY, kind is EventType.TASK_COMPLETED)
            elif kind in (
                EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
            ):
                self._complete(
                    event["TaskScheduledId"],
                    TaskKind.SUB_ORCHESTRATION,
                    kind is EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                )
            elif kind is EventType.TIMER_FIRED:
                self._complete(event["TimerId"], TaskKind.TIMER, True)
            elif kind is EventType.EVENT_RAISED:
                name = str(event.get("Name"))
                waiting = self._entity_waiters.pop(name, None)
                if waiting is not None:
                    # The response to an entity call is an EventRaised named after the request id
                    # (DurableOrchestrationContext.WaitForEntityResponse in the extension).
                    waiting.node.finish(not entities.response_is_error(event.get("Input")))
                else:
                    self._deliver_event(name)
        new = [task for task_id, task in sorted(self._tasks.items()) if task_id not in self._created]
        canceled = {task.task_id for task in self._tasks.values() if task.kind is TaskKind.TIMER and task.canceled}
        # The SDK re-keys an entity call's task by its request id once it has seen the EventSent, so only
        # entity calls not yet sent count as open sequence numbers.
        open_ids = frozenset(
            task_id
            for task_id, task in self._tasks.items()
            if not task.node.done and not (task.kind is TaskKind.ENTITY and task_id in self._created)
        )
        return ReplayOutcome(
            new_tasks=new,
            canceled_timer_ids=canceled,
            continue_as_new_input=self._continue_as_new_input,
            continued_as_new=self._continued_as_new,
            next_sequence=self._next_id,
            open_task_ids=open_ids,
            actions_waiting=len(self._actions) - self._cursor,
        )

    def _match_created(self, event: Event, kind: TaskKind) -> None:
        task_id = int(event["EventId"])
        task = self._tasks.get(task_id)
        if task is None:
            raise NonDeterminismError(
                f"Non-Deterministic workflow detected: a previous execution of this orchestration scheduled "
                f"{_describe_event(event)} with sequence ID {task_id}, but the current replay execution "
                f"hasn't (yet?) scheduled this task. Was a change made to the orchestrator code after this "
                f"instance had already started running?"
            )
        mismatch = task.kind is not kind
        if not mismatch and kind is TaskKind.ENTITY:
            request = _request_of(event)
            mismatch = (
                (task.instance_id or "").lower() != str(event.get("InstanceId", "")).lower()
                or task.operation != request.get("op")
                or task.signal != bool(request.get("signal"))
                or not _same_json(entities.operation_input(task.input_json), request.get("input"))
            )
            if not mismatch:
                task.request_id = str(request.get("id"))
                if not task.signal:
                    self._entity_waiters[task.request_id] = task
        elif not mismatch and kind is not TaskKind.TIMER:
            mismatch = task.name != event.get("Name") or not _same_json(task.input_json, event.get("Input"))
            if kind is TaskKind.SUB_ORCHESTRATION and task.instance_id != event.get("InstanceId"):
                mismatch = True
        if not mismatch and kind is TaskKind.TIMER and not task.is_retry_timer and task.fire_at is not None:
            mismatch = parse_time(str(event.get("FireAt"))) != task.fire_at
        if mismatch:
            raise NonDeterminismError(
                f"Non-Deterministic workflow detected: a previous execution of this orchestration scheduled "
                f"{_describe_event(event)}{_input_note(event)} with sequence ID {task_id}, but the current "
                f"replay execution scheduled {task.describe()}{_task_input_note(task)} instead. Was a change "
                f"made to the orchestrator code after this instance had already started running?"
            )
        self._created.add(task_id)

    def _complete(self, task_id: int, kind: TaskKind, succeeded: bool) -> None:
        task = self._tasks.get(task_id)
        if task is not None and task.kind is kind:
            task.node.finish(succeeded)

    def _deliver_event(self, name: str) -> None:
        # The SDK hands an event to the most recent waiter; with no waiter it keeps it for the next wait
        # on that name (and keeps it after that, too).
        waiters = self._event_waiters.get(name)
        if waiters:
            waiters.pop().finish(True)
            if not waiters:
                del self._event_waiters[name]
        else:
            self._buffered_events.add(name)

    # -- issuing actions ------------------------------------------------------------------------------

    def _advance(self, _finished: _Node | None = None) -> None:
        """Issue top-level actions in order; each waits for the previous one (one action per yield)."""
        while self._cursor < len(self._actions):
            action = self._actions[self._cursor]
            self._cursor += 1
            node = self._issue(action)
            if not node.done:
                node.on_done(self._advance)
                return

    def _issue(self, action: Action) -> _Node:
        kind = action.action_type
        if kind in _TASK_OF:
            return self._new_task(_TASK_OF[kind], action).node
        if kind in _RETRIED_TASK_OF:
            return self._with_retry(_RETRIED_TASK_OF[kind], action)
        if kind in _ENTITY_ACTIONS:
            return self._entity_operation(action, signal=kind is not ActionType.CALL_ENTITY)
        if kind is ActionType.WAIT_FOR_EXTERNAL_EVENT:
            return self._wait_for_event(str(action.external_event_name))
        if kind is ActionType.CONTINUE_AS_NEW:
            return self._continue_as_new(action.input)
        if kind in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            return self._compound(kind, action.compound_actions or [])
        raise UnsupportedActionError(
            f"the orchestrator used {kind.name} (actionType {int(kind)}), which the devstack host does not "
            "support (durable HTTP calls are not implemented)"
        )

    def _entity_operation(self, action: Action, *, signal: bool) -> _Node:
        task = self._new_entity_task(action, signal=signal)
        if signal:
            # Fire and forget: one sequence number, nothing to wait for (OutOfProcOrchestrationShim returns
            # a completed task for SignalEntity/ScheduledSignalEntity).
            task.node.finish(True)
        return task.node

    def _wait_for_event(self, name: str) -> _Node:
        node = _Node()
        if name in self._buffered_events:
            node.finish(True)
        else:
            self._event_waiters.setdefault(name, []).append(node)
        return node

    def _continue_as_new(self, new_input: Any) -> _Node:
        self._next_id += 1  # the SDK counts it as a (fire-and-forget) task
        self._continued_as_new = True
        self._continue_as_new_input = new_input if isinstance(new_input, str) else _dump(new_input)
        node = _Node()
        node.finish(True)
        return node

    def _compound(self, kind: ActionType, children_actions: list[Action]) -> _Node:
        node = _Node()
        children = [self._issue(child) for child in children_actions]
        if not children:
            if kind is ActionType.WHEN_ANY:
                # The SDK leaves already-scheduled tasks out of a compound action, so a task_any built only
                # from tasks yielded before arrives empty; the extension's shim then calls .NET's
                # Task.WhenAny on no tasks, which throws (OutOfProcOrchestrationShim.InvokeAPIFromAction,
                # azure-functions-durable-extension): in Azure the orchestration fails.
                raise UnsupportedActionError(
                    "task_any over tasks that were all yielded before: the extension's shim calls "
                    "Task.WhenAny with no tasks (ArgumentException); yield a fresh task in every task_any"
                )
            node.finish(True)  # Task.WhenAll over no tasks completes at once
            return node
        if kind is ActionType.WHEN_ANY:
            for child in children:
                child.on_done(lambda c: node.finish(True))
            return node
        remaining = {id(child) for child in children}

        def child_done(child: _Node) -> None:
            if not child.succeeded:
                node.finish(False)
                return
            remaining.discard(id(child))
            if not remaining:
                node.finish(True)

        for child in children:
            child.on_done(child_done)
        return node

    def _with_retry(self, kind: TaskKind, action: Action) -> _Node:
        options = action.retry_options or RetryOptions(first_retry_interval_ms=1000, max_number_of_attempts=1)
        outer = _Node()
        state = {"attempts": 1, "failures": 0}

        def attempt() -> None:
            task = self._new_task(kind, action)
            task.node.on_done(attempt_done)

        def attempt_done(node: _Node) -> None:
            if node.succeeded:
                outer.finish(True)
                return
            state["failures"] += 1
            fire_at = self._current_time() + options.delay(state["failures"] - 1)
            timer = self._allocate(ScheduledTask(TaskKind.TIMER, -1, fire_at=fire_at, is_retry_timer=True))
            timer.node.on_done(timer_done)

        def timer_done(_node: _Node) -> None:
            # Like DurableTask (and the SDK, which mirrors it), the limit is checked after the timer fires.
            if state["attempts"] >= options.max_number_of_attempts:
                outer.finish(False)
                return
            state["attempts"] += 1
            attempt()

        attempt()
        return outer

    def _new_task(self, kind: TaskKind, action: Action) -> ScheduledTask:
        if kind is TaskKind.TIMER:
            fire_at = parse_time(action.fire_at) if action.fire_at else self._current_time()
            return self._allocate(ScheduledTask(kind, -1, fire_at=fire_at, canceled=action.is_canceled))
        input_json = action.input if isinstance(action.input, str) or action.input is None else _dump(action.input)
        task = self._allocate(
            ScheduledTask(kind, -1, name=action.function_name, input_json=input_json, version=action.version)
        )
        if kind is TaskKind.SUB_ORCHESTRATION:
            if action.instance_id and action.instance_id.lower() == self._instance_id.lower():
                raise UnsupportedActionError(
                    "The instance ID of a sub-orchestration must be different than the instance ID of a "
                    "parent orchestration."
                )
            task.instance_id = action.instance_id or self._sub_orchestration_id(task.task_id)
        return task

    def _new_entity_task(self, action: Action, *, signal: bool) -> ScheduledTask:
        input_json = action.input if isinstance(action.input, str) or action.input is None else _dump(action.input)
        task = self._allocate(
            ScheduledTask(
                TaskKind.ENTITY,
                -1,
                name=action.instance_id,
                input_json=input_json,
                instance_id=action.instance_id,
                operation=action.operation,
                signal=signal,
                fire_at=parse_time(action.fire_at) if signal and action.fire_at else None,
            )
        )
        # Like the extension's NewGuid: one counter per replay, the orchestration time when issued. A task
        # already in the history keeps the id recorded there (see _match_created).
        task.request_id = entities.new_request_id(self._instance_id, self._current_time(), self._guid_counter)
        self._guid_counter += 1
        return task

    def _allocate(self, task: ScheduledTask) -> ScheduledTask:
        task.task_id = self._next_id
        self._next_id += 1
        self._tasks[task.task_id] = task
        return task

    def _current_time(self) -> datetime:
        if self._now_text is None:
            raise RuntimeError("history has no OrchestratorStarted event")
        return parse_time(self._now_text)


def _dump(value: Any) -> str:
    return json.dumps(value)


def _same_json(left: str | None, right: Any) -> bool:
    if left == right:
        return True
    if not isinstance(right, str) or left is None:
        return False
    try:
        return bool(json.loads(left) == json.loads(right))
    except ValueError:
        return False


def _input_note(event: Event) -> str:
    kind = _CREATED_EVENT_KIND[EventType(event["EventType"])]
    if kind is TaskKind.TIMER:
        return f" (fire at {event.get('FireAt')})"
    return f" with input {_short(event.get('Input'))}"


def _task_input_note(task: ScheduledTask) -> str:
    if task.kind is TaskKind.TIMER:
        return f" (fire at {task.fire_at.isoformat() if task.fire_at else '?'})"
    return f" with input {_short(task.input_json)}"


def _short(text: Any, limit: int = 120) -> str:
    shown = str(text)
    return shown if len(shown) <= limit else shown[:limit] + "…"
