"""An HTTP/1.1 proxy in front of Azurite that adds round-trip delay and injects faults.

Stands in for a cross-region link (``delay_ms`` per request and per new connection) and for a region that
goes away (``refuse``: the connection is cut; ``blackhole``: the request is swallowed and never answered;
``status``: the proxy answers 503/500/429 itself). Rules match on the account (first path segment of a
path-style URL), the HTTP method and a regular expression on the blob path, so one proxy can make only the
primary account unreachable while the secondary keeps working. That matters for copies: Azurite accepts a
copy only when the source URL names exactly the host:port the destination request used, and it then reads
the source through that same address, so both accounts must sit behind the same proxy.

Requests are parsed (so rules see each one); responses are relayed as bytes. That is enough because HTTP
clients do not pipeline: a response is read in full before the next request goes out on a connection.

In-process (tests)::

    with FaultProxy(azurite.blob_endpoint) as proxy:
        proxy.add_rule(Rule("refuse", account="primary"))

As a process (benchmarks: keeps the proxy off the measured process's GIL)::

    python -m devstack.faultproxy --upstream http://127.0.0.1:10000 --delay-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlsplit

Action = Literal["refuse", "blackhole", "status", "delay"]
_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
_ERROR_CODES = {429: "TooManyRequests", 500: "InternalError", 503: "ServerBusy"}
_MAX_HEAD = 64 * 1024


@dataclass
class Rule:
    """What to do with the requests that match. ``times`` limits how many requests the rule takes."""

    action: Action
    account: str | None = None
    method: str | None = None
    path: str | None = None  # regular expression searched in the unquoted path after the account
    status: int = 503
    delay_ms: float = 0.0
    times: int | None = None
    hits: int = field(default=0, init=False)

    def matches(self, method: str, account: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.account is not None and self.account != account:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or re.search(self.path, path) is not None


class _ClientGone(Exception):
    pass


class FaultProxy:
    """The proxy; runs its own event loop in a background thread (``start``) or in the caller's (``serve``)."""

    def __init__(
        self,
        upstream: str,
        *,
        delay_ms: float = 0.0,
        connect_delay_ms: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be host:port or http://host:port, got {upstream!r}")
        self.upstream_host, self.upstream_port = parts.hostname, parts.port
        self.delay_ms = delay_ms
        self.connect_delay_ms = delay_ms if connect_delay_ms is None else connect_delay_ms
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.requests: Counter[tuple[str, str]] = Counter()  # (method, account) -> count
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # -- rules ---------------------------------------------------------------------------------------
    def add_rule(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def _match(self, method: str, account: str, path: str) -> Rule | None:
        with self._lock:
            self.requests[(method, account)] += 1
            for rule in self._rules:
                if rule.matches(method, account, path):
                    rule.hits += 1
                    return rule
        return None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise RuntimeError("the proxy is not running")
        return f"http://{self.host}:{self.port}"

    # -- lifecycle -----------------------------------------------------------------------------------
    async def serve(self, ready: threading.Event | None = None) -> None:
        """Run until :meth:`stop` (from any thread) or until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._on_connection, self.host, self.requested_port)
        self.port = self._server.sockets[0].getsockname()[1]
        if ready is not None:
            ready.set()
        try:
            await self._stopped.wait()
        finally:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()

    def start(self) -> FaultProxy:
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve(ready)), name="faultproxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already finished
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.port = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- relaying ------------------------------------------------------------------------------------
    async def _on_connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream = _UpstreamLink(self.upstream_host, self.upstream_port, client_writer)
        try:
            if self.connect_delay_ms:
                await asyncio.sleep(self.connect_delay_ms / 1000)
            while True:
                request = await _read_request(client_reader)
                if request is None:
                    return
                method, target, raw = request
                account, path = _split_target(target)
                rule = self._match(method, account, path)
                if rule is not None and rule.action == "refuse":
                    _abort(client_writer)
                    return
                if rule is not None and rule.action == "blackhole":
                    await client_reader.read()  # hold the connection until the client gives up
                    return
                if rule is not None and rule.action == "status":
                    client_writer.write(_error_response(rule.status, method))
                    await client_writer.drain()
                    continue
                delay = self.delay_ms + (rule.delay_ms if rule is not None else 0.0)
                if delay:
                    await asyncio.sleep(delay / 1000)
                await upstream.forward(raw)
        except (ConnectionError, _ClientGone, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # The proxy is stopping. Finish normally: asyncio's stream callback logs cancelled handlers.
            _abort(client_writer)
        finally:
            await upstream.close()
            if not client_writer.is_closing():
                client_writer.close()
            self._connections.discard(task)


class _UpstreamLink:
    """The upstream side of one client connection: opened at the first request forwarded; its responses are
    piped back to the client as bytes."""

    def __init__(self, host: str, port: int, client_writer: asyncio.StreamWriter) -> None:
        self._host, self._port = host, port
        self._client_writer = client_writer
        self._writer: asyncio.StreamWriter | None = None
        self._relay: asyncio.Task[None] | None = None

    async def forward(self, raw: bytes) -> None:
        if self._writer is None:
            reader, self._writer = await asyncio.open_connection(self._host, self._port)
            self._relay = asyncio.create_task(_pipe(reader, self._client_writer))
        self._writer.write(raw)
        await self._writer.drain()

    async def close(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(BaseException):
                await self._relay
        if self._writer is not None:
            self._writer.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if not transport.is_closing():
        transport.abort()  # an RST, not a polite close: what a dead region looks like to a client


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        if not writer.is_closing():
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    """One request off the connection: (method, target, raw bytes to forward), None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _ClientGone from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise _ClientGone from exc
    if len(head) > _MAX_HEAD:
        raise _ClientGone
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif int(headers.get("content-length", "0") or 0) > 0:
        body = await reader.readexactly(int(headers["content-length"]))
    return method.upper(), target, head + body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        parts.append(size_line)
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, then the empty line
                line = await reader.readuntil(b"\r\n")
                parts.append(line)
                if line == b"\r\n":
                    return b"".join(parts)
        parts.append(await reader.readexactly(size + 2))


def _split_target(target: str) -> tuple[str, str]:
    path = urlsplit(target).path if "://" in target else target.split("?", 1)[0]
    segments = unquote(path).lstrip("/").split("/", 1)
    return segments[0], (segments[1] if len(segments) > 1 else "")


def _error_response(status: int, method: str) -> bytes:
    code = _ERROR_CODES.get(status, f"Http{status}")
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>Injected by the devstack fault proxy.</Message></Error>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/xml\r\nx-ms-error-code: {code}\r\nContent-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode()
    return head if method == "HEAD" else head + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delay/fault proxy in front of Azurite.")
    parser.add_argument("--upstream", required=True, help="http://host:port of Azurite")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to every request and new connection")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    proxy = FaultProxy(args.upstream, delay_ms=args.delay_ms, port=args.port)

    async def run() -> None:
        ready = threading.Event()
        serving = asyncio.create_task(proxy.serve(ready))
        while not ready.is_set():
            await asyncio.sleep(0.01)
        print(f"faultproxy listening on {proxy.endpoint} -> {args.upstream}", flush=True)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, proxy.stop)
        await serving

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
