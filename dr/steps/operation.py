"""What a kind that drives Azure Resource Manager long-running operations (the two SQL kinds, cosmos_failover,
postgresql_promote, storage_account_failover) remembers between calls, and the one way that memory becomes a call's
progress.

Invariant: a state is small JSON (it travels in the orchestration history), and the progress a call returns
carries the state with its warnings and RPO estimate exactly as the state holds them, so begin and poll report an
operation alike.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ..azure_lro import OperationRef, OperationStatus
from ..errors import PermanentError
from .base import StepProgress


class OperationFailed(PermanentError):
    """ARM reports the operation a step started failed or canceled (not: a call about it failed)."""


def operation_failure(what: str, status: OperationStatus) -> OperationFailed | None:
    """The error of an operation ARM reports failed or canceled (None while it runs or once it succeeded)."""
    if status.status not in ("Failed", "Canceled"):
        return None
    code = status.error_code or ("OperationCanceled" if status.status == "Canceled" else "Failed")
    return OperationFailed(f"{what} {status.status.lower()}: {code}: {status.error_message or 'no message'}", code=code)


def poll_after(retry_after: float | None, default: float) -> float:
    """ARM's Retry-After when it gave one (kept within reason), else the kind's default."""
    if retry_after is None or retry_after <= 0:
        return default
    return min(max(retry_after, 1.0), 120.0)


class OperationState(BaseModel):
    """The operation in flight (None: not started yet, or waiting to ask again), what it may lose, the facts for
    the report and the warnings so far. Each kind's state adds its own fields."""

    operation: OperationRef | None = None
    rpo_estimate_seconds: float | None = None
    facts: dict[str, Any] = {}
    warnings: list[str] = []

    def latest_retry_after(self, status: OperationStatus | None) -> float | None:
        """The Retry-After of ARM's latest answer: the look at the operation (``status``), else its acceptance."""
        if status is not None:
            return status.retry_after_seconds
        return self.operation.retry_after_seconds if self.operation is not None else None

    def report(
        self,
        *,
        done: bool,
        summary: str,
        detail: dict[str, Any],
        retry_after: float | None = None,
        poll_seconds: float = 0.0,
    ) -> StepProgress:
        """This state as a call's progress; while not done, the next look comes after ``retry_after`` (kept within
        reason), else after ``poll_seconds``."""
        return StepProgress(
            done=done,
            state=self.model_dump(mode="json"),
            poll_after_seconds=0.0 if done else poll_after(retry_after, poll_seconds),
            summary=summary,
            detail=detail,
            warnings=self.warnings,
            rpo_estimate_seconds=self.rpo_estimate_seconds,
        )
