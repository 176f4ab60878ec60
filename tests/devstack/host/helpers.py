"""Small helpers shared by the host tests."""

from __future__ import annotations

import time
from typing import Any

import requests

from devstack.host.history import Event, EventType

CREATED = (EventType.TASK_SCHEDULED, EventType.TIMER_CREATED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED)


def of_type(history: list[Event] | None, event_type: EventType) -> list[Event]:
    return [e for e in history or [] if e["EventType"] == int(event_type)]


def assert_well_formed(history: list[Event] | None) -> None:
    """Episodes are bracketed by OrchestratorStarted/Completed, ExecutionStarted comes second, sequence
    numbers are consecutive from 0, every timestamp ends with Z."""
    events = history or []
    assert events[0]["EventType"] == EventType.ORCHESTRATOR_STARTED
    assert events[1]["EventType"] == EventType.EXECUTION_STARTED
    assert events[-1]["EventType"] == EventType.ORCHESTRATOR_COMPLETED
    depth = 0
    for event in events:
        if event["EventType"] == EventType.ORCHESTRATOR_STARTED:
            depth += 1
        elif event["EventType"] == EventType.ORCHESTRATOR_COMPLETED:
            depth -= 1
        assert depth in (0, 1)
        assert event["Timestamp"].endswith("Z")
    ids = [e["EventId"] for e in events if e["EventType"] in CREATED]
    assert ids == list(range(len(ids)))


def poll_status(url: str, *, timeout: float = 10.0, until: tuple[int, ...] = (200,)) -> requests.Response:
    """Follow a statusQueryGetUri until it answers one of `until` (202 means still running)."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(url, timeout=5)
        if response.status_code in until or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def wait_until(check: Any, *, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
