"""The durable engine: histories, episodes, activities, timers, sub-orchestrations.

Per instance the engine keeps a history in the extension's event schema and an inbox of events that
have not been shown to the orchestrator yet (activity results, fired timers, raised events, ...). An
episode takes the visible inbox, appends it to the history behind an OrchestratorStarted event, calls
the orchestrator through the SDK's `handle` entry point (the call the worker makes), replays the returned
actions against the history to find the new tasks (see `replay.py`), and commits the whole step in one
SQLite transaction.

Replay is O(history) per episode, so events are batched: an instance with activities still running waits
until completions stop arriving for `batch_quiet` seconds (never longer than `batch_max`) before it
replays; an instance with nothing in flight replays at once.

All of this runs on one asyncio event loop. `EngineCore` is the loop-side object; `DurableEngine` (in
`api.py`) is the thread-safe facade tests use.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import entities as ent
from . import history as h
from .actions import EpisodeOutput, episode_output
from .activity_runner import ActivityRunner
from .clock import Clock, RealClock
from .entity_runner import EntityRunner
from .history import Event, EventType
from .indexer import FunctionInfo, IndexedApp
from .invoker import InvocationFailed, Invoker, typed_text
from .models import (
    TERMINAL_STATUSES,
    DurableError,
    FunctionNotFoundError,
    InstanceAlreadyExistsError,
    InstanceGoneError,
    InstanceNotFoundError,
    InstanceStatus,
    InvalidInstanceIdError,
    RuntimeStatus,
    known_functions,
    parse_json_text,
)
from .replay import (
    ActionReplayer,
    NonDeterminismError,
    ReplayOutcome,
    ScheduledTask,
    TaskKind,
    UnsupportedActionError,
)
from .sdk_compat import install_fast_timestamps
from .store import InstanceRow, Message, MessageKind, Store, Transaction, WorkItem
from .timers import DurableTimers

log = logging.getLogger("devstack.host.engine")

MAX_INSTANCE_ID_LENGTH = 256
# Context fields the extension sends with every orchestration call (schema v3 action trees, long timers).
_CONTEXT_TAIL = (
    ',"upperSchemaVersion":1,"upperSchemaVersionNew":2,'
    '"longRunningTimerIntervalDuration":"3.00:00:00","maximumShortTimerDuration":"6.00:00:00"}'
)
_RESULT_EVENTS = {
    EventType.TASK_COMPLETED: "TaskScheduledId",
    EventType.TASK_FAILED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: "TaskScheduledId",
    EventType.TIMER_FIRED: "TimerId",
}
_CREATED_EVENTS = {
    EventType.TASK_SCHEDULED,
    EventType.TIMER_CREATED,
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
}


@dataclass
class EpisodeSample:
    """One episode, for the benchmark: history length replayed and time spent in handle + replay."""

    history_events: int
    seconds: float


@dataclass
class EngineStats:
    episodes: int = 0
    samples: deque[EpisodeSample] = field(default_factory=lambda: deque(maxlen=100_000))


@dataclass
class _Runtime:
    """The loaded state of one instance."""

    row: InstanceRow
    history: list[Event]
    played_json: list[str]
    created_ids: set[int]
    finished_ids: set[int]

    @classmethod
    def load(cls, row: InstanceRow, events: list[Event]) -> _Runtime:
        runtime = cls(row, [], [], set(), set())
        runtime.extend(events)
        return runtime

    def extend(self, events: list[Event]) -> None:
        for event in events:
            self.history.append(event)
            self.played_json.append(json.dumps({**event, "IsPlayed": True}))
            kind = event["EventType"]
            if kind in _CREATED_EVENTS:
                self.created_ids.add(int(event["EventId"]))
            elif kind in _RESULT_EVENTS:
                self.finished_ids.add(int(event[_RESULT_EVENTS[EventType(kind)]]))

    @property
    def status(self) -> RuntimeStatus:
        return RuntimeStatus(self.row.status)


@dataclass
class _Waiter:
    predicate: Callable[[], bool]
    future: asyncio.Future[None]
    skip_time: bool


def validate_instance_id(instance_id: str) -> None:
    if not instance_id:
        raise InvalidInstanceIdError("Orchestration instance ids must not be empty.")
    if instance_id.startswith("@"):
        raise InvalidInstanceIdError("Orchestration instance ids must not start with @.")
    if re.search(r"[/\\#?\x00-\x1f\x7f]", instance_id):
        raise InvalidInstanceIdError("Orchestration instance ids must not contain /, \\, #, ?, or control characters.")
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise InvalidInstanceIdError(f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters.")


def _suspend_and_resume(
    messages: list[Message], *, suspended: bool, now: datetime
) -> tuple[bool, list[Event], list[int]]:
    """The inbox's suspend and resume messages applied in order: whether the instance ends suspended, an
    event for each change of state (a repeated suspend or resume changes nothing), the messages consumed."""
    events: list[Event] = []
    consumed: list[int] = []
    for message in messages:
        if message.kind not in (MessageKind.SUSPEND, MessageKind.RESUME):
            continue
        consumed.append(message.id)
        suspend = message.kind is MessageKind.SUSPEND
        if suspend != suspended:
            suspended = suspend
            change = h.execution_suspended if suspend else h.execution_resumed
            events.append(change(now, reason=message.event.get("Reason")))
    return suspended, events, consumed


def _inbound_in_order(messages: list[Message], *, new_execution: bool) -> list[Message]:
    """The events and timers to deliver. A new execution's ExecutionStarted must come first: events raised
    early wait behind it, and in the inbox until it arrives."""
    inbound = [m for m in messages if m.kind in (MessageKind.EVENT, MessageKind.TIMER)]
    if not new_execution:
        return inbound
    starts = [m for m in inbound if m.event["EventType"] == EventType.EXECUTION_STARTED]
    return starts + [m for m in inbound if m not in starts] if starts else []


class EngineCore:
    """The loop-side engine. Every method runs on the event loop thread."""

    def __init__(
        self,
        app: IndexedApp,
        *,
        state_dir: str | None = None,
        clock: Clock | None = None,
        activity_overrides: Mapping[str, Callable[..., Any]] | None = None,
        max_concurrent_activities: int | None = None,
        batch_quiet: float = 0.002,
        batch_max: float = 0.05,
        auto_advance_grace: float = 0.25,
        verify_replay: bool = False,
    ) -> None:
        self.app = app
        self._invoker = Invoker(app)
        self.clock: Clock = clock or RealClock()
        self.stats = EngineStats()
        self._state_dir = state_dir
        self._batch_quiet = batch_quiet
        self._batch_max = batch_max
        self._auto_advance_grace = auto_advance_grace
        self._verify_replay = verify_replay
        # Set by the HTTP host: the durableClient inputs of a function, for activities that take one.
        self.client_bindings: Callable[[FunctionInfo], dict[str, Any]] | None = None
        self._store: Store | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._activities = ActivityRunner(
            app,
            self._invoker,
            self.clock,
            overrides=activity_overrides or {},
            max_concurrent=max_concurrent_activities or app.settings.max_concurrent_activities,
            store=lambda: self.store,
            row_of=self._row,
            completed=self._mark_ready,
            changed=self._schedule_idle_check,
            client_bindings=lambda info: self.client_bindings(info) if self.client_bindings else None,
        )
        self._entities = EntityRunner(app, self._invoker, store=lambda: self.store, ready=self._mark_ready)
        self._timers = DurableTimers(self.clock, due=self._mark_ready, alive=self._message_exists)
        self._runtimes: dict[str, _Runtime] = {}
        self._episode_handles: dict[str, asyncio.TimerHandle] = {}
        self._episode_tasks: dict[str, asyncio.Task[None]] = {}
        self._episode_again: set[str] = set()
        self._first_pending: dict[str, float] = {}
        self._replay_seconds: dict[str, float] = {}
        self._waiters: list[_Waiter] = []
        self._idle_check_pending = False
        self._changes = itertools.count()
        self._last_change = 0
        self._running = False

    # -- lifecycle ----------------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the engine is not started")
        return self._store

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the engine is not started")
        return self._loop

    async def start(self) -> None:
        install_fast_timestamps()
        self._loop = asyncio.get_running_loop()
        self._store = Store(self._state_dir)
        self._activities.start()
        self._running = True
        # Resume what a previous host left: timers, unfinished activities (at-least-once), inboxes.
        for item in self.store.work_items():
            self._activities.dispatch(item)
        for instance_id in self.store.instances_with_messages(self.clock.now().timestamp()):
            self._mark_ready(instance_id)
        self._timers.start(self.store.pending_timers())
        self._schedule_idle_check()

    async def stop(self) -> None:
        self._running = False
        for handle in self._episode_handles.values():
            handle.cancel()
        self._episode_handles.clear()
        tasks = [*self._activities.stop(), *self._episode_tasks.values()]
        for task in self._episode_tasks.values():
            task.cancel()
        timer_task = self._timers.stop()
        if timer_task is not None:
            tasks.append(timer_task)
        await asyncio.gather(*tasks, return_exceptions=True)
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(RuntimeError("the engine stopped"))
        self._waiters.clear()
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- client operations --------------------------------------------------------------------------------

    def orchestrator_names(self) -> list[str]:
        return [f.durable_name for f in self.app.orchestrators.values()]

    @property
    def default_version(self) -> str | None:
        """host.json `extensions.durableTask.defaultVersion`: the version of an orchestration started without
        one, and of every sub-orchestration (Azure/azure-functions-durable-extension:
        src/WebJobs.Extensions.DurableTask/HttpApiHandler.cs, HandleStartOrchestratorRequestAsync:
        `queryNameValuePairs["version"] ?? Options.DefaultVersion`)."""
        return self.app.settings.default_version

    def start_instance(
        self, name: str, input_json: str | None = None, instance_id: str | None = None, version: str | None = None
    ) -> str:
        # The extension knows an orchestrator by its trigger's `orchestration` property, else the function
        # name (OrchestrationTriggerAttributeBindingProvider.TryCreateAsync: trigger.Orchestration, then
        # [FunctionName]); lookups are case-insensitive (FunctionName compares ordinal-ignore-case).
        info = self.app.find_orchestrator(name)
        if info is None:
            raise FunctionNotFoundError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
                f"Additional info: {known_functions('orchestrator', self.orchestrator_names())}"
            )
        instance_id = instance_id or uuid.uuid4().hex
        validate_instance_id(instance_id)
        existing = self._row(instance_id)
        if existing is not None and RuntimeStatus(existing.status) not in TERMINAL_STATUSES:
            raise InstanceAlreadyExistsError(f"An Orchestration instance with the ID {instance_id} already exists.")
        with self.store.transaction() as tx:
            self._create_instance(
                tx,
                instance_id,
                info.durable_name,
                input_json,
                parent=None,
                version=version if version is not None else self.default_version,
            )
        self._mark_ready(instance_id)
        return instance_id

    def raise_event(self, instance_id: str, event_name: str, input_json: str | None) -> None:
        self._require_active(instance_id)
        with self.store.transaction() as tx:
            tx.add_message(
                instance_id,
                MessageKind.EVENT,
                h.event_raised(self.clock.now(), name=event_name, input_json=input_json),
            )
        self._mark_ready(instance_id)

    def terminate(self, instance_id: str, reason: str | None) -> None:
        self._control(instance_id, MessageKind.TERMINATE, reason)

    def suspend(self, instance_id: str, reason: str | None) -> None:
        self._control(instance_id, MessageKind.SUSPEND, reason)

    def resume(self, instance_id: str, reason: str | None) -> None:
        self._control(instance_id, MessageKind.RESUME, reason)

    def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        row = self._row(instance_id)
        if row is None:
            raise InstanceNotFoundError(f"An orchestrastion with the instanceId {instance_id} was not found.")
        return self.start_instance(row.name, row.input, uuid.uuid4().hex if new_instance_id else instance_id)

    def purge(self, instance_id: str) -> int:
        if self._row(instance_id) is None:
            return 0
        with self.store.transaction() as tx:
            tx.delete_instance(instance_id)
        self._runtimes.pop(instance_id, None)
        return 1

    def purge_where(
        self, *, created_from: datetime, created_to: datetime | None, statuses: list[RuntimeStatus] | None
    ) -> int:
        rows = self.store.query_instances(
            statuses=[s.value for s in statuses] if statuses else None,
            created_from=created_from.timestamp(),
            created_to=(created_to or self.clock.now()).timestamp(),
        )
        with self.store.transaction() as tx:
            for row in rows:
                tx.delete_instance(row.instance_id)
                self._runtimes.pop(row.instance_id, None)
        return len(rows)

    def get_status(self, instance_id: str, *, with_history: bool = False) -> InstanceStatus | None:
        row = self._row(instance_id)
        if row is None:
            return None
        events: list[Event] | None = None
        if with_history:
            runtime = self._runtimes.get(instance_id)
            events = list(runtime.history) if runtime is not None else self.store.load_history(instance_id)
        return _status_of(row, events)

    def list_instances(
        self,
        *,
        statuses: list[RuntimeStatus] | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        prefix: str | None = None,
        page_size: int | None = None,
        continuation: str | None = None,
    ) -> tuple[list[InstanceStatus], str | None]:
        after = base64.urlsafe_b64decode(continuation.encode()).decode() if continuation else None
        rows = self.store.query_instances(
            statuses=[s.value for s in statuses] if statuses else None,
            created_from=created_from.timestamp() if created_from else None,
            created_to=created_to.timestamp() if created_to else None,
            prefix=prefix,
            after=after,
            limit=(page_size + 1) if page_size else None,
        )
        token = None
        if page_size and len(rows) > page_size:
            rows = rows[:page_size]
            token = base64.urlsafe_b64encode(rows[-1].instance_id.encode()).decode()
        return [_status_of(row, None) for row in rows], token

    # -- waiting and time ---------------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], bool], *, skip_time: bool) -> None:
        """Resolve once `predicate()` holds (checked after every state change). With a virtual clock and
        `skip_time`, the clock jumps to the next durable timer whenever nothing else can progress."""
        if predicate():
            return
        waiter = _Waiter(predicate, self.loop.create_future(), skip_time)
        self._waiters.append(waiter)
        self._schedule_idle_check()
        try:
            await waiter.future
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def is_quiescent(self) -> bool:
        """Nothing can progress without time passing or a client acting."""
        return not self._episode_handles and not self._episode_tasks and not self._activities.busy

    async def advance(self, delta_seconds: float) -> None:
        """Move a virtual clock forward by `delta`, firing every timer due on the way, in order, each after
        the work the previous one caused has settled."""
        clock = self.clock
        if not clock.is_virtual:
            raise RuntimeError("advance() needs a VirtualClock")
        target = clock.now().timestamp() + delta_seconds
        while True:
            await self.wait_until(self.is_quiescent, skip_time=False)
            due = self._timers.next_due()
            if due is None or due > target:
                break
            self._jump_to(due)
        self._jump_to(target)
        await self.wait_until(self.is_quiescent, skip_time=False)

    def _jump_to(self, epoch: float) -> None:
        advance_to = getattr(self.clock, "advance_to", None)
        if advance_to is not None:
            advance_to(datetime.fromtimestamp(epoch, UTC))
        self._timers.release_due()

    def _schedule_idle_check(self) -> None:
        self._last_change = next(self._changes)
        if not self._idle_check_pending and self._loop is not None and self._running:
            self._idle_check_pending = True
            self._loop.call_soon(self._idle_check)

    def _idle_check(self, expected_change: int | None = None) -> None:
        self._idle_check_pending = False
        if not self._running:
            return
        self._check_waiters()
        if not self.clock.is_virtual or not self.is_quiescent():
            return
        due = self._timers.next_due()
        if due is None:
            return
        # Only waiters still waiting: one satisfied a moment ago must not make time jump on its way out.
        if any(w.skip_time and not w.future.done() for w in self._waiters):
            self._jump_to(due)
        elif getattr(self.clock, "auto_advance", False):
            # Driven over HTTP: give clients a moment to act before skipping time.
            if expected_change is None:
                change = self._last_change
                self.loop.call_later(self._auto_advance_grace, self._idle_check, change)
            elif expected_change == self._last_change:
                self._jump_to(due)

    def _check_waiters(self) -> None:
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue
            try:
                if waiter.predicate():
                    waiter.future.set_result(None)
            except Exception as error:  # a failing predicate fails its wait, not the engine
                waiter.future.set_exception(error)

    # -- scheduling ---------------------------------------------------------------------------------------

    def _mark_ready(self, instance_id: str) -> None:
        """Schedule an episode; wait for a quiet moment if more completions for it are on the way."""
        if not self._running:
            return
        now = self.loop.time()
        first = self._first_pending.setdefault(instance_id, now)
        if self._activities.inflight(instance_id) == 0:
            delay = 0.0
        else:
            # Never replay more often than replaying costs: keeps the loop free for completions.
            window = max(self._batch_max, 2 * self._replay_seconds.get(instance_id, 0.0))
            delay = min(self._batch_quiet, max(0.0, first + window - now))
        handle = self._episode_handles.pop(instance_id, None)
        if handle is not None:
            handle.cancel()
        self._episode_handles[instance_id] = self.loop.call_later(delay, self._episode_entry, instance_id)
        self._schedule_idle_check()

    def _episode_entry(self, instance_id: str) -> None:
        """Start an episode unless one of this instance is running: an instance's episodes never overlap
        (the orchestrator's call through the runtime is awaited, so other instances go on meanwhile)."""
        self._episode_handles.pop(instance_id, None)
        self._first_pending.pop(instance_id, None)
        if instance_id in self._episode_tasks:
            self._episode_again.add(instance_id)
            return
        self._episode_tasks[instance_id] = self.loop.create_task(
            self._episode(instance_id), name=f"episode {instance_id}"
        )

    async def _episode(self, instance_id: str) -> None:
        try:
            await self._run_episode(instance_id)
        except Exception:
            log.exception("episode for instance %s failed inside the host", instance_id)
        finally:
            self._episode_tasks.pop(instance_id, None)
        if instance_id in self._episode_again:
            self._episode_again.discard(instance_id)
            self._mark_ready(instance_id)
        self._check_waiters()
        self._schedule_idle_check()

    # -- episodes -----------------------------------------------------------------------------------------

    def _message_exists(self, message_id: int) -> bool:
        return self.store.message_exists(message_id)

    def _row(self, instance_id: str) -> InstanceRow | None:
        runtime = self._runtimes.get(instance_id)
        return runtime.row if runtime is not None else self.store.get_instance(instance_id)

    def _runtime(self, instance_id: str) -> _Runtime | None:
        runtime = self._runtimes.get(instance_id)
        if runtime is None:
            row = self.store.get_instance(instance_id)
            if row is None:
                return None
            runtime = _Runtime.load(row, self.store.load_history(instance_id))
            self._runtimes[instance_id] = runtime
        return runtime

    def _require_active(self, instance_id: str) -> InstanceRow:
        row = self._row(instance_id)
        if row is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' found.")
        if RuntimeStatus(row.status) in TERMINAL_STATUSES:
            raise InstanceGoneError(f"Instance with ID {instance_id} is in the {row.status} state.")
        return row

    def _control(self, instance_id: str, kind: MessageKind, reason: str | None) -> None:
        self._require_active(instance_id)
        with self.store.transaction() as tx:
            tx.add_message(instance_id, kind, {"Reason": reason})
        self._mark_ready(instance_id)

    def _create_instance(
        self,
        tx: Transaction,
        instance_id: str,
        name: str,
        input_json: str | None,
        parent: dict[str, Any] | None,
        version: str | None = None,
    ) -> None:
        now = self.clock.now()
        execution_id = uuid.uuid4().hex
        row = InstanceRow(
            instance_id=instance_id,
            name=name,
            execution_id=execution_id,
            status=RuntimeStatus.PENDING.value,
            input=input_json,
            output=None,
            custom_status=None,
            created_time=now.timestamp(),
            last_updated_time=now.timestamp(),
            parent=parent,
        )
        tx.delete_instance(instance_id)
        tx.put_instance(row)
        tx.add_message(
            instance_id,
            MessageKind.EVENT,
            h.execution_started(
                now,
                instance_id=instance_id,
                execution_id=execution_id,
                name=name,
                input_json=input_json,
                parent=parent,
                version=version,
            ),
            execution_id=execution_id,
        )
        self._runtimes.pop(instance_id, None)

    def _accept(self, runtime: _Runtime, message: Message) -> bool:
        """Drop messages that belong to an older execution or repeat a completion already in history."""
        if message.execution_id is not None and message.execution_id != runtime.row.execution_id:
            return False
        kind = EventType(message.event["EventType"])
        if kind is EventType.EXECUTION_STARTED:
            return not runtime.history
        key = _RESULT_EVENTS.get(kind)
        if key is not None:
            task_id = int(message.event[key])
            if task_id not in runtime.created_ids or task_id in runtime.finished_ids:
                return False
        return True

    async def _run_episode(self, instance_id: str) -> None:
        now = self.clock.now()
        if ent.is_entity_id(instance_id):
            await self._entities.run_batch(instance_id, now)
            return
        messages = self.store.visible_messages(instance_id, now.timestamp())
        if not messages:
            return
        runtime = self._runtime(instance_id)
        if runtime is None or runtime.status in TERMINAL_STATUSES:
            # Late messages for a finished (or purged) instance.
            with self.store.transaction() as tx:
                tx.delete_messages([m.id for m in messages])
            self._runtimes.pop(instance_id, None)
            return
        terminate = next((m for m in messages if m.kind is MessageKind.TERMINATE), None)
        if terminate is not None:
            self._terminate_now(runtime, terminate.event.get("Reason"), now)
            return

        suspended, control_events, consumed = _suspend_and_resume(
            messages, suspended=runtime.status is RuntimeStatus.SUSPENDED, now=now
        )
        if suspended:
            # Events wait in the inbox until the instance is resumed.
            runtime.row.status = RuntimeStatus.SUSPENDED.value
            self._commit_control_only(runtime, consumed, control_events, now)
            return

        delivered: list[Event] = []
        for message in _inbound_in_order(messages, new_execution=not runtime.history):
            consumed.append(message.id)
            if self._accept(runtime, message):
                delivered.append(message.event)
        if not delivered and not control_events:
            with self.store.transaction() as tx:
                tx.delete_messages(consumed)
            return
        if runtime.status is RuntimeStatus.PENDING or runtime.status is RuntimeStatus.SUSPENDED:
            runtime.row.status = RuntimeStatus.RUNNING.value
        new_events = [h.orchestrator_started(now), *delivered, *control_events]
        await self._replay(runtime, new_events, consumed, now)

    def _commit_control_only(
        self, runtime: _Runtime, consumed: list[int], control_events: list[Event], now: datetime
    ) -> None:
        events = [h.orchestrator_started(now), *control_events, h.orchestrator_completed(now)] if control_events else []
        runtime.row.last_updated_time = now.timestamp()
        with self.store.transaction() as tx:
            tx.delete_messages(consumed)
            tx.append_history(runtime.row.instance_id, len(runtime.history), events)
            tx.put_instance(runtime.row)
        runtime.extend(events)

    def _context_json(self, runtime: _Runtime, new_events: list[Event]) -> str:
        row = runtime.row
        parts = runtime.played_json + [json.dumps({**e, "IsPlayed": False}) for e in new_events]
        input_text = row.input if row.input is not None and _is_json(row.input) else json.dumps(row.input)
        parent_id = row.parent["OrchestrationInstance"]["InstanceId"] if row.parent else None
        return (
            '{"history":['
            + ",".join(parts)
            + '],"input":'
            + input_text
            + ',"instanceId":'
            + json.dumps(row.instance_id)
            + ',"isReplaying":'
            + ("true" if runtime.history else "false")
            + ',"parentInstanceId":'
            + json.dumps(parent_id)
            + _CONTEXT_TAIL
        )

    async def _replay(self, runtime: _Runtime, new_events: list[Event], consumed: list[int], now: datetime) -> None:
        row = runtime.row
        info = self.app.find_orchestrator(row.name)
        if info is None:
            message = (
                f"The function '{row.name}' doesn't exist, is disabled, or is not an orchestrator function. "
                f"Additional info: {known_functions('orchestrator', self.orchestrator_names())}"
            )
            self._fail(runtime, new_events, consumed, now, message, None, custom_status=None)
            return
        started = time.perf_counter()
        context_json = self._context_json(runtime, new_events)
        output = await self._call_orchestrator(info, context_json)
        if self._runtimes.get(row.instance_id) is not runtime:
            return  # purged or restarted while the orchestrator ran: its messages wait for the new execution
        state = output.state
        replay_error: str | None = None
        outcome: ReplayOutcome | None = None
        try:
            outcome = ActionReplayer(
                state.top_level_actions,
                instance_id=row.instance_id,
                # DurableTask's default sub-orchestration id: "<parent execution id>:<sequence number>".
                sub_orchestration_id=lambda task_id: f"{row.execution_id}:{task_id}",
            ).replay(runtime.history + new_events)
            replay_error = self._missing_function_error(outcome)
            if self._verify_replay and replay_error is None and output.error is None:
                replay_error = verify_against_sdk(info, context_json, outcome)
        except (NonDeterminismError, UnsupportedActionError) as error:
            replay_error = str(error)
        self.stats.episodes += 1
        self._replay_seconds[row.instance_id] = time.perf_counter() - started
        self.stats.samples.append(EpisodeSample(len(runtime.history) + len(new_events), time.perf_counter() - started))
        custom_status = state.custom_status
        if replay_error is not None:
            self._fail(runtime, new_events, consumed, now, replay_error, None, custom_status)
        elif output.error is not None:
            self._fail(
                runtime,
                new_events,
                consumed,
                now,
                f"Orchestrator function '{row.name}' failed: {output.error}",
                f"Message: {output.error}, StackTrace: {output.error_details}",
                custom_status,
            )
        elif outcome is not None and outcome.continued_as_new:
            self._continue_as_new(runtime, consumed, now, outcome.continue_as_new_input, custom_status)
        elif state.is_done:
            self._complete(
                runtime,
                new_events,
                consumed,
                now,
                RuntimeStatus.COMPLETED,
                json.dumps(state.output),
                custom_status,
            )
        elif outcome is not None:
            self._schedule(runtime, new_events, consumed, now, outcome, custom_status)

    async def _call_orchestrator(self, info: FunctionInfo, context_json: str) -> EpisodeOutput:
        """One episode through the runtime: the extension sends the context as a string and takes the
        state JSON back as the function's return value (or, when the orchestrator raised, inside the
        exception message after the SDK's out-of-proc marker)."""
        try:
            result = await self._invoker.invoke(info, {info.trigger.name: self._invoker.string(context_json)})
        except InvocationFailed as failure:
            return episode_output(None, failure.message, failure.stack_trace)
        return episode_output(typed_text(result.return_value), None, None)

    def _missing_function_error(self, outcome: ReplayOutcome) -> str | None:
        for task in outcome.new_tasks:
            name = task.name or ""
            # DurableTaskExtension.ThrowIfFunctionDoesNotExist, checked when the orchestrator schedules work.
            if task.kind is TaskKind.ACTIVITY and not self._activities.exists(name):
                known = known_functions("activity", self._activities.names())
                return (
                    f"The function '{name}' doesn't exist, is disabled, or is not an activity function. "
                    f"Additional info: {known}"
                )
            if task.kind is TaskKind.SUB_ORCHESTRATION and self.app.find_orchestrator(name) is None:
                return (
                    f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                    f"function. Additional info: {known_functions('orchestrator', self.orchestrator_names())}"
                )
            if task.kind is TaskKind.ENTITY:
                entity_name = _entity_name(task.instance_id or "")
                if self.app.find_entity(entity_name) is None:
                    return (
                        f"The function '{entity_name}' doesn't exist, is disabled, or is not an entity "
                        f"function. Additional info: {known_functions('entity', self._entities.names())}"
                    )
        return None

    # -- episode outcomes ---------------------------------------------------------------------------------

    def _schedule(
        self,
        runtime: _Runtime,
        new_events: list[Event],
        consumed: list[int],
        now: datetime,
        outcome: ReplayOutcome,
        custom_status: Any,
    ) -> None:
        row = runtime.row
        outputs: list[Event] = []
        work: list[WorkItem] = []
        timers: list[tuple[float, int, str]] = []
        ready: list[str] = []
        with self.store.transaction() as tx:
            for task in outcome.new_tasks:
                if task.kind is TaskKind.ACTIVITY:
                    name = task.name or ""
                    outputs.append(h.task_scheduled(now, task_id=task.task_id, name=name, input_json=task.input_json))
                    item_id = tx.add_work_item(row.instance_id, row.execution_id, task.task_id, name, task.input_json)
                    work.append(
                        WorkItem(item_id, row.instance_id, row.execution_id, task.task_id, name, task.input_json)
                    )
                elif task.kind is TaskKind.TIMER:
                    fire_at = task.fire_at or now
                    outputs.append(h.timer_created(now, timer_id=task.task_id, fire_at=fire_at))
                    if not task.canceled:
                        fired = h.timer_fired(fire_at, timer_id=task.task_id, fire_at=outputs[-1]["FireAt"])
                        message_id = tx.add_message(
                            row.instance_id,
                            MessageKind.TIMER,
                            fired,
                            execution_id=row.execution_id,
                            task_id=task.task_id,
                            visible_at=fire_at.timestamp(),
                        )
                        timers.append((fire_at.timestamp(), message_id, row.instance_id))
                elif task.kind is TaskKind.ENTITY:
                    outputs.append(self._entities.request(tx, row, task, now, ready, timers))
                else:
                    child_id = task.instance_id or f"{row.execution_id}:{task.task_id}"
                    version = self._sub_orchestration_version(task)
                    outputs.append(
                        h.sub_orchestration_created(
                            now,
                            task_id=task.task_id,
                            name=task.name or "",
                            instance_id=child_id,
                            input_json=task.input_json,
                            version=version,
                        )
                    )
                    ready.append(
                        self._start_child(
                            tx, runtime, task.task_id, child_id, task.name or "", task.input_json, now, version
                        )
                    )
            for timer_id in outcome.canceled_timer_ids:
                tx.delete_timer(row.instance_id, timer_id)
            events = [*new_events, *outputs, h.orchestrator_completed(now)]
            row.custom_status = _dump_or_none(custom_status)
            row.last_updated_time = now.timestamp()
            tx.delete_messages(consumed)
            tx.append_history(row.instance_id, len(runtime.history), events)
            tx.put_instance(row)
        runtime.extend(events)
        for item in work:
            self._activities.dispatch(item)
        for due, message_id, target in timers:
            self._timers.add(due, message_id, target)
        for instance_id in ready:
            self._mark_ready(instance_id)

    def _start_child(
        self,
        tx: Transaction,
        parent: _Runtime,
        task_id: int,
        child_id: str,
        name: str,
        input_json: str | None,
        now: datetime,
        version: str | None = None,
    ) -> str:
        """Create a sub-orchestration; returns the instance that has a new message (child or parent)."""
        info = self.app.find_orchestrator(name)
        existing = self._row(child_id)
        if existing is not None and RuntimeStatus(existing.status) not in TERMINAL_STATUSES:
            tx.add_message(
                parent.row.instance_id,
                MessageKind.EVENT,
                h.sub_orchestration_failed(
                    now,
                    task_id=task_id,
                    reason=(f"An Orchestration instance with the ID {child_id} already exists."),
                    details=None,
                ),
                execution_id=parent.row.execution_id,
            )
            return parent.row.instance_id
        parent_ref = {
            "Name": parent.row.name,
            "OrchestrationInstance": {
                "InstanceId": parent.row.instance_id,
                "ExecutionId": parent.row.execution_id,
            },
            "TaskScheduleId": task_id,
        }
        # The extension passes the SDK's serialized input on as a string value: the child's context input is
        # that JSON text, which `get_input()` decodes.
        self._create_instance(
            tx,
            child_id,
            info.durable_name if info else name,
            _as_json_string(input_json),
            parent=parent_ref,
            version=version,
        )
        return child_id

    def _complete(
        self,
        runtime: _Runtime,
        new_events: list[Event],
        consumed: list[int],
        now: datetime,
        status: RuntimeStatus,
        output_json: str | None,
        custom_status: Any,
        failure: tuple[str, str | None] | None = None,
    ) -> None:
        row = runtime.row
        events = [
            *new_events,
            h.execution_completed(now, status=status.value, result_json=output_json),
            h.orchestrator_completed(now),
        ]
        row.status = status.value
        row.output = output_json
        row.custom_status = _dump_or_none(custom_status)
        row.last_updated_time = now.timestamp()
        notify = self._parent_notification(row, now, output_json, failure)
        with self.store.transaction() as tx:
            tx.delete_messages(consumed)
            tx.append_history(row.instance_id, len(runtime.history), events)
            tx.put_instance(row)
            # Nothing else will be delivered: pending timers and queued activities go.
            tx.delete_all_messages(row.instance_id)
            tx.delete_work_items(row.instance_id)
            if notify is not None:
                tx.add_message(notify[0], MessageKind.EVENT, notify[2], execution_id=notify[1])
        runtime.extend(events)
        self._runtimes.pop(row.instance_id, None)
        self._replay_seconds.pop(row.instance_id, None)
        if notify is not None:
            self._mark_ready(notify[0])
        if status is RuntimeStatus.FAILED:
            log.warning("orchestration %s (%s) failed: %s", row.instance_id, row.name, parse_json_text(output_json))

    def _parent_notification(
        self, row: InstanceRow, now: datetime, output_json: str | None, failure: tuple[str, str | None] | None
    ) -> tuple[str, str, Event] | None:
        if not row.parent:
            return None
        parent = row.parent["OrchestrationInstance"]
        task_id = int(row.parent["TaskScheduleId"])
        if failure is None:
            event = h.sub_orchestration_completed(now, task_id=task_id, result_json=output_json)
        else:
            event = h.sub_orchestration_failed(now, task_id=task_id, reason=failure[0], details=failure[1])
        return parent["InstanceId"], parent["ExecutionId"], event

    def _fail(
        self,
        runtime: _Runtime,
        new_events: list[Event],
        consumed: list[int],
        now: datetime,
        message: str,
        details: str | None,
        custom_status: Any,
    ) -> None:
        self._complete(
            runtime,
            new_events,
            consumed,
            now,
            RuntimeStatus.FAILED,
            json.dumps(message),
            custom_status,
            failure=(message, details),
        )

    def _terminate_now(self, runtime: _Runtime, reason: str | None, now: datetime) -> None:
        new_events = [h.orchestrator_started(now), h.execution_terminated(now, reason=reason)]
        self._complete(
            runtime,
            new_events,
            [],
            now,
            RuntimeStatus.TERMINATED,
            json.dumps(reason),
            parse_json_text(runtime.row.custom_status),
            failure=(f"Orchestration terminated: {reason}", None),
        )

    def _continue_as_new(
        self,
        runtime: _Runtime,
        consumed: list[int],
        now: datetime,
        input_json: str | None,
        custom_status: Any,
    ) -> None:
        row = runtime.row
        # The new execution keeps the version: `NewVersion ?? runtimeState.Version` (Azure/durabletask:
        # src/DurableTask.Core/TaskOrchestrationDispatcher.cs; the extension's ContinueAsNew passes no version).
        version = _version_of(runtime.history)
        row.execution_id = uuid.uuid4().hex
        row.input = _as_json_string(input_json)
        row.status = RuntimeStatus.RUNNING.value
        row.custom_status = _dump_or_none(custom_status)
        row.last_updated_time = now.timestamp()
        with self.store.transaction() as tx:
            tx.delete_messages(consumed)
            # Results and timers of the old execution are void; raised events not yet delivered carry over.
            tx.delete_messages_except_raised_events(row.instance_id)
            tx.delete_work_items(row.instance_id)
            tx.clear_history(row.instance_id)
            tx.put_instance(row)
            tx.add_message(
                row.instance_id,
                MessageKind.EVENT,
                h.execution_started(
                    now,
                    instance_id=row.instance_id,
                    execution_id=row.execution_id,
                    name=row.name,
                    input_json=row.input,
                    parent=row.parent,
                    version=version,
                ),
                execution_id=row.execution_id,
            )
        self._runtimes[row.instance_id] = _Runtime.load(row, [])
        self._mark_ready(row.instance_id)

    # -- activities ---------------------------------------------------------------------------------------

    # -- versions -----------------------------------------------------------------------------------------

    def _sub_orchestration_version(self, task: ScheduledTask) -> str | None:
        """A sub-orchestration gets host.json's defaultVersion: the extension creates it with
        `Config.Options.DefaultVersion` (src/WebJobs.Extensions.DurableTask/ContextImplementations/
        DurableOrchestrationContext.cs, CallDurableTaskFunctionAsync) and its out-of-proc shim does not pass
        the SDK's `version` field on (Listener/OutOfProcOrchestrationShim.cs, CallSubOrchestrator); the
        extension's own test expects the parent's explicit version not to propagate either
        (test/Common/OrchestrationVersionTests.cs, ExistingOrchestrationVersionIsImmutable)."""
        version = self.default_version
        if task.version is not None and task.version != version:
            log.warning(
                "call_sub_orchestrator('%s', version=%r): the Durable extension ignores the version and uses "
                "host.json defaultVersion (%r), so the sub-orchestration gets %r",
                task.name,
                task.version,
                version,
                version,
            )
        return version

    # -- entities -----------------------------------------------------------------------------------------

    def signal_entity(self, name: str, key: str, operation: str, input_json: str | None) -> None:
        self._entities.signal(name, key, operation, input_json)

    def read_entity_state(self, name: str, key: str) -> tuple[bool, str | None]:
        return self._entities.read_state(name, key)


def verify_against_sdk(info: FunctionInfo, context_json: str, outcome: ReplayOutcome) -> str | None:
    """Run the orchestrator once more through the SDK's executor and compare its task bookkeeping with the
    host's: the next sequence number and the set of open task ids must agree. A debugging aid for the
    host itself (it replays twice), on in the host's own tests."""
    from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
    from azure.durable_functions.models.Task import TaskState
    from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

    generator = getattr(info.user_function, "orchestrator_function", None)
    if generator is None:
        return None
    context = DurableOrchestrationContext.from_json(context_json)
    try:
        TaskOrchestrationExecutor().execute(context, context.histories, generator)
    except Exception:
        return None  # the orchestrator failed; the normal path reports it
    open_ids: set[int] = set()
    for key, value in context.open_tasks.items():
        tasks = value if isinstance(value, list) else [value]
        if isinstance(key, int) and any(t.state is TaskState.RUNNING for t in tasks):
            open_ids.add(key)
    sdk_next = context._sequence_number
    host_open = set(outcome.open_task_ids)
    # With actions waiting, the shim is stalled on an action the orchestrator moved past
    # (OutOfProcOrchestrationShim awaits actions in order): the SDK has numbered tasks the host will issue,
    # with the same numbers, later.
    if outcome.actions_waiting and host_open <= open_ids and outcome.next_sequence <= sdk_next:
        return None
    if sdk_next != outcome.next_sequence or open_ids != host_open:
        return (
            f"devstack host bug: task bookkeeping diverged from the SDK (SDK next sequence {sdk_next}, open "
            f"{sorted(open_ids)}; host next sequence {outcome.next_sequence}, open "
            f"{sorted(outcome.open_task_ids)})"
        )
    return None


_failure_log = logging.getLogger("Host.Triggers.DurableTask")


def _version_of(history: list[Event]) -> str | None:
    started = next((e for e in history if e["EventType"] == EventType.EXECUTION_STARTED), None)
    version = started.get("Version") if started is not None else None
    return version if isinstance(version, str) else None


def _entity_name(entity_id: str) -> str:
    try:
        return ent.parse_scheduler_id(entity_id)[0]
    except ent.EntityIdError:
        return entity_id


def _as_json_string(serialized: str | None) -> str | None:
    """An SDK-serialized payload as the extension stores it: a JSON string whose content is that JSON."""
    return None if serialized is None else json.dumps(serialized)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _dump_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _status_of(row: InstanceRow, events: list[Event] | None) -> InstanceStatus:
    return InstanceStatus(
        instance_id=row.instance_id,
        name=row.name,
        runtime_status=RuntimeStatus(row.status),
        input=parse_json_text(row.input),
        output=parse_json_text(row.output),
        custom_status=parse_json_text(row.custom_status),
        created_time=datetime.fromtimestamp(row.created_time, UTC),
        last_updated_time=datetime.fromtimestamp(row.last_updated_time, UTC),
        parent_instance_id=row.parent["OrchestrationInstance"]["InstanceId"] if row.parent else None,
        history=events,
    )


__all__ = [
    "DurableError",
    "EngineCore",
    "EngineStats",
    "EpisodeSample",
    "FunctionInfo",
    "validate_instance_id",
]
