"""traffic_manager_failover: move a Traffic Manager profile's traffic to the secondary's endpoints.

Desired state, not toggles: begin reads the profile, works out the settings the plan wants for its
endpoints, and PATCHes only the endpoints that differ (a re-run finds nothing to change and says "already
switched"). Before the first PATCH the secondary must be healthy: no to_endpoint is Degraded or Stopped
in Traffic Manager, and an HTTP probe of its health URL (the plan's ``health_url``, or one derived from the
endpoint's target and the profile's monitorConfig, as Traffic Manager itself probes) answers as expected.
poll then re-reads the profile and probes until DNS would answer with a secondary endpoint that is Online
and the health URL answers, within ``verify_window``.

What each switch means (routing method of the profile → switch):
- Priority → ``disable``: from_endpoints Disabled, to_endpoints Enabled.
- Priority → ``swap_priorities``: to_endpoints (in plan order) take the best priority values of the profile,
  every other endpoint keeps its relative order on the values left; to_endpoints are Enabled, from_endpoints
  stay as they are (the primary remains the fallback). Priorities must stay unique in a profile, so an
  endpoint may be parked on a free value for one PATCH while the others move.
- Weighted → ``disable``: from_endpoints Disabled, to_endpoints Enabled, weights untouched: a hard cut.
- Weighted → ``shift_weight``: to_endpoints Enabled with ``to_weight`` (default 1000, the maximum), from
  endpoints weight 1 and left enabled: the primary keeps a trickle (~0.1 %) so it stays observable, and
  Traffic Manager sends it nothing while it is Degraded anyway.
PATCHes that add capacity (enable, weight up) go first, priority moves next, those that remove capacity
(disable, weight down) last, so no moment leaves the profile without a serving endpoint.

Anti-flap: before its first PATCH a failover tags the profile ``dr-last-failover`` (ISO time),
``dr-last-failover-run`` and ``dr-last-failover-plan``. A later failover of that profile (any plan: a
failback is a flap too) within the plan's ``cooldown`` is refused unless the operator forces it; the run
that wrote the tag is never refused by it. Tags survive restarts and are visible in the portal.

Drill: without ``drill_profile_id`` the production profile is only read, the secondary checked and the
changes a failover would make reported. With it, the test profile is switched and verified like production;
its original endpoint settings are kept in ``state`` and in a ``dr-drill-baseline`` tag written before the
first PATCH (so a begin retried after a partial switch still knows the true baseline), and teardown puts
them back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..clients import get_clients
from ..durations import format_duration, iso, parse_time
from ..errors import InvalidInputError, NotFoundError, PermanentError, PreconditionError, from_azure_error
from ..plan import TrafficManagerFailoverStep
from ..probe import ProbeResult, StatusRange, TlsCheck, probe, redact_url, tcp_probe
from .base import StepContext, StepKind, StepProgress

ENDPOINT_TYPES = {name.lower(): name for name in ("AzureEndpoints", "ExternalEndpoints", "NestedEndpoints")}
# Monitor statuses Traffic Manager leaves out of DNS answers.
NOT_SERVING = frozenset({"Degraded", "Stopped", "Inactive", "Disabled"})
# Monitor statuses that make a secondary unfit to receive traffic.
UNFIT_SECONDARY = frozenset({"Degraded", "Stopped"})
MAX_PRIORITY = 1000
# Azure's defaults, used when a profile does not say.
DEFAULT_TOLERATED_FAILURES = 3
DEFAULT_INTERVAL_SECONDS = 30
DEFAULT_TTL_SECONDS = 60

TAG_LAST_FAILOVER = "dr-last-failover"
TAG_LAST_FAILOVER_RUN = "dr-last-failover-run"
TAG_LAST_FAILOVER_PLAN = "dr-last-failover-plan"
TAG_DRILL_RUN = "dr-drill-run"
TAG_DRILL_BASELINE = "dr-drill-baseline"
_TAG_VALUE_MAX = 256


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class EndpointSetting(_Frozen):
    """The endpoint fields a switch manages; None means "leave as it is"."""

    status: str | None = None
    priority: int | None = None
    weight: int | None = None

    def changes_from(self, current: EndpointSetting) -> EndpointSetting:
        """The fields of this (desired) setting that differ from ``current``."""
        return EndpointSetting(
            status=self.status if self.status is not None and self.status != current.status else None,
            priority=self.priority if self.priority is not None and self.priority != current.priority else None,
            weight=self.weight if self.weight is not None and self.weight != current.weight else None,
        )

    def only(self, *fields: str) -> EndpointSetting:
        return EndpointSetting(**{field: getattr(self, field) for field in fields})

    @property
    def empty(self) -> bool:
        return self.status is None and self.priority is None and self.weight is None

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class EndpointView(_Frozen):
    name: str
    endpoint_type: str
    status: str | None = None
    monitor_status: str | None = None
    priority: int | None = None
    weight: int | None = None
    target: str | None = None
    location: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def setting(self) -> EndpointSetting:
        return EndpointSetting(status=self.status, priority=self.priority, weight=self.weight)

    @property
    def serving(self) -> bool:
        return self.status == "Enabled" and self.monitor_status not in NOT_SERVING

    def describe(self, routing_method: str) -> str:
        """'shop-wus (priority 2, Enabled, Online)': the field that routes, status, monitor status."""
        routing = {"Priority": ("priority",), "Weighted": ("weight",)}.get(routing_method, ("priority", "weight"))
        facts = [f"{field} {getattr(self, field)}" for field in routing if getattr(self, field) is not None]
        return f"{self.name} ({', '.join([*facts, str(self.status), str(self.monitor_status)])})"


class MonitorView(_Frozen):
    protocol: str = "HTTP"
    port: int | None = None
    path: str | None = None
    interval_seconds: int | None = None
    tolerated_failures: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    expected: tuple[StatusRange, ...] = ()


class ProfileView(_Frozen):
    """What the step needs of a Traffic Manager profile (read from the SDK model once)."""

    id: str
    resource_group: str
    name: str
    routing_method: str
    status: str = "Enabled"
    ttl: int | None = None
    fqdn: str | None = None
    monitor: MonitorView = Field(default_factory=MonitorView)
    endpoints: tuple[EndpointView, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict)

    def endpoint(self, name: str) -> EndpointView:
        for endpoint in self.endpoints:
            if endpoint.name.lower() == name.lower():
                return endpoint
        known = ", ".join(endpoint.name for endpoint in self.endpoints) or "none"
        raise NotFoundError(
            f"Traffic Manager profile {self.name!r} has no endpoint {name!r} (endpoints: {known})",
            code="EndpointNotFound",
        )

    def with_settings(self, settings: dict[str, EndpointSetting]) -> ProfileView:
        """The profile as it would be with these endpoint settings applied."""
        endpoints = []
        for endpoint in self.endpoints:
            setting = settings.get(endpoint.name)
            endpoints.append(endpoint.model_copy(update=setting.fields()) if setting is not None else endpoint)
        return self.model_copy(update={"endpoints": tuple(endpoints)})


def profile_view(profile: Any, profile_id: str) -> ProfileView:
    """Read an azure-mgmt-trafficmanager Profile into a ProfileView."""
    from azure.mgmt.core.tools import parse_resource_id

    parts = parse_resource_id(profile_id)
    monitor = profile.monitor_config
    dns = profile.dns_config
    endpoints = []
    for endpoint in profile.endpoints or []:
        type_segment = str(endpoint.type or "").rsplit("/", 1)[-1].lower()
        endpoints.append(
            EndpointView(
                name=str(endpoint.name),
                endpoint_type=ENDPOINT_TYPES.get(type_segment, type_segment),
                status=_text(endpoint.endpoint_status),
                monitor_status=_text(endpoint.endpoint_monitor_status),
                priority=endpoint.priority,
                weight=endpoint.weight,
                target=endpoint.target,
                location=endpoint.endpoint_location,
                headers=_headers(endpoint.custom_headers),
            )
        )
    return ProfileView(
        id=profile_id,
        resource_group=parts["resource_group"],
        name=parts["name"],
        routing_method=_text(profile.traffic_routing_method) or "",
        status=_text(profile.profile_status) or "Enabled",
        ttl=dns.ttl if dns is not None else None,
        fqdn=dns.fqdn if dns is not None else None,
        monitor=MonitorView(
            protocol=(_text(monitor.protocol) or "HTTP").upper(),
            port=monitor.port,
            path=monitor.path,
            interval_seconds=monitor.interval_in_seconds,
            tolerated_failures=monitor.tolerated_number_of_failures,
            headers=_headers(monitor.custom_headers),
            expected=tuple(
                (int(item.min), int(item.max))
                for item in monitor.expected_status_code_ranges or []
                if item.min is not None and item.max is not None
            ),
        )
        if monitor is not None
        else MonitorView(),
        endpoints=tuple(endpoints),
        tags=dict(profile.tags or {}),
    )


def _text(value: Any) -> str | None:
    """An SDK enum member (a str subclass whose str() is 'Enum.MEMBER') or a plain string, as its value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _headers(items: Iterable[Any] | None) -> dict[str, str]:
    return {str(item.name): str(item.value) for item in items or [] if item.name}


# -- what the switch wants (pure) --------------------------------------------------------------------


def desired_settings(profile: ProfileView, params: TrafficManagerFailoverStep) -> dict[str, EndpointSetting]:
    """The settings the plan wants for the endpoints it manages (see the module docstring)."""
    for name in [*params.from_endpoints, *params.to_endpoints]:
        profile.endpoint(name)
    to_names = [profile.endpoint(name).name for name in params.to_endpoints]
    from_names = [profile.endpoint(name).name for name in params.from_endpoints]
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


class EndpointPatch(_Frozen):
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
    assumed = [
        name for name, value in (("tolerated", tolerated), ("interval", interval), ("ttl", ttl)) if value is None
    ]
    if assumed:
        facts["assumed_azure_defaults"] = assumed
    return facts


def cooldown_refusal(
    tags: dict[str, str], *, now: datetime, cooldown: timedelta, run_id: str, profile_name: str
) -> str | None:
    """Why a failover now would flap (a failover of this profile by another run within the cool-down)."""
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
        f"(until {iso(last_at + cooldown)}): refusing a second failover (an operator can force it)"
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
    return text if len(text) <= _TAG_VALUE_MAX else None


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


# -- health probes ------------------------------------------------------------------------------------


class ProbeTarget(_Frozen):
    endpoint: str | None = None
    url: str  # may carry a key in its query string: reports show redact_url(url)
    tcp: tuple[str, int] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    expect: tuple[StatusRange, ...] = ((200, 200),)
    # Traffic Manager's HTTPS probe requires a certificate but does not validate it; the plan's strict_tls
    # validates chain and name as well.
    tls: TlsCheck = "certificate_present"


def health_targets(
    profile: ProfileView, params: TrafficManagerFailoverStep, endpoints: Iterable[EndpointView]
) -> list[ProbeTarget]:
    """The plan's health_url, or per endpoint the URL Traffic Manager's own monitor probes."""
    tls: TlsCheck = "strict" if params.strict_tls else "certificate_present"
    if params.health_url:
        expect = ((params.health_expect_status, params.health_expect_status),)
        return [ProbeTarget(url=params.health_url, expect=expect, tls=tls)]
    monitor = profile.monitor
    targets = []
    for endpoint in endpoints:
        if endpoint.endpoint_type == "NestedEndpoints" or not endpoint.target:
            raise InvalidInputError(
                f"cannot derive a health URL for endpoint {endpoint.name!r} ({endpoint.endpoint_type}): "
                "set health_url in the plan step",
                code="NoHealthUrl",
            )
        protocol = monitor.protocol if monitor.protocol in ("HTTP", "HTTPS", "TCP") else "HTTP"
        default_port = 443 if protocol == "HTTPS" else 80
        port = monitor.port or default_port
        host = f"[{endpoint.target}]" if ":" in endpoint.target else endpoint.target
        if protocol == "TCP":
            targets.append(ProbeTarget(endpoint=endpoint.name, url=f"tcp://{host}:{port}", tcp=(endpoint.target, port)))
            continue
        netloc = host if port == default_port else f"{host}:{port}"
        path = monitor.path or "/"
        targets.append(
            ProbeTarget(
                endpoint=endpoint.name,
                url=f"{protocol.lower()}://{netloc}{path if path.startswith('/') else '/' + path}",
                headers={**monitor.headers, **endpoint.headers},
                expect=monitor.expected or ((200, 200),),
                tls=tls,
            )
        )
    return targets


def run_probe(target: ProbeTarget, timeout_seconds: float) -> ProbeResult:
    if target.tcp is not None:
        return tcp_probe(*target.tcp, timeout_seconds=timeout_seconds)
    # Traffic Manager does not follow redirects: a 3xx is an answer, judged against the expected ranges.
    return probe(
        target.url,
        expect_status=target.expect,
        timeout_seconds=timeout_seconds,
        headers=target.headers,
        follow_redirects=False,
        tls=target.tls,
    )


def _probe_facts(target: ProbeTarget, result: ProbeResult) -> dict[str, Any]:
    facts: dict[str, Any] = {"url": redact_url(target.url), "ok": result.ok, "result": result.describe()}
    facts["latency_ms"] = result.latency_ms
    if target.endpoint:
        facts["endpoint"] = target.endpoint
    return facts


# -- the step -----------------------------------------------------------------------------------------


def _arm[T](what: str, call: Callable[[], T]) -> T:
    from azure.core.exceptions import AzureError

    try:
        return call()
    except AzureError as exc:
        raise from_azure_error(exc, what=what) from exc


def _client(profile_id: str) -> Any:
    from azure.mgmt.core.tools import parse_resource_id

    return get_clients().traffic_manager(str(parse_resource_id(profile_id)["subscription"]))


def read_profile(profile_id: str) -> ProfileView:
    from azure.mgmt.core.tools import parse_resource_id

    parts = parse_resource_id(profile_id)
    client = _client(profile_id)
    profile = _arm(
        f"read Traffic Manager profile {parts['name']}",
        lambda: client.profiles.get(parts["resource_group"], parts["name"]),
    )
    return profile_view(profile, profile_id)


def apply_patches(profile: ProfileView, patches: list[EndpointPatch]) -> None:
    from azure.mgmt.trafficmanager.models import Endpoint

    client = _client(profile.id)
    field_names = {"status": "endpoint_status", "priority": "priority", "weight": "weight"}
    for patch in patches:
        body = Endpoint(**{field_names[field]: value for field, value in patch.change.fields().items()})
        _arm(
            f"update endpoint {patch.endpoint} of profile {profile.name}",
            lambda patch=patch, body=body: client.endpoints.update(  # type: ignore[misc]
                profile.resource_group, profile.name, patch.endpoint_type, patch.endpoint, body
            ),
        )


def write_tags(profile: ProfileView, tags: dict[str, str]) -> None:
    """PATCH the profile's tags (ARM replaces the whole map: pass every tag to keep)."""
    from azure.mgmt.trafficmanager.models import Profile

    client = _client(profile.id)
    _arm(
        f"tag Traffic Manager profile {profile.name}",
        lambda: client.profiles.update(profile.resource_group, profile.name, Profile(tags=tags)),
    )


def _names(profile: ProfileView, names: Iterable[str]) -> list[str]:
    return [profile.endpoint(name).name for name in names]


class TrafficManagerFailover(StepKind[TrafficManagerFailoverStep]):
    kind = "traffic_manager_failover"

    # -- begin ----------------------------------------------------------------------------------------
    def begin(self, ctx: StepContext, params: TrafficManagerFailoverStep) -> StepProgress:
        if ctx.mode not in ("failover", "drill"):
            raise InvalidInputError(f"{self.kind} runs in failover or drill mode, not {ctx.mode}")
        live = not ctx.is_drill or params.drill_profile_id is not None
        profile_id = params.drill_profile_id if ctx.is_drill and params.drill_profile_id else params.profile_id
        profile = read_profile(profile_id)
        desired = desired_settings(profile, params)
        patches = patches_towards(profile, desired)
        to_names = _names(profile, params.to_endpoints)
        detail: dict[str, Any] = {
            "profile": profile.name,
            "profile_id": profile.id,
            "mode": "failover" if not ctx.is_drill else ("drill (test profile)" if live else "drill (read only)"),
            "routing_method": profile.routing_method,
            "switch": params.switch,
            "from_endpoints": _names(profile, params.from_endpoints),
            "to_endpoints": to_names,
            "dns_answer_before": describe_answer(profile, dns_answer(profile)),
            "expected_dns_convergence_seconds": convergence(profile)["seconds"],
            "convergence": convergence(profile),
        }
        warnings: list[str] = []
        baseline = self._drill_baseline(ctx, profile, desired) if live and ctx.is_drill else {}
        other_drill = profile.tags.get(TAG_DRILL_RUN)
        if live and ctx.is_drill and other_drill and other_drill != ctx.run_id:
            warnings.append(f"the test profile still carries drill run {other_drill}: was its teardown done?")
        refusal = cooldown_refusal(
            profile.tags, now=ctx.now, cooldown=params.cooldown, run_id=ctx.run_id, profile_name=profile.name
        )
        if not patches and live:
            # Desired state already reached (a re-run, or someone switched by hand): touch nothing.
            detail.update(already_switched=True, changes=[])
            summary = f"{profile.name}: already switched to {', '.join(to_names)}"
            return self._switched(ctx, params, profile, detail, summary, warnings, baseline)

        detail["changes" if live else "would_change"] = [patch.describe() for patch in patches]
        if not ctx.is_drill and refusal:
            if not ctx.force:
                raise PreconditionError(refusal, code="CooldownActive")
            warnings.append(f"cool-down overridden by the operator: {refusal}")
            detail["cooldown_forced"] = True
        elif ctx.is_drill and refusal:
            warnings.append(f"a failover now would be refused: {refusal}")
        detail["secondary"] = self._check_secondary(profile, params, desired)

        if not live:
            summary = (
                f"drill: {profile.name} left alone; a failover would make {len(patches)} change(s)"
                if patches
                else f"drill: {profile.name} already routes to {', '.join(to_names)}"
            )
            return StepProgress(done=True, summary=summary, detail=detail, warnings=warnings)

        if ctx.is_drill:
            if profile.tags.get(TAG_DRILL_RUN) != ctx.run_id:
                encoded = encode_baseline(baseline)
                tags = {**profile.tags, TAG_DRILL_RUN: ctx.run_id}
                if encoded is not None:
                    tags[TAG_DRILL_BASELINE] = encoded
                else:
                    warnings.append("baseline too long for a tag: kept in the step state only")
                write_tags(profile, tags)
        elif profile.tags.get(TAG_LAST_FAILOVER_RUN) != ctx.run_id:
            # The anti-flap record goes first: a retried begin of this run must not be refused by it.
            write_tags(
                profile,
                {
                    **profile.tags,
                    TAG_LAST_FAILOVER: iso(ctx.now),
                    TAG_LAST_FAILOVER_RUN: ctx.run_id,
                    TAG_LAST_FAILOVER_PLAN: ctx.plan_name,
                },
            )
        apply_patches(profile, patches)
        detail["already_switched"] = False
        summary = f"{profile.name}: switched to {', '.join(to_names)} ({len(patches)} PATCH(es)); verifying"
        return self._switched(ctx, params, profile, detail, summary, warnings, baseline)

    def _drill_baseline(
        self, ctx: StepContext, profile: ProfileView, desired: dict[str, EndpointSetting]
    ) -> dict[str, EndpointSetting]:
        """The test profile's settings before this run touched it: from its tag when this run already
        started switching it (a retried begin), else as read now."""
        if profile.tags.get(TAG_DRILL_RUN) == ctx.run_id and profile.tags.get(TAG_DRILL_BASELINE):
            return decode_baseline(profile.tags[TAG_DRILL_BASELINE])
        return {name: profile.endpoint(name).setting for name in desired}

    def _switched(
        self,
        ctx: StepContext,
        params: TrafficManagerFailoverStep,
        profile: ProfileView,
        detail: dict[str, Any],
        summary: str,
        warnings: list[str],
        baseline: dict[str, EndpointSetting],
    ) -> StepProgress:
        state: dict[str, Any] = {
            "profile_id": profile.id,
            "switched_at": iso(ctx.now),
            "verify_deadline": iso(ctx.now + params.verify_window),
        }
        if baseline:
            state["original"] = {name: setting.fields() for name, setting in baseline.items()}
        return StepProgress(
            state=state,
            poll_after_seconds=params.poll_interval.total_seconds(),
            summary=summary,
            detail=detail,
            warnings=warnings,
        )

    def _check_secondary(
        self, profile: ProfileView, params: TrafficManagerFailoverStep, desired: dict[str, EndpointSetting]
    ) -> dict[str, Any]:
        """Refuse (changing nothing) unless every to_endpoint is fit and the switch would route to them."""
        secondaries = [profile.endpoint(name) for name in params.to_endpoints]
        reasons = [
            f"endpoint {endpoint.name} is {endpoint.monitor_status} in Traffic Manager"
            for endpoint in secondaries
            if endpoint.monitor_status in UNFIT_SECONDARY
        ]
        probes = []
        for target in health_targets(profile, params, secondaries):
            result = run_probe(target, params.probe_timeout.total_seconds())
            probes.append(_probe_facts(target, result))
            if not result.ok:
                where = f" of {target.endpoint}" if target.endpoint else ""
                reasons.append(f"health probe{where} {redact_url(target.url)}: {result.describe()}")
        if not reasons:
            # Assume the secondaries pass Traffic Manager's probe as they passed ours; others as they are now.
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
            if not secondary_names & set(reached):
                winner = describe_answer(after, answer)
                why = "it has a better priority" if answer else f"the profile is {profile.status}"
                raise PreconditionError(
                    f"after the switch {profile.name!r} would answer {winner}, not the secondary ({why}): "
                    "nothing changed",
                    code="SwitchWouldNotReachSecondary",
                )
        if reasons:
            raise PreconditionError(
                f"secondary of {profile.name!r} is not healthy, nothing changed: {'; '.join(reasons)}",
                code="SecondaryUnhealthy",
            )
        return {
            "monitor_status": {endpoint.name: endpoint.monitor_status for endpoint in secondaries},
            "probes": probes,
        }

    # -- poll -----------------------------------------------------------------------------------------
    def poll(
        self,
        ctx: StepContext,
        params: TrafficManagerFailoverStep,
        state: dict[str, Any],
        work_results: list[dict[str, Any]],
    ) -> StepProgress:
        profile = read_profile(str(state["profile_id"]))
        answer = dns_answer(profile)
        to_names = set(_names(profile, params.to_endpoints))
        from_names = set(_names(profile, params.from_endpoints))
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
        probes = []
        if not problems:
            for target in health_targets(profile, params, expected_online):
                result = run_probe(target, params.probe_timeout.total_seconds())
                probes.append(_probe_facts(target, result))
                if not result.ok:
                    problems.append(f"health {redact_url(target.url)}: {result.describe()}")

        seen = f"DNS would answer {describe_answer(profile, answer)}" + (f"; {'; '.join(problems)}" if problems else "")
        switched_at = parse_time(str(state["switched_at"]))
        elapsed = round((ctx.now - switched_at).total_seconds(), 1)
        detail: dict[str, Any] = {
            "profile": profile.name,
            "dns_answer": describe_answer(profile, answer),
            "expected_dns_convergence_seconds": convergence(profile)["seconds"],
            "seconds_since_switch": elapsed,
        }
        if probes:
            detail["health"] = probes
        if not problems:
            detail["verified_after_seconds"] = elapsed
            return StepProgress(done=True, state=state, summary=f"{profile.name}: verified, {seen}", detail=detail)
        if ctx.now >= parse_time(str(state["verify_deadline"])):
            raise PermanentError(
                f"{profile.name!r} not verified within {format_duration(params.verify_window)} "
                f"of the switch: last seen: {seen}",
                code="VerifyWindowExceeded",
            )
        return StepProgress(
            state=state,
            poll_after_seconds=params.poll_interval.total_seconds(),
            summary=f"{profile.name}: verifying ({elapsed:g} s): {seen}",
            detail=detail,
        )

    # -- teardown -------------------------------------------------------------------------------------
    def teardown(self, ctx: StepContext, params: TrafficManagerFailoverStep, state: dict[str, Any]) -> dict[str, Any]:
        if not ctx.is_drill or params.drill_profile_id is None:
            return {"teardown": "nothing to undo (the production profile was only read)"}
        profile = read_profile(params.drill_profile_id)
        tagged_by_this_run = profile.tags.get(TAG_DRILL_RUN) == ctx.run_id
        if state.get("original"):
            baseline = {name: EndpointSetting(**fields) for name, fields in state["original"].items()}
        elif tagged_by_this_run and profile.tags.get(TAG_DRILL_BASELINE):
            baseline = decode_baseline(profile.tags[TAG_DRILL_BASELINE])
        else:
            return {"teardown": "nothing to undo (this run did not switch the test profile)"}
        patches = patches_towards(profile, baseline)
        apply_patches(profile, patches)
        if tagged_by_this_run:
            write_tags(
                profile,
                {k: v for k, v in profile.tags.items() if k not in (TAG_DRILL_RUN, TAG_DRILL_BASELINE)},
            )
        return {
            "teardown": "restored" if patches else "already restored",
            "profile": profile.name,
            "changes": [patch.describe() for patch in patches],
        }


KINDS = {"traffic_manager_failover": TrafficManagerFailover()}
