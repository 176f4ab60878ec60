"""The Front Door switch's decisions, as pure functions of the origin group's view, Front Door's health readings
and the plan step: the settings the plan wants, the PATCHes (in a safe order), which origins Front Door would
send traffic to, whether a to_origin is fit, and the drill baseline's tag encoding.

Invariant: deterministic in the arguments, no I/O.
"""

from __future__ import annotations

import json

from ...errors import InvalidInputError
from ...plan import FrontDoorOriginsStep
from ..switch import TAG_VALUE_MAX
from .model import TOP_PRIORITY, Frozen, HealthReading, OriginGroupView, OriginSetting, OriginView


def names(group: OriginGroupView, wanted: list[str]) -> list[str]:
    """The origins' names as the group spells them (NotFoundError for an unknown one)."""
    return [group.origin(name).name for name in wanted]


def desired_settings(group: OriginGroupView, params: FrontDoorOriginsStep) -> dict[str, OriginSetting]:
    to_names, from_names = names(group, params.to_origins), names(group, params.from_origins)
    if params.switch == "disable":
        desired = {name: OriginSetting(enabled_state="Disabled") for name in from_names}
        desired.update({name: OriginSetting(enabled_state="Enabled") for name in to_names})
        return desired
    desired = {name: OriginSetting(priority=params.demoted_priority) for name in from_names}
    desired.update({name: OriginSetting(enabled_state="Enabled", priority=TOP_PRIORITY) for name in to_names})
    return desired


class OriginPatch(Frozen):
    """One PATCH of one origin: only the fields that change."""

    origin: str
    change: OriginSetting
    before: OriginSetting

    def describe(self) -> str:
        moves = [f"{field} {getattr(self.before, field)}→{value}" for field, value in self.change.fields().items()]
        return f"{self.origin}: {', '.join(moves)}"

    @property
    def adds_capacity(self) -> bool:
        promoted = self.change.priority is not None and (self.before.priority or TOP_PRIORITY) > self.change.priority
        return self.change.enabled_state == "Enabled" or (self.change.enabled_state is None and promoted)


def patches_towards(group: OriginGroupView, desired: dict[str, OriginSetting]) -> list[OriginPatch]:
    """The PATCHes that bring the group to ``desired``, those that add serving capacity first (enable, promote),
    then those that take it away (disable, demote): no moment leaves the group without a serving origin."""
    patches = []
    for name, wanted in desired.items():
        origin = group.origin(name)
        change = wanted.changes_from(origin.setting)
        if not change.empty:
            patches.append(OriginPatch(origin=origin.name, change=change, before=origin.setting))
    return [p for p in patches if p.adds_capacity] + [p for p in patches if not p.adds_capacity]


def healthy(origin: OriginView, health: HealthReading, minimum: float) -> bool | None:
    """Front Door's verdict on an origin: True/False from its latest OriginHealthPercentage, None without one."""
    percent = health.of(origin.name)
    return None if percent is None else percent >= minimum


def serving(group: OriginGroupView, health: HealthReading, minimum: float) -> list[str]:
    """The origins Front Door sends traffic to: among enabled origins not reported unhealthy, those of the best
    (lowest) priority (Microsoft Learn, "Traffic routing methods to origin": priority first, then weight)."""
    candidates = [
        origin
        for origin in group.origins
        if origin.enabled_state == "Enabled" and healthy(origin, health, minimum) is not False
    ]
    if not candidates:
        return []
    best = min(origin.rank for origin in candidates)
    return [origin.name for origin in candidates if origin.rank == best]


def routing_problems(group: OriginGroupView, params: FrontDoorOriginsStep, health: HealthReading) -> list[str]:
    """What still keeps the switch from being verified (empty: verified as far as ARM and the metric tell)."""
    problems: list[str] = []
    desired = desired_settings(group, params)
    drift = patches_towards(group, desired)
    if drift:
        problems.append(f"origins not as switched: {'; '.join(p.describe() for p in drift)}")
    deploying = [o.name for o in group.origins if o.provisioning_state not in (None, "Succeeded")]
    if deploying:
        problems.append(f"still deploying: {', '.join(deploying)}")
    to_names = set(names(group, params.to_origins))
    routed = serving(group, health, params.min_health_percent)
    if not routed or not set(routed) <= to_names:
        problems.append(f"Front Door would route to {', '.join(routed) or 'no origin'}")
    return problems


def encode_baseline(baseline: dict[str, OriginSetting]) -> str | None:
    """The baseline as a tag value, or None when it does not fit (ARM caps tag values at 256 characters)."""
    text = json.dumps({name: setting.fields() for name, setting in baseline.items()}, separators=(",", ":"))
    return text if len(text) <= TAG_VALUE_MAX else None


def decode_baseline(text: str) -> dict[str, OriginSetting]:
    try:
        raw = json.loads(text)
        return {str(name): OriginSetting.model_validate(fields) for name, fields in raw.items()}
    except (ValueError, AttributeError) as exc:
        raise InvalidInputError(f"unreadable drill baseline tag: {exc}", code="BadBaselineTag") from None
