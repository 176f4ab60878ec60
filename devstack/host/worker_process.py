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
import os
import socket
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .invoker import InvocationFailed
from .sdk_compat import install_fast_timestamps
from .worker import LoadedApp, PythonWorker, WorkerLoadError

_HEADER = struct.Struct(">cI")  # kind, length
_MESSAGE, _READY, _LOAD_FAILED = b"M", b"R", b"E"
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

    def __init__(self, app_dir: Path) -> None:
        self.app_dir = app_dir.resolve()
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
            [sys.executable, "-c", _WORKER_MAIN, str(self.app_dir), str(worker_end.fileno())],
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
    """FUNCTIONS_WORKER_PROCESS_COUNT worker processes: 1 to 10, default 1 (Microsoft Learn, "App settings
    reference for Azure Functions", FUNCTIONS_WORKER_PROCESS_COUNT). Invocations go round the running ones in
    turn, as the Functions host hands them to its worker channels (azure-functions-host,
    src/WebJobs.Script/Workers/Rpc/FunctionRegistration/RpcFunctionInvocationDispatcherLoadBalancer.cs)."""

    def __init__(self, app_dir: Path, count: int) -> None:
        self.processes = [WorkerProcess(app_dir) for _ in range(max(1, count))]
        self._turn = itertools.count()

    @classmethod
    def from_settings(cls, app_dir: Path) -> WorkerPool:
        try:
            count = int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT", "1"))
        except ValueError:
            count = 1
        return cls(app_dir, min(max(count, 1), 10))

    def start(self) -> WorkerPool:
        with ThreadPoolExecutor(max_workers=len(self.processes)) as starting:
            started = [starting.submit(process.start) for process in self.processes]
        try:
            for future in started:
                future.result()
        except BaseException:
            self.stop()
            raise
        return self

    async def invoke(self, message: Any) -> Any:
        running = [process for process in self.processes if process.alive] or self.processes
        return await running[next(self._turn) % len(running)].invoke(message)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@dataclass
class RemoteLoadedApp(LoadedApp):
    """The app as the host indexed it, its invocations sent to the worker processes."""

    pool: WorkerPool | None = field(default=None, repr=False)

    async def invoke_here(self, message: Any) -> Any:
        assert self.pool is not None
        return await self.pool.invoke(message)


def remote(loaded: LoadedApp, pool: WorkerPool) -> RemoteLoadedApp:
    return RemoteLoadedApp(
        key=loaded.key, app_dir=loaded.app_dir, functions=loaded.functions, worker=loaded.worker, pool=pool
    )


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
    app_dir, fd = Path(argv[0]), int(argv[1])
    asyncio.run(_serve(app_dir, socket.socket(fileno=fd)))
    return 0
