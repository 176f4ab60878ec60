"""The traffic_manager_failover step: check reports the rules, begin switches (once they all pass), poll
verifies, teardown restores a drill's test profile. The rules come from :mod:`.gate`, decisions from
:mod:`.planner`, Azure from :mod:`.arm`, probes from :mod:`.probes`.

Invariant: nothing is written before every rule of :mod:`.gate` passed (secondary fit, switch reaches it,
cool-down), and the record a retried call needs (the anti-flap tags, a drill's baseline tag) is written before
the first PATCH.
"""

from __future__ import annotations

from typing import Any

from ...durations import iso
from ...plan import TrafficManagerFailoverStep
from ...probe import redact_url
from ..base import Check, StepContext, StepKind, StepProgress, TeardownResult
from ..switch import marked_by, recorded_baseline, verify_progress, with_mark, without_mark
from .arm import apply_patches, read_profile, write_tags
from .gate import assess, observations
from .model import (
    TAG_LAST_FAILOVER,
    TAG_LAST_FAILOVER_PLAN,
    TAG_LAST_FAILOVER_RUN,
    EndpointSetting,
    ProfileView,
    TrafficState,
)
from .planner import (
    convergence,
    decode_baseline,
    describe_answer,
    dns_answer,
    encode_baseline,
    names,
    patches_towards,
    routing_problems,
)
from .probes import probe_endpoints


class TrafficManagerFailover(StepKind[TrafficManagerFailoverStep]):
    # -- check ----------------------------------------------------------------------------------------
    def check(self, ctx: StepContext, params: TrafficManagerFailoverStep) -> list[Check]:
        """Every rule begin applies, from the same code (:func:`.gate.assess`), plus what an operator should
        know of the profile: the primary's state and how long clients take to follow."""
        gate = assess(ctx, params, exhaustive=True)
        return gate.checks + (observations(gate.profile, params) if gate.profile is not None else [])

    # -- begin ----------------------------------------------------------------------------------------
    def begin(self, ctx: StepContext, params: TrafficManagerFailoverStep) -> StepProgress:
        gate = assess(ctx, params, exhaustive=False)
        profile, desired, patches = gate.cleared()
        live = gate.live
        to_names = names(profile, params.to_endpoints)
        detail: dict[str, Any] = {
            "profile": profile.name,
            "profile_id": profile.id,
            "mode": "failover" if not ctx.is_drill else ("drill (test profile)" if live else "drill (read only)"),
            "routing_method": profile.routing_method,
            "switch": params.switch,
            "from_endpoints": names(profile, params.from_endpoints),
            "to_endpoints": to_names,
            "dns_answer_before": describe_answer(profile, dns_answer(profile)),
            "expected_dns_convergence_seconds": convergence(profile)["seconds"],
            "convergence": convergence(profile),
        }
        warnings = list(gate.warnings)
        baseline = self._drill_baseline(ctx, profile, desired) if live and ctx.is_drill else {}
        if not patches and live:
            # Desired state already reached (a re-run, or someone switched by hand): touch nothing.
            detail.update(already_switched=True, changes=[])
            summary = f"{profile.name}: already switched to {', '.join(to_names)}"
            return _switched(
                ctx, params, profile.id, baseline, StepProgress(summary=summary, detail=detail, warnings=warnings)
            )

        detail["changes" if live else "would_change"] = [patch.describe() for patch in patches]
        if gate.cooldown_forced:
            detail["cooldown_forced"] = True
        detail["secondary"] = gate.secondary

        if not live:
            summary = (
                f"drill: {profile.name} left alone; a failover would make {len(patches)} change(s)"
                if patches
                else f"drill: {profile.name} already routes to {', '.join(to_names)}"
            )
            return StepProgress(done=True, summary=summary, detail=detail, warnings=warnings)

        warnings += _write_record(ctx, profile, baseline)
        apply_patches(profile, patches)
        detail["already_switched"] = False
        summary = f"{profile.name}: switched to {', '.join(to_names)} ({len(patches)} PATCH(es)); verifying"
        return _switched(
            ctx, params, profile.id, baseline, StepProgress(summary=summary, detail=detail, warnings=warnings)
        )

    def _drill_baseline(
        self, ctx: StepContext, profile: ProfileView, desired: dict[str, EndpointSetting]
    ) -> dict[str, EndpointSetting]:
        """The test profile's settings before this run touched it: from its tag when this run already
        started switching it (a retried begin), else as read now."""
        recorded = recorded_baseline(profile.tags, ctx.run_id, decode_baseline)
        if recorded is not None:
            return recorded
        return {name: profile.endpoint(name).setting for name in desired}

    # -- poll -----------------------------------------------------------------------------------------
    def poll(
        self,
        ctx: StepContext,
        params: TrafficManagerFailoverStep,
        state: dict[str, Any],
        work_results: list[dict[str, Any]],
    ) -> StepProgress:
        switch = TrafficState.model_validate(state)
        profile = read_profile(switch.profile_id)
        answer = dns_answer(profile)
        expected_online, problems = routing_problems(profile, params, answer)
        probes: list[dict[str, Any]] = []
        if not problems:
            probes, failed = probe_endpoints(profile, params, expected_online)
            problems += [f"health {redact_url(target.url)}: {result.describe()}" for target, result in failed]

        seen = f"DNS would answer {describe_answer(profile, answer)}" + (f"; {'; '.join(problems)}" if problems else "")
        elapsed = round((ctx.now - switch.switched_at).total_seconds(), 1)
        detail: dict[str, Any] = {
            "profile": profile.name,
            "dns_answer": describe_answer(profile, answer),
            "expected_dns_convergence_seconds": convergence(profile)["seconds"],
            "seconds_since_switch": elapsed,
        }
        if probes:
            detail["health"] = probes
        return verify_progress(
            ctx,
            params,
            switch.verify_deadline,
            verified=not problems,
            name=profile.name,
            subject=repr(profile.name),
            seen=seen,
            elapsed=elapsed,
            state=switch.dump(),
            detail=detail,
        )

    # -- teardown -------------------------------------------------------------------------------------
    def teardown(
        self,
        ctx: StepContext,
        params: TrafficManagerFailoverStep,
        state: dict[str, Any],
        previous: TeardownResult | None = None,
    ) -> dict[str, Any]:
        if not ctx.is_drill or params.drill_profile_id is None:
            return {"teardown": "nothing to undo (the production profile was only read)"}
        profile = read_profile(params.drill_profile_id)
        original = TrafficState.model_validate(state).original if state else None
        baseline = original or recorded_baseline(profile.tags, ctx.run_id, decode_baseline)
        if baseline is None:
            return {"teardown": "nothing to undo (this run did not switch the test profile)"}
        patches = patches_towards(profile, baseline)
        apply_patches(profile, patches)
        if marked_by(profile.tags, ctx.run_id):
            write_tags(profile, without_mark(profile.tags))
        return {
            "teardown": "restored" if patches else "already restored",
            "profile": profile.name,
            "changes": [patch.describe() for patch in patches],
        }


def _write_record(ctx: StepContext, profile: ProfileView, baseline: dict[str, EndpointSetting]) -> list[str]:
    """Tag the profile before its first PATCH, once per run: a failover's anti-flap record (so a retried
    begin of this run is not refused by it), a drill's run and baseline (so a retried begin after a partial
    switch still knows the true baseline). Answers the warnings."""
    if ctx.is_drill:
        if marked_by(profile.tags, ctx.run_id):
            return []
        tags, warnings = with_mark(profile.tags, ctx.run_id, encode_baseline(baseline))
        write_tags(profile, tags)
        return warnings
    if profile.tags.get(TAG_LAST_FAILOVER_RUN) != ctx.run_id:
        write_tags(
            profile,
            {
                **profile.tags,
                TAG_LAST_FAILOVER: iso(ctx.now),
                TAG_LAST_FAILOVER_RUN: ctx.run_id,
                TAG_LAST_FAILOVER_PLAN: ctx.plan_name,
            },
        )
    return []


def _switched(
    ctx: StepContext,
    params: TrafficManagerFailoverStep,
    profile_id: str,
    baseline: dict[str, EndpointSetting],
    report: StepProgress,
) -> StepProgress:
    """``report`` (summary, detail, warnings) with the state poll and teardown need, and poll's interval."""
    state = TrafficState(
        profile_id=profile_id,
        switched_at=ctx.now,
        verify_deadline=ctx.now + params.verify_window,
        original=baseline or None,
    )
    return report.model_copy(update={"state": state.dump(), "poll_after_seconds": params.poll_interval.total_seconds()})
