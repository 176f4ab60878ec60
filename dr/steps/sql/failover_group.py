"""The sql_failover_group step: fail a failover group over onto the server named in its id (planned, or forced
with ``allow_data_loss``), and watch until that server is primary. A drill only reads the group.

Invariant: at most one failover asked for per run. A group busy with another operation (often this step's
own failover, from an earlier try of the activity) is waited for, not asked again while busy; a group
already primary on the server is left alone.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.sql import SqlManagementClient

from ...azure_lro import OperationRef, OperationStatus
from ...durations import iso
from ...errors import DrError, PermanentError
from ...plan import SqlFailoverGroupStep
from ..base import StepContext, StepKind, StepProgress
from ..sdk import wire_text
from . import arm
from .model import FailoverState, SqlRef
from .planning import OperationFailed, failover_error, failover_what, refuse_sync


class SqlFailoverGroup(StepKind[SqlFailoverGroupStep]):
    def begin(self, ctx: StepContext, params: SqlFailoverGroupStep) -> StepProgress:
        refuse_sync(ctx, self.kind)
        ref = SqlRef.parse(params.failover_group_id)
        sql = arm.client(ref)
        group = arm.get_group(sql, ref)
        facts, warnings = arm.failover_group_facts(sql, ref, group)
        role = facts["replication_role"]
        lag = facts.get("data_at_risk_seconds")

        if ctx.is_drill or role == "Primary":  # a drill only reads the group; a group primary here needs nothing
            rpo_now = lag if ctx.is_drill else None
            facts.update(
                action="none (drill: the group is only read)"
                if ctx.is_drill
                else "none: already primary on this server",
                estimated_data_loss_seconds=rpo_now,
            )
            summary = (
                f"drill: failover group {ref.child} is {role} on {ref.server}; nothing changed"
                if ctx.is_drill
                else f"failover group {ref.child} already primary on {ref.server}"
            )
            return StepProgress(
                done=True, summary=summary, detail=facts, warnings=warnings, rpo_estimate_seconds=rpo_now
            )

        forced = params.allow_data_loss
        # Planned failover waits for the secondary to catch up: it loses nothing, or fails and rolls back.
        rpo = lag if forced else 0.0
        facts.update(
            action="forced failover (allow_data_loss)" if forced else "planned failover (no data loss)",
            estimated_data_loss_seconds=rpo,
            started_at=iso(ctx.now),
        )
        state = FailoverState(
            failover_group_id=params.failover_group_id,
            forced=forced,
            rpo_estimate_seconds=rpo,
            facts=facts,
            warnings=warnings,
        )
        operation = self._start(ctx, params, sql, ref, forced)
        if operation is None:
            return self._progress(state.model_copy(update={"waiting_while_busy": True}), role=None, status=None)
        state.operation = operation
        return state.started(f"{failover_what(ref, forced)} started")

    def poll(
        self,
        ctx: StepContext,
        params: SqlFailoverGroupStep,
        state: dict[str, Any],
        work_results: list[dict[str, Any]],
    ) -> StepProgress:
        current = FailoverState.model_validate(state)
        ref = SqlRef.parse(current.failover_group_id)
        sql = arm.client(ref)
        what = failover_what(ref, current.forced)
        if current.waiting_while_busy:
            role = wire_text(arm.get_group(sql, ref).replication_role)
            if role == "Primary":
                return self._progress(current, role=role, status=None)
            started = self._start(ctx, params, sql, ref, current.forced)
            if started is None:
                return self._progress(current, role=None, status=None)
            current = current.model_copy(update={"operation": started, "waiting_while_busy": False})
        try:
            status = arm.operation_status(sql, current.operation, what)
        except OperationFailed as failure:
            raise failover_error(failure, params, ctx) from None
        if status is not None and status.status == "InProgress":
            return self._progress(current, role=None, status=status)
        role = wire_text(arm.get_group(sql, ref).replication_role)
        if role != "Primary" and (status is None or status.status == "Unknown"):
            raise PermanentError(
                f"{what}: ARM no longer knows the operation and the group is still {role} on {ref.server}",
                code="FailoverLost",
            )
        return self._progress(current, role=role, status=status)

    def _start(
        self, ctx: StepContext, params: SqlFailoverGroupStep, sql: SqlManagementClient, ref: SqlRef, forced: bool
    ) -> OperationRef | None:
        """Ask for the failover (None: the group is busy, ask again later); a refusal says how to go on."""
        try:
            return arm.start_failover(sql, ref, forced=forced, what=failover_what(ref, forced))
        except DrError as error:
            raise failover_error(error, params, ctx) from None

    def _progress(self, state: FailoverState, *, role: str | None, status: OperationStatus | None) -> StepProgress:
        ref = SqlRef.parse(state.failover_group_id)
        done = role == "Primary"
        waiting = "waiting: the group is busy" if state.waiting_while_busy else "InProgress"
        detail = {**state.facts, "status": "done" if done else (status.status if status else waiting)}
        if role is not None:
            detail["replication_role"] = role
        summary = (
            f"failover group {ref.child} now primary on {ref.server}"
            if done
            else f"failover of group {ref.child} to {ref.server}: {detail['status']}"
        )
        return state.progress(done=done, summary=summary, detail=detail, status=status)
