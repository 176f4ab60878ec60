"""The sql_failover_group step: fail a failover group over onto the server named in its id, in the plan's
``failover_mode`` (planned, forced, or planned_then_forced: Azure's tryPlannedBeforeForcedFailover), and watch
until that server is primary. A drill only reads: the group, the current primary's own view, the lag.

Invariant: at most one failover asked for per run. A group busy with another operation (often this step's
own failover, from an earlier try of the activity) is waited for, not asked again while busy; a group
already primary on the server is left alone. What a failover may lose is said honestly: 0 for a planned one,
the replication lag read before a forced one, None (never 0) when that lag cannot be read. A forced failover
the old primary could not hear leaves two primaries until it reconnects: the step says so.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.sql import SqlManagementClient

from ...azure_lro import OperationRef, OperationStatus
from ...durations import iso
from ...errors import DrError, NotFoundError, PermanentError, TransientError
from ...plan import SqlFailoverGroupStep
from ..base import Check, StepContext, StepKind, StepProgress, refuse_sync
from ..operation import OperationFailed
from ..sdk import wire_text
from . import arm
from .model import FailoverState, SqlRef
from .planning import (
    FailoverKind,
    GroupSurvey,
    LagReading,
    PrimaryView,
    describe_primary,
    expected_failover,
    failover_checks,
    failover_error,
    failover_rpo,
    failover_what,
    old_primary_unreachable_warning,
    planned_refused,
    stale_primary_message,
    two_primaries_warning,
)

ACTIONS = {
    "planned": "planned failover (no data loss)",
    "forced": "forced failover (allow data loss)",
    "planned_then_forced": "planned-then-forced failover (Azure's tryPlannedBeforeForcedFailover)",
}


class SqlFailoverGroup(StepKind[SqlFailoverGroupStep]):
    def check(self, ctx: StepContext, params: SqlFailoverGroupStep) -> list[Check]:
        ref = SqlRef.parse(params.failover_group_id)
        sql = arm.client(ref)
        try:
            group = arm.get_group(sql, ref)
        except NotFoundError as error:
            return [
                Check.failed(
                    "failover_group_exists",
                    f"failover group {ref.child!r} not found on server {ref.server} ({error.message}): check "
                    f"failover_group_id of step {ctx.step_id!r}; it names the group on the server to promote",
                    failover_group_id=params.failover_group_id,
                )
            ]
        survey = arm.survey_group(sql, ref, group)
        checks = [
            Check.passed(
                "failover_group_exists",
                f"failover group {ref.child} found on {ref.server} ({len(survey.facts['databases'])} database(s))",
                databases=survey.facts["databases"],
                failover_policy=survey.facts["failover_policy"],
            )
        ]
        role = survey.role
        if role == "Primary":
            checks.append(
                Check.passed(
                    "current_role",
                    f"group {ref.child} is already primary on {ref.server}: nothing to do",
                    replication_role=role,
                )
            )
            split = two_primaries_warning(ref, survey.primary)
            if split is not None and ctx.mode == "failback":
                # The failover made the partner primary: this server's Primary is the stale one, and failing
                # back now would do nothing while the data lives on the partner.
                checks[-1] = Check.failed(
                    "current_role", stale_primary_message(ref, survey.primary), replication_role=role
                )
            elif split is not None:
                checks.append(Check.warning("two_primaries", split, **survey.primary.as_fact()))
            return checks
        checks.append(
            Check.passed(
                "current_role",
                f"group {ref.child} is {role} on {ref.server}: a failover promotes it",
                replication_role=role,
            )
        )
        return [*checks, *failover_checks(ctx, params, ref, survey)]

    def begin(self, ctx: StepContext, params: SqlFailoverGroupStep) -> StepProgress:
        refuse_sync(ctx, self.kind)
        ref = SqlRef.parse(params.failover_group_id)
        sql = arm.client(ref)
        survey = arm.survey_group(sql, ref, arm.get_group(sql, ref))
        facts, warnings = survey.facts, list(survey.warnings)
        mode = params.failover_mode
        kind = expected_failover(mode, survey.primary)
        rpo, basis = failover_rpo(kind, survey.lag)
        facts.update(failover_mode=mode)

        if ctx.mode == "failback" and survey.role == "Primary" and two_primaries_warning(ref, survey.primary):
            # Retried on the plan's policy: the stale old primary rejoins as secondary minutes after its region
            # is back, and then a planned failover brings the group home.
            raise TransientError(stale_primary_message(ref, survey.primary), code="OldPrimaryNotRejoined")
        if ctx.is_drill or survey.role == "Primary":  # a drill only reads; a group primary here needs nothing
            if survey.role == "Primary":
                split = two_primaries_warning(ref, survey.primary)
                warnings += [split] if split else []
            # A drill reports what a failover in this mode would do now and lose; nothing changed, nothing lost.
            rpo_now = rpo if ctx.is_drill else None
            facts.update(
                action="none (drill: the group is only read)"
                if ctx.is_drill
                else "none: already primary on this server",
                failover_would_be=kind if ctx.is_drill else None,
                estimated_data_loss_seconds=rpo_now,
                rpo_basis=basis if ctx.is_drill else "nothing failed over: no data lost",
            )
            summary = (
                f"drill: failover group {ref.child} is {survey.role} on {ref.server}; a {mode} failover would "
                f"be {kind} now; nothing changed"
                if ctx.is_drill
                else f"failover group {ref.child} already primary on {ref.server}"
            )
            return StepProgress(
                done=True, summary=summary, detail=facts, warnings=warnings, rpo_estimate_seconds=rpo_now
            )

        facts.update(
            action=ACTIONS[mode],
            expected_failover=kind,
            estimated_data_loss_seconds=rpo,
            rpo_basis=basis,
            started_at=iso(ctx.now),
        )
        if survey.primary.reachable is False:
            facts["failover_decision"] = (
                f"primary unreachable ({describe_primary(survey.primary)}): "
                + {
                    "planned": "the planned failover will time out (PlannedFailoverTimedOut)",
                    "forced": "forced failover issued",
                    "planned_then_forced": "Azure's planned attempt cannot reach it; it forces the failover",
                }[mode]
            )
        state = FailoverState(
            failover_group_id=params.failover_group_id,
            mode=mode,
            rpo_estimate_seconds=rpo,
            facts=facts,
            warnings=warnings,
            lag_seconds=survey.lag.seconds,
            lag_basis=survey.lag.basis,
            primary_server_id=_primary_server_id(survey),
            primary_reachable=survey.primary.reachable,
            primary_reason=survey.primary.reason,
        )
        operation = self._start(ctx, params, sql, ref)
        if operation is None:
            return self._progress(state.model_copy(update={"waiting_while_busy": True}), role=None, status=None)
        state.operation = operation
        return state.started(f"{failover_what(ref, mode)} started")

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
        what = failover_what(ref, current.mode)
        if current.waiting_while_busy:
            role = wire_text(arm.get_group(sql, ref).replication_role)
            if role == "Primary":
                return self._finish(sql, ref, current, role=role, status=None)
            started = self._start(ctx, params, sql, ref)
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
        if role == "Primary":
            return self._finish(sql, ref, current, role=role, status=status)
        return self._progress(current, role=role, status=status)

    def _start(
        self, ctx: StepContext, params: SqlFailoverGroupStep, sql: SqlManagementClient, ref: SqlRef
    ) -> OperationRef | None:
        """Ask for the failover (None: the group is busy, ask again later); a refusal says how to go on."""
        mode = params.failover_mode
        try:
            return arm.start_failover(sql, ref, mode=mode, what=failover_what(ref, mode))
        except DrError as error:
            raise failover_error(error, params, ctx) from None

    def _finish(
        self, sql: SqlManagementClient, ref: SqlRef, state: FailoverState, *, role: str, status: OperationStatus | None
    ) -> StepProgress:
        """The group is primary here: which failover ran (and why), what it lost, and whether the old
        primary still believes it is primary (two primaries until it reconnects and re-seeds)."""
        old = ref.group_on(state.primary_server_id) if state.primary_server_id else None
        location = (state.facts.get("primary") or {}).get("location")
        view = arm.primary_view(sql, old, location)
        ran, reason = _which_ran(state, view)
        rpo, basis = failover_rpo(ran, _lag_of(state))
        warnings = list(state.warnings)
        split = two_primaries_warning(ref, view)
        if split is not None:
            warnings.append(split)
        elif ran == "forced" and view.reachable is False:
            warnings.append(old_primary_unreachable_warning(ref, view))
        facts = {
            **state.facts,
            "failover_ran": ran,
            "failover_reason": reason,
            "estimated_data_loss_seconds": rpo,
            "rpo_basis": basis,
            "old_primary": view.as_fact(),
        }
        finished = state.model_copy(update={"facts": facts, "warnings": warnings, "rpo_estimate_seconds": rpo})
        return self._progress(finished, role=role, status=status)

    def _progress(self, state: FailoverState, *, role: str | None, status: OperationStatus | None) -> StepProgress:
        ref = SqlRef.parse(state.failover_group_id)
        done = role == "Primary"
        waiting = "waiting: the group is busy" if state.waiting_while_busy else "InProgress"
        detail = {**state.facts, "status": "done" if done else (status.status if status else waiting)}
        if role is not None:
            detail["replication_role"] = role
        ran = state.facts.get("failover_ran")
        summary = (
            f"failover group {ref.child} now primary on {ref.server} ({ran} failover)"
            if done and ran
            else f"failover group {ref.child} now primary on {ref.server}"
            if done
            else f"failover of group {ref.child} to {ref.server}: {detail['status']}"
        )
        return state.progress(done=done, summary=summary, detail=detail, status=status)


def _primary_server_id(survey: GroupSurvey) -> str | None:
    partners = survey.facts.get("partners") or []
    partner_id = partners[0].get("id") if partners else None
    return str(partner_id) if partner_id else None


def _lag_of(state: FailoverState) -> LagReading:
    """The lag read before the failover (what a forced outcome lost)."""
    return LagReading(state.lag_seconds, state.lag_basis)


def _which_ran(state: FailoverState, now: PrimaryView) -> tuple[FailoverKind, str]:
    """Which failover made the group primary here, and why. planned_then_forced is one Azure operation: it
    ran planned when the old primary answered before and has switched to secondary since (a planned failover
    swaps both roles), forced otherwise."""
    if state.mode == "planned":
        return "planned", "failover_mode planned"
    if state.mode == "forced":
        return "forced", "failover_mode forced"
    before = PrimaryView(now.server, now.location, state.primary_reachable, reason=state.primary_reason)
    if state.primary_reachable is False:
        return "forced", planned_refused(before) + " (tryPlannedBeforeForcedFailover)"
    if now.reachable is False:
        return "forced", planned_refused(now) + " (tryPlannedBeforeForcedFailover)"
    if now.reachable is True and now.role == "Primary":
        return "forced", (
            f"planned failover did not complete: the old primary {now.server} still reads Primary; Azure forced "
            "the failover (tryPlannedBeforeForcedFailover)"
        )
    return "planned", f"planned failover: the primary {now.server} answered and is now secondary"
