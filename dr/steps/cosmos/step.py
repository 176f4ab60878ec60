"""The cosmos_failover step: check reports what the service would refuse and what a failover may lose; begin
starts the first operation (or, in a drill, only reads); poll watches it and starts the next one until the target
is the write region.

Invariant: one operation at a time, each started once per run: its reference lives in the state, a busy account is
waited for (never asked twice while busy), and an account whose write region already is the target is left alone.
The write region found before the first change is in every report of the step (``original_write_region``).
"""

from __future__ import annotations

from typing import Any, Literal

from ...azure_lro import OperationStatus
from ...errors import NotFoundError, PermanentError, PreconditionError
from ...plan import CosmosFailoverStep
from ..base import Check, StepContext, StepKind, StepProgress, refuse_sync
from ..operation import OperationState, operation_failure
from . import arm
from .planning import (
    AccountView,
    FailoverKind,
    account_what,
    expected_kind,
    failover_rpo,
    forced_rpo,
    new_priorities,
    refusal,
)

Phase = Literal["online_target", "priority_change", "offline_write_region"]
POLL_SECONDS = 10.0
PLANNED_NEEDS_WRITE_REGION = (
    "a planned failover (failover priority change) needs the current write region to answer; during its outage only "
    "a forced failover moves the writes: set failover_mode forced (or planned_then_forced) on step {step!r}"
)


class CosmosState(OperationState):
    """What the step remembers between calls (small; travels in the orchestration history)."""

    account_id: str
    target_region: str
    mode: Literal["planned", "forced", "planned_then_forced"]
    phase: Phase
    waiting_while_busy: bool = False
    original_write_region: str | None = None
    ran: FailoverKind = "planned"
    reason: str = ""
    rpo_basis: str = ""


class CosmosFailover(StepKind[CosmosFailoverStep]):
    # -- check ----------------------------------------------------------------------------------------
    def check(self, ctx: StepContext, params: CosmosFailoverStep) -> list[Check]:
        account = arm.Account.parse(params.account_id)
        try:
            view = arm.read_account(account)
        except NotFoundError as error:
            return [
                Check.failed(
                    "account_exists",
                    f"Cosmos DB account {account.name} not found ({error.message}): check account_id of step "
                    f"{ctx.step_id!r}",
                    account_id=params.account_id,
                )
            ]
        checks = [
            Check.passed(
                "account_exists",
                f"Cosmos DB account {account.name}: write region {view.write_region}, {len(view.regions)} region(s), "
                f"{view.consistency} consistency",
                **view.facts(),
            )
        ]
        refused = refusal(view, params)
        if refused is not None:
            checks.append(Check.failed("regions", refused.message, code=refused.code))
            return checks
        checks.append(
            Check.passed(
                "regions",
                f"{params.target_region} is a region of {account.name}; one write region",
                target_region=params.target_region,
            )
        )
        already = view.is_write_region(params.target_region)
        checks.append(
            Check.passed(
                "current_write_region",
                f"{params.target_region} already is the write region of {account.name}: nothing to do"
                if already
                else f"the write region is {view.write_region}: a failover makes {params.target_region} the write "
                "region",
                write_region=view.write_region,
                original_write_region=view.write_region,
                already_target=already,
            )
        )
        kind = expected_kind(params)
        rpo, basis = (0.0, "nothing to fail over") if already else failover_rpo(view, kind)
        worst, worst_basis = forced_rpo(view)
        mode_facts = {
            "failover_mode": params.failover_mode,
            "expected_failover": kind,
            "rpo_estimate_seconds": rpo,
            "rpo_basis": basis,
            "forced_rpo_seconds": worst,
            "forced_rpo_basis": worst_basis,
        }
        if params.failover_mode == "planned_then_forced" and not already:
            mode_facts["rpo_estimate_seconds"], mode_facts["rpo_basis"] = (
                None,
                (f"unknown until it runs: 0 if the planned change completes, else the forced bound ({worst_basis})"),
            )
        checks.append(
            Check.passed(
                "failover_mode",
                f"failover_mode {params.failover_mode}: "
                + ("nothing to change" if already else f"a {kind} failover; may lose {_seconds(rpo)} ({basis})"),
                **mode_facts,
            )
        )
        target = view.region(params.target_region)
        if target is not None and target.offline:
            checks.append(
                Check.warning(
                    "target_region_online",
                    f"{target.name} is offline in {account.name}: the step brings it online first (onlineRegion), "
                    "which needs the region available"
                    if kind == "planned"
                    else f"{target.name} is offline in {account.name}: a forced failover cannot make it the write "
                    "region; bring it online or use failover_mode planned",
                    offline=True,
                )
            )
        if not view.automatic_failover and params.failover_mode == "planned" and not already:
            checks.append(
                Check.warning(
                    "service_managed_failover",
                    f"service-managed failover is off on {account.name} and failover_mode is planned: during a write "
                    "region outage neither Azure nor this step moves the writes; set failover_mode planned_then_forced "
                    "to force the failover when the planned change cannot complete",
                    enable_automatic_failover=False,
                )
            )
        return checks

    # -- begin ----------------------------------------------------------------------------------------
    def begin(self, ctx: StepContext, params: CosmosFailoverStep) -> StepProgress:
        refuse_sync(ctx, self.kind)
        account = arm.Account.parse(params.account_id)
        view = arm.read_account(account)
        refused = refusal(view, params)
        if refused is not None:
            raise PreconditionError(refused.message, code=refused.code)
        facts: dict[str, Any] = {
            **view.facts(),
            "target_region": params.target_region,
            "failover_mode": params.failover_mode,
            "original_write_region": view.write_region,
        }
        if view.is_write_region(params.target_region):
            facts.update(action="none: already the write region", estimated_data_loss_seconds=0.0)
            facts["rpo_basis"] = "nothing failed over: no data lost"
            return StepProgress(
                done=True,
                summary=f"{params.target_region} already is the write region of {account.name}",
                detail=facts,
                rpo_estimate_seconds=0.0,
            )
        kind = expected_kind(params)
        rpo, basis = failover_rpo(view, kind)
        if ctx.is_drill:
            facts.update(
                action="none (drill: the account is only read)",
                failover_would_be=kind,
                estimated_data_loss_seconds=rpo,
                rpo_basis=basis,
                would_set_priorities=[
                    {"region": n, "failover_priority": p} for n, p in new_priorities(view, params.target_region)
                ],
            )
            return StepProgress(
                done=True,
                summary=f"drill: {account.name} writes in {view.write_region}; a {params.failover_mode} failover would "
                f"make {params.target_region} the write region ({kind}); nothing changed",
                detail=facts,
                rpo_estimate_seconds=rpo,
            )
        target = view.region(params.target_region)
        assert target is not None  # refusal() checked it
        if target.offline and kind == "forced":
            raise PreconditionError(
                f"{target.name} is offline in {account.name}: a forced failover cannot make it the write region; bring "
                "it online (onlineRegion, once the region is available) or use failover_mode planned",
                code="TargetRegionOffline",
            )
        phase: Phase = (
            "online_target" if target.offline else ("priority_change" if kind == "planned" else "offline_write_region")
        )
        facts.update(action=f"{kind} failover", started_failover=kind, estimated_data_loss_seconds=rpo, rpo_basis=basis)
        state = CosmosState(
            account_id=params.account_id,
            target_region=target.name,
            mode=params.failover_mode,
            phase=phase,
            original_write_region=view.write_region,
            ran=kind,
            reason=f"failover_mode {params.failover_mode}",
            rpo_estimate_seconds=rpo,
            rpo_basis=basis,
            facts=facts,
        )
        return self._start_phase(ctx, params, account, view, state)

    # -- poll -----------------------------------------------------------------------------------------
    def poll(
        self, ctx: StepContext, params: CosmosFailoverStep, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        current = CosmosState.model_validate(state)
        account = arm.Account.parse(current.account_id)
        if current.waiting_while_busy or current.operation is None:
            return self._start_phase(ctx, params, account, arm.read_account(account), current)
        what = f"{current.phase.replace('_', ' ')} of Cosmos DB account {account.name}"
        status = arm.operation_status(account, current.operation, what)
        if status.status == "InProgress":
            return _progress(current, status)
        failure = operation_failure(what, status)
        if failure is not None:
            return self._after_failure(ctx, params, account, current, failure)
        view = arm.read_account(account)
        if view.is_write_region(current.target_region):
            return _finish(current, view)
        if current.phase in ("online_target", "offline_write_region"):
            # The target is online now / the old write region is offline and another region took the writes:
            # a priority change among the regions that answer makes the target the write region.
            return self._start_phase(
                ctx, params, account, view, current.model_copy(update={"phase": "priority_change"})
            )
        if status.status == "Unknown":
            return self._start_phase(ctx, params, account, view, current)
        raise PermanentError(
            f"{account_what(account.name, current.target_region)}: the operation succeeded but the write region is "
            f"{view.write_region}",
            code="FailoverLost",
        )

    def _after_failure(
        self,
        ctx: StepContext,
        params: CosmosFailoverStep,
        account: arm.Account,
        state: CosmosState,
        failure: PermanentError,
    ) -> StepProgress:
        if state.phase == "priority_change" and state.mode == "planned_then_forced" and state.ran == "planned":
            view = arm.read_account(account)
            rpo, basis = forced_rpo(view)
            reason = (
                f"the planned failover did not complete ({failure.code}: the write region {view.write_region} did "
                "not take part): forced by taking it offline"
            )
            facts = {
                **state.facts,
                "planned_failure": failure.message,
                "estimated_data_loss_seconds": rpo,
                "rpo_basis": basis,
            }
            forced = state.model_copy(
                update={
                    "phase": "offline_write_region",
                    "operation": None,
                    "ran": "forced",
                    "reason": reason,
                    "rpo_estimate_seconds": rpo,
                    "rpo_basis": basis,
                    "facts": facts,
                }
            )
            return self._start_phase(ctx, params, account, view, forced)
        if state.phase == "priority_change" and state.ran == "planned" and state.mode == "planned":
            hint = PLANNED_NEEDS_WRITE_REGION.format(step=ctx.step_id)
            raise PermanentError(f"{failure.message}; {hint}", code=failure.code)
        raise failure

    def _start_phase(
        self,
        ctx: StepContext,
        params: CosmosFailoverStep,
        account: arm.Account,
        view: AccountView,
        state: CosmosState,
    ) -> StepProgress:
        """Start the state's phase (or find its work done); a busy account is waited for."""
        if view.is_write_region(state.target_region):
            return _finish(state, view)
        if state.phase == "online_target":
            target = view.region(state.target_region)
            if target is not None and not target.offline:
                return self._start_phase(
                    ctx, params, account, view, state.model_copy(update={"phase": "priority_change"})
                )
            operation = arm.start_online(account, state.target_region)
        elif state.phase == "priority_change":
            operation = arm.start_priority_change(account, new_priorities(view, state.target_region))
        else:
            write = view.write_region
            if write is None:
                raise PermanentError(f"account {account.name} reports no write region", code="NoWriteRegion")
            operation = arm.start_offline(account, write)
        if operation is None:
            waiting = state.model_copy(update={"waiting_while_busy": True, "operation": None})
            return _progress(waiting, None)
        started = state.model_copy(update={"operation": operation, "waiting_while_busy": False})
        if operation.completed_at_once:  # 204: the priorities were already these
            return self.poll(ctx, params, started.model_dump(mode="json"), [])
        return _progress(started, None)


def _progress(state: CosmosState, status: OperationStatus | None) -> StepProgress:
    account = state.account_id.rsplit("/", 1)[-1]
    doing = (
        "waiting: the account is busy with another operation"
        if state.waiting_while_busy
        else state.phase.replace("_", " ")
    )
    return state.report(
        done=False,
        summary=f"{account_what(account, state.target_region)}: {doing} ({state.ran} failover)",
        detail={**state.facts, "status": status.status if status else "started", "phase": state.phase},
        retry_after=state.latest_retry_after(status),
        poll_seconds=POLL_SECONDS,
    )


def _finish(state: CosmosState, view: AccountView) -> StepProgress:
    detail = {
        **state.facts,
        "status": "done",
        "write_region": view.write_region,
        "regions_after": view.facts()["regions"],
        "failover_ran": state.ran,
        "failover_reason": state.reason,
        "estimated_data_loss_seconds": state.rpo_estimate_seconds,
        "rpo_basis": state.rpo_basis,
    }
    return state.report(
        done=True,
        summary=f"{view.write_region} is the write region of {view.name} ({state.ran} failover)",
        detail=detail,
    )


def _seconds(value: float | None) -> str:
    return "an unknown amount of data" if value is None else f"{value:g} s of writes"
