"""The rules that decide, before anything is written, whether the Front Door switch may go ahead, applied by one
function for both callers: ``begin`` raises the first refusal and writes nothing, the pre-flight ``check``
reports every verdict (a pre-flight that disagrees with begin lets a failover move the data and then stop at the
traffic switch).

The rules, in begin's order: the run's mode; the origin group exists (a drill's test profile's, when it has one);
every from/to origin exists; the changes can be planned (already switched: nothing more applies); the secondary
is fit (Front Door's own health view of each to_origin, and one probe of each as Front Door probes it, or of the
plan's health_url); the switch would make Front Door route to the secondary.

Invariant: reads only (the group, the health metric, one probe per target).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidInputError, NotFoundError, PreconditionError
from ...plan import FrontDoorOriginsStep
from ...probe import ProbeResult, TlsCheck, probe, redact_url
from ..base import Check, StepContext
from ..switch import Verdicts
from .arm import read_group, read_health
from .model import HealthReading, OriginGroupView, OriginSetting, OriginView
from .planner import OriginPatch, desired_settings, healthy, patches_towards, serving


@dataclass
class Gate(Verdicts):
    origin_group_id: str
    live: bool  # the switch writes: a failover, or a drill with a test profile
    group: OriginGroupView | None = None
    health: HealthReading = field(default_factory=HealthReading)
    desired: dict[str, OriginSetting] | None = None
    patches: list[OriginPatch] | None = None
    secondary: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def cleared(self) -> tuple[OriginGroupView, dict[str, OriginSetting], list[OriginPatch]]:
        if self.refusal is not None:
            raise self.refusal
        assert self.group is not None
        assert self.desired is not None
        assert self.patches is not None
        return self.group, self.desired, self.patches


def target_group_id(ctx: StepContext, params: FrontDoorOriginsStep) -> str:
    """The group a run switches or reads: a drill with a test profile uses that profile's group of the same name."""
    if ctx.is_drill and params.drill_profile_id:
        return f"{params.drill_profile_id}/originGroups/{params.origin_group_id.rsplit('/', 1)[-1]}"
    return params.origin_group_id


def assess(ctx: StepContext, params: FrontDoorOriginsStep, *, exhaustive: bool) -> Gate:
    """Apply the rules in begin's order; ``exhaustive=False`` (begin) stops at the first refusal."""
    gate = Gate(
        origin_group_id=target_group_id(ctx, params), live=not ctx.is_drill or params.drill_profile_id is not None
    )
    if ctx.mode == "sync":
        error = InvalidInputError(f"{params.kind} runs in a failover, failback or drill, not in the standing sync")
        gate.refuse("mode", error, mode=ctx.mode)
        return gate
    group = _read(gate, ctx, params)
    if group is None:
        return gate
    if not _origins_exist(gate, group, params) or (not exhaustive and gate.refusal):
        return gate
    gate.desired = desired_settings(group, params)
    gate.patches = patches_towards(group, gate.desired)
    to = ", ".join(params.to_origins)
    changes = [patch.describe() for patch in gate.patches]
    if not changes:
        gate.passed("changes", f"origin group {group.name!r} already routes as planned to {to}: nothing to change")
        if gate.live:
            return gate
    else:
        gate.passed(
            "changes",
            f"{len(changes)} change(s) would move {group.name!r} to {to}: {'; '.join(changes)}",
            changes=changes,
        )
    gate.health = read_health(group, ctx.now)
    _secondary_fit(gate, group, params)
    if gate.refusal is None or exhaustive:
        _reaches_secondary(gate, group, params)
    return gate


def _read(gate: Gate, ctx: StepContext, params: FrontDoorOriginsStep) -> OriginGroupView | None:
    try:
        group = read_group(gate.origin_group_id)
    except NotFoundError as error:
        name = gate.origin_group_id.rsplit("/", 1)[-1]
        if ctx.is_drill and params.drill_profile_id:
            message = (
                f"the drill's test profile {params.drill_profile_id.rsplit('/', 1)[-1]!r} has no origin group {name!r} "
                "(drill_profile_id): create it, or remove drill_profile_id to drill read-only against production"
            )
        else:
            message = (
                f"Front Door origin group {name!r} (origin_group_id) was not found ({error.code}): correct "
                "origin_group_id in the plan, or check the subscription and the orchestrator's read access"
            )
        gate.refuse("origin_group_exists", error, message, origin_group_id=gate.origin_group_id)
        return None
    gate.group = group
    which = "drill test profile's origin group" if ctx.is_drill and gate.live else "Front Door origin group"
    read_only = " (read only: the drill has no drill_profile_id)" if not gate.live else ""
    probes = (
        f"probed {group.probe.protocol} {group.probe.request_type} {group.probe.path} every "
        f"{group.probe.interval_seconds} s"
        if group.probe is not None
        else "health probes off (Front Door counts every enabled origin healthy)"
    )
    gate.passed(
        "origin_group_exists",
        f"{which} {group.profile}/{group.name} found{read_only}: {len(group.origins)} origin(s), {probes}",
        origin_group_id=group.id,
        origins=[origin.describe() for origin in group.origins],
    )
    return group


def _origins_exist(gate: Gate, group: OriginGroupView, params: FrontDoorOriginsStep) -> bool:
    found = True
    for field_name in ("from_origins", "to_origins"):
        for name in getattr(params, field_name):
            try:
                group.origin(name)
            except NotFoundError as error:
                found = False
                gate.refuse(
                    "origin_exists",
                    error,
                    f"{error.message}: correct {field_name} in the plan or recreate the origin before failing over",
                    origin=name,
                    field=field_name,
                )
    return found


def probe_url(
    origin: OriginView, group: OriginGroupView, params: FrontDoorOriginsStep
) -> tuple[str, dict[str, str], TlsCheck]:
    """What to probe for ``origin``: the plan's health_url, else the URL Front Door's own probe requests (the
    group's protocol and path on the origin's port, with its origin host header)."""
    if params.health_url:
        return params.health_url, {}, "strict"
    settings = group.probe
    protocol = (settings.protocol if settings is not None else "Https").lower()
    protocol = "https" if protocol == "https" else "http"
    port = origin.https_port if protocol == "https" else origin.http_port
    default = 443 if protocol == "https" else 80
    host = f"[{origin.host_name}]" if ":" in origin.host_name else origin.host_name
    path = settings.path if settings is not None else "/"
    url = f"{protocol}://{host}{'' if port == default else f':{port}'}{path if path.startswith('/') else '/' + path}"
    headers = {"Host": origin.origin_host_header} if origin.origin_host_header else {}
    # Front Door checks the origin's certificate name only when enforceCertificateNameCheck is on.
    return url, headers, "strict" if origin.enforce_certificate_name_check else "certificate_present"


def probe_origin(
    origin: OriginView, group: OriginGroupView, params: FrontDoorOriginsStep
) -> tuple[dict[str, Any], ProbeResult]:
    url, headers, tls = probe_url(origin, group, params)
    expect = params.health_expect_status if params.health_url else (200, 299)
    ranges = [(expect, expect)] if isinstance(expect, int) else [expect]
    result = probe(
        url, expect_status=ranges, timeout_seconds=params.probe_timeout.total_seconds(), headers=headers, tls=tls
    )
    return {"origin": origin.name, "url": redact_url(url), "ok": result.ok, "result": result.describe()}, result


def _secondary_fit(gate: Gate, group: OriginGroupView, params: FrontDoorOriginsStep) -> None:
    """Every to_origin: not reported unhealthy by Front Door, and its probe answers."""
    reasons: list[str] = []
    views: dict[str, Any] = {}
    probes: list[dict[str, Any]] = []
    probed_url: set[str] = set()
    for name in params.to_origins:
        origin = group.origin(name)
        percent = gate.health.of(origin.name)
        views[origin.name] = percent
        if healthy(origin, gate.health, params.min_health_percent) is False:
            reasons.append(
                f"Front Door reports {origin.name} {percent:g} % healthy (minimum {params.min_health_percent:g} %)"
            )
        url, _, _ = probe_url(origin, group, params)
        if url in probed_url:
            continue  # one health_url serves every to_origin: probe it once
        probed_url.add(url)
        facts, result = probe_origin(origin, group, params)
        probes.append(facts)
        if not result.ok:
            reasons.append(f"probe of {origin.name} at {facts['url']}: {result.describe()}")
    basis = "" if gate.health.readable else f" (Front Door's health metric unreadable: {gate.health.reason})"
    gate.secondary = {"origin_health_percent": views, "probes": probes}
    if reasons:
        unfit = PreconditionError(
            f"secondary of origin group {group.name!r} is not healthy, nothing changed: {'; '.join(reasons)}; make it "
            "healthy or name a healthy origin in to_origins before failing over",
            code="SecondaryUnhealthy",
        )
        gate.refuse("secondary_healthy", unfit, **gate.secondary)
        return
    shown = ", ".join(f"{n} {'no data' if p is None else f'{p:g} %'}" for n, p in views.items())
    gate.passed(
        "secondary_healthy",
        f"secondary of {group.name!r} is fit: Front Door health {shown}{basis}; probe "
        + ", ".join(f"{p['url']} {p['result']}" for p in probes),
        **gate.secondary,
    )


def _reaches_secondary(gate: Gate, group: OriginGroupView, params: FrontDoorOriginsStep) -> None:
    if gate.desired is None:
        return
    after = group.with_settings(gate.desired)
    # A to_origin Front Door has no data for yet (disabled until now) counts as serving once its probe passed.
    routed = serving(after, gate.health, params.min_health_percent)
    to_names = {group.origin(name).name for name in params.to_origins}
    if not routed or not set(routed) <= to_names:
        routed_text = ", ".join(routed) or "no origin"
        miss = PreconditionError(
            f"after the switch Front Door would route origin group {group.name!r} to {routed_text}, "
            f"not only to {', '.join(sorted(to_names))}: another enabled origin has the same or a better priority; "
            "disable it or list it in from_origins",
            code="SwitchWouldNotReachSecondary",
        )
        gate.refuse("switch_reaches_secondary", miss, would_route_to=routed)
        return
    gate.passed(
        "switch_reaches_secondary", f"after the switch Front Door would route {group.name!r} to {', '.join(routed)}"
    )


def observations(gate: Gate, params: FrontDoorOriginsStep) -> list[Check]:
    """Besides the rules: the primary's state in Front Door's eyes (unhealthy is what an outage looks like)."""
    group = gate.group
    if group is None:
        return []
    readings = {group.origin(n).name: gate.health.of(group.origin(n).name) for n in params.from_origins}
    down = [name for name, percent in readings.items() if percent is not None and percent < params.min_health_percent]
    shown = ", ".join(f"{n} {'no data' if p is None else f'{p:g} %'}" for n, p in readings.items())
    if not gate.health.readable:
        return [
            Check.warning(
                "primary_status",
                f"Front Door's health metric could not be read ({gate.health.reason}): the primary's state is unknown",
            )
        ]
    if down:
        return [
            Check.warning(
                "primary_status",
                f"primary {', '.join(down)} unhealthy in Front Door ({shown}), as expected when its region is down: "
                "the switch will proceed; confirm the outage is the reason",
                origin_health_percent=readings,
            )
        ]
    return [Check.passed("primary_status", f"primary origins in Front Door: {shown}", origin_health_percent=readings)]
