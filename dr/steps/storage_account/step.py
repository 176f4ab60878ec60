"""The storage_account_failover kind: check reports every rule (:mod:`.rules`), begin refuses or starts the
failover, poll watches it and verifies the account where the plan wants it, a drill only reads.

Invariant: before its POST a failover tags the account with this run (``dr-failover-run``), the failover type and
what it may lose: a begin retried after the POST finds a failover running (or done) by this run and waits for it
or reports it, never asks again and never reports 0 for a loss it measured before.
"""

from __future__ import annotations

from typing import Any

from ...azure_lro import OperationStatus
from ...durations import iso
from ...errors import DrError, NotFoundError, PermanentError, PreconditionError
from ...plan import StorageAccountFailoverStep
from ..base import Check, StepContext, StepKind, StepProgress, refuse_sync
from . import arm
from .model import AccountRef, AccountView, FailoverState, FailoverType, region
from .rules import WHAT_IT_DOES, Assessment, assess, is_geo

TAG_RUN = "dr-failover-run"
TAG_TYPE = "dr-failover-type"
TAG_RPO = "dr-failover-rpo-seconds"
TAG_STARTED = "dr-failover-started"
# Refusals as error codes (the check's name says which rule; the code lets a report group them).
REFUSAL_CODES = {
    "geo_redundant": "NotGeoRedundant",
    "target_is_secondary": "TargetNotSecondary",
    "no_failover_running": "FailoverInProgress",
    "secondary_available": "SecondaryUnavailable",
    "can_failover": "FailoverNotAllowed",
    "primary_available": "PrimaryUnavailable",
    "supported_features": "UnsupportedFeature",
}


class StorageAccountFailover(StepKind[StorageAccountFailoverStep]):
    def check(self, ctx: StepContext, params: StorageAccountFailoverStep) -> list[Check]:
        ref = AccountRef.parse(params.account_id)
        try:
            view, tags = arm.read_account(ref)
        except NotFoundError as error:
            return [
                Check.failed(
                    "account_found",
                    f"{error.message}: check account_id of step {ctx.step_id!r}",
                    account_id=params.account_id,
                )
            ]
        return self._assess(ctx, params, view, tags).checks

    def begin(self, ctx: StepContext, params: StorageAccountFailoverStep) -> StepProgress:
        refuse_sync(ctx, self.kind)
        ref = AccountRef.parse(params.account_id)
        view, tags = arm.read_account(ref)
        found = self._assess(ctx, params, view, tags)
        facts: dict[str, Any] = {
            **view.facts(),
            "target_location": params.target_location,
            "failover_type_requested": params.failover_type,
            "primary_location_before": view.primary_location,
            "secondary_location_before": view.secondary_location,
            "sku_before": view.sku,
        }
        ours = tags.get(TAG_RUN) == ctx.run_id
        if found.already_done:
            return self._found_done(ctx, ref, view, tags, facts, by_this_run=ours and not ctx.is_drill)
        kind = found.failover_type or "unplanned"
        facts.update(
            failover_type=kind,
            failover_type_reason=found.why,
            what_it_does=WHAT_IT_DOES[kind],
            last_sync_time=iso(view.geo.last_sync_time) if view.geo and view.geo.last_sync_time else None,
            estimated_data_loss_seconds=found.rpo_seconds,
            rpo_basis=found.rpo_basis,
        )
        if ctx.is_drill:
            return _drill(ref, facts, found)
        state = FailoverState(
            account_id=params.account_id,
            target_location=params.target_location,
            failover_type=kind,
            rpo_estimate_seconds=found.rpo_seconds,
            rpo_basis=found.rpo_basis,
            facts=facts,
        )
        if view.failover_in_progress and ours:  # this run's own failover, from an earlier try of begin
            return self._progress(params, state.model_copy(update={"waiting_for_running_failover": True}), None)
        _raise_refusal(ctx, found)
        return self._start(ctx, params, ref, tags, state)

    def poll(
        self,
        ctx: StepContext,
        params: StorageAccountFailoverStep,
        state: dict[str, Any],
        work_results: list[dict[str, Any]],
    ) -> StepProgress:
        current = FailoverState.model_validate(state)
        ref = AccountRef.parse(current.account_id)
        what = _what(ref, current)
        status: OperationStatus | None = None
        if current.operation is not None:
            status = arm.operation_status(ref, current.operation, what)
            if status.status in ("Failed", "Canceled"):
                code = status.error_code or "FailoverFailed"
                raise PermanentError(
                    f"{what} {status.status.lower()}: {code}: {status.error_message or 'no message'}", code=code
                )
            if status.status == "InProgress":
                return self._progress(params, current, status)
        view, tags = arm.read_account(ref)
        if view.failover_in_progress:
            return self._progress(params, current, status)
        if region(view.primary_location) == region(current.target_location):
            return self._finish(current, view)
        if current.waiting_for_running_failover:
            # The failover that was running is over and left the primary elsewhere: ask for ours now.
            _raise_refusal(ctx, self._assess(ctx, params, view, tags))
            waiting = current.model_copy(update={"waiting_for_running_failover": False})
            return self._start(ctx, params, ref, tags, waiting)
        raise PermanentError(
            f"{what}: the operation ended ({status.status if status else 'no longer known to ARM'}) but the primary "
            f"is still {view.primary_location}",
            code="FailoverLost",
        )

    # -- helpers ---------------------------------------------------------------------------------------------
    def _assess(
        self, ctx: StepContext, params: StorageAccountFailoverStep, view: AccountView, tags: dict[str, str]
    ) -> Assessment:
        return assess(
            view,
            target_location=params.target_location,
            requested=params.failover_type,
            step_id=ctx.step_id,
            now=ctx.now,
            running_is_ours=tags.get(TAG_RUN) == ctx.run_id,
        )

    def _start(
        self,
        ctx: StepContext,
        params: StorageAccountFailoverStep,
        ref: AccountRef,
        tags: dict[str, str],
        state: FailoverState,
    ) -> StepProgress:
        warnings = list(state.warnings)
        record = {
            **tags,
            TAG_RUN: ctx.run_id,
            TAG_TYPE: state.failover_type,
            TAG_RPO: "unknown" if state.rpo_estimate_seconds is None else f"{state.rpo_estimate_seconds:g}",
            TAG_STARTED: iso(ctx.now),
        }
        try:
            arm.write_tags(ref, record)
        except DrError as error:  # the record only helps a retried begin: the failover matters more
            warnings.append(f"could not tag storage account {ref.name} with this run ({error.code}): {error.message}")
        operation = arm.start_failover(ref, state.failover_type, _what(ref, state))
        facts = {**state.facts, "started_at": iso(ctx.now)}
        started = state.model_copy(
            update={
                "operation": operation,
                "waiting_for_running_failover": operation is None,
                "facts": facts,
                "warnings": warnings,
            }
        )
        return self._progress(params, started, None)

    def _found_done(
        self,
        ctx: StepContext,
        ref: AccountRef,
        view: AccountView,
        tags: dict[str, str],
        facts: dict[str, Any],
        *,
        by_this_run: bool,
    ) -> StepProgress:
        """The primary is already where the plan wants it: this run's failover finished before this call (a
        retried begin: its record says what it lost), or there is nothing to do."""
        if by_this_run:
            recorded = tags.get(TAG_RPO, "unknown")
            rpo = None if recorded == "unknown" else float(recorded)
            kind = tags.get(TAG_TYPE, "unplanned")
            basis = (
                f"as measured before this run's {kind} failover (the account's dr-failover tags): "
                + ("no data loss" if rpo == 0 else "now - lastSyncTime at the failover's start")
                if rpo is not None
                else "unknown: the Last Sync Time was not read before this run's failover"
            )
            facts.update(action=f"{kind} failover (completed before this call looked)", failover_type=kind)
            summary = f"storage account {ref.name}: primary now {view.primary_location} ({kind} failover)"
        else:
            rpo, basis = 0.0, "nothing to fail over: the primary is already the target region"
            facts.update(action="none: the primary is already the target")
            summary = f"storage account {ref.name}: primary already {view.primary_location}; nothing to do"
        facts.update(estimated_data_loss_seconds=rpo, rpo_basis=basis, status="done")
        return StepProgress(done=True, summary=summary, detail=facts, rpo_estimate_seconds=rpo)

    def _finish(self, state: FailoverState, view: AccountView) -> StepProgress:
        warnings = list(state.warnings)
        facts = {
            **state.facts,
            "action": f"{state.failover_type} failover",
            "status": "done",
            "primary_location_after": view.primary_location,
            "secondary_location_after": view.secondary_location,
            "sku_after": view.sku,
            "geo_redundant_after": is_geo(view.sku),
        }
        if not is_geo(view.sku):
            warnings.append(
                f"storage account {view.name} is {view.sku} in {view.primary_location} now, with no secondary: "
                "re-enable geo-redundancy (GRS or GZRS) to protect it again; a failback needs it"
            )
        finished = state.model_copy(update={"facts": facts, "warnings": warnings})
        return finished.report(
            done=True,
            summary=f"storage account {view.name}: primary now {view.primary_location} "
            f"({state.failover_type} failover)",
            detail=facts,
        )

    def _progress(
        self, params: StorageAccountFailoverStep, state: FailoverState, status: OperationStatus | None
    ) -> StepProgress:
        # A look that gave no Retry-After falls back on the one ARM answered the failover's start with.
        retry_after = status.retry_after_seconds if status else None
        if retry_after is None and state.operation is not None:
            retry_after = state.operation.retry_after_seconds
        running = "waiting for the failover already running" if state.waiting_for_running_failover else "InProgress"
        name = AccountRef.parse(state.account_id).name
        return state.report(
            done=False,
            summary=f"{state.failover_type} failover of storage account {name} to {state.target_location}: {running}",
            detail={**state.facts, "status": running},
            retry_after=retry_after,
            poll_seconds=params.poll_interval.total_seconds(),
        )


def _raise_refusal(ctx: StepContext, found: Assessment) -> None:
    """The first rule that refuses the failover, as begin's error (nothing when every rule passed)."""
    refusal = found.refusal
    if refusal is not None:
        raise PreconditionError(
            f"step {ctx.step_id!r}: {refusal.message}", code=REFUSAL_CODES.get(refusal.name, "FailoverRefused")
        )


def _what(ref: AccountRef, state: FailoverState) -> str:
    return f"{state.failover_type} failover of storage account {ref.name} to {state.target_location}"


def _drill(ref: AccountRef, facts: dict[str, Any], found: Assessment) -> StepProgress:
    kind: FailoverType = found.failover_type or "unplanned"
    refusal = found.refusal
    verdict = f"it would be refused: {refusal.message}" if refusal else f"a {kind} failover would run now"
    lost = (
        "nothing"
        if found.rpo_seconds == 0
        else ("an unknown amount" if found.rpo_seconds is None else f"{found.rpo_seconds:g} s")
    )
    facts.update(
        action="none (drill: the account is only read)",
        failover_would_be=kind,
        failover_would_be_refused=refusal.message if refusal else None,
        status="done",
    )
    return StepProgress(
        done=True,
        summary=f"drill: storage account {ref.name} left alone; {verdict}; it would lose {lost}",
        detail=facts,
        warnings=[refusal.message] if refusal else [],
        rpo_estimate_seconds=found.rpo_seconds,
    )
