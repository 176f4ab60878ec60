"""What the two SQL kinds know and remember: the parts of a Microsoft.Sql resource id, the tag a geo-restore
writes besides every restore's (:mod:`dr.steps.restores`), and each kind's state between calls, with the one way
both report an ARM operation in flight (:mod:`dr.steps.operation`).

Invariant: a state is small and JSON (it travels in the orchestration history), and a kind's progress is
built from its state alone, so begin and poll report the same operation the same way.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from ...azure_lro import OperationStatus
from ..base import StepProgress
from ..operation import OperationState
from ..sdk import ArmRef

DRILL_SUFFIX = "-drill"

# Besides the tags every restore writes (dr.steps.restores): the geo-backup a restore started from.
TAG_BACKUP = "dr-backup-time"


class SqlRef(ArmRef):
    """A Microsoft.Sql resource id: ``server`` and, below it, ``child`` (a database or a failover group)."""

    @property
    def server(self) -> str:
        return self.name

    def group_on(self, server_id: str) -> SqlRef:
        """This failover group as the server ``server_id`` (its partner) holds it: same name, other server."""
        partner = SqlRef.parse(server_id)
        group_id = f"{partner.id.rstrip('/')}/failoverGroups/{self.child}"
        return partner.model_copy(update={"id": group_id, "child": self.child})

    @property
    def server_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Sql/servers/{self.server}"
        )

    def database_id(self, name: str) -> str:
        return f"{self.server_id}/databases/{name}"


class SqlOperationState(OperationState):
    """What both SQL kinds remember of the ARM operation they started and what it may cost."""

    # How long to wait before looking again when ARM gives no Retry-After.
    poll_seconds: ClassVar[float]

    def started(self, summary: str) -> StepProgress:
        """The progress right after ARM accepted the operation."""
        detail = {**self.facts, "status": "started"}
        return self.report(
            done=False,
            summary=summary,
            detail=detail,
            retry_after=self.latest_retry_after(None),
            poll_seconds=self.poll_seconds,
        )

    def progress(
        self, *, done: bool, summary: str, detail: dict[str, Any], status: OperationStatus | None
    ) -> StepProgress:
        """The progress after a look at the operation (``status``: None when the look was not at it)."""
        retry_after = status.retry_after_seconds if status else None
        return self.report(
            done=done, summary=summary, detail=detail, retry_after=retry_after, poll_seconds=self.poll_seconds
        )


Origin = Literal["started", "this_run", "earlier_run", "recovery_of_source"]


class GeoRestoreState(SqlOperationState):
    """What geo-restore remembers between calls (small; travels in the orchestration history)."""

    poll_seconds: ClassVar[float] = 30.0

    source_database_id: str
    target_database_id: str
    origin: Origin


class FailoverState(SqlOperationState):
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
