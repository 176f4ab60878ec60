"""The rules that decide, before anything is written, whether the switch may go ahead, applied by one function
for both of its callers: ``begin`` raises the first refusal and writes nothing, the pre-flight ``check``
reports every verdict. One code path is the point: a pre-flight that disagrees with begin lets a failover
change the databases and then stop at the traffic switch, leaving the estate split across two regions.

The rules, in begin's order: the run's mode; the profile exists (a drill's test profile when it has one) and is
enabled;
every from/to endpoint exists; the profile's routing method fits the switch; the changes can be planned
(already switched: begin changes nothing and applies no further rule); the cool-down (a failover refuses
unless forced, a drill only warns); the secondary is fit (Traffic Manager's monitor status and one bounded
probe of its health URL); the switch would make DNS answer with the secondary.

Invariant: reads only (the profile, one probe per health target); every failed verdict carries the very error
begin raises for it, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...durations import format_duration
from ...errors import DrError, InvalidInputError, NotFoundError, PreconditionError
from ...plan import TrafficManagerFailoverStep
from ...probe import redact_url
from ..base import Check, StepContext
from ..switch import TAG_DRILL_RUN, Verdicts
from .arm import read_profile
from .model import (
    TAG_LAST_FAILOVER,
    TAG_LAST_FAILOVER_RUN,
    UNFIT_SECONDARY,
    EndpointSetting,
    EndpointView,
    ProfileView,
)
from .planner import (
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_TOLERATED_FAILURES,
    DEFAULT_TTL_SECONDS,
    EndpointPatch,
    convergence,
    cooldown_refusal,
    desired_settings,
    patches_towards,
    unreached_secondary,
)
from .probes import probe_endpoints

# A profile that makes clients follow more slowly than one on Azure's own defaults would is worth a warning.
SLOW_CONVERGENCE_SECONDS = (DEFAULT_TOLERATED_FAILURES + 1) * DEFAULT_INTERVAL_SECONDS + DEFAULT_TTL_SECONDS

# What an operator does about a plan the profile cannot carry out (by the error's code).
_ADVICE = {
    "UnsupportedRoutingMethod": "move its traffic by hand, or change the profile's routing method",
    "UnsupportedSwitch": "fix the step's switch in the plan before failing over",
    "NoFreePriority": "free a priority value on the profile before failing over",
}


def _advised(error: DrError) -> str:
    """The error's message with what to do about it (NoHealthUrl's message already says)."""
    advice = _ADVICE.get(error.code)
    return f"{error.message}: {advice}" if advice else error.message


@dataclass
class Gate(Verdicts):
    """What the rules read and decided about one switch (see :func:`assess`)."""

    profile_id: str
    live: bool  # the switch writes: a failover, or a drill with a test profile
    profile: ProfileView | None = None
    desired: dict[str, EndpointSetting] | None = None
    patches: list[EndpointPatch] | None = None
    secondary: dict[str, Any] | None = None  # the health gate's facts, for begin's detail
    cooldown_forced: bool = False
    warnings: list[str] = field(default_factory=list)  # what begin's report warns about

    def cleared(self) -> tuple[ProfileView, dict[str, EndpointSetting], list[EndpointPatch]]:
        """The profile, desired settings and PATCHes begin switches with, or the first refusal raised."""
        if self.refusal is not None:
            raise self.refusal
        # No refusal means every rule ran, and the ones that produce these ran first.
        assert self.profile is not None
        assert self.desired is not None
        assert self.patches is not None
        return self.profile, self.desired, self.patches


def assess(ctx: StepContext, params: TrafficManagerFailoverStep, *, exhaustive: bool) -> Gate:
    """Apply the switch's rules in begin's order (module docstring).

    ``exhaustive=False`` (begin) stops at the first refusal: once the cool-down refuses, probing the secondary
    is wasted time. ``exhaustive=True`` (check) goes on as far as what it could read allows, so one pre-flight
    shows every problem; the verdicts up to the first refusal are the same either way.
    """
    live = not ctx.is_drill or params.drill_profile_id is not None
    profile_id = params.drill_profile_id if ctx.is_drill and params.drill_profile_id else params.profile_id
    gate = Gate(profile_id=profile_id, live=live)

    def halted() -> bool:
        return not exhaustive and gate.refusal is not None

    profile = _read(gate, ctx, params)
    if profile is not None and not halted():
        _judge(gate, ctx, params, profile, halted)
    return gate


def _read(gate: Gate, ctx: StepContext, params: TrafficManagerFailoverStep) -> ProfileView | None:
    """The run's mode fits the step, and the profile it switches (or reads) exists."""
    if ctx.mode == "sync":
        error = InvalidInputError(f"{params.kind} runs in a failover, failback or drill, not in the standing sync")
        gate.refuse("mode", error, mode=ctx.mode)
        return None
    try:
        profile = read_profile(gate.profile_id)
    except NotFoundError as error:
        gate.refuse("profile_exists", error, _missing_profile(ctx, params, gate.profile_id), profile_id=gate.profile_id)
        return None
    gate.profile = profile
    which = "drill test profile" if ctx.is_drill and gate.live else "Traffic Manager profile"
    read_only = " (read only: the drill has no drill_profile_id)" if not gate.live else ""
    gate.passed(
        "profile_exists",
        f"{which} {profile.name!r} found{read_only}: routes by {profile.routing_method}, status {profile.status}",
        profile_id=profile.id,
        routing_method=profile.routing_method,
        status=profile.status,
    )
    if profile.status != "Enabled":
        # A Disabled profile answers no DNS query at all (Microsoft Learn, "Traffic Manager endpoint monitoring",
        # profile status): moving endpoints inside it restores nothing.
        disabled = PreconditionError(
            f"{which} {profile.name!r} is {profile.status}: Traffic Manager answers no DNS query for it, so "
            "switching its endpoints would not bring customers back; enable the profile first",
            code="ProfileDisabled",
        )
        gate.refuse("profile_enabled", disabled, status=profile.status)
    return profile


def _judge(
    gate: Gate,
    ctx: StepContext,
    params: TrafficManagerFailoverStep,
    profile: ProfileView,
    halted: Callable[[], bool],
) -> None:
    """The rules on the profile as read, in begin's order."""
    found = _endpoints_exist(gate, profile, params, halted)
    if halted():
        return
    if found:
        _plan_changes(gate, profile, params)
        if halted():
            return
    if gate.patches == [] and gate.live:
        return  # already switched: begin touches nothing and applies no further rule

    other_drill = profile.tags.get(TAG_DRILL_RUN)
    if gate.live and ctx.is_drill and other_drill and other_drill != ctx.run_id:
        message = (
            f"test profile {profile.name!r} still carries drill run {other_drill}: check that its teardown was "
            "done (this drill takes the profile as it is now as the baseline it restores)"
        )
        gate.warnings.append(message)
        gate.warn("drill_profile_free", message, drill_run=other_drill)

    _cooldown(gate, ctx, params, profile)
    if halted() or not found:
        return
    secondaries = [profile.endpoint(name) for name in params.to_endpoints]
    _secondary_fit(gate, profile, params, secondaries)
    if gate.desired is not None and not halted():
        _reaches_secondary(gate, profile, gate.desired, secondaries)


def _missing_profile(ctx: StepContext, params: TrafficManagerFailoverStep, profile_id: str) -> str:
    name = profile_id.rsplit("/", 1)[-1]
    if ctx.is_drill and params.drill_profile_id:
        return (
            f"drill test profile {name!r} (drill_profile_id) was not found: create it, or remove "
            "drill_profile_id to drill read-only against the production profile"
        )
    return (
        f"Traffic Manager profile {name!r} (profile_id) was not found: correct profile_id in the plan, or check "
        "the subscription and the orchestrator's read access, before failing over"
    )


def _endpoints_exist(
    gate: Gate, profile: ProfileView, params: TrafficManagerFailoverStep, halted: Callable[[], bool]
) -> bool:
    """One verdict per missing endpoint (in the order desired_settings looks them up), or one that all exist."""
    found = True
    for field_name in ("from_endpoints", "to_endpoints"):
        for name in getattr(params, field_name):
            try:
                profile.endpoint(name)
            except NotFoundError as error:
                found = False
                message = (
                    f"{error.message}: correct {field_name} in the plan or recreate the endpoint before failing over"
                )
                gate.refuse("endpoint_exists", error, message, endpoint=name, field=field_name)
                if halted():
                    return False
    if found:
        described = [profile.endpoint(name).describe(profile.routing_method) for name in params.from_endpoints]
        secondaries = [profile.endpoint(name).describe(profile.routing_method) for name in params.to_endpoints]
        gate.passed(
            "endpoints_exist",
            f"{profile.name!r} has the primary {', '.join(described)} and the secondary {', '.join(secondaries)}",
            from_endpoints=described,
            to_endpoints=secondaries,
        )
    return found


def _plan_changes(gate: Gate, profile: ProfileView, params: TrafficManagerFailoverStep) -> None:
    """The routing method fits the switch, and the PATCHes towards the desired settings can be ordered."""
    try:
        gate.desired = desired_settings(profile, params)
    except InvalidInputError as error:
        gate.refuse("routing_fits_switch", error, _advised(error))
        return
    gate.passed(
        "routing_fits_switch",
        f"{profile.name!r} routes by {profile.routing_method}: switch {params.switch!r} applies",
        routing_method=profile.routing_method,
        switch=params.switch,
    )
    try:
        gate.patches = patches_towards(profile, gate.desired)
    except PreconditionError as error:
        gate.refuse("changes", error, _advised(error))
        return
    to = ", ".join(params.to_endpoints)
    changes = [patch.describe() for patch in gate.patches]
    if not changes:
        gate.passed("changes", f"{profile.name!r} already routes as planned to {to}: nothing to change", changes=[])
    else:
        gate.passed(
            "changes",
            f"{len(changes)} change(s) would move {profile.name!r} to {to}: {'; '.join(changes)}",
            changes=changes,
        )


def _cooldown(gate: Gate, ctx: StepContext, params: TrafficManagerFailoverStep, profile: ProfileView) -> None:
    """A failover within the cool-down of another run's is refused unless forced; a drill only warns."""

    def refusal_text(*, forced: bool) -> str | None:
        return cooldown_refusal(
            profile.tags,
            now=ctx.now,
            cooldown=params.cooldown,
            run_id=ctx.run_id,
            profile_name=profile.name,
            forced=forced,
        )

    refusal = refusal_text(forced=False)
    facts = {
        "cooldown": format_duration(params.cooldown),
        "last_failover": profile.tags.get(TAG_LAST_FAILOVER),
        "last_failover_run": profile.tags.get(TAG_LAST_FAILOVER_RUN),
    }
    if refusal is None:
        gate.passed(
            "cooldown",
            f"no failover of {profile.name!r} by another run within the cool-down of "
            f"{format_duration(params.cooldown)}",
            **facts,
        )
    elif ctx.is_drill:
        message = f"a failover now would be refused: {refusal}"
        gate.warnings.append(message)
        gate.warn("cooldown", message, **facts)
    elif ctx.force:
        # Forcing is the operator's documented override: the rule passes, and says so in both reports.
        forced = refusal_text(forced=True) or refusal
        gate.cooldown_forced = True
        gate.warnings.append(forced)
        gate.passed("cooldown", forced, forced=True, **facts)
    else:
        gate.refuse("cooldown", PreconditionError(refusal, code="CooldownActive"), **facts)


def _secondary_fit(
    gate: Gate, profile: ProfileView, params: TrafficManagerFailoverStep, secondaries: list[EndpointView]
) -> None:
    """Every to_endpoint is neither Degraded nor Stopped in Traffic Manager, and its health URL answers."""
    statuses = {endpoint.name: endpoint.monitor_status for endpoint in secondaries}
    reasons = [
        f"endpoint {endpoint.name} is {endpoint.monitor_status} in Traffic Manager"
        for endpoint in secondaries
        if endpoint.monitor_status in UNFIT_SECONDARY
    ]
    try:
        probes, failed = probe_endpoints(profile, params, secondaries)
    except InvalidInputError as error:  # no health URL to probe (a nested endpoint, no health_url in the plan)
        gate.refuse("secondary_healthy", error, _advised(error))
        return
    for target, result in failed:
        where = f" of {target.endpoint}" if target.endpoint else ""
        reasons.append(f"health probe{where} {redact_url(target.url)}: {result.describe()}")
    gate.secondary = {"monitor_status": statuses, "probes": probes}
    if reasons:
        unhealthy = PreconditionError(
            f"secondary of {profile.name!r} is not healthy, nothing changed: {'; '.join(reasons)}; make it healthy "
            "or name a healthy endpoint in to_endpoints before failing over",
            code="SecondaryUnhealthy",
        )
        gate.refuse("secondary_healthy", unhealthy, **gate.secondary)
        return
    answers = ", ".join(f"{probe['url']} {probe['result']}" for probe in probes)
    fit = ", ".join(f"{name} {status}" for name, status in statuses.items())
    gate.passed(
        "secondary_healthy",
        f"secondary of {profile.name!r} is fit: {fit} in Traffic Manager, health probe {answers}",
        **gate.secondary,
    )


def _reaches_secondary(
    gate: Gate, profile: ProfileView, desired: dict[str, EndpointSetting], secondaries: list[EndpointView]
) -> None:
    miss = unreached_secondary(profile, desired, secondaries)
    if miss is not None:
        gate.refuse("switch_reaches_secondary", PreconditionError(miss, code="SwitchWouldNotReachSecondary"))
        return
    to = ", ".join(endpoint.name for endpoint in secondaries)
    gate.passed("switch_reaches_secondary", f"after the switch {profile.name!r} would answer with {to}")


def observations(profile: ProfileView, params: TrafficManagerFailoverStep) -> list[Check]:
    """What the pre-flight reports besides the rules (begin does not act on these): the primary's state, and
    how long clients will take to follow the switch."""
    checks: list[Check] = []
    wanted = {name.lower() for name in params.from_endpoints}
    primaries = [endpoint for endpoint in profile.endpoints if endpoint.name.lower() in wanted]
    # Traffic Manager's verdict that an endpoint fails its probe (a Disabled primary is the switch's doing).
    down = [endpoint for endpoint in primaries if endpoint.monitor_status in UNFIT_SECONDARY]
    statuses = {endpoint.name: endpoint.monitor_status for endpoint in primaries}
    if down:
        checks.append(
            Check.warning(
                "primary_status",
                f"primary {', '.join(f'{e.name} is {e.monitor_status}' for e in down)} in {profile.name!r}, as "
                "expected when its region is down: the switch will proceed; confirm the outage is the reason",
                monitor_status=statuses,
            )
        )
    elif primaries:
        checks.append(
            Check.passed(
                "primary_status",
                f"primary {', '.join(f'{name} {status}' for name, status in statuses.items())} in {profile.name!r}",
                monitor_status=statuses,
            )
        )
    model = convergence(profile)
    how = (
        f"(({model['tolerated_failures']} tolerated failures + 1) x {model['interval_seconds']} s probe interval "
        f"+ {model['ttl_seconds']} s TTL)"
    )
    if model["seconds"] > SLOW_CONVERGENCE_SECONDS:
        checks.append(
            Check.warning(
                "dns_convergence",
                f"clients of {profile.name!r} may take about {model['seconds']} s to follow the switch {how}, "
                f"slower than Azure's defaults ({SLOW_CONVERGENCE_SECONDS} s): lower the profile's TTL or probe "
                "interval if the plan's RTO cannot absorb it",
                expected_dns_convergence_seconds=model["seconds"],
                convergence=model,
            )
        )
    else:
        checks.append(
            Check.passed(
                "dns_convergence",
                f"clients of {profile.name!r} should follow the switch within about {model['seconds']} s {how}",
                expected_dns_convergence_seconds=model["seconds"],
                convergence=model,
            )
        )
    return checks
