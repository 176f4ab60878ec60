"""Durable timers: when each instance's next TimerFired message becomes visible.

The messages themselves live in the store (visible from their fire time on); this heap only says when to
wake the instance, so a restart rebuilds it from the store. A real clock sleeps until the earliest timer; a
virtual clock never sleeps and is jumped by the engine (`advance`, or skipping time while idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Callable

from .clock import Clock


class DurableTimers:
    def __init__(self, clock: Clock, *, due: Callable[[str], None], alive: Callable[[int], bool]) -> None:
        self._clock = clock
        self._due = due  # called with an instance id once one of its timers is due
        self._alive = alive  # does the timer's message still exist (not canceled, instance not gone)?
        self._heap: list[tuple[float, int, str]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, pending: list[tuple[float, int, str]]) -> None:
        for entry in pending:
            heapq.heappush(self._heap, entry)
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="durable-timers")

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the timer task; the caller awaits what is returned."""
        if self._task is not None:
            self._task.cancel()
        return self._task

    def add(self, due: float, message_id: int, instance_id: str) -> None:
        heapq.heappush(self._heap, (due, message_id, instance_id))
        if self._wakeup is not None:
            self._wakeup.set()

    def next_due(self) -> float | None:
        """The earliest pending timer, skipping entries whose message is gone."""
        while self._heap and not self._alive(self._heap[0][1]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def release_due(self) -> None:
        now = self._clock.now().timestamp()
        while self._heap and self._heap[0][0] <= now:
            _, _, instance_id = heapq.heappop(self._heap)
            self._due(instance_id)

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            self._wakeup.clear()
            self.release_due()
            timeout: float | None = None
            if not self._clock.is_virtual and self._heap:
                timeout = max(0.0, self._heap[0][0] - self._clock.now().timestamp())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
