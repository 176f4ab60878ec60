"""The front_door_origins step: check reports the rules, begin starts the origin PATCHes (once they all pass),
poll follows them and verifies, teardown restores a drill's test profile. Rules from :mod:`.gate`, decisions
from :mod:`.planner`, Azure from :mod:`.arm`.

Invariant: nothing is written before every rule of :mod:`.gate` passed, and a drill's baseline tag is written
before its first PATCH (a retried begin after a partial switch still knows the true baseline).
"""

from __future__ import annotations

from typing import Any

from ...errors import PermanentError
from ...plan import FrontDoorOriginsStep
from ..base import Check, StepContext, StepKind, StepProgress, TeardownResult
from ..switch import TAG_DRILL_RUN, marked_by, recorded_baseline, verify_progress, with_mark, without_mark
from .arm import operation_status, read_group, read_health, start_patch, write_profile_tags
from .gate import assess, observations, probe_origin, target_group_id
from .model import FrontDoorState, OriginGroupView, OriginSetting, PendingPatch
from .planner import decode_baseline, encode_baseline, names, patches_towards, routing_problems, serving


class FrontDoorOrigins(StepKind[FrontDoorOriginsStep]):
    # -- check ----------------------------------------------------------------------------------------
    def check(self, ctx: StepContext, params: FrontDoorOriginsStep) -> list[Check]:
        gate = assess(ctx, params, exhaustive=True)
        return gate.checks + observations(gate, params)

    # -- begin ----------------------------------------------------------------------------------------
    def begin(self, ctx: StepContext, params: FrontDoorOriginsStep) -> StepProgress:
        gate = assess(ctx, params, exhaustive=False)
        group, desired, patches = gate.cleared()
        to_names = names(group, params.to_origins)
        detail: dict[str, Any] = {
            "origin_group": f"{group.profile}/{group.name}",
            "origin_group_id": group.id,
            "mode": "failover" if not ctx.is_drill else ("drill (test profile)" if gate.live else "drill (read only)"),
            "switch": params.switch,
            "from_origins": names(group, params.from_origins),
            "to_origins": to_names,
            "routed_before": serving(group, gate.health, params.min_health_percent),
        }
        if gate.secondary is not None:
            detail["secondary"] = gate.secondary
        if not patches and gate.live:
            detail.update(already_switched=True, changes=[])
            summary = f"{group.profile}/{group.name}: already switched to {', '.join(to_names)}"
            return self._switched(ctx, params, group, {}, [], StepProgress(summary=summary, detail=detail))
        detail["changes" if gate.live else "would_change"] = [patch.describe() for patch in patches]
        if not gate.live:
            summary = (
                f"drill: {group.profile}/{group.name} left alone; a failover would make {len(patches)} change(s)"
                if patches
                else f"drill: {group.profile}/{group.name} already routes to {', '.join(to_names)}"
            )
            return StepProgress(done=True, summary=summary, detail=detail, warnings=gate.warnings)

        baseline = self._drill_baseline(ctx, group, desired) if ctx.is_drill else {}
        warnings = list(gate.warnings)
        if ctx.is_drill:
            warnings += _write_drill_tags(ctx, group, baseline)
        pending = [PendingPatch(origin=p.origin, operation=start_patch(group, p.origin, p.change)) for p in patches]
        detail["already_switched"] = False
        summary = f"{group.profile}/{group.name}: {len(patches)} origin update(s) started towards {', '.join(to_names)}"
        progress = StepProgress(summary=summary, detail=detail, warnings=warnings)
        return self._switched(ctx, params, group, baseline, pending, progress)

    def _drill_baseline(
        self, ctx: StepContext, group: OriginGroupView, desired: dict[str, OriginSetting]
    ) -> dict[str, OriginSetting]:
        """The test group's settings before this run touched it: from its tag when this run already started (a
        retried begin), else as read now."""
        recorded = recorded_baseline(group.profile_tags, ctx.run_id, decode_baseline)
        if recorded is not None:
            return recorded
        return {name: group.origin(name).setting for name in desired}

    def _switched(
        self,
        ctx: StepContext,
        params: FrontDoorOriginsStep,
        group: OriginGroupView,
        baseline: dict[str, OriginSetting],
        pending: list[PendingPatch],
        progress: StepProgress,
    ) -> StepProgress:
        state = FrontDoorState(
            origin_group_id=group.id,
            switched_at=ctx.now,
            verify_deadline=ctx.now + params.verify_window,
            pending=pending,
            original=baseline or None,
            facts={k: v for k, v in progress.detail.items() if k != "secondary"},
        )
        return progress.model_copy(
            update={"state": state.dump(), "poll_after_seconds": params.poll_interval.total_seconds()}
        )

    # -- poll -----------------------------------------------------------------------------------------
    def poll(
        self, ctx: StepContext, params: FrontDoorOriginsStep, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        switch = FrontDoorState.model_validate(state)
        group = read_group(switch.origin_group_id)
        elapsed = round((ctx.now - switch.switched_at).total_seconds(), 1)
        problems: list[str] = []
        still_pending = _follow(group, switch.pending)
        if still_pending:
            problems.append(f"deploying: {', '.join(item.origin for item in still_pending)}")
        health = read_health(group, ctx.now)
        if not still_pending:
            problems += routing_problems(group, params, health)
        probes: list[dict[str, Any]] = []
        if not problems:
            # A to_origin Front Door has no data point for yet: its probe stands in for Front Door's.
            for name in (n for n in names(group, params.to_origins) if health.of(n) is None):
                facts, result = probe_origin(group.origin(name), group, params)
                probes.append(facts)
                if not result.ok:
                    problems.append(f"probe of {name} at {facts['url']}: {result.describe()}")
        routed = serving(group, health, params.min_health_percent)
        detail: dict[str, Any] = {
            **switch.facts,
            "routed_to": routed,
            "origin_health_percent": dict(health.percent),
            "seconds_since_switch": elapsed,
        }
        if not health.readable:
            detail["health_metric"] = f"unreadable: {health.reason}"
        if probes:
            detail["probes"] = probes
        remembered = switch.model_copy(update={"pending": still_pending})
        seen = f"Front Door routes to {', '.join(routed) or 'no origin'}" + (
            f"; {'; '.join(problems)}" if problems else ""
        )
        return verify_progress(
            ctx,
            params,
            switch.verify_deadline,
            verified=not problems,
            name=group.name,
            subject=f"origin group {group.profile}/{group.name}",
            seen=seen,
            elapsed=elapsed,
            state=remembered.dump(),
            detail=detail,
        )

    # -- teardown -------------------------------------------------------------------------------------
    def teardown(
        self,
        ctx: StepContext,
        params: FrontDoorOriginsStep,
        state: dict[str, Any],
        previous: TeardownResult | None = None,
    ) -> dict[str, Any]:
        if not ctx.is_drill or params.drill_profile_id is None:
            return {"teardown": "nothing to undo (the production origin group was only read)"}
        group = read_group(target_group_id(ctx, params))
        tags = group.profile_tags
        original = FrontDoorState.model_validate(state).original if state else None
        baseline = original or recorded_baseline(tags, ctx.run_id, decode_baseline)
        if baseline is None:
            return {"teardown": "nothing to undo (this run did not switch the test profile)"}
        patches = patches_towards(group, baseline)
        for patch in patches:
            start_patch(group, patch.origin, patch.change)
        if marked_by(tags, ctx.run_id):
            write_profile_tags(group, without_mark(tags))
        return {
            "teardown": "restored" if patches else "already restored",
            "origin_group": f"{group.profile}/{group.name}",
            "changes": [patch.describe() for patch in patches],
        }


def _follow(group: OriginGroupView, pending: list[PendingPatch]) -> list[PendingPatch]:
    """One look at each PATCH begin started: those still running (a failed one fails the step)."""
    running: list[PendingPatch] = []
    for item in pending:
        status = operation_status(group, item.operation, item.origin)
        if status.status in ("Failed", "Canceled"):
            raise PermanentError(
                f"the update of origin {item.origin} of {group.profile}/{group.name} ended {status.status}: "
                f"{status.error_code or 'no code'}: {status.error_message or 'no message'}; the origin group may be "
                "half switched: check its origins in the portal",
                code="OriginUpdateFailed",
            )
        if not status.finished and status.status != "Unknown":
            running.append(item)
    return running


def _write_drill_tags(ctx: StepContext, group: OriginGroupView, baseline: dict[str, OriginSetting]) -> list[str]:
    """Tag the test profile with this run and its baseline, once, before the first PATCH."""
    if marked_by(group.profile_tags, ctx.run_id):
        return []
    warnings: list[str] = []
    other = group.profile_tags.get(TAG_DRILL_RUN)
    if other:
        warnings.append(
            f"test profile {group.profile!r} still carried drill run {other}: its teardown may not have run; this "
            "drill takes the profile as it is now as its baseline"
        )
    tags, too_long = with_mark(group.profile_tags, ctx.run_id, encode_baseline(baseline))
    write_profile_tags(group, tags)
    return warnings + too_long
