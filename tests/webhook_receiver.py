"""A real HTTP webhook receiver on 127.0.0.1 (standing in for a Teams/Slack incoming webhook): it records every
POST and answers with scripted statuses (200 once the script is used up)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.health_server import serving

# The secret part of the URL, as a Slack or Teams webhook has one: it must never show up anywhere.
SECRET_PATH = "/services/T0001/B0001/s3cr3t-hook-token"


@dataclass
class Receiver:
    port: int = 0
    answers: list[int] = field(default_factory=list)  # status per request, in order
    retry_after: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SECRET_PATH}"

    def events(self) -> list[str]:
        with self._lock:
            return [str(body.get("event")) for body in self.received]

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} notifications, got {self.events()}")


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state._lock:
                status = state.answers.pop(0) if state.answers else 200
                state.paths.append(self.path)
                if status < 300:
                    state.received.append(json.loads(body))
            self.send_response(status)
            if state.retry_after and status == 429:
                self.send_header("Retry-After", state.retry_after)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as port:
        state.port = port
        yield state


def closed_port_url() -> str:
    """A URL nothing listens on (connection refused), with the same secret path."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{SECRET_PATH}"
