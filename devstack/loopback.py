"""A JSON-over-HTTP server on 127.0.0.1 (an ephemeral port, a daemon thread) for the stack's small in-process
services: the demo application (apps.py) and the stack's control surface (control.py). Each gives one function
that answers a request with a status and a JSON body; this module does the HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (method, path with its query, request headers with lower-cased names) -> (status, JSON body)
Answer = Callable[[str, str, Mapping[str, str]], tuple[int, dict[str, Any]]]


class LoopbackJsonServer:
    def __init__(self, answer: Answer, *, name: str, thread_name: str, methods: tuple[str, ...] = ("GET",)) -> None:
        """`name` says what the server is in errors ("the application server"); `thread_name` names its thread."""
        self._answer = answer
        self._name = name
        self._thread_name = thread_name
        self._methods = methods
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self._name} is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        answer = self._answer

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                status, body = answer(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        for method in self._methods:
            setattr(Handler, f"do_{method}", Handler._reply)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name=self._thread_name, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
