"""health_check: an HTTP probe that must answer as expected within a number of attempts.

Each attempt is one activity call (a short request); the wait between attempts is a durable timer, so a
slow-to-warm secondary costs no activity time.
"""

from __future__ import annotations

from typing import Any

from ..errors import PermanentError
from ..plan import HealthCheckStep
from ..probe import probe
from .base import StepContext, StepKind, StepProgress


class HealthCheck(StepKind[HealthCheckStep]):
    kind = "health_check"

    def begin(self, ctx: StepContext, params: HealthCheckStep) -> StepProgress:
        return self._attempt(params, attempt=1, history=[])

    def poll(
        self,
        ctx: StepContext,
        params: HealthCheckStep,
        state: dict[str, Any],
        work_results: list[dict[str, Any]],
    ) -> StepProgress:
        return self._attempt(params, attempt=int(state["attempt"]) + 1, history=list(state.get("seen", [])))

    def _attempt(self, params: HealthCheckStep, *, attempt: int, history: list[str]) -> StepProgress:
        result = probe(
            params.url,
            expect_status=params.expect_status,
            expect_body_contains=params.expect_body_contains,
            timeout_seconds=params.request_timeout.total_seconds(),
        )
        seen = [*history, result.describe()][-5:]
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
            state={"attempt": attempt, "seen": seen},
            poll_after_seconds=params.interval.total_seconds(),
            summary=f"attempt {attempt}/{params.attempts}: {result.describe()}",
            detail=detail,
        )


KINDS = {"health_check": HealthCheck()}
