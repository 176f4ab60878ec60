"""health_check: an HTTP probe that must answer as expected within a number of attempts.

Each attempt is one activity call (a short request); the wait between attempts is a durable timer, so a
slow-to-warm secondary costs no activity time. Its state keeps the attempt count and the last few answers
(at most five: the state stays small however many attempts a plan allows).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..errors import PermanentError
from ..plan import HealthCheckStep
from ..probe import probe
from .base import StepContext, StepKind, StepProgress

SEEN_KEPT = 5


class HealthState(BaseModel):
    """What health_check remembers between attempts."""

    attempt: int = Field(ge=1, description="Attempts made so far.")
    seen: list[str] = Field(default_factory=list, description=f"The last {SEEN_KEPT} answers, oldest first.")


class HealthCheck(StepKind[HealthCheckStep]):
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
