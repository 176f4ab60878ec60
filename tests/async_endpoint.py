"""A real HTTP endpoint on 127.0.0.1 that starts jobs the way a Logic App HTTP trigger or an Azure Automation
webhook does, for the webhook step's tests.

``POST /hooks/<token>`` (the token is the secret part of the URL, as an Automation webhook's) records the call
and answers, after any scripted ``post_answers``:

- ``style="async"``: 202 Accepted, a ``Location`` (``/jobs/<id>?sig=<token>``: Logic Apps' callback URLs are
  signed) and ``Retry-After: 1``; ``GET /jobs/<id>`` answers 202 (same Location) ``polls`` times, then
  ``final_status`` with ``final_body`` (Microsoft Learn, *Asynchronous Request-Reply pattern*);
- ``style="automation"``: 202 with ``{"JobIds": ["<id>"]}`` and no Location (an Automation webhook); the job's
  status is ``GET /status/<id>`` → ``{"properties": {"status": ...}}``, each read taking the next of
  ``statuses`` (the last one stays);
- ``style="sync"``: 200 with ``{"ok": true}``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.health_server import JsonHandler, serving

TOKEN = "s3cr3t-webhook-token"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class AsyncEndpoint:
    port: int = 0
    style: str = "async"
    post_answers: list[int] = field(default_factory=list)  # statuses answered before the style's answer
    polls: int = 2  # async: 202s before the final answer
    final_status: int = 200
    final_body: Any = field(default_factory=lambda: {"result": "standby started"})
    statuses: list[str] = field(default_factory=lambda: ["Running", "Completed"])
    calls: list[Call] = field(default_factory=list)
    _jobs: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str = "standby") -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}/{TOKEN}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def posts(self) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == "POST"]

    def reads(self) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == "GET"]

    def reset(self, **fields: Any) -> None:
        with self._lock:
            self.calls.clear()
            self._jobs.clear()
            self.post_answers.clear()
            defaults = AsyncEndpoint()
            for name in ("style", "polls", "final_status", "final_body", "statuses"):
                setattr(self, name, fields.get(name, getattr(defaults, name)))
            self.post_answers.extend(fields.get("post_answers", []))

    def wait_for_posts(self, count: int, timeout: float = 30) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.posts()
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} calls of the webhook, got {len(self.posts())}")

    # -- the server's side ---------------------------------------------------------------------------------
    def answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        parts = [part for part in urlsplit(path).path.split("/") if part]
        with self._lock:
            self.calls.append(Call(method, path, headers, body))
            if method == "POST" and parts[:1] == ["hooks"]:
                return self._start(parts)
            if method == "GET" and parts[:1] == ["jobs"] and len(parts) == 2:
                return self._job(parts[1])
            if method == "GET" and parts[:1] == ["status"] and len(parts) == 2:
                return self._status(parts[1])
        return 404, {"error": {"code": "NotFound", "message": "no such route"}}, {}

    def _start(self, parts: list[str]) -> tuple[int, Any, dict[str, str]]:
        if parts[-1] != TOKEN:
            return 401, {"error": {"code": "Unauthorized", "message": "bad token"}}, {}
        if self.post_answers:
            status = self.post_answers.pop(0)
            return status, {"error": {"code": f"Scripted{status}", "message": "scripted answer"}}, {}
        job = f"job-{len(self._jobs) + 1}"
        self._jobs[job] = 0
        if self.style == "async":
            return 202, None, {"Location": f"/jobs/{job}?sig={TOKEN}", "Retry-After": "1"}
        if self.style == "automation":
            return 202, {"JobIds": [job]}, {}
        return 200, {"ok": True}, {}

    def _job(self, job: str) -> tuple[int, Any, dict[str, str]]:
        if job not in self._jobs:
            return 404, {"error": {"code": "JobNotFound", "message": f"no job {job}"}}, {}
        self._jobs[job] += 1
        if self._jobs[job] <= self.polls:
            return 202, None, {"Location": f"/jobs/{job}?sig={TOKEN}", "Retry-After": "1"}
        return self.final_status, self.final_body, {}

    def _status(self, job: str) -> tuple[int, Any, dict[str, str]]:
        if job not in self._jobs:
            return 404, {"error": {"code": "JobNotFound", "message": f"no job {job}"}}, {}
        index = min(self._jobs[job], len(self.statuses) - 1)
        self._jobs[job] += 1
        return 200, {"id": job, "properties": {"status": self.statuses[index]}}, {}


@contextmanager
def async_endpoint(**fields: Any) -> Iterator[AsyncEndpoint]:
    endpoint = AsyncEndpoint(**fields)

    class Handler(JsonHandler):
        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, body, extra = endpoint.answer(method, self.path, headers, raw)
            self.send_json(status, body, extra)

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

    with serving(Handler) as port:
        endpoint.port = port
        yield endpoint
