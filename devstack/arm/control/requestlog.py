"""The ARM request log: what the front door answered, newest `limit` kept, for tests to read back.

Only ARM requests are logged (control API calls are not), and never their headers: the Authorization
header stays out.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime

from pydantic import BaseModel

REQUEST_LOG_LIMIT = 10_000


class RequestRecord(BaseModel):
    """One ARM request as the log keeps it (never headers: the Authorization header stays out)."""

    method: str
    path: str
    status: int
    api_version: str | None
    at: datetime
    duration_ms: float
    error_code: str | None = None
    fault_id: str | None = None


class RequestLog:
    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=limit)

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def list(self) -> list[RequestRecord]:
        """Oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
