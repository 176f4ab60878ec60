"""The app_scale kind: check reports what a run would change and why it could not, begin records the before values
and changes what differs, poll reads back until the plan and the apps are as wanted, teardown puts a drill's
resources back.

Invariant: every resource's before value is read and kept in the state (and the report) before anything is
changed, so a failback or a drill's teardown restores what was there, not what a default says.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ...errors import NotFoundError, PermanentError, PreconditionError
from ...plan import AppScaleStep
from ..base import Check, StepContext, StepKind, StepProgress, TeardownResult, refuse_sync
from . import arm
from .planner import (
    PlanTarget,
    PlanView,
    SiteState,
    SiteTarget,
    SiteView,
    describe_plan_change,
    describe_site_change,
    desired_capacity,
    plan_converged,
    scale_problem,
    site_converged,
)

TEARDOWN_POLL_SECONDS = 10.0


class ScaleState(BaseModel):
    """What the step remembers between calls (small: one plan, a few apps)."""

    plan: PlanTarget | None = None
    sites: list[SiteTarget] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict)


def _targets(ctx: StepContext, params: AppScaleStep) -> tuple[tuple[str, bool] | None, list[tuple[str, bool]]]:
    """(plan id, acted on) and [(app id, acted on)]: a drill acts on its drill_* resources, reads the others."""
    if not ctx.is_drill:
        plan = (params.plan_id, True) if params.plan_id else None
        return plan, [(site, True) for site in params.site_ids]
    plan_id = params.drill_plan_id or params.plan_id
    drill_plan = (plan_id, params.drill_plan_id is not None) if plan_id else None
    if params.drill_site_ids:
        return drill_plan, [(site, True) for site in params.drill_site_ids]
    return drill_plan, [(site, False) for site in params.site_ids]


class AppScale(StepKind[AppScaleStep]):
    def check(self, ctx: StepContext, params: AppScaleStep) -> list[Check]:
        plan_target, site_targets = _targets(ctx, params)
        checks: list[Check] = []
        changes: list[str] = []
        if plan_target is not None and params.instance_count is not None:
            plan_id, live = plan_target
            try:
                plan, _ = arm.read_plan(plan_id)
            except NotFoundError as error:
                checks.append(Check.failed("plan_found", f"{error.message}: check plan_id of step {ctx.step_id!r}"))
            else:
                desired = desired_capacity(params.scale, params.instance_count, plan.capacity)
                checks.append(_plan_check(plan, desired, live))
                if plan.capacity != desired:
                    changes.append(describe_plan_change(plan, desired))
        for site_id, live in site_targets:
            try:
                site = arm.read_site(site_id)
            except NotFoundError as error:
                checks.append(Check.failed("app_found", f"{error.message}: check site_ids of step {ctx.step_id!r}"))
                continue
            checks.append(
                Check.passed(
                    "app_found",
                    f"app {site.name} found ({site.state}, {site.location})"
                    + ("" if live else " (read only in this run)"),
                    app=site.name,
                    state=site.state,
                )
            )
            if not site_converged(site, params.site_state):
                changes.append(describe_site_change(site, params.site_state))
        checks.append(
            Check.passed(
                "changes",
                ("a run would " + "; ".join(changes)) if changes else "nothing to change: already as the plan wants",
                changes=changes,
            )
        )
        return checks

    def begin(self, ctx: StepContext, params: AppScaleStep) -> StepProgress:
        refuse_sync(ctx, self.kind)
        plan_target, site_targets = _targets(ctx, params)
        state = ScaleState()
        would: list[str] = []
        changes: list[str] = []
        if plan_target is not None and params.instance_count is not None:
            plan_id, live = plan_target
            plan, model = arm.read_plan(plan_id)
            desired = desired_capacity(params.scale, params.instance_count, plan.capacity)
            problem = scale_problem(plan, desired)
            target = PlanTarget(
                id=plan_id, live=live, desired=desired, before_capacity=plan.capacity, before_workers=plan.workers
            )
            state.facts["plan_before"] = {**plan.facts(), "name": plan.name}
            if problem is not None and live:
                raise PreconditionError(f"step {ctx.step_id!r}: {problem}", code="CannotScale")
            if plan.capacity != desired:
                (changes if live else would).append(describe_plan_change(plan, desired))
            if live and not plan_converged(plan, desired):
                target = self._scale(target, plan, model)
            state.plan = target
        for site_id, live in site_targets:
            site = arm.read_site(site_id)
            target_site = SiteTarget(
                id=site_id, name=site.name, live=live, desired=params.site_state, before=site.state
            )
            if not site_converged(site, params.site_state):
                (changes if live else would).append(describe_site_change(site, params.site_state))
                if live:
                    arm.set_site_state(site_id, params.site_state)
                    target_site.changed = True
            state.sites.append(target_site)
        state.facts["sites_before"] = {site.id: site.before for site in state.sites}
        state.facts["changes"] = changes
        if ctx.is_drill:
            state.facts["would_change"] = would
        state.facts["action"] = (
            "; ".join(changes)
            if changes
            else ("none (drill: production only read)" if ctx.is_drill and would else "none: already as wanted")
        )
        return self._look(params, state, first=True)

    def poll(
        self, ctx: StepContext, params: AppScaleStep, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        return self._look(params, ScaleState.model_validate(state), first=False)

    def teardown(
        self,
        ctx: StepContext,
        params: AppScaleStep,
        state: dict[str, Any],
        previous: TeardownResult | None = None,
    ) -> dict[str, Any]:
        """A drill's own resources back to what they were (production was only read: nothing to undo)."""
        if not ctx.is_drill or not state:
            return {"teardown": "nothing to undo (production was only read)"}
        current = ScaleState.model_validate(state)
        earlier = previous.as_dict().get("restored") if previous is not None else None
        restored: list[str] = [str(item) for item in earlier or []]  # what an earlier call of this undo did
        for site in current.sites:
            if site.live and site.changed and site.before in ("Running", "Stopped"):
                view = arm.read_site(site.id)
                before: SiteState = "Running" if site.before == "Running" else "Stopped"
                if not site_converged(view, before):
                    arm.set_site_state(site.id, before)
                    restored.append(f"app {site.name} back to {before}")
        plan = current.plan
        if plan is not None and plan.live and plan.changed:
            plan_view, model = arm.read_plan(plan.id)
            if not plan_converged(plan_view, plan.before_capacity):
                if not plan_view.scaling:
                    arm.start_scale(plan.id, model, plan.before_capacity)
                return {
                    "teardown": f"scaling App Service plan {plan_view.name} back to {plan.before_capacity}",
                    "done": False,
                    "poll_after_seconds": TEARDOWN_POLL_SECONDS,
                    "restored": restored,
                }
            restored.append(f"App Service plan {plan_view.name} back to {plan.before_capacity} instance(s)")
        return {"teardown": "restored" if restored else "nothing to undo", "restored": restored}

    # -- helpers ---------------------------------------------------------------------------------------------
    def _scale(self, target: PlanTarget, plan: PlanView, model: Any) -> PlanTarget:
        """Ask for the scale unless one is running (maybe this step's own, from an earlier try of the activity:
        then it is waited for and the count checked again)."""
        if plan.scaling:
            return target.model_copy(update={"waiting_while_busy": True})
        operation = arm.start_scale(target.id, model, target.desired)
        return target.model_copy(
            update={"operation": operation, "waiting_while_busy": operation is None, "changed": True}
        )

    def _look(self, params: AppScaleStep, state: ScaleState, *, first: bool) -> StepProgress:
        """Read back every resource the run changes; done when all are as wanted."""
        pending: list[str] = []
        plan = state.plan
        if plan is not None and plan.live:
            if plan.operation is not None and not first:
                status = arm.operation_status(plan.id, plan.operation)
                if status.status in ("Failed", "Canceled"):
                    code = status.error_code or "ScaleFailed"
                    raise PermanentError(
                        f"scale of App Service plan {arm.WebRef.parse(plan.id).name} to {plan.desired} "
                        f"{status.status.lower()}: {code}: {status.error_message or 'no message'}",
                        code=code,
                    )
            view, model = arm.read_plan(plan.id)
            state.facts["plan_after"] = {**view.facts(), "name": view.name}
            if not plan_converged(view, plan.desired):
                if not view.scaling and plan.waiting_while_busy:
                    plan = self._scale(plan, view, model)  # the other operation ended elsewhere: ask for ours
                    state.plan = plan
                pending.append(
                    f"plan {view.name}: {view.capacity} asked, {view.workers} running, {plan.desired} wanted"
                )
        after: dict[str, str | None] = {}
        for site in state.sites:
            if not site.live:
                continue
            view_site: SiteView = (
                arm.read_site(site.id)
                if not first or site.changed
                else SiteView(id=site.id, name=site.name, state=site.before)
            )
            after[site.id] = view_site.state
            if not site_converged(view_site, site.desired):
                arm.set_site_state(site.id, site.desired)  # idempotent: ask again until it reads as wanted
                site.changed = True
                pending.append(f"app {site.name}: {view_site.state}, {site.desired} wanted")
        if after:
            state.facts["sites_after"] = after
        done = not pending
        summary = f"{state.facts.get('action')}: verified" if done else f"waiting: {'; '.join(pending)}"
        detail = {**state.facts, "status": "done" if done else "in progress", "pending": pending}
        return StepProgress(
            done=done,
            state=state.model_dump(mode="json"),
            poll_after_seconds=0.0 if done else params.poll_interval.total_seconds(),
            summary=summary,
            detail=detail,
        )


def _plan_check(plan: PlanView, desired: int, live: bool) -> Check:
    problem = scale_problem(plan, desired)
    facts = {**plan.facts(), "desired": desired}
    if problem is not None:
        return (
            Check.failed("plan_scalable", problem, **facts)
            if live
            else Check.warning("plan_scalable", problem, **facts)
        )
    if plan.scaling:
        return Check.warning(
            "plan_scalable",
            f"App Service plan {plan.name} is being scaled now (provisioningState InProgress): a run waits for it",
            **facts,
        )
    return Check.passed(
        "plan_scalable",
        f"App Service plan {plan.name} ({plan.sku}, {plan.capacity} instance(s), at most {plan.max_workers}) can "
        f"run {desired}" + ("" if live else " (read only in this run)"),
        **facts,
    )
