"""Faults: ARM requests the front door fails (or slows down) before they reach a provider.

The registry is the control plane's state; the server's front door asks it, request by request, whether a
fault applies (`take`), and a matching fault counts as used (spent ones disappear).
"""

from __future__ import annotations

import fnmatch
import itertools
import threading

from pydantic import BaseModel, ConfigDict, Field

from ..errors import DEFAULT_CODE_FOR_STATUS, KNOWN_MESSAGES, ArmError


class FaultSpec(BaseModel):
    """Make matching ARM requests fail (or slow down) before they reach the provider."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="Glob on the request path, case-insensitive: '*/failoverGroups/*/failover', "
        "'*/Microsoft.Sql/*', '*' for everything."
    )
    method: str | None = Field(None, description="Only this HTTP method (any when unset).")
    status: int | None = Field(503, description="Error status to answer; None adds latency only.")
    code: str | None = Field(None, description="ARM error code; defaults by status (429 TooManyRequests...).")
    message: str | None = None
    count: int | None = Field(1, ge=1, description="How many requests fail; None: every one until cleared.")
    retry_after: int | None = Field(
        None,
        ge=0,
        description="Retry-After seconds on the error. None: 1 for 429 and 503 (as Azure throttles), no "
        "header otherwise; 0: no header. The SDK retries any error that carries Retry-After.",
    )
    latency_seconds: float = Field(0.0, ge=0, description="Delay before answering (error or not).")


class Fault(FaultSpec):
    id: str
    hits: int = 0

    def error(self) -> ArmError | None:
        if self.status is None:
            return None
        code = self.code or DEFAULT_CODE_FOR_STATUS.get(self.status, "InternalServerError")
        retry_after = self.retry_after if self.retry_after is not None else (1 if self.status in (429, 503) else 0)
        headers = {"Retry-After": str(retry_after)} if retry_after > 0 else {}
        return ArmError(self.status, code, self.message or KNOWN_MESSAGES.get(code), headers=headers)


class FaultRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(id=f"fault-{next(self._ids)}", **spec.model_dump())
            self._faults.append(fault)
            return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, counted as used (spent ones disappear)."""
        with self._lock:
            for fault in self._faults:
                if fault.method is not None and fault.method.upper() != method.upper():
                    continue
                if not fnmatch.fnmatchcase(path.lower(), fault.path.lower()):
                    continue
                fault.hits += 1
                if fault.count is not None and fault.hits >= fault.count:
                    self._faults.remove(fault)
                return fault.model_copy()
            return None

    def list(self) -> list[Fault]:
        with self._lock:
            return [f.model_copy() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
