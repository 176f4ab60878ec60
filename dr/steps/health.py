"""health_check: an HTTP probe that must answer as expected within a number of attempts.

Each attempt is one activity call (a short request); the wait between attempts is a durable timer, so a
slow-to-warm secondary costs no activity time. Its state keeps the attempt count and the last few answers
(at most five: the state stays small however many attempts a plan allows).

Pre-flight (check): the URL parses and its host resolves (failed otherwise: no attempt could ever succeed),
then one probe bounded by ``request_timeout``. A wrong or missing answer is only a warning: in a failover the
target often serves nothing until the steps before this one (database, traffic) have moved.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from ..errors import PermanentError
from ..plan import HealthCheckStep
from ..probe import probe, redact_url, resolve
from .base import Check, StepContext, StepKind, StepProgress

SEEN_KEPT = 5


class HealthState(BaseModel):
    """What health_check remembers between attempts."""

    attempt: int = Field(ge=1, description="Attempts made so far.")
    seen: list[str] = Field(default_factory=list, description=f"The last {SEEN_KEPT} answers, oldest first.")


class HealthCheck(StepKind[HealthCheckStep]):
    def check(self, ctx: StepContext, params: HealthCheckStep) -> list[Check]:
        shown = _shown(params.url)
        try:
            parts = urlsplit(params.url)
            host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:  # a malformed IPv6 literal, a port out of range
            return [
                Check.failed(
                    "url_valid", f"health URL {shown} does not parse ({error}): fix url in the plan", url=shown
                )
            ]
        if not host:
            return [Check.failed("url_valid", f"health URL {shown} names no host: fix url in the plan", url=shown)]
        # The probe below resolves again (cached by then).
        found, unresolved = resolve(host, port)
        if unresolved is not None:
            return [
                Check.failed(
                    "host_resolves",
                    f"host {host} of health URL {shown} does not resolve ({unresolved}): fix url in the plan or the "
                    "host's DNS record before failing over",
                    url=shown,
                    host=host,
                )
            ]
        addresses = sorted(set(found))
        checks = [Check.passed("host_resolves", f"host {host} resolves to {', '.join(addresses)}", host=host)]
        result = probe(
            params.url,
            expect_status=params.expect_status,
            expect_body_contains=params.expect_body_contains,
            timeout_seconds=params.request_timeout.total_seconds(),
        )
        facts = {"url": shown, "result": result.describe(), "ok": result.ok, "latency_ms": result.latency_ms}
        if result.ok:
            checks.append(Check.passed("answers", f"{shown} answered {result.describe()}", **facts))
        else:
            checks.append(
                Check.warning(
                    "answers",
                    f"{shown} does not answer as expected yet ({result.describe()}): in a failover it may serve only "
                    f"once traffic moves, and the step will try {params.attempts} time(s); if it should serve now, "
                    f"check the app behind {host}",
                    **facts,
                )
            )
        return checks

    def begin(self, ctx: StepContext, params: HealthCheckStep) -> StepProgress:
        return self._attempt(params, attempt=1, history=[])

    def poll(
        self,
        ctx: StepContext,
        params: HealthCheckStep,
        state: dict[str, Any],
        work_results: list[dict[str, Any]],
    ) -> StepProgress:
        last = HealthState.model_validate(state)
        return self._attempt(params, attempt=last.attempt + 1, history=last.seen)

    def _attempt(self, params: HealthCheckStep, *, attempt: int, history: list[str]) -> StepProgress:
        result = probe(
            params.url,
            expect_status=params.expect_status,
            expect_body_contains=params.expect_body_contains,
            timeout_seconds=params.request_timeout.total_seconds(),
        )
        seen = [*history, result.describe()][-SEEN_KEPT:]
        detail = {
            "url": params.url,
            "attempts": attempt,
            "last": result.describe(),
            "latency_ms": result.latency_ms,
        }
        if result.ok:
            return StepProgress(done=True, summary=f"{params.url} healthy ({result.describe()})", detail=detail)
        if attempt >= params.attempts:
            raise PermanentError(
                f"{params.url} not healthy after {attempt} attempt(s): {'; '.join(seen)}",
                code="HealthCheckFailed",
            )
        return StepProgress(
            state=HealthState(attempt=attempt, seen=seen).model_dump(mode="json"),
            poll_after_seconds=params.interval.total_seconds(),
            summary=f"attempt {attempt}/{params.attempts}: {result.describe()}",
            detail=detail,
        )


def _shown(url: str) -> str:
    """The URL as a report may show it (:func:`dr.probe.redact_url`), even when it does not parse."""
    try:
        return redact_url(url)
    except ValueError:
        # redact_url could not read it: drop by hand what may carry a key (user info, query, fragment).
        return re.sub(r"//[^/@]*@", "//", re.split(r"[?#]", url, maxsplit=1)[0])
