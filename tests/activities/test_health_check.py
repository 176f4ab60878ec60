"""health_check through the step activities' dispatch (begin, poll and the pre-flight check), against a real
HTTP server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dr import dispatch
from dr.errors import PermanentError
from tests.health_server import HealthServer, health_server


@pytest.fixture
def server() -> Iterator[HealthServer]:
    with health_server() as running:
        yield running


def _context(step: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    base = {"id": "verify", "kind": "health_check"}
    return {
        "run_id": "r1",
        "plan_name": "p",
        "mode": "failover",
        "step": {**base, **step},
        "started_at": now,
        "now": now,
    }


def test_healthy_on_first_attempt(server: HealthServer) -> None:
    progress = dispatch.begin({"context": _context({"url": server.url(), "expect_body_contains": "ok"})})
    assert progress["done"] is True
    assert "HTTP 200" in progress["summary"]
    assert progress["detail"]["attempts"] == 1


def test_unhealthy_then_healthy_waits_on_the_orchestrator_between_attempts(server: HealthServer) -> None:
    server.status = 503
    context = _context({"url": server.url(), "attempts": 3, "interval": "PT7S"})
    progress = dispatch.begin({"context": context})
    assert progress["done"] is False and progress["poll_after_seconds"] == 7
    server.status = 200
    progress = dispatch.poll({"context": context, "state": progress["state"], "work_results": []})
    assert progress["done"] is True and progress["detail"]["attempts"] == 2


def test_gives_up_after_the_attempts_with_what_it_saw(server: HealthServer) -> None:
    server.status = 500
    context = _context({"url": server.url(), "attempts": 2})
    progress = dispatch.begin({"context": context})
    with pytest.raises(PermanentError, match=r"not healthy after 2 attempt\(s\): HTTP 500.*HTTP 500") as excinfo:
        dispatch.poll({"context": context, "state": progress["state"], "work_results": []})
    assert excinfo.value.code == "HealthCheckFailed"


def test_unreachable_url_is_reported_not_raised_until_attempts_run_out() -> None:
    context = _context({"url": "http://127.0.0.1:9/health", "attempts": 2, "request_timeout": "PT1S"})
    progress = dispatch.begin({"context": context})
    assert progress["done"] is False and "no answer" in progress["summary"]


# -- pre-flight (step_check) ----------------------------------------------------------------------------


def _check(step: dict[str, Any]) -> list[dict[str, Any]]:
    return dispatch.check({"context": _context(step)})


def _statuses(checks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(check["name"], check["status"]) for check in checks]


def test_check_passes_when_the_host_resolves_and_answers_and_shows_no_key(server: HealthServer) -> None:
    checks = _check({"url": server.url("/health?code=s3cret-key"), "expect_body_contains": "ok"})

    assert _statuses(checks) == [("host_resolves", "passed"), ("answers", "passed")]
    assert checks[0]["facts"] == {"host": "127.0.0.1"}
    assert checks[1]["facts"]["url"] == f"http://127.0.0.1:{server.port}/health?…"
    assert checks[1]["message"] == f"http://127.0.0.1:{server.port}/health?… answered HTTP 200"
    assert server.hits == 1  # one probe
    assert "s3cret" not in str(checks)


def test_check_warns_when_the_target_does_not_serve_yet(server: HealthServer) -> None:
    server.status = 503

    checks = _check({"url": server.url(), "attempts": 4})

    assert _statuses(checks) == [("host_resolves", "passed"), ("answers", "warning")]
    assert "does not answer as expected yet (HTTP 503 (expected 200))" in checks[1]["message"]
    assert "the step will try 4 time(s)" in checks[1]["message"]
    assert checks[1]["facts"]["ok"] is False


def test_check_warns_when_nothing_listens() -> None:
    checks = _check({"url": "http://127.0.0.1:9/health", "request_timeout": "PT1S"})

    assert _statuses(checks) == [("host_resolves", "passed"), ("answers", "warning")]
    assert "no answer (connection refused)" in checks[1]["message"]


def test_check_probe_is_bounded_by_the_request_timeout() -> None:
    # A port that accepts connections but never answers: the one probe gives up after request_timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        checks = _check({"url": f"http://127.0.0.1:{port}/health", "request_timeout": "PT1S"})
        elapsed = time.monotonic() - started

    assert _statuses(checks) == [("host_resolves", "passed"), ("answers", "warning")]
    assert "timed out after 1 s" in checks[1]["message"]
    assert elapsed < 5


@pytest.mark.parametrize(
    ("url", "name", "says"),
    [
        ("http://shop-wus.invalid/health?code=s3cret", "host_resolves", "host shop-wus.invalid of health URL"),
        ("http://:8080/health", "url_valid", "names no host"),
        ("http://127.0.0.1:99999/health", "url_valid", "does not parse (Port out of range"),
        ("http://[::1/health?code=s3cret", "url_valid", "does not parse (Invalid IPv6 URL)"),
    ],
    ids=["unresolvable-host", "no-host", "bad-port", "bad-ipv6"],
)
def test_check_fails_when_the_url_cannot_be_reached_at_all(url: str, name: str, says: str) -> None:
    checks = _check({"url": url})

    assert _statuses(checks) == [(name, "failed")]
    assert says in checks[0]["message"]
    assert "fix url in the plan" in checks[0]["message"]
    assert "s3cret" not in str(checks)
