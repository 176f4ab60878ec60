"""Clocks for the durable engine: real time, or a virtual clock that tests move forward.

Every orchestration timestamp (OrchestratorStarted, timer fire times, created/updated times) comes from
the engine's clock, so a virtual clock makes `context.current_utc_datetime` and durable timers fully
controllable without sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

# The format the Durable extension uses for history timestamps; the trailing Z matters (the SDK parses
# it into an aware datetime that compares with timer fire times).
HISTORY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_history_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(HISTORY_TIME_FORMAT)


def format_status_time(moment: datetime) -> str:
    """The status API's `createdTime`/`lastUpdatedTime` shape (.NET "s" format plus Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (with or without Z/offset, any fraction length) as UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    # .NET writes 7 fractional digits; Python accepts at most 6.
    if "." in cleaned:
        head, _, tail = cleaned.partition(".")
        digits = ""
        rest = tail
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Clock(Protocol):
    """What the engine needs from a clock."""

    @property
    def is_virtual(self) -> bool: ...

    def now(self) -> datetime: ...


class RealClock:
    """Wall-clock UTC time; timers fire when real time reaches them."""

    is_virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when the engine (or a test) moves it.

    It starts at the current real time by default: a clock years away from now makes any orchestrator
    that computes deadlines from `now()` behave strangely. The engine jumps it to the next durable timer
    when nothing else can progress and someone is waiting (`DurableEngine.wait` and friends), or when
    `auto_advance` is on (useful for a host process driven over HTTP).
    """

    is_virtual = True

    def __init__(self, start: datetime | None = None, *, auto_advance: bool = False) -> None:
        initial = start if start is not None else datetime.now(UTC)
        if initial.tzinfo is None:
            initial = initial.replace(tzinfo=UTC)
        self._now = initial.astimezone(UTC)
        self._lock = threading.Lock()
        self.auto_advance = auto_advance

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance_to(self, moment: datetime) -> None:
        """Move forward to `moment` (never backwards: durable time is monotonic)."""
        with self._lock:
            self._now = max(self._now, moment)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if delta > timedelta(0):
                self._now += delta
