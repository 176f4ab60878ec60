"""The language worker: Microsoft's Python Functions runtime, driven through the FunctionRpc contract.

For Python 3.13+ Azure runs a thin proxy worker (it owns the gRPC stream to the host) around the
execution runtime published as `azure-functions-runtime`; the proxy passes each request message from the
host to the runtime's `handle_event` entry points with `properties={"protos": <generated module>, "host":
...}`. This module plays that proxy: it builds the host's messages (WorkerInitRequest,
FunctionsMetadataRequest, FunctionLoadRequest, InvocationRequest) and hands them to the runtime, so that
indexing, load-time validation, binding converters and invocation are the runtime's own, and an app the
runtime refuses fails here with the runtime's message, as it would in Azure.

Start-up requests run on a loop thread of the worker's own; invocations run on the caller's loop (the
host's), and the runtime runs sync functions on its own thread pool, started as the proxy worker starts it.
The deviations, each needed to run more than one app in one test process (a worker holds exactly one),
are `AppScopedRegistry` and `_function_app_module_of`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import importlib
import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Coroutine, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from .rpc import load_protos

log = logging.getLogger("devstack.host.worker")
T = TypeVar("T")

HOST_VERSION = "4.1044.0-devstack"  # reported to the runtime as the host's version
SCRIPT_FILE = "function_app.py"  # PYTHON_SCRIPT_FILE_NAME's default, as the runtime resolves it

_current_app: contextvars.ContextVar[str | None] = contextvars.ContextVar("devstack_current_app", default=None)


class WorkerLoadError(RuntimeError):
    """The runtime refused the app (indexing or a function's load-time validation), with its own message."""


@dataclass(frozen=True)
class WorkerRequest:
    """What the proxy worker hands each `handle_event` entry point: the StreamingMessage and properties."""

    request: Any
    properties: dict[str, Any]


class AppScopedRegistry:
    """The runtime's function registry, one per app.

    The runtime keeps one module-global `Registry` (azure_functions_runtime/handle_event.py `_functions`)
    because a worker process holds one app. Test runs load several apps in one process, so the registry
    object the runtime uses is replaced by one whose `_functions` mapping is chosen by the app whose
    request is being handled (a context variable set around each `handle_event` call). Every method is
    the runtime's own `Registry` method; only the storage is per app.
    """

    def __init__(self, registry_class: type) -> None:
        self._registry_class = registry_class
        self._by_app: dict[str, Any] = {}

    def registry_for(self, app_key: str) -> Any:
        registry = self._by_app.get(app_key)
        if registry is None:
            registry = self._by_app[app_key] = self._registry_class()
        return registry

    def _current(self) -> Any:
        key = _current_app.get()
        if key is None:
            raise RuntimeError("a runtime call outside any app's scope")
        return self.registry_for(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)


@dataclass
class LoadedFunction:
    """One function as the runtime indexed and loaded it."""

    metadata: Any  # RpcFunctionMetadata
    runtime_info: Any  # azure_functions_runtime.functions.FunctionInfo

    @property
    def function_id(self) -> str:
        return str(self.metadata.function_id)

    @property
    def raw_bindings(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.metadata.raw_bindings]


@dataclass
class LoadedApp:
    """An app the runtime has indexed and loaded: its functions, keyed by name."""

    key: str
    app_dir: Path
    functions: dict[str, LoadedFunction] = field(default_factory=dict)
    worker: PythonWorker | None = None

    @property
    def protos(self) -> ModuleType:
        assert self.worker is not None
        return self.worker.protos

    async def invoke_here(self, message: Any) -> Any:
        """Send a StreamingMessage carrying an InvocationRequest to the runtime on the caller's running loop
        and return its InvocationResponse. (The runtime binds nothing to a loop: it runs on whichever calls
        it and runs sync functions on its own thread pool; this saves two thread hops per invocation.)
        Callers are tasks of their own (an activity, an episode, an HTTP request), so the app scope set
        for the call stays within it."""
        assert self.worker is not None
        token = _current_app.set(self.key)
        try:
            return await self.worker.invocation_request(WorkerRequest(message, self.worker.properties))
        finally:
            _current_app.reset(token)


class PythonWorker:
    """The runtime in this process (start-up requests on a loop thread of its own). One per process, like
    the worker."""

    _instance: PythonWorker | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self.protos = load_protos()
        # What the proxy worker passes the runtime with every request.
        self.properties: dict[str, Any] = {"protos": self.protos, "host": "127.0.0.1"}
        self.runtime: ModuleType = importlib.import_module("azure_functions_runtime")
        self._handle_event = importlib.import_module("azure_functions_runtime.handle_event")
        functions_module = importlib.import_module("azure_functions_runtime.functions")
        self.registries = AppScopedRegistry(functions_module.Registry)
        setattr(self._handle_event, "_functions", self.registries)  # noqa: B010 - see AppScopedRegistry
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="python-worker", daemon=True)
        self._thread.start()
        self._apps: dict[Path, LoadedApp] = {}
        self._load_lock = threading.Lock()
        # The proxy worker starts the runtime's pool for sync functions (PYTHON_THREADPOOL_THREAD_COUNT).
        self.runtime.start_threadpool_executor()
        _quiet_runtime_logging()

    @classmethod
    def get(cls) -> PythonWorker:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    # -- messages -----------------------------------------------------------------------------------------

    def streaming(self, **content: Any) -> Any:
        return self.protos.StreamingMessage(request_id=uuid.uuid4().hex, **content)

    def submit(self, app_key: str, entry_point: str, message: Any) -> concurrent.futures.Future[Any]:
        """Run one `handle_event` entry point for one app on the worker loop."""
        handler = getattr(self._handle_event, entry_point)
        request = WorkerRequest(message, self.properties)
        return asyncio.run_coroutine_threadsafe(self._scoped(app_key, handler(request)), self._loop)

    def invocation_request(self, message: WorkerRequest) -> Coroutine[Any, Any, Any]:
        return self._handle_event.invocation_request(message)

    @staticmethod
    async def _scoped(app_key: str, call: Coroutine[Any, Any, T]) -> T:
        _current_app.set(app_key)  # this task's own context: other apps' calls are unaffected
        return await call

    # -- loading ------------------------------------------------------------------------------------------

    def load(self, app_dir: Path) -> LoadedApp:
        """Initialize the runtime on an app directory, as the host does at start-up: WorkerInitRequest
        (the runtime imports function_app.py and indexes it), FunctionsMetadataRequest, then one
        FunctionLoadRequest per function. Raises WorkerLoadError with the runtime's message."""
        app_dir = app_dir.resolve()
        with self._load_lock:
            cached = self._apps.get(app_dir)
            if cached is not None:
                return cached
            key = str(app_dir)
            with _function_app_module_of(app_dir):
                init = self.submit(
                    key,
                    "worker_init_request",
                    self.streaming(
                        worker_init_request=self.protos.WorkerInitRequest(
                            host_version=HOST_VERSION,
                            function_app_directory=str(app_dir),
                        )
                    ),
                ).result()
            self._raise_on_failure(init.result, f"the Python runtime could not load {app_dir / SCRIPT_FILE}")
            metadata = self.submit(
                key,
                "functions_metadata_request",
                self.streaming(
                    functions_metadata_request=self.protos.FunctionsMetadataRequest(function_app_directory=key)
                ),
            ).result()
            self._raise_on_failure(metadata.result, f"the Python runtime could not index {app_dir / SCRIPT_FILE}")
            if metadata.use_default_metadata_indexing or not metadata.function_metadata_results:
                raise WorkerLoadError(f"the Python runtime found no v2 functions in {app_dir / SCRIPT_FILE}")
            loaded = LoadedApp(key=key, app_dir=app_dir, worker=self)
            registry = self.registries.registry_for(key)
            for function in metadata.function_metadata_results:
                response = self.submit(
                    key,
                    "function_load_request",
                    self.streaming(
                        function_load_request=self.protos.FunctionLoadRequest(
                            function_id=function.function_id, metadata=function
                        )
                    ),
                ).result()
                self._raise_on_failure(response.result, f"the Python runtime could not load {function.name}")
                loaded.functions[function.name] = LoadedFunction(
                    metadata=function, runtime_info=registry.get_function(function.function_id)
                )
            self._apps[app_dir] = loaded
            return loaded

    def _raise_on_failure(self, status: Any, context: str) -> None:
        if status.status != self.protos.StatusResult.Success:
            message = status.exception.message or status.result or "no message"
            raise WorkerLoadError(f"{context}: {message}")


@contextmanager
def _function_app_module_of(app_dir: Path) -> Iterator[None]:
    """Let the runtime's own `importlib.import_module("function_app")` find this app's script.

    The worker starts with the app directory first on sys.path and nothing imported. In a test process
    another app's `function_app` may already be imported (or shadow this one on sys.path): for the
    duration of the runtime's import this app's directory goes first and another app's module is set
    aside; afterwards the other module is put back, and this app's module stays importable under a name
    of its own. Only where `function_app` already *is* this file is nothing changed.
    """
    script = (app_dir / SCRIPT_FILE).resolve()
    modules: MutableMapping[str, ModuleType] = sys.modules
    existing = modules.get("function_app")
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == script:
        yield
        return
    set_aside = modules.pop("function_app", None)
    sys.path.insert(0, str(app_dir))
    try:
        yield
    finally:
        sys.path.remove(str(app_dir))
        if str(app_dir) not in sys.path:
            sys.path.append(str(app_dir))  # the app's modules may import lazily later
        mine = modules.pop("function_app", None)
        if mine is not None:
            modules[f"function_app__{abs(hash(str(app_dir)))}"] = mine
        if set_aside is not None:
            modules["function_app"] = set_aside


def _quiet_runtime_logging() -> None:
    """The runtime logs every invocation at INFO ("Function name: ..."); the host logs executions itself."""
    level = logging.DEBUG if os.environ.get("PYTHON_ENABLE_DEBUG_LOGGING", "").lower() in ("1", "true") else None
    runtime_logger = importlib.import_module("azure_functions_runtime.logging").logger
    runtime_logger.setLevel(level or logging.WARNING)


__all__ = [
    "AppScopedRegistry",
    "LoadedApp",
    "LoadedFunction",
    "PythonWorker",
    "WorkerLoadError",
    "WorkerRequest",
]
