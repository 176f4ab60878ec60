"""A real HTTP server on 127.0.0.1 whose health answer tests can flip (standing in for an app's /health)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON (`None` as an empty body)."""

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve `handler` on a loopback port from a thread of its own; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


class HealthServer:
    def __init__(self) -> None:
        self.status = 200
        self.body = b"ok"
        self.hits = 0
        self.port = 0

    def url(self, path: str = "/health") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def health_server() -> Iterator[HealthServer]:
    state = HealthServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as port:
        state.port = port
        yield state


@dataclass
class HealthUrls:
    """Regions' health endpoints on one server: every path answers 200 unless a test fails it."""

    base: str = ""
    statuses: dict[str, int] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def fail(self, path: str, status: int = 503) -> None:
        self.statuses[path] = status


@contextmanager
def serving_health_urls() -> Iterator[HealthUrls]:
    state = HealthUrls()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            state.hits.append(path)
            status = state.statuses.get(path, 200)
            body = b"ok" if status == 200 else b"unavailable"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as port:
        state.base = f"http://127.0.0.1:{port}"
        yield state
