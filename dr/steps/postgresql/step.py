"""The postgresql_promote step: check reports what the service would refuse and what the recovery may lose; begin
promotes the replica or starts the geo-restore (a drill only reads the replica, or restores under its own name);
poll watches the operation; teardown deletes a drill's restored server.

Invariant: at most one promotion or restore started per run, recognised again by its tags (a retried call never
starts a second one), and never a write to a server this step did not create or was not given to promote.
"""

from __future__ import annotations

from typing import Any, Literal

from ...azure_lro import OperationStatus
from ...durations import iso
from ...errors import DrError, NotFoundError, PermanentError, PreconditionError, TransientError
from ...plan import PostgresqlPromoteStep
from ..base import Check, StepContext, StepKind, StepProgress, TeardownResult, refuse_sync
from ..operation import OperationState, operation_failure
from ..restores import TAG_MODE, TAG_RUN, restore_tags
from . import arm
from .planning import (
    FAILBACK_NOTE,
    TAG_PROMOTED_BY,
    PromoteKind,
    Reading,
    ServerView,
    backup_rpo,
    not_a_replica,
    promote_kind,
    promote_rpo,
    restore_origin,
    restore_target_id,
    server_name,
)

POLL_SECONDS = {"promote_replica": 10.0, "geo_restore": 30.0}
PLANNED_NEEDS_PRIMARY = (
    "a planned promotion waits until the replica has all of the primary's data, so it needs the primary to answer; "
    "with the primary's region down only a forced promotion proceeds, losing the replica's lag: set promote_option "
    "forced (or planned_then_forced) on step {step!r}"
)


class PgState(OperationState):
    """What the step remembers between calls (small; travels in the orchestration history)."""

    method: Literal["promote_replica", "geo_restore"]
    server_id: str
    """The replica being promoted, or the server being restored."""
    waiting_while_busy: bool = False
    ran: PromoteKind | None = None
    option: Literal["planned", "forced", "planned_then_forced"] = "planned"
    rpo_basis: str = ""


class PostgresqlPromote(StepKind[PostgresqlPromoteStep]):
    # -- check ----------------------------------------------------------------------------------------
    def check(self, ctx: StepContext, params: PostgresqlPromoteStep) -> list[Check]:
        checks = (
            self._promote_checks(ctx, params)
            if params.method == "promote_replica"
            else self._restore_checks(ctx, params)
        )
        if ctx.mode == "failback" and params.method == "geo_restore":
            checks.append(Check.warning("failback_method", FAILBACK_NOTE))
        return checks

    def _promote_checks(self, ctx: StepContext, params: PostgresqlPromoteStep) -> list[Check]:
        assert params.replica_server_id is not None
        ref = arm.ServerRef.parse(params.replica_server_id)
        try:
            replica = arm.get_server(ref)
        except DrError as error:
            return [Check.failed("replica_exists", f"replica {ref.name} could not be read: {error.message}")]
        if replica is None:
            return [
                Check.failed(
                    "replica_exists",
                    f"server {ref.name} not found: check replica_server_id of step {ctx.step_id!r}",
                    replica_server_id=params.replica_server_id,
                )
            ]
        checks = [Check.passed("replica_exists", f"server {ref.name} found in {replica.location}", **replica.facts())]
        if not replica.is_replica:
            promoted_by = replica.tags.get(TAG_PROMOTED_BY)
            if promoted_by:
                checks.append(
                    Check.passed(
                        "replica_role",
                        f"{ref.name} is standalone, promoted by run {promoted_by}: nothing to promote",
                        replication_role=replica.role,
                        already_promoted=True,
                    )
                )
                return checks
            checks.append(
                Check.failed("replica_role", not_a_replica(replica, ctx.step_id), replication_role=replica.role)
            )
            return checks
        checks.append(
            Check.passed(
                "replica_role",
                f"{ref.name} is a {replica.role} of {server_name(replica.source_server_id or '?')} "
                f"(replication {replica.replication_state})",
                replication_role=replica.role,
                replication_state=replica.replication_state,
            )
        )
        reachable, reason = self._primary(replica)
        lag = arm.replica_lag(ref)
        kind = promote_kind(params.promote_option, reachable)
        rpo, basis = promote_rpo(kind, lag, reachable)
        primary = server_name(replica.source_server_id or "")
        if reachable is False:
            message = f"the primary {primary} is unreachable ({reason})"
            checks.append(
                Check.failed("primary", f"{message}: {PLANNED_NEEDS_PRIMARY.format(step=ctx.step_id)}", reachable=False)
                if params.promote_option == "planned" and not ctx.is_drill
                else Check.warning(
                    "primary", f"{message}: the promotion will be forced and may lose data", reachable=False
                )
            )
        else:
            checks.append(Check.passed("primary", f"the primary {primary} answers ({reason})", reachable=reachable))
        checks.append(
            Check.passed(
                "replication_lag",
                f"replica lag {lag.seconds:g} s" if lag.seconds is not None else f"replica lag unknown: {lag.basis}",
                lag_seconds=lag.seconds,
                lag_basis=lag.basis,
            )
        )
        checks.append(
            Check.passed(
                "promote_option",
                f"promote_option {params.promote_option}: a {kind} promotion; "
                + (f"may lose {rpo:g} s of writes" if rpo is not None else "what it may lose is unknown")
                + f" ({basis})",
                promote_option=params.promote_option,
                expected_promotion=kind,
                rpo_estimate_seconds=rpo,
                rpo_basis=basis,
            )
        )
        if replica.replication_state not in (None, "Active"):
            checks.append(
                Check.warning(
                    "replication_state",
                    f"{ref.name} reports replicationState {replica.replication_state}: it may be behind or not "
                    "replicating; a planned promotion waits for it, a forced one loses what it lacks",
                    replication_state=replica.replication_state,
                )
            )
        return checks

    def _primary(self, replica: ServerView) -> tuple[bool | None, str]:
        if not replica.source_server_id:
            return None, "the replica names no source server"
        reachable, _, reason = arm.probe_server(arm.ServerRef.parse(replica.source_server_id))
        return reachable, reason

    def _restore_checks(self, ctx: StepContext, params: PostgresqlPromoteStep) -> list[Check]:
        assert params.source_server_id is not None
        assert params.target_location is not None
        source = arm.ServerRef.parse(params.source_server_id)
        checks: list[Check] = []
        reachable, view, reason = arm.probe_server(source)
        if reachable and view is None:
            checks.append(
                Check.failed("source_geo_backup", f"source server {source.name} not found: check source_server_id")
            )
        elif view is not None and view.geo_redundant_backup != "Enabled":
            checks.append(
                Check.failed(
                    "source_geo_backup",
                    f"source server {source.name} has geo-redundant backup {view.geo_redundant_backup or 'Disabled'}: "
                    "Azure cannot geo-restore it. Geo-redundancy can only be chosen when a server is created: plan a "
                    "read replica in the secondary region (method promote_replica) instead",
                    geo_redundant_backup=view.geo_redundant_backup,
                )
            )
        else:
            newest, unreadable = arm.newest_backup(source) if view is not None else (None, reason)
            rpo, basis = backup_rpo(ctx.now, newest, unreadable)
            facts = {
                "last_backup": iso(newest) if newest else None,
                "backup_age_seconds": rpo if newest else None,
                "rpo_estimate_seconds": rpo,
                "rpo_basis": basis,
            }
            if view is None:
                checks.append(
                    Check.warning(
                        "source_geo_backup",
                        f"source server {source.name} cannot be read ({reason}): its geo-redundant backup is not "
                        "verified (Azure refuses the restore if it has none); a restore would lose up to "
                        f"{rpo:g} s ({basis})",
                        **facts,
                    )
                )
            else:
                checks.append(
                    Check.passed(
                        "source_geo_backup",
                        f"{source.name} has geo-redundant backups; a restore now loses about {rpo:g} s ({basis})",
                        **facts,
                        source_location=view.location,
                    )
                )
        target = arm.ServerRef.parse(restore_target_id(ctx, params))
        try:
            existing = arm.get_server(target)
        except DrError as error:
            checks.append(
                Check.failed("target_server_free", f"target server {target.name} could not be read: {error.message}")
            )
            return checks
        if existing is None:
            checks.append(Check.passed("target_server_free", f"{target.name} is free", target_server_id=target.id))
        elif restore_origin(ctx, params.source_server_id, existing) is not None:
            checks.append(
                Check.passed(
                    "target_server_free",
                    f"{target.name} exists, restored from {source.name} by run {existing.tags.get(TAG_RUN)}: it is "
                    "continued, not restored again",
                    target_server_id=target.id,
                )
            )
        else:
            checks.append(
                Check.failed(
                    "target_server_free",
                    f"target server {target.name} already exists and is not this restore's; it is never overwritten: "
                    "delete it or restore under another name (target_server_id / drill_target_server_id)",
                    target_server_id=target.id,
                    created_by_run=existing.tags.get(TAG_RUN),
                )
            )
        return checks

    # -- begin ----------------------------------------------------------------------------------------
    def begin(self, ctx: StepContext, params: PostgresqlPromoteStep) -> StepProgress:
        refuse_sync(ctx, self.kind)
        if params.method == "promote_replica":
            return self._begin_promote(ctx, params)
        return self._begin_restore(ctx, params)

    def _begin_promote(self, ctx: StepContext, params: PostgresqlPromoteStep) -> StepProgress:
        assert params.replica_server_id is not None
        ref = arm.ServerRef.parse(params.replica_server_id)
        replica = arm.get_server(ref)
        if replica is None:
            raise NotFoundError(f"replica server {ref.name} not found (replica_server_id of step {ctx.step_id!r})")
        facts: dict[str, Any] = {
            "method": "promote_replica",
            "replica_server_id": ref.id,
            "replica_location": replica.location,
            "primary_server_id": replica.source_server_id,
            "promote_option": params.promote_option,
        }
        if not replica.is_replica:
            promoted_by = replica.tags.get(TAG_PROMOTED_BY)
            if promoted_by is None or ctx.is_drill:
                raise PreconditionError(not_a_replica(replica, ctx.step_id), code="ServerNotReplica")
            # Promoted already (by this run's earlier try, or an earlier failover): nothing more to do.
            facts.update(
                action=f"none: already standalone (promoted by run {promoted_by})",
                primary_server_id=replica.tags.get("dr-promoted-from"),
                estimated_data_loss_seconds=0.0 if promoted_by != ctx.run_id else None,
                rpo_basis="nothing promoted by this call",
            )
            return StepProgress(done=True, summary=f"{ref.name} is already standalone", detail=facts)
        primary_ref = arm.ServerRef.parse(replica.source_server_id) if replica.source_server_id else None
        reachable, primary, reason = arm.probe_server(primary_ref) if primary_ref else (None, None, "no source")
        facts.update(
            primary_location=primary.location if primary is not None else None,
            primary_reachable=reachable,
            primary_reason=reason,
        )
        lag = arm.replica_lag(ref)
        kind = promote_kind(params.promote_option, reachable)
        rpo, basis = promote_rpo(kind, lag, reachable)
        facts.update(lag_seconds=lag.seconds, lag_basis=lag.basis)
        if ctx.is_drill:
            facts.update(
                action="none (drill: the replica is only read)",
                promotion_would_be=kind,
                estimated_data_loss_seconds=rpo,
                rpo_basis=basis,
            )
            return StepProgress(
                done=True,
                summary=f"drill: {ref.name} is a {replica.role} of {server_name(replica.source_server_id or '?')}; a "
                f"{params.promote_option} promotion would be {kind}; nothing changed",
                detail=facts,
                rpo_estimate_seconds=rpo,
            )
        if kind == "planned" and reachable is False:
            raise PreconditionError(
                f"the primary of {ref.name} is unreachable ({reason}): "
                + PLANNED_NEEDS_PRIMARY.format(step=ctx.step_id),
                code="PrimaryUnreachable",
            )
        facts.update(
            action=f"promote to standalone ({kind})",
            expected_promotion=kind,
            estimated_data_loss_seconds=rpo,
            rpo_basis=basis,
            started_at=iso(ctx.now),
        )
        state = PgState(
            method="promote_replica",
            server_id=ref.id,
            ran=kind,
            option=params.promote_option,
            rpo_estimate_seconds=rpo,
            rpo_basis=basis,
            facts=facts,
        )
        return self._promote(ctx, replica, state)

    def _promote(self, ctx: StepContext, replica: ServerView, state: PgState) -> StepProgress:
        ref = arm.ServerRef.parse(state.server_id)
        tags = {**replica.tags, TAG_PROMOTED_BY: ctx.run_id}
        if replica.source_server_id:
            tags["dr-promoted-from"] = replica.source_server_id[:256]
        option = "Forced" if state.ran == "forced" else "Planned"
        operation = arm.start_promote(ref, option=option, tags=tags)
        if operation is None:
            return _progress(state.model_copy(update={"waiting_while_busy": True}), None)
        return _progress(state.model_copy(update={"operation": operation, "waiting_while_busy": False}), None)

    def _begin_restore(self, ctx: StepContext, params: PostgresqlPromoteStep) -> StepProgress:
        assert params.source_server_id is not None
        assert params.target_location is not None
        source = arm.ServerRef.parse(params.source_server_id)
        target = arm.ServerRef.parse(restore_target_id(ctx, params))
        existing = arm.get_server(target)
        facts: dict[str, Any] = {
            "method": "geo_restore",
            "mode": ctx.mode,
            "source_server_id": source.id,
            "target_server_id": target.id,
            "target_location": params.target_location,
        }
        if existing is not None:
            origin = restore_origin(ctx, source.id, existing)
            if origin is None:
                raise PreconditionError(
                    f"target server {target.name} already exists and was not restored from {source.name} by this step "
                    f"(run {existing.tags.get(TAG_RUN) or 'unknown'}); it is never overwritten: delete it or restore "
                    "under another name",
                    code="TargetServerExists",
                )
            facts.update(
                origin="restored earlier by this run" if origin == "this_run" else "restored by an earlier run"
            )
            facts.update(
                estimated_data_loss_seconds=None, rpo_basis="unknown: the restore was started by an earlier call"
            )
            state = PgState(method="geo_restore", server_id=target.id, facts=facts, rpo_basis=facts["rpo_basis"])
            return self._restore_progress(state, existing, None)
        reachable, view, reason = arm.probe_server(source)
        if reachable and view is None:
            raise NotFoundError(f"source server {source.name} not found (source_server_id of step {ctx.step_id!r})")
        if view is not None and view.geo_redundant_backup != "Enabled":
            raise PreconditionError(
                f"source server {source.name} has no geo-redundant backup (geoRedundantBackup "
                f"{view.geo_redundant_backup or 'Disabled'}): it cannot be geo-restored",
                code="GeoBackupNotEnabled",
            )
        newest, unreadable = arm.newest_backup(source) if view is not None else (None, reason)
        rpo, basis = backup_rpo(ctx.now, newest, unreadable)
        facts.update(
            source_location=view.location if view is not None else None,
            last_backup=iso(newest) if newest else None,
            estimated_data_loss_seconds=rpo,
            rpo_basis=basis,
            started_at=iso(ctx.now),
            origin="started by this run",
        )
        if ctx.is_drill:  # what this drill makes, for the report's cost (resource x minutes until teardown)
            facts["drill_created"] = [
                {"type": "PostgreSQL flexible server", "name": target.id, "created_at": iso(ctx.now)}
            ]
        operation = arm.start_geo_restore(
            target, location=params.target_location, source_server_id=source.id, tags=restore_tags(ctx, source.id)
        )
        if operation is None:
            raise TransientError(f"geo-restore into {target.name}: the server is busy; will retry", code="ServerBusy")
        state = PgState(
            method="geo_restore",
            server_id=target.id,
            operation=operation,
            rpo_estimate_seconds=rpo,
            rpo_basis=basis,
            facts=facts,
        )
        return _progress(state, None)

    # -- poll -----------------------------------------------------------------------------------------
    def poll(
        self, ctx: StepContext, params: PostgresqlPromoteStep, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        current = PgState.model_validate(state)
        ref = arm.ServerRef.parse(current.server_id)
        if current.method == "promote_replica" and current.waiting_while_busy:
            replica = arm.get_server(ref)
            if replica is not None and replica.is_replica:
                return self._promote(ctx, replica, current)
            current = current.model_copy(update={"waiting_while_busy": False})
        status: OperationStatus | None = None
        if current.operation is not None:
            what = (
                f"{current.ran} promotion of {ref.name}"
                if current.method == "promote_replica"
                else f"geo-restore into {ref.name}"
            )
            status = arm.operation_status(ref, current.operation, what)
            if status.status == "InProgress":
                return _progress(current, status)
            failure = operation_failure(what, status)
            if failure is not None:
                return self._after_failure(ctx, current, failure)
        server = arm.get_server(ref)
        if server is None:
            raise PermanentError(
                f"{ref.name} is gone (the operation failed or the server was deleted); see its activity log",
                code="ServerGone",
            )
        if current.method == "geo_restore":
            return self._restore_progress(current, server, status)
        if server.is_replica:
            if status is not None and status.status == "Unknown":
                raise PermanentError(
                    f"ARM no longer knows the promotion of {ref.name}, still a replica", code="PromotionLost"
                )
            return _progress(current, status)
        return _finish(current, server, f"{ref.name} promoted to a standalone server ({current.ran})")

    def _after_failure(self, ctx: StepContext, state: PgState, failure: PermanentError) -> StepProgress:
        if state.method == "promote_replica" and state.ran == "planned" and state.option == "planned_then_forced":
            ref = arm.ServerRef.parse(state.server_id)
            replica = arm.get_server(ref)
            if replica is not None and replica.is_replica:
                rpo, basis = promote_rpo(
                    "forced",
                    Reading(seconds=state.facts.get("lag_seconds"), basis=str(state.facts.get("lag_basis"))),
                    False,
                )
                facts = {
                    **state.facts,
                    "planned_failure": failure.message,
                    "promotion_reason": f"planned promotion failed ({failure.code}): forced",
                    "estimated_data_loss_seconds": rpo,
                    "rpo_basis": basis,
                }
                forced = state.model_copy(
                    update={
                        "ran": "forced",
                        "operation": None,
                        "rpo_estimate_seconds": rpo,
                        "rpo_basis": basis,
                        "facts": facts,
                    }
                )
                return self._promote(ctx, replica, forced)
        if state.method == "promote_replica" and state.ran == "planned":
            raise PermanentError(
                f"{failure.message}; {PLANNED_NEEDS_PRIMARY.format(step=ctx.step_id)}", code=failure.code
            )
        raise failure

    def _restore_progress(self, state: PgState, server: ServerView, status: OperationStatus | None) -> StepProgress:
        if server.state == "Ready":
            return _finish(state, server, f"{server.name} restored in {server.location} ({state.facts.get('origin')})")
        return _progress(state, status, server_state=server.state)

    # -- teardown -------------------------------------------------------------------------------------
    def teardown(
        self,
        ctx: StepContext,
        params: PostgresqlPromoteStep,
        state: dict[str, Any],
        previous: TeardownResult | None = None,
    ) -> dict[str, Any]:
        """Delete the drill server this run restored (checked by its tags); nothing else, ever."""
        if not ctx.is_drill or params.method != "geo_restore":
            return {
                "teardown": "nothing to undo (the replica was only read)"
                if ctx.is_drill
                else "nothing to undo: not a drill"
            }
        target_id = PgState.model_validate(state).server_id if state else restore_target_id(ctx, params)
        ref = arm.ServerRef.parse(target_id)
        server = arm.get_server(ref)
        delete_started = previous is not None and previous.teardown == "delete started"
        if server is None:
            return {"teardown": "deleted" if delete_started else "nothing to delete", "server_id": target_id}
        if server.tags.get(TAG_RUN) != ctx.run_id or server.tags.get(TAG_MODE) != "drill":
            return {
                "teardown": "left in place: not created by this drill run",
                "server_id": target_id,
                "created_by_run": server.tags.get(TAG_RUN),
            }
        if delete_started or server.state == "Dropping":
            return {"teardown": "delete started", "done": False, "poll_after_seconds": 5, "server_id": target_id}
        operation = arm.start_delete(ref)
        if operation is not None and operation.completed_at_once:
            return {"teardown": "deleted", "server_id": target_id}
        return {"teardown": "delete started", "done": False, "poll_after_seconds": 5, "server_id": target_id}


def _progress(state: PgState, status: OperationStatus | None, *, server_state: str | None = None) -> StepProgress:
    name = server_name(state.server_id)
    doing = (
        "waiting: the server is busy with another operation"
        if state.waiting_while_busy
        else (status.status if status else "started")
    )
    what = f"{state.ran} promotion of {name}" if state.method == "promote_replica" else f"geo-restore into {name}"
    detail = {**state.facts, "status": doing}
    if server_state:
        detail["server_state"] = server_state
    return state.report(
        done=False,
        summary=f"{what}: {doing}",
        detail=detail,
        retry_after=state.latest_retry_after(status),
        poll_seconds=POLL_SECONDS[state.method],
    )


def _finish(state: PgState, server: ServerView, summary: str) -> StepProgress:
    detail = {
        **state.facts,
        "status": "done",
        "server_after": server.facts(),
        "estimated_data_loss_seconds": state.rpo_estimate_seconds,
        "rpo_basis": state.rpo_basis,
    }
    if state.method == "promote_replica":
        detail["promotion_ran"] = state.ran
        detail["failback_note"] = FAILBACK_NOTE
    return state.report(done=True, summary=summary, detail=detail)
