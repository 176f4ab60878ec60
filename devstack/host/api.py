"""`DurableEngine`: the thread-safe, synchronous face of the engine, for tests and scripts.

The engine's event loop runs in a background thread; every call here hops onto it and waits. That makes
the engine pleasant from plain (sync) pytest: start an orchestration, wait for it (a virtual clock skips
durable timers while you wait), raise events, read statuses and histories.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from azure.durable_functions.models.utils.df_serialization import df_dumps

from .clock import Clock
from .engine import EngineCore, EngineStats
from .indexer import IndexedApp, load_app
from .models import InstanceStatus, RuntimeStatus

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self, name: str = "devstack-host") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()  # don't leave a waiter behind
            raise

    def call(self, function: Callable[[], T], timeout: float | None = 30.0) -> T:
        async def wrapper() -> T:
            return function()

        return self.run(wrapper(), timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def drain() -> None:
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(drain(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()


class DurableEngine:
    """Run and inspect orchestrations of an indexed app (see the package docstring for an example).

    Build one with `DurableEngine.running(...)` (engine only), or get `HostServer.engine` (full host).
    """

    def __init__(self, core: EngineCore, loop_thread: LoopThread) -> None:
        self._core = core
        self._loop_thread = loop_thread

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        app: str | Path | IndexedApp,
        *,
        state_dir: str | Path | None = None,
        clock: Clock | None = None,
        activity_overrides: Mapping[str, Callable[..., Any]] | None = None,
        max_concurrent_activities: int | None = None,
        batch_quiet: float = 0.002,
        batch_max: float = 0.05,
        verify_replay: bool = False,
    ) -> Iterator[DurableEngine]:
        """Start an engine (no HTTP server) on a background loop; stop it on exit.

        `state_dir=None` keeps state in an in-memory SQLite database. `activity_overrides` maps activity
        names to fake functions that run instead of the app's (or in addition, for new names).
        `verify_replay` re-runs every episode through the SDK's executor to cross-check sequence numbers
        (twice the replay cost; the host's own tests turn it on).
        """
        indexed = load_app(app)
        loop_thread = LoopThread("devstack-engine")
        loop_thread.start()
        core = EngineCore(
            indexed,
            state_dir=str(state_dir) if state_dir is not None else None,
            clock=clock,
            activity_overrides=activity_overrides,
            max_concurrent_activities=max_concurrent_activities,
            batch_quiet=batch_quiet,
            batch_max=batch_max,
            verify_replay=verify_replay,
        )
        try:
            loop_thread.run(core.start(), timeout=30)
            yield cls(core, loop_thread)
        finally:
            with contextlib.suppress(Exception):
                loop_thread.run(core.stop(), timeout=30)
            loop_thread.stop()

    # -- properties -----------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._core.clock

    @property
    def app(self) -> IndexedApp:
        return self._core.app

    @property
    def stats(self) -> EngineStats:
        return self._core.stats

    @property
    def core(self) -> EngineCore:
        return self._core

    # -- client operations ----------------------------------------------------------------------------

    def start(
        self, orchestrator: str, input: Any = None, *, instance_id: str | None = None, version: str | None = None
    ) -> str:
        """Start an orchestration, with the input encoded exactly as `DurableOrchestrationClient.start_new`
        sends it (the SDK's JSON text, posted as a JSON string; `context.get_input()` decodes it). Without
        `version`, host.json's defaultVersion applies."""
        input_json = json.dumps(df_dumps(input)) if input is not None else None
        return self._call(lambda: self._core.start_instance(orchestrator, input_json, instance_id, version=version))

    def signal_entity(self, name: str, key: str, operation: str, input: Any = None) -> None:
        """Signal an entity operation the way `DurableOrchestrationClient.signal_entity` does (the input as the
        SDK's JSON text, which the extension serializes once more; no input for a falsy value, like the SDK)."""
        input_json = json.dumps(json.dumps(input)) if input else None
        self._call(lambda: self._core.signal_entity(name, key, operation, input_json))

    def read_entity_state(self, name: str, key: str) -> tuple[bool, Any]:
        """(exists, state) of an entity, as `DurableOrchestrationClient.read_entity_state` reports them."""
        exists, state = self._call(lambda: self._core.read_entity_state(name, key))
        return exists, json.loads(state) if exists and state is not None else None

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Raise an event as a POST of `data` as JSON to the sendEventPostUri does: the orchestrator receives
        `data` itself. (`DurableOrchestrationClient.raise_event` double-encodes; see the package docs.)"""
        self._call(lambda: self._core.raise_event(instance_id, event_name, df_dumps(data)))

    def terminate(self, instance_id: str, reason: str = "") -> None:
        self._call(lambda: self._core.terminate(instance_id, reason))

    def suspend(self, instance_id: str, reason: str = "") -> None:
        self._call(lambda: self._core.suspend(instance_id, reason))

    def resume(self, instance_id: str, reason: str = "") -> None:
        self._call(lambda: self._core.resume(instance_id, reason))

    def purge(self, instance_id: str) -> bool:
        return self._call(lambda: self._core.purge(instance_id)) > 0

    def get_status(self, instance_id: str, *, history: bool = True) -> InstanceStatus | None:
        return self._call(lambda: self._core.get_status(instance_id, with_history=history))

    def list_instances(
        self,
        *,
        runtime_status: list[RuntimeStatus] | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        prefix: str | None = None,
    ) -> list[InstanceStatus]:
        found, _ = self._call(
            lambda: self._core.list_instances(
                statuses=runtime_status, created_from=created_from, created_to=created_to, prefix=prefix
            )
        )
        return found

    # -- waiting --------------------------------------------------------------------------------------

    def wait(self, instance_id: str, timeout: float = 10.0) -> InstanceStatus:
        """Run until the instance is Completed, Failed or Terminated; a virtual clock skips timers."""
        return self.wait_for(instance_id, lambda s: s.runtime_status.is_terminal, timeout=timeout)

    def wait_for(
        self,
        instance_id: str,
        predicate: Callable[[InstanceStatus], bool],
        *,
        timeout: float = 10.0,
        skip_time: bool = True,
    ) -> InstanceStatus:
        """Run until `predicate(status)` holds for the instance (checked after every step)."""
        core = self._core

        def check() -> bool:
            status = core.get_status(instance_id)
            return status is not None and predicate(status)

        try:
            self._loop_thread.run(core.wait_until(check, skip_time=skip_time), timeout)
        except FutureTimeout:
            status = self.get_status(instance_id, history=False)
            raise TimeoutError(
                f"instance {instance_id} did not reach the expected state within {timeout}s; "
                f"now: {status.runtime_status if status else 'not found'}, "
                f"custom status {status.custom_status if status else None!r}"
            ) from None
        status = self.get_status(instance_id)
        assert status is not None
        return status

    def wait_for_custom_status(
        self,
        instance_id: str,
        predicate: Callable[[Any], bool],
        *,
        timeout: float = 10.0,
        skip_time: bool = True,
    ) -> InstanceStatus:
        return self.wait_for(instance_id, lambda s: predicate(s.custom_status), timeout=timeout, skip_time=skip_time)

    def run_until_idle(self, timeout: float = 10.0) -> None:
        """Run until nothing can progress without time passing or a client acting (no timer is skipped)."""
        try:
            self._loop_thread.run(self._core.wait_until(self._core.is_quiescent, skip_time=False), timeout)
        except FutureTimeout:
            raise TimeoutError(f"the engine did not become idle within {timeout}s") from None

    def advance(self, delta: timedelta, timeout: float = 30.0) -> None:
        """Move a virtual clock forward by `delta`, firing every timer due on the way (in order)."""
        try:
            self._loop_thread.run(self._core.advance(delta.total_seconds()), timeout)
        except FutureTimeout:
            raise TimeoutError(f"advancing the clock by {delta} did not settle within {timeout}s") from None

    def _call(self, function: Callable[[], T]) -> T:
        return self._loop_thread.call(function)
