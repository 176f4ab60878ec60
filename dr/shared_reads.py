"""Reads shared by the checks of one pre-flight.

A pre-flight checks every step of a plan at once, in threads, and steps often read the same thing: several
geo-restores onto one disaster-recovery server each read that server, every step of a resource group reads
the group's permissions. In a region outage every plan's pre-flight runs at the same moment, and ARM limits
reads per subscription, so each of those is read once per pre-flight: a thread that finds a read under way
waits for its answer, or its error.

Only read-only checks share: what a step reads before it changes anything (``begin``) is read fresh, in an
activity of its own, outside any pre-flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any


class SharedReads:
    """Answers of one pre-flight's reads, by kind of read and key (ARM ids compare case-insensitively)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], Future[Any]] = {}

    def read[T](self, kind: str, key: str, read: Callable[[], T]) -> T:
        slot = (kind, key.lower())
        with self._lock:
            answer = self._answers.get(slot)
            reading = answer is None
            if answer is None:
                answer = self._answers[slot] = Future()
        if reading:
            try:
                answer.set_result(read())
            except BaseException as error:  # the waiting threads get the same error, then it goes on up
                answer.set_exception(error)
                raise
        result: T = answer.result()
        return result


_CURRENT: ContextVar[SharedReads | None] = ContextVar("dr_shared_reads", default=None)


@contextmanager
def reads_shared() -> Iterator[None]:
    """Checks started in this context (and in copies of it handed to threads) share their reads."""
    token = _CURRENT.set(SharedReads())
    try:
        yield
    finally:
        _CURRENT.reset(token)


def shared[T](kind: str, key: str, read: Callable[[], T]) -> T:
    """``read()`` once per ``kind`` and ``key`` in the current pre-flight; outside one, every time."""
    current = _CURRENT.get()
    return read() if current is None else current.read(kind, key, read)
