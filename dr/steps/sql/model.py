"""What the two SQL kinds know and remember: the parts of a Microsoft.Sql resource id, the tags a restore
writes, and each kind's state between calls, with the one way both report an ARM operation in flight.

Invariant: a state is small and JSON (it travels in the orchestration history), and a kind's progress is
built from its state alone, so begin and poll report the same operation the same way.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from azure.mgmt.core.tools import parse_resource_id
from pydantic import BaseModel, ConfigDict, model_validator

from ...azure_lro import OperationRef, OperationStatus
from ..base import StepProgress

DRILL_SUFFIX = "-drill"

# Tags on every database a restore creates: who made it, from what, and when (ARM tag values <= 256 chars).
TAG_RUN = "dr-run"
TAG_MODE = "dr-mode"
TAG_PLAN = "dr-plan"
TAG_STEP = "dr-step"
TAG_SOURCE = "dr-source"
TAG_BACKUP = "dr-backup-time"
TAG_STARTED = "dr-started"


class SqlRef(BaseModel):
    """The parts of a Microsoft.Sql resource id a call needs."""

    model_config = ConfigDict(frozen=True)

    subscription: str
    resource_group: str
    server: str
    child: str | None = None

    @classmethod
    def parse(cls, resource_id: str) -> SqlRef:
        parts = parse_resource_id(resource_id)
        return cls(
            subscription=parts["subscription"],
            resource_group=parts["resource_group"],
            server=parts["name"],
            child=parts.get("child_name_1"),
        )

    def database_id(self, name: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Sql/servers/{self.server}/databases/{name}"
        )


def poll_after(retry_after: float | None, default: float) -> float:
    """ARM's Retry-After when it gave one (kept within reason), else the kind's default."""
    if retry_after is None or retry_after <= 0:
        return default
    return min(max(retry_after, 1.0), 120.0)


class OperationState(BaseModel):
    """What both kinds remember of the ARM operation they started and what it may cost."""

    # How long to wait before looking again when ARM gives no Retry-After.
    poll_seconds: ClassVar[float]

    operation: OperationRef | None = None
    rpo_estimate_seconds: float | None = None
    facts: dict[str, Any] = {}
    warnings: list[str] = []

    def started(self, summary: str) -> StepProgress:
        """The progress right after ARM accepted the operation."""
        retry_after = self.operation.retry_after_seconds if self.operation else None
        return self._progress(False, summary, {**self.facts, "status": "started"}, retry_after)

    def progress(
        self, *, done: bool, summary: str, detail: dict[str, Any], status: OperationStatus | None
    ) -> StepProgress:
        """The progress after a look at the operation (``status``: None when the look was not at it)."""
        return self._progress(done, summary, detail, status.retry_after_seconds if status else None)

    def _progress(self, done: bool, summary: str, detail: dict[str, Any], retry_after: float | None) -> StepProgress:
        return StepProgress(
            done=done,
            state=self.model_dump(mode="json"),
            poll_after_seconds=0.0 if done else poll_after(retry_after, self.poll_seconds),
            summary=summary,
            detail=detail,
            warnings=self.warnings,
            rpo_estimate_seconds=self.rpo_estimate_seconds,
        )


Origin = Literal["started", "this_run", "earlier_run", "recovery_of_source"]


class GeoRestoreState(OperationState):
    """What geo-restore remembers between calls (small; travels in the orchestration history)."""

    poll_seconds: ClassVar[float] = 30.0

    source_database_id: str
    target_database_id: str
    origin: Origin


class FailoverState(OperationState):
    """What a failover-group failover remembers between calls."""

    poll_seconds: ClassVar[float] = 10.0

    failover_group_id: str
    mode: Literal["planned", "forced", "planned_then_forced"]
    # The group was busy when the failover was asked for (often: our own failover, begun by an earlier
    # try of this activity): poll waits for it and asks again, instead of burning the retry budget.
    waiting_while_busy: bool = False
    # Read before the failover, for the end of poll: what a forced outcome lost, and whether the current
    # primary answered (planned_then_forced: which failover Azure ran).
    lag_seconds: float | None = None
    lag_basis: str = "unknown: not read"
    primary_server_id: str | None = None
    primary_reachable: bool | None = None
    primary_reason: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _forced_flag(cls, data: Any) -> Any:
        """A state written before failover_mode (``forced: bool``), from a run in flight across the upgrade."""
        if isinstance(data, dict) and "mode" not in data and "forced" in data:
            forced = data["forced"] is True
            data = {k: v for k, v in data.items() if k != "forced"}
            data["mode"] = "forced" if forced else "planned"
        return data
