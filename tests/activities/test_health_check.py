"""health_check through the step activities' dispatch, against a real HTTP server."""

from __future__ import annotations

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
