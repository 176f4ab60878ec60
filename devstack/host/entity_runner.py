"""Durable entities: requests queue per entity and run as batches through the entity function.

An entity is an instance whose id is the extension's scheduler id (`@name@key`). Orchestrators' calls and
signals and clients' signals land in its queue as messages; the engine runs a batch whenever the entity is
ready, one batch at a time (an entity's episodes never overlap), persists its state and answers callers.
Wire formats are in `entities.py`; this module is the behaviour.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from . import entities as ent
from . import history as h
from .history import Event
from .indexer import FunctionInfo, IndexedApp, TriggerKind
from .invoker import InvocationFailed, Invoker, typed_text
from .models import FunctionNotFoundError, known_functions, parse_json_text
from .replay import ScheduledTask
from .store import InstanceRow, MessageKind, Store, Transaction

log = logging.getLogger("devstack.host.engine")
_failure_log = logging.getLogger("Host.Triggers.DurableTask")


class EntityRunner:
    def __init__(
        self, app: IndexedApp, invoker: Invoker, *, store: Callable[[], Store], ready: Callable[[str], None]
    ) -> None:
        self.app = app
        self._invoker = invoker
        self._store = store
        self._ready = ready  # a message is in an instance's (or entity's) inbox

    def names(self) -> list[str]:
        return [f.durable_name for f in self.app.of_kind(TriggerKind.ENTITY).values()]

    def signal(self, name: str, key: str, operation: str, input_json: str | None) -> None:
        """A client's signal (HttpApiHandler.HandlePostEntityOperationRequestAsync -> DurableClient
        .SignalEntityAsync, which first checks the entity function exists)."""
        self._require(name)
        entity_id = ent.scheduler_id(name, key)
        request = ent.request_message(
            operation=operation,
            input_=input_json,
            request_id=uuid.uuid4().hex,
            signal=True,
            parent_instance=None,
            parent_execution=None,
        )
        with self._store().transaction() as tx:
            tx.add_message(entity_id, MessageKind.ENTITY, request)
        self._ready(entity_id)

    def read_state(self, name: str, key: str) -> tuple[bool, str | None]:
        """(exists, state JSON) of an entity (DurableClient.ReadEntityStateAsync); unknown is not existing."""
        found = self._store().get_entity(ent.scheduler_id(name, key))
        if found is None or not found[0]:
            return False, None
        return True, found[1]

    def _require(self, name: str) -> FunctionInfo:
        info = self.app.find_entity(name)
        if info is None:
            # DurableTaskExtension.GetInvalidEntityFunctionMessage
            raise FunctionNotFoundError(
                f"The function '{name}' doesn't exist, is disabled, or is not an entity function. "
                f"Additional info: {known_functions('entity', self.names())}"
            )
        return info

    def request(
        self,
        tx: Transaction,
        row: InstanceRow,
        task: ScheduledTask,
        now: datetime,
        ready: list[str],
        timers: list[tuple[float, int, str]],
    ) -> Event:
        """An orchestrator's call or signal: an EventSent in its history and a request in the entity's queue
        (DurableOrchestrationContext.CallDurableTaskFunctionAsync, FunctionType.Entity -> SendEntityMessage)."""
        entity_id = task.instance_id or ""
        due = task.fire_at if task.signal else None
        request = ent.request_message(
            operation=task.operation or "",
            input_=ent.operation_input(task.input_json),
            request_id=task.request_id or uuid.uuid4().hex,
            signal=task.signal,
            parent_instance=row.instance_id,
            parent_execution=row.execution_id,
            due=due,
        )
        if due is not None and due > now:
            message_id = tx.add_message(entity_id, MessageKind.ENTITY, request, visible_at=due.timestamp())
            timers.append((due.timestamp(), message_id, entity_id))
        else:
            tx.add_message(entity_id, MessageKind.ENTITY, request)
            ready.append(entity_id)
        return h.event_sent(
            now,
            event_id=task.task_id,
            instance_id=entity_id,
            name=ent.request_event_name(due),
            input_json=json.dumps(request),
        )

    async def run_batch(self, entity_id: str, now: datetime) -> None:
        """Run every request queued for one entity, in arrival order, as one batch (one call of the entity
        function), then persist its state and answer the callers, all in one transaction. Batches of one
        entity never overlap: they run on the engine's loop, one episode at a time.

        As TaskEntityShim.ExecuteOutOfProcBatch: the state and existence the function returns replace the
        entity's; a caller gets a ResponseMessage as an EventRaised named after its request id (sent to the
        execution that called); signals get no answer; an operation that failed is logged."""
        messages = [
            m for m in self._store().visible_messages(entity_id, now.timestamp()) if m.kind is MessageKind.ENTITY
        ]
        if not messages:
            return
        name, key = ent.parse_scheduler_id(entity_id)
        requests = [m.event for m in messages]
        exists, state = self._store().get_entity(entity_id) or (False, None)
        info = self.app.find_entity(name)
        if info is None:
            message = (
                f"The function '{name}' doesn't exist, is disabled, or is not an entity function. "
                f"Additional info: {known_functions('entity', self.names())}"
            )
            result = ent.failed_batch(exists, state, len(requests), message)
        else:
            try:
                output = await self._call(info, ent.batch_context(name, key, exists, state, requests))
                result = ent.parse_batch_result(output, len(requests))
            except Exception as error:  # the function (or the SDK inside it) failed as a whole
                log.error("entity %s: the batch of %d operation(s) failed: %s", entity_id, len(requests), error)
                result = ent.failed_batch(exists, state, len(requests), str(error) or type(error).__name__)
        notify: list[str] = []
        with self._store().transaction() as tx:
            tx.delete_messages([m.id for m in messages])
            tx.put_entity(entity_id, result.exists, result.state if result.exists else None, now.timestamp())
            for request, operation in zip(requests, result.results, strict=True):
                if operation.is_error:
                    _failure_log.error(
                        "%s: Function '%s (Entity)' failed '%s' operation %s. Reason: %s",
                        entity_id,
                        name,
                        request.get("op"),
                        request.get("id"),
                        parse_json_text(operation.result),
                    )
                parent = request.get("parent")
                if request.get("signal") or not parent:
                    continue
                response = h.event_raised(now, name=str(request["id"]), input_json=ent.response_input(operation))
                tx.add_message(parent, MessageKind.EVENT, response, execution_id=request.get("parentExecution"))
                notify.append(parent)
            for signal in result.signals:
                target, outgoing = ent.signal_request(signal, entity_id, uuid.uuid4().hex)
                tx.add_message(target, MessageKind.ENTITY, outgoing)
                notify.append(target)
        for instance_id in dict.fromkeys(notify):
            self._ready(instance_id)

    async def _call(self, info: FunctionInfo, context_json: str) -> str:
        """Call an entity function with its batch through the runtime: like an orchestration, the
        extension sends the context as a string and takes the result JSON back as the return value."""
        try:
            result = await self._invoker.invoke(info, {info.trigger.name: self._invoker.string(context_json)})
        except InvocationFailed as failure:
            raise RuntimeError(failure.message) from None
        text = typed_text(result.return_value)
        if text is None:
            raise TypeError("the entity function returned no result JSON")
        return text
