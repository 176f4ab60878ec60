"""Activities: each scheduled activity runs at least once, through Microsoft's Python runtime.

A work item (written in the same transaction as the TaskScheduled event) is deleted only together with the
TaskCompleted/TaskFailed message it produced, so an activity cut off by a crash runs again after a restart.
At most `max_concurrent` run at once (host.json `maxConcurrentActivityFunctions`). Failures read, and are
logged, as the Durable extension reports them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import os
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from . import history as h
from .clock import Clock
from .history import Event
from .indexer import FunctionInfo, IndexedApp
from .invoker import InvocationFailed, Invoker, call_override, call_user_function, typed_text
from .models import TERMINAL_STATUSES, RuntimeStatus
from .store import InstanceRow, MessageKind, Store, WorkItem

log = logging.getLogger("devstack.host.engine")
_failure_log = logging.getLogger("Host.Triggers.DurableTask")
_EXTENSION_VERSION = "devstack"


class ActivityRunner:
    def __init__(
        self,
        app: IndexedApp,
        invoker: Invoker,
        clock: Clock,
        *,
        overrides: Mapping[str, Callable[..., Any]],
        max_concurrent: int,
        store: Callable[[], Store],
        row_of: Callable[[str], InstanceRow | None],
        completed: Callable[[str], None],
        changed: Callable[[], None],
        client_bindings: Callable[[FunctionInfo], dict[str, Any] | None],
    ) -> None:
        self.app = app
        # The durableClient inputs of a function (the HTTP host's; None when the engine runs without one).
        self._client_bindings = client_bindings
        self._invoker = invoker
        self._clock = clock
        self._overrides = {k.lower(): v for k, v in overrides.items()}
        self._max_concurrent = max_concurrent
        self._store = store
        self._row_of = row_of
        self._completed = completed  # an activity's result is in the instance's inbox
        self._changed = changed
        self._executor: ThreadPoolExecutor | None = None  # for test fakes only; the runtime has its own pool
        self._slots: asyncio.Semaphore | None = None
        self._inflight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure_sequence = itertools.count()

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=self._max_concurrent, thread_name_prefix="activity")
        self._slots = asyncio.Semaphore(self._max_concurrent)

    def stop(self) -> list[asyncio.Task[None]]:
        """Cancel what runs (its work item stays, so it runs again after a restart); the caller awaits."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        return tasks

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def inflight(self, instance_id: str) -> int:
        return self._inflight.get(instance_id, 0)

    def exists(self, name: str) -> bool:
        # Activities by their trigger's `activity` property, else the function name
        # (ActivityTriggerAttributeBindingProvider.TryCreateAsync: trigger.Activity, then [FunctionName]).
        return name.lower() in self._overrides or self.app.find_activity(name) is not None

    def names(self) -> list[str]:
        return [f.durable_name for f in self.app.activities.values()] + list(self._overrides)

    def dispatch(self, item: WorkItem) -> None:
        self._inflight[item.instance_id] = self._inflight.get(item.instance_id, 0) + 1
        task = asyncio.get_running_loop().create_task(self._run(item), name=f"activity {item.name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("activity runner crashed", exc_info=task.exception())
        self._changed()

    async def _run(self, item: WorkItem) -> None:
        assert self._slots is not None
        try:
            async with self._slots:
                row = self._row_of(item.instance_id)
                if (
                    row is None
                    or row.execution_id != item.execution_id
                    or RuntimeStatus(row.status) in TERMINAL_STATUSES
                ):
                    with self._store().transaction() as tx:
                        tx.delete_work_item(item.id)
                    return
                event = await self._execute(item)
            with self._store().transaction() as tx:
                tx.delete_work_item(item.id)
                tx.add_message(item.instance_id, MessageKind.EVENT, event, execution_id=item.execution_id)
        finally:
            self._inflight[item.instance_id] -= 1
            if self._inflight[item.instance_id] <= 0:
                del self._inflight[item.instance_id]
        self._completed(item.instance_id)

    async def _execute(self, item: WorkItem) -> Event:
        override = self._overrides.get(item.name.lower())
        info = self.app.find_activity(item.name)
        if override is None and info is None:
            # TaskNonexistentActivityShim.Run
            return self._failed(item, f"Activity function '{item.name}' does not exist.", None)
        timeout = self.app.settings.function_timeout_seconds
        try:
            if override is not None:
                binding = info.trigger.name if info is not None else "input"
                function, kwargs = call_override(override, binding, _decode_input(item.input))
                call = self._call_fake(function, kwargs)
            else:
                assert info is not None
                # The extension hands the activity its input as JSON; the runtime's converter decodes it.
                call = self._call(info, item.input)
            try:
                result_json = await asyncio.wait_for(call, timeout)
            except TimeoutError:
                # As in Azure, the invocation fails; a sync function's thread cannot be stopped and runs on.
                limit = _timespan(timeout or 0)
                message = f"Timeout value of {limit} was exceeded by function: Functions.{item.name}"
                return self._failed(item, message, None)
            return h.task_completed(self._clock.now(), task_id=item.task_id, result_json=result_json)
        except InvocationFailed as failure:
            # The worker's RpcException carries "<type>: <message>"; the extension cuts the text between
            # "\nException:" and "\nStack:" out of it, leading space included
            # (OutOfProcExceptionHelpers.TryGetExceptionWithFriendlyMessage).
            return self._failed(item, " " + failure.message, failure.stack_trace)
        except Exception as error:
            message = f" {type(error).__name__}: {error}"
            return self._failed(item, message, user_traceback(error))

    def _failed(self, item: WorkItem, message: str, stack_trace: str | None) -> Event:
        """The TaskFailed event for a failed activity attempt, logged as the extension logs it.

        Reason and Details as TaskActivityShim.RunAsync reports them (Azure/azure-functions-durable-extension:
        src/WebJobs.Extensions.DurableTask/Listener/TaskActivityShim.cs: `Activity function '{name}' failed:
        {message}`, the cause serialized as Details); the SDK hands the orchestrator `Reason \n Details`. Every
        failed attempt, retried or not, is one error log line (EndToEndTraceHelper.FunctionFailed, logger
        category Host.Triggers.DurableTask)."""
        reason = f"Activity function '{item.name}' failed: {message}"
        _failure_log.error(
            "%s: Function '%s (Activity)' failed with an error. Reason: %s. IsReplay: False. State: Failed. "
            "RuntimeStatus: Failed. HubName: %s. AppName: %s. SlotName: %s. ExtensionVersion: %s. "
            "SequenceNumber: %d. TaskEventId: %d",
            item.instance_id,
            item.name,
            message.strip(),
            self.app.settings.hub_name,
            os.environ.get("WEBSITE_SITE_NAME", ""),
            os.environ.get("WEBSITE_SLOT_NAME", ""),
            _EXTENSION_VERSION,
            next(self._failure_sequence),
            item.task_id,
        )
        return h.task_failed(
            self._clock.now(), task_id=item.task_id, reason=reason, details=_serialized_cause(message, stack_trace)
        )

    async def _call(self, info: FunctionInfo, input_json: str | None) -> str:
        inputs = {info.trigger.name: self._invoker.json(input_json or "null")}
        # The extension registers the durableClient binding as a plain input binding, for any function, not only
        # for HTTP and timer triggers (DurableTaskExtension.Initialize: AddBindingRule<DurableClientAttribute>,
        # azure-functions-durable-extension).
        if info.durable_client_bindings:
            clients = self._client_bindings(info)
            if clients is None:
                raise RuntimeError(
                    f"activity '{info.name}' takes a durable client, and this engine runs without the host's "
                    "HTTP API (use HostRuntime, or override the activity)"
                )
            inputs.update(clients)
        result = await self._invoker.invoke(info, inputs)
        return typed_text(result.return_value) or "null"

    async def _call_fake(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> str:
        assert self._executor is not None
        result = await call_user_function(function, kwargs, self._executor)
        return str(ActivityTriggerConverter.encode(result, expected_type=None).value)


# Frames of the host itself and of the machinery it calls test fakes through.
_HOST_FRAMES = tuple(
    str(Path(module_file).parent) + os.sep for module_file in (__file__, asyncio.__file__, concurrent.futures.__file__)
)


def user_traceback(error: BaseException) -> str:
    """The traceback of a fake's exception without the host's own frames (what the worker would report)."""
    summary = traceback.TracebackException.from_exception(error)
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in summary.stack if not frame.filename.startswith(_HOST_FRAMES)]
    )
    return "".join(summary.format())


def _serialized_cause(message: str, stack_trace: str | None) -> str:
    """TaskFailed.Details: the cause as DurableTask.Core's Utils.SerializeCause writes it (Newtonsoft with
    type names), an Exception with the friendly message whose inner exception is the worker's RpcException
    carrying the Python stack."""
    return json.dumps(
        {
            "$type": "System.Exception, System.Private.CoreLib",
            "ClassName": "System.Exception",
            "Message": message,
            "Data": None,
            "InnerException": {
                "$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
                "IsUserException": False,
                "RemoteStackTrace": stack_trace,
                "RemoteMessage": message.strip(),
            },
            "HelpURL": None,
            "StackTraceString": None,
            "RemoteStackTraceString": None,
            "RemoteStackIndex": 0,
            "ExceptionMethod": None,
            "HResult": -2146233088,
            "Source": None,
        }
    )


def _timespan(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _decode_input(input_json: str | None) -> Any:
    if input_json is None:
        return None
    return ActivityTriggerConverter.decode(meta.Datum(type="json", value=input_json), trigger_metadata=None)
