"""HTTP health probes (standard library only: a probe must work when everything else is on fire)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class ProbeResult:
    url: str
    ok: bool
    status: int | None
    latency_ms: float
    error: str | None = None

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        return f"HTTP {self.status}" + (f" ({self.error})" if self.error else "")


def probe(
    url: str,
    *,
    expect_status: int = 200,
    expect_body_contains: str | None = None,
    timeout_seconds: float = 10.0,
) -> ProbeResult:
    """One GET; ok when the status (and optionally a body substring) is what the caller expects."""
    started = time.perf_counter()
    request = urllib.request.Request(url, headers={"User-Agent": "dr-orchestrator-probe/1"})
    status: int | None = None
    body = b""
    error: str | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            status = response.status
            body = response.read(_MAX_BODY)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        error = f"{type(reason).__name__}: {reason}"
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    ok = status == expect_status
    if ok and expect_body_contains is not None and expect_body_contains.encode() not in body:
        ok = False
        error = f"body lacks {expect_body_contains!r}"
    elif status is not None and status != expect_status:
        error = f"expected {expect_status}"
    return ProbeResult(url=url, ok=ok, status=status, latency_ms=latency_ms, error=error)
