"""The traffic switch's decisions, as pure functions of a profile view and the plan step (no I/O, no SDK).

What the plan wants of each endpoint, the PATCHes that get there in a safe order, what DNS would answer
before and after, how long clients take to follow, whether a failover now would flap, whether the switch
would reach the secondary, and what still keeps a switch from being verified. The module docstring of
:mod:`dr.steps.traffic` says what each switch means.

Invariant: every function here is deterministic in its arguments; everything it needs is in the view.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ...durations import format_duration, iso, parse_time
from ...errors import InvalidInputError, PreconditionError
from ...plan import TrafficManagerFailoverStep
from ..switch import TAG_VALUE_MAX
from .model import (
    MAX_PRIORITY,
    TAG_LAST_FAILOVER,
    TAG_LAST_FAILOVER_PLAN,
    TAG_LAST_FAILOVER_RUN,
    EndpointSetting,
    EndpointView,
    Frozen,
    ProfileView,
)

# Azure's defaults, used when a profile does not say.
DEFAULT_TOLERATED_FAILURES = 3
DEFAULT_INTERVAL_SECONDS = 30
DEFAULT_TTL_SECONDS = 60


def names(profile: ProfileView, wanted: Iterable[str]) -> list[str]:
    """The endpoints' names as the profile spells them (raises NotFoundError for an unknown one)."""
    return [profile.endpoint(name).name for name in wanted]


def desired_settings(profile: ProfileView, params: TrafficManagerFailoverStep) -> dict[str, EndpointSetting]:
    """The settings the plan wants for the endpoints it manages (see :mod:`dr.steps.traffic`)."""
    for name in [*params.from_endpoints, *params.to_endpoints]:
        profile.endpoint(name)
    to_names = names(profile, params.to_endpoints)
    from_names = names(profile, params.from_endpoints)
    method, switch = profile.routing_method, params.switch
    allowed = {"Priority": ("disable", "swap_priorities"), "Weighted": ("disable", "shift_weight")}
    if method not in allowed:
        raise InvalidInputError(
            f"profile {profile.name!r} routes by {method or 'an unknown method'}: "
            "this step switches Priority and Weighted profiles only",
            code="UnsupportedRoutingMethod",
        )
    if switch not in allowed[method]:
        raise InvalidInputError(
            f"switch {switch!r} does not apply to the {method} profile {profile.name!r} "
            f"(use one of: {', '.join(allowed[method])})",
            code="UnsupportedSwitch",
        )
    desired: dict[str, EndpointSetting] = {}
    if switch == "disable":
        desired.update({name: EndpointSetting(status="Disabled") for name in from_names})
        desired.update({name: EndpointSetting(status="Enabled") for name in to_names})
    elif switch == "shift_weight":
        desired.update({name: EndpointSetting(weight=1) for name in from_names})
        desired.update({name: EndpointSetting(status="Enabled", weight=params.to_weight) for name in to_names})
    else:
        order = to_names + [
            endpoint.name
            for _, endpoint in sorted(
                enumerate(profile.endpoints), key=lambda pair: (pair[1].priority or MAX_PRIORITY + 1, pair[0])
            )
            if endpoint.name not in to_names
        ]
        values = sorted({endpoint.priority for endpoint in profile.endpoints if endpoint.priority is not None})
        spare = (value for value in range(1, MAX_PRIORITY + 1) if value not in values)
        while len(values) < len(order):  # endpoints without a priority get the next free values
            values.append(next(spare))
        values.sort()
        for name, value in zip(order, values, strict=False):
            desired[name] = EndpointSetting(status="Enabled" if name in to_names else None, priority=value)
    return desired


class EndpointPatch(Frozen):
    """One PATCH of one endpoint: only the fields that change."""

    endpoint: str
    endpoint_type: str
    change: EndpointSetting
    before: EndpointSetting
    temporary: bool = False

    def describe(self) -> str:
        moves = [f"{field} {getattr(self.before, field)}→{value}" for field, value in self.change.fields().items()]
        note = " (parked while priorities move)" if self.temporary else ""
        return f"{self.endpoint}: {', '.join(moves)}{note}"


def patches_towards(profile: ProfileView, desired: dict[str, EndpointSetting]) -> list[EndpointPatch]:
    """The PATCHes that bring the profile to ``desired``, in a safe order (none if it is there already)."""
    grow: list[EndpointPatch] = []
    shrink: list[EndpointPatch] = []
    moves: dict[str, int] = {}
    for name, wanted in desired.items():
        endpoint = profile.endpoint(name)
        change = wanted.changes_from(endpoint.setting)
        if change.priority is not None:
            moves[endpoint.name] = change.priority
        rest = change.only("status", "weight")
        if rest.empty:
            continue
        patch = EndpointPatch(
            endpoint=endpoint.name, endpoint_type=endpoint.endpoint_type, change=rest, before=endpoint.setting
        )
        adds = rest.status == "Enabled" or (rest.status is None and (rest.weight or 0) > (endpoint.weight or 0))
        (grow if adds else shrink).append(patch)
    return grow + _priority_moves(profile, moves) + shrink


def _priority_moves(profile: ProfileView, targets: dict[str, int]) -> list[EndpointPatch]:
    """Move priorities without two endpoints ever sharing one (ARM refuses that): a move whose value is
    free goes first (best value first); when every move waits on another (a swap), the endpoint being
    demoted the most is parked on the highest free value."""
    held = {endpoint.name: endpoint.priority for endpoint in profile.endpoints}
    pending = dict(targets)
    patches: list[EndpointPatch] = []

    def move(name: str, value: int, *, temporary: bool = False) -> None:
        endpoint = profile.endpoint(name)
        patches.append(
            EndpointPatch(
                endpoint=name,
                endpoint_type=endpoint.endpoint_type,
                change=EndpointSetting(priority=value),
                before=EndpointSetting(priority=held[name]),
                temporary=temporary,
            )
        )
        held[name] = value

    while pending:
        free = [name for name, value in pending.items() if all(held[o] != value for o in held if o != name)]
        if free:
            name = min(free, key=lambda n: (pending[n], n))
            move(name, pending.pop(name))
            continue
        name = max(pending, key=lambda n: (pending[n] - (held[n] or 0), -(held[n] or 0), n))
        taken = set(held.values()) | set(pending.values())
        parking = next((value for value in range(MAX_PRIORITY, 0, -1) if value not in taken), None)
        if parking is None:
            raise PreconditionError(
                f"profile {profile.name!r}: no free priority value to reorder endpoints",
                code="NoFreePriority",
            )
        move(name, parking, temporary=True)
    return patches


def dns_answer(profile: ProfileView) -> list[tuple[EndpointView, float]]:
    """What Traffic Manager's DNS would answer, with each endpoint's share of answers.

    Priority: the best-priority endpoint that is Enabled and not Degraded/Stopped/Inactive. Weighted: every
    such endpoint, by weight. When none is serving, Traffic Manager fails open and answers with all
    enabled endpoints as if they were healthy. A disabled profile answers nothing (NXDOMAIN).
    """
    if profile.status != "Enabled":
        return []
    enabled = [endpoint for endpoint in profile.endpoints if endpoint.status == "Enabled"]
    candidates = [endpoint for endpoint in enabled if endpoint.serving] or enabled
    if not candidates:
        return []
    if profile.routing_method == "Priority":
        best = min(enumerate(candidates), key=lambda pair: (pair[1].priority or MAX_PRIORITY + 1, pair[0]))[1]
        return [(best, 1.0)]
    total = sum(endpoint.weight or 1 for endpoint in candidates)
    return [(endpoint, round((endpoint.weight or 1) / total, 4)) for endpoint in candidates]


def describe_answer(profile: ProfileView, answer: list[tuple[EndpointView, float]]) -> str:
    if not answer:
        return "no endpoint (NXDOMAIN)"
    if profile.routing_method != "Weighted":
        return answer[0][0].describe(profile.routing_method)
    return ", ".join(f"{endpoint.describe(profile.routing_method)} {share:.1%}" for endpoint, share in answer)


def convergence(profile: ProfileView) -> dict[str, Any]:
    """Expected time for clients to follow a change: (tolerated failures + 1) * probe interval + DNS TTL."""
    tolerated = profile.monitor.tolerated_failures
    interval = profile.monitor.interval_seconds
    ttl = profile.ttl
    facts: dict[str, Any] = {
        "tolerated_failures": DEFAULT_TOLERATED_FAILURES if tolerated is None else tolerated,
        "interval_seconds": interval or DEFAULT_INTERVAL_SECONDS,
        "ttl_seconds": DEFAULT_TTL_SECONDS if ttl is None else ttl,
    }
    facts["seconds"] = (facts["tolerated_failures"] + 1) * facts["interval_seconds"] + facts["ttl_seconds"]
    # The probe timeout, for the what-if's fuller model (dr.whatif): Azure's default is 10 s at a 30 s probing
    # interval and 9 s at 10 s (Microsoft Learn, "Traffic Manager endpoint monitoring").
    timeout = profile.monitor.timeout_seconds
    facts["timeout_seconds"] = timeout if timeout is not None else (9 if facts["interval_seconds"] == 10 else 10)
    if timeout is None:
        facts["timeout_assumed"] = True
    assumed = [
        name for name, value in (("tolerated", tolerated), ("interval", interval), ("ttl", ttl)) if value is None
    ]
    if assumed:
        facts["assumed_azure_defaults"] = assumed
    return facts


def cooldown_refusal(
    tags: dict[str, str], *, now: datetime, cooldown: timedelta, run_id: str, profile_name: str, forced: bool = False
) -> str | None:
    """Why a failover now would flap (a failover of this profile by another run within the cool-down), or
    None. ``forced``: the operator overrides it, and the sentence says so instead of refusing."""
    last = tags.get(TAG_LAST_FAILOVER)
    if not last or tags.get(TAG_LAST_FAILOVER_RUN) == run_id:
        return None
    try:
        last_at = parse_time(last)
    except ValueError:
        return None
    age = now - last_at
    if age >= cooldown:
        return None
    by = tags.get(TAG_LAST_FAILOVER_RUN, "an unknown run")
    plan = tags.get(TAG_LAST_FAILOVER_PLAN)
    return (
        f"profile {profile_name!r} was failed over at {last} by run {by}"
        + (f" (plan {plan})" if plan else "")
        + f", {int(age.total_seconds())} s ago; the cool-down is {format_duration(cooldown)} "
        f"(until {iso(last_at + cooldown)}): "
        + (
            "overridden by the operator, failing over anyway"
            if forced
            else "refusing a second failover (an operator can force it)"
        )
    )


def encode_baseline(settings: dict[str, EndpointSetting]) -> str | None:
    """``name=status,priority,weight;...`` for a tag value; None when it would not fit or not parse back."""
    parts = []
    for name, setting in settings.items():
        if any(char in name for char in "=,;"):
            return None
        values = [setting.status or "", setting.priority or "", setting.weight or ""]
        parts.append(f"{name}={','.join(str(value) for value in values)}")
    text = ";".join(parts)
    return text if len(text) <= TAG_VALUE_MAX else None


def decode_baseline(text: str) -> dict[str, EndpointSetting]:
    settings: dict[str, EndpointSetting] = {}
    for part in filter(None, text.split(";")):
        name, _, values = part.partition("=")
        status, priority, weight = [*values.split(","), "", ""][:3]
        settings[name] = EndpointSetting(
            status=status or None,
            priority=int(priority) if priority else None,
            weight=int(weight) if weight else None,
        )
    return settings


def unreached_secondary(
    profile: ProfileView, desired: dict[str, EndpointSetting], secondaries: list[EndpointView]
) -> str | None:
    """Why the switch would not route to the secondaries (None: it would), assuming they pass Traffic
    Manager's probe as they passed ours and every other endpoint stays as it is now."""
    secondary_names = {endpoint.name for endpoint in secondaries}
    switched = profile.with_settings(desired)
    after = switched.model_copy(
        update={
            "endpoints": tuple(
                endpoint.model_copy(update={"monitor_status": "Online"})
                if endpoint.name in secondary_names
                else endpoint
                for endpoint in switched.endpoints
            )
        }
    )
    answer = dns_answer(after)
    reached = [endpoint.name for endpoint, _ in answer[: 1 if profile.routing_method == "Priority" else None]]
    if secondary_names & set(reached):
        return None
    winner = describe_answer(after, answer)
    if answer:
        why, fix = "it has a better priority", "add it to from_endpoints or use switch swap_priorities in the plan"
    else:
        why, fix = f"the profile is {profile.status}", "enable the profile"
    return (
        f"after the switch {profile.name!r} would answer {winner}, not the secondary ({why}): nothing changed; "
        f"{fix} before failing over"
    )


def routing_problems(
    profile: ProfileView, params: TrafficManagerFailoverStep, answer: list[tuple[EndpointView, float]]
) -> tuple[list[EndpointView], list[str]]:
    """After the switch: the endpoints that must be Online and answering, and what is not right yet in how
    DNS answers (empty: routed as the plan wants)."""
    to_names = set(names(profile, params.to_endpoints))
    from_names = set(names(profile, params.from_endpoints))
    answering = [endpoint for endpoint, _ in answer]
    problems: list[str] = []
    if profile.routing_method == "Priority":
        if not answering or answering[0].name not in to_names:
            problems.append("DNS does not answer with a secondary endpoint yet")
        expected_online = answering[:1]
    else:
        secondaries = [profile.endpoint(name) for name in params.to_endpoints]
        problems += [f"{endpoint.name} is not serving" for endpoint in secondaries if endpoint not in answering]
        if params.switch == "disable":
            problems += [f"{endpoint.name} still serves" for endpoint in answering if endpoint.name in from_names]
        expected_online = [endpoint for endpoint in answering if endpoint.name in to_names]
    problems += [
        f"{endpoint.name} is {endpoint.monitor_status}, not Online"
        for endpoint in expected_online
        if endpoint.monitor_status != "Online"
    ]
    return expected_online, problems
