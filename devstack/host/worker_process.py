"""The language worker in a process of its own, as in Azure: the Functions host and the Python worker are
separate processes that exchange StreamingMessages (FunctionRpc.EventStream over gRPC there; here
length-prefixed frames over a socket pair). The worker process loads the app through Microsoft's runtime
(`worker.PythonWorker`, the same start-up requests) and answers each InvocationRequest with the runtime's
InvocationResponse.

Why: in one process the host's event loop (HTTP, the Durable engine, SQLite), the runtime's invocations and
the app's code share one interpreter lock, so on a loaded machine every host round trip waits behind app
code (benchmarks/rto.py's region outage). Apart, the host and the worker each have a core, as in Azure.

The host still imports the app itself to index it (`indexer.load_app`): the function metadata, and the
orchestrator functions for the host's optional SDK cross-check. Only invocations cross the process line.
The worker's settings are the host's environment when it starts (Azure gives the worker the app settings
the same way, at start).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .invoker import InvocationFailed
from .sdk_compat import install_fast_timestamps
from .worker import LoadedApp, LoadedFunction, PythonWorker, WorkerLoadError

_HEADER = struct.Struct(">cI")  # kind, length
_MESSAGE, _READY, _LOAD_FAILED, _LOG = b"M", b"R", b"E", b"L"
START_TIMEOUT_SECONDS = 120.0
# `-c`, not `-m`: the package devstack.host imports this module, and runpy warns when a module it runs as
# __main__ is already imported.
_WORKER_MAIN = "import sys; from devstack.host.worker_process import main; sys.exit(main(sys.argv[1:]))"


def _frame(kind: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    try:
        kind, length = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        return kind, await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


def _read_frame_blocking(sock: socket.socket) -> tuple[bytes, bytes]:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise EOFError("the worker process closed its end before it was ready")
            data += chunk
        return data

    kind, length = _HEADER.unpack(exactly(_HEADER.size))
    return kind, exactly(length)


class WorkerProcess:
    """The host's side: starts the worker process on an app directory and sends it invocations.

    `invoke` is called on the host's event loop only; the first call binds the socket to that loop."""

    def __init__(self, app_dir: Path, group: str = "app") -> None:
        self.app_dir = app_dir.resolve()
        self.group = group  # its scale group: last on its command line, for whoever reads the process list
        self.protos = PythonWorker.get().protos
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._connecting: asyncio.Future[asyncio.StreamWriter] | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._closed = False

    def start(self) -> WorkerProcess:
        """Start the process and wait until the runtime has loaded the app (WorkerLoadError with the
        runtime's message when it refuses it)."""
        host_end, worker_end = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_MAIN, str(self.app_dir), str(worker_end.fileno()), self.group],
            pass_fds=[worker_end.fileno()],
            env=os.environ.copy(),
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        worker_end.close()
        host_end.settimeout(START_TIMEOUT_SECONDS)
        try:
            kind, payload = _read_frame_blocking(host_end)
        except (OSError, EOFError) as error:
            host_end.close()
            self.stop()
            raise WorkerLoadError(f"the worker process did not start: {error}") from None
        if kind != _READY:
            host_end.close()
            self.stop()
            raise WorkerLoadError(payload.decode("utf-8", "replace"))
        host_end.settimeout(None)
        host_end.setblocking(False)
        self._sock = host_end
        return self

    async def invoke(self, message: Any) -> Any:
        """Send a StreamingMessage carrying an InvocationRequest; the runtime's InvocationResponse."""
        writer = await self._connected()
        if self._closed:  # it exited: its socket answers nothing more
            raise InvocationFailed(f"the worker process exited (exit code {self.exit_code})", "")
        request_id = f"r{next(self._ids)}"
        message.request_id = request_id
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        writer.write(_frame(_MESSAGE, message.SerializeToString()))
        return await answer

    async def _connected(self) -> asyncio.StreamWriter:
        # The first invocations may come at once: one connection for them all (two transports on one socket
        # would interleave frames).
        if self._connecting is None:
            if self._sock is None or self._closed:
                raise InvocationFailed("the worker process is not running", "")
            self._connecting = asyncio.ensure_future(self._connect(self._sock))
        return await asyncio.shield(self._connecting)

    async def _connect(self, sock: socket.socket) -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection(sock=sock)
        self._reader_task = asyncio.get_running_loop().create_task(self._read_answers(reader))
        return writer

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        while (frame := await _read_frame(reader)) is not None:
            if frame[0] == _LOG:
                _host_logs(self.protos, self.protos.StreamingMessage.FromString(frame[1]).rpc_log, self.group)
                continue
            answer = self.protos.StreamingMessage.FromString(frame[1])
            waiting = self._pending.pop(answer.request_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(answer.invocation_response)
        self._closed = True
        for waiting in self._pending.values():
            if not waiting.done():
                waiting.set_exception(InvocationFailed(f"the worker process exited (exit code {self.exit_code})", ""))
        self._pending.clear()

    def stop(self) -> None:
        self._closed = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    @property
    def alive(self) -> bool:
        return not self._closed

    @property
    def exit_code(self) -> int | None:
        return self._process.poll() if self._process is not None else None


class WorkerPool:
    """The worker processes of one instance: FUNCTIONS_WORKER_PROCESS_COUNT, 1 to 10, default 1 (Microsoft
    Learn, "App settings reference for Azure Functions", FUNCTIONS_WORKER_PROCESS_COUNT). Invocations go round
    the running ones in turn, as the Functions host hands them to its worker channels (azure-functions-host,
    src/WebJobs.Script/Workers/Rpc/FunctionRegistration/RpcFunctionInvocationDispatcherLoadBalancer.cs)."""

    def __init__(self, app_dir: Path, count: int, group: str = "app") -> None:
        self.processes = [WorkerProcess(app_dir, group) for _ in range(max(1, count))]
        self._turn = itertools.count()
        self.in_flight = 0

    def start(self) -> WorkerPool:
        _start_all(self.processes, self.stop)
        return self

    async def invoke(self, message: Any) -> Any:
        running = [process for process in self.processes if process.alive] or self.processes
        self.in_flight += 1
        try:
            return await running[next(self._turn) % len(running)].invoke(message)
        finally:
            self.in_flight -= 1

    @property
    def alive(self) -> bool:
        return any(process.alive for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


class GroupInstances:
    """The instances of one scale group, each a WorkerPool of its own. A Durable instance takes work from the
    task hub when it has room for it (Microsoft Learn, "Azure Storage provider (Durable Functions)": any app
    instance dequeues from the shared work-item queue; DurableTaskOptions.MaxConcurrentActivityFunctions: "on a
    single host instance"), so the next invocation goes to the instance with the fewest in flight, ties in turn.
    HTTP requests are spread the same way, as the front end balances them over the instances."""

    def __init__(self, app_dir: Path, group: str, count: int) -> None:
        self.group = group
        self.instances = [WorkerPool(app_dir, process_count(), group) for _ in range(max(1, count))]
        self._turn = itertools.count()

    @property
    def processes(self) -> list[WorkerProcess]:
        return [process for instance in self.instances for process in instance.processes]

    async def invoke(self, message: Any) -> Any:
        running = [instance for instance in self.instances if instance.alive] or self.instances
        offset = next(self._turn)
        turn = [running[(offset + i) % len(running)] for i in range(len(running))]
        return await min(turn, key=lambda instance: instance.in_flight).invoke(message)

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()


def process_count() -> int:
    try:
        count = int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT", "1"))
    except ValueError:
        count = 1
    return min(max(count, 1), 10)


def _start_all(processes: list[WorkerProcess], stop: Callable[[], None]) -> None:
    # In parallel: each loads the whole app through the runtime, a second or two of imports.
    with ThreadPoolExecutor(max_workers=len(processes)) as starting:
        started = [starting.submit(process.start) for process in processes]
    try:
        for future in started:
            future.result()
    except BaseException:
        stop()
        raise


# Flex Consumption scales each function on instances of its own, except three groups that scale together:
# HTTP triggers ("http"), Durable triggers, i.e. orchestrations, activities and entities ("durable"), and blob
# triggers ("blob") (Microsoft Learn, "Event-driven scaling in Azure Functions", per-function scaling). The
# names are those functionAppConfig.scaleAndConcurrency.alwaysReady takes ("function:<name>" for the rest).
_TRIGGER_GROUPS = {
    "httpTrigger": "http",
    "orchestrationTrigger": "durable",
    "activityTrigger": "durable",
    "entityTrigger": "durable",
    "blobTrigger": "blob",
}
# The groups the devstack gives an instance of their own: the two every recovery goes through. An alert's
# intake then never waits for the interpreter lock behind the orchestrations it started, as on Flex
# Consumption, where they never share an instance. The rest (timers, a group each on Flex, firing once a minute
# at most) share the first group's instance: a process each would load the app five more times per stack.
DEFAULT_SCALE_GROUPS = ("http", "durable")


def scale_group(function: LoadedFunction) -> str:
    """The Flex Consumption scale group of a function, from its trigger binding."""
    for binding in function.raw_bindings:
        group = _TRIGGER_GROUPS.get(str(binding.get("type")))
        if group is not None:
            return group
    return f"function:{function.metadata.name}"


# Always-ready instances per scale group, as infra/main.bicep deploys them by default (alwaysReadyHttpInstances,
# alwaysReadyDurableInstances; tests/devstack/host/test_worker_process.py keeps the two the same). A group not
# named has one instance: what scales from zero has one once work arrives (its cold start is not modelled).
DEFAULT_ALWAYS_READY = {"http": 1, "durable": 2}


def always_ready_from_settings() -> dict[str, int]:
    """DEVSTACK_ALWAYS_READY: instances per scale group, "group=count" comma-separated (default
    DEFAULT_ALWAYS_READY); the names functionAppConfig.scaleAndConcurrency.alwaysReady takes."""
    raw = os.environ.get("DEVSTACK_ALWAYS_READY")
    if raw is None:
        return dict(DEFAULT_ALWAYS_READY)
    counts: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, count = entry.partition("=")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"DEVSTACK_ALWAYS_READY: {entry!r} is not group=count (e.g. durable=2)")
        counts[name.strip()] = int(count)
    return counts


def scale_groups_from_settings() -> tuple[str, ...]:
    """DEVSTACK_SCALE_GROUPS: the groups with an instance of their own, comma-separated (default
    "http,durable"); empty: one instance runs the whole app, as on the Consumption and Premium plans."""
    raw = os.environ.get("DEVSTACK_SCALE_GROUPS")
    if raw is None:
        return DEFAULT_SCALE_GROUPS
    return tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))


class AppInstances:
    """The app's instances as Flex Consumption places functions on them: the instances of each scale group in
    `own_instance` that has functions (`always_ready` of them, at least one), and one more for every other
    function (the first group's when that group has functions). Each instance loads the whole app, as a Flex
    instance does; only the functions of its group are invoked there."""

    def __init__(
        self,
        app_dir: Path,
        functions: dict[str, LoadedFunction],
        own_instance: tuple[str, ...],
        always_ready: dict[str, int] | None = None,
    ) -> None:
        groups = {loaded.function_id: scale_group(loaded) for loaded in functions.values()}
        present = [group for group in own_instance if group in groups.values()]
        counts = always_ready or {}
        self.pools = {group: GroupInstances(app_dir, group, counts.get(group, 1)) for group in present}
        shared = present[0] if present else "app"
        if not present or any(group not in self.pools for group in groups.values()):
            self.pools.setdefault(shared, GroupInstances(app_dir, shared, counts.get(shared, 1)))
        self._shared = self.pools[shared]
        self._pool_of = {function_id: self.pools.get(group, self._shared) for function_id, group in groups.items()}

    @classmethod
    def from_settings(cls, app_dir: Path, functions: dict[str, LoadedFunction]) -> AppInstances:
        return cls(app_dir, functions, scale_groups_from_settings(), always_ready_from_settings())

    def start(self) -> AppInstances:
        _start_all([process for pool in self.pools.values() for process in pool.processes], self.stop)
        return self

    def pool_of(self, function_id: str) -> GroupInstances:
        return self._pool_of.get(function_id, self._shared)

    def activity_instances(self) -> int:
        """How many instances run the app's activities: maxConcurrentActivityFunctions holds for each."""
        return len(self.pools.get(_TRIGGER_GROUPS["activityTrigger"], self._shared).instances)

    async def invoke(self, message: Any) -> Any:
        return await self.pool_of(message.invocation_request.function_id).invoke(message)

    def stop(self) -> None:
        for pool in self.pools.values():
            pool.stop()


@dataclass
class RemoteLoadedApp(LoadedApp):
    """The app as the host indexed it, its invocations sent to the worker processes."""

    instances: AppInstances | None = field(default=None, repr=False)

    async def invoke_here(self, message: Any) -> Any:
        assert self.instances is not None
        return await self.instances.invoke(message)


def remote(loaded: LoadedApp, instances: AppInstances) -> RemoteLoadedApp:
    return RemoteLoadedApp(
        key=loaded.key,
        app_dir=loaded.app_dir,
        functions=loaded.functions,
        worker=loaded.worker,
        instances=instances,
    )


# -- logs ------------------------------------------------------------------------------------------------

# The Python worker's log categories (Azure/azure-functions-python-worker, workers/proxy_worker/logging.py,
# is_system_log_category): these are the worker's own, the rest is the app's ("User").
_SYSTEM_LOG_PREFIXES = ("proxy_worker", "azure.functions", "azure_functions_runtime")


# RpcLog levels and the logging levels they stand for, highest first (the Python worker's on_logging).
_RPC_LEVELS = (
    ("Critical", logging.CRITICAL),
    ("Error", logging.ERROR),
    ("Warning", logging.WARNING),
    ("Information", logging.INFO),
    ("Debug", logging.DEBUG),
)


def _host_logs(protos: Any, record: Any, group: str) -> None:
    """A log the worker sent, written by the host: the app's at their level, the worker's own at DEBUG (the host
    keeps system logs off the console, proxy_worker/logging.py)."""
    level = next((floor for name, floor in _RPC_LEVELS if record.level == getattr(protos.RpcLog, name)), None)
    if level is None or record.log_category == protos.RpcLog.RpcLogCategory.Value("System"):
        level = logging.DEBUG
    logging.getLogger(f"worker.{group}.{record.category or 'root'}").log(level, "%s", record.message)


class _LogsToHost(logging.Handler):
    """Every record of the worker process goes to the host as an RpcLog, from whichever thread logs it, as the
    Python worker does once its stream is up (workers/proxy_worker/dispatcher.py: ``dispatch_forever`` sets the
    root logger to INFO, DEBUG with PYTHON_ENABLE_DEBUG_LOGGING, and ``on_logging`` sends each record). What
    the app logs at INFO, and what its libraries log, costs here what it costs in Azure."""

    def __init__(self, protos: Any, loop: asyncio.AbstractEventLoop, writer: asyncio.StreamWriter) -> None:
        super().__init__()
        self.protos, self.loop, self.writer = protos, loop, writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            rpc_log = self.protos.RpcLog
            level = next(
                (getattr(rpc_log, name) for name, floor in _RPC_LEVELS if record.levelno >= floor), rpc_log.Trace
            )
            system = record.name.startswith(_SYSTEM_LOG_PREFIXES)
            log = rpc_log(
                level=level,
                message=self.format(record),
                category=record.name,
                log_category=rpc_log.RpcLogCategory.Value("System" if system else "User"),
            )
            frame = _frame(_LOG, self.protos.StreamingMessage(rpc_log=log).SerializeToString())
            self.loop.call_soon_threadsafe(self.writer.write, frame)
        except Exception:
            self.handleError(record)


def _send_logs_to_host(protos: Any, writer: asyncio.StreamWriter) -> None:
    debug = os.environ.get("PYTHON_ENABLE_DEBUG_LOGGING", "").lower() in ("1", "true")
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.addHandler(_LogsToHost(protos, asyncio.get_running_loop(), writer))
    # The runtime's own records ("Function name: ...", one per invocation) are sent too, as in Azure; the host
    # writes them at DEBUG.
    logging.getLogger("azure.functions").setLevel(logging.NOTSET)


# -- the worker process ----------------------------------------------------------------------------------


async def _serve(app_dir: Path, sock: socket.socket) -> None:
    install_fast_timestamps()  # the orchestrators replay here now (see sdk_compat)
    worker = PythonWorker.get()
    try:
        loaded = await asyncio.to_thread(worker.load, app_dir)
    except Exception as error:  # the runtime's refusal, reported to the host as its start-up failure
        sock.sendall(_frame(_LOAD_FAILED, f"{type(error).__name__}: {error}".encode()))
        return
    sock.sendall(_frame(_READY, b""))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    _send_logs_to_host(worker.protos, writer)
    running: set[asyncio.Task[None]] = set()

    async def answer(message: Any) -> None:
        try:
            response = await loaded.invoke_here(message)
        except Exception as error:  # the runtime answers failures itself; anything else must not hang the host
            protos = worker.protos
            response = protos.InvocationResponse(
                invocation_id=message.invocation_request.invocation_id,
                result=protos.StatusResult(
                    status=protos.StatusResult.Failure,
                    exception=protos.RpcException(message=f"{type(error).__name__}: {error}"),
                ),
            )
        reply = worker.protos.StreamingMessage(request_id=message.request_id, invocation_response=response)
        writer.write(_frame(_MESSAGE, reply.SerializeToString()))

    while (frame := await _read_frame(reader)) is not None:
        task = asyncio.create_task(answer(worker.protos.StreamingMessage.FromString(frame[1])))
        running.add(task)
        task.add_done_callback(running.discard)


def main(argv: list[str]) -> int:
    app_dir, fd = Path(argv[0]), int(argv[1])  # argv[2], the scale group, only names the process
    asyncio.run(_serve(app_dir, socket.socket(fileno=fd)))
    return 0
