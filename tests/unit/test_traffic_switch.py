"""The traffic switch's decisions, on profile views (no Azure): desired state, PATCH order, DNS answer,
cool-down and the drill baseline tag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dr.errors import InvalidInputError, NotFoundError
from dr.plan import TrafficManagerFailoverStep
from dr.steps.traffic.model import EndpointSetting, EndpointView, MonitorView, ProfileView, TrafficState
from dr.steps.traffic.planner import (
    convergence,
    cooldown_refusal,
    decode_baseline,
    desired_settings,
    dns_answer,
    encode_baseline,
    patches_towards,
)
from dr.steps.traffic.probes import health_targets

PROFILE_ID = "/subscriptions/s1/resourceGroups/shop/providers/Microsoft.Network/trafficManagerProfiles/shop"


def endpoint(name: str, **fields: Any) -> EndpointView:
    values: dict[str, Any] = {
        "endpoint_type": "ExternalEndpoints",
        "status": "Enabled",
        "monitor_status": "Online",
        "target": f"{name}.example.com",
    }
    values.update(fields)
    return EndpointView(name=name, **values)


def profile(method: str, *endpoints: EndpointView, **fields: Any) -> ProfileView:
    return ProfileView(
        id=PROFILE_ID,
        resource_group="shop",
        name="shop",
        routing_method=method,
        endpoints=endpoints,
        **fields,
    )


def step(**fields: Any) -> TrafficManagerFailoverStep:
    values: dict[str, Any] = {
        "id": "traffic",
        "kind": "traffic_manager_failover",
        "profile_id": PROFILE_ID,
        "from_endpoints": ["eus"],
        "to_endpoints": ["wus"],
    }
    values.update(fields)
    return TrafficManagerFailoverStep.model_validate(values)


def apply(view: ProfileView, patches: list[Any]) -> ProfileView:
    """Apply PATCHes one by one, checking priorities stay unique at every step (as ARM demands)."""
    for patch in patches:
        view = view.with_settings({patch.endpoint: patch.change})
        priorities = [e.priority for e in view.endpoints if e.priority is not None]
        assert len(priorities) == len(set(priorities)), f"duplicate priority after {patch.describe()}"
    return view


def test_priority_disable_turns_primary_off_secondary_on_and_nothing_on_rerun() -> None:
    view = profile("Priority", endpoint("eus", priority=1), endpoint("wus", priority=2, status="Disabled"))
    desired = desired_settings(view, step())
    patches = patches_towards(view, desired)
    assert [p.describe() for p in patches] == ["wus: status Disabled→Enabled", "eus: status Enabled→Disabled"]
    after = apply(view, patches)
    assert patches_towards(after, desired_settings(after, step())) == []


def test_swap_priorities_moves_secondary_first_keeps_others_in_order_and_values_unique() -> None:
    view = profile(
        "Priority",
        endpoint("eus", priority=10),
        endpoint("other", priority=20),
        endpoint("wus", priority=30, status="Disabled"),
    )
    patches = patches_towards(view, desired_settings(view, step(switch="swap_priorities")))
    after = apply(view, patches)
    assert {e.name: (e.priority, e.status) for e in after.endpoints} == {
        "wus": (10, "Enabled"),
        "eus": (20, "Enabled"),
        "other": (30, "Enabled"),
    }
    assert any(p.temporary for p in patches), "a three-way rotation needs one parked endpoint"
    assert patches[0].describe() == "wus: status Disabled→Enabled"
    assert patches_towards(after, desired_settings(after, step(switch="swap_priorities"))) == []


def test_swap_of_two_parks_the_primary_so_traffic_moves_at_the_first_patch() -> None:
    view = profile("Priority", endpoint("eus", priority=1), endpoint("wus", priority=2))
    patches = patches_towards(view, desired_settings(view, step(switch="swap_priorities")))
    assert patches[0].endpoint == "eus"
    assert patches[0].temporary
    first = view.with_settings({patches[0].endpoint: patches[0].change})
    assert dns_answer(first)[0][0].name == "wus"
    assert [(e.name, e.priority) for e in apply(view, patches).endpoints] == [("eus", 2), ("wus", 1)]


def test_weighted_disable_and_shift_weight() -> None:
    view = profile("Weighted", endpoint("eus", weight=100), endpoint("wus", weight=1, status="Disabled"))
    cut = apply(view, patches_towards(view, desired_settings(view, step())))
    assert [(e.name, share) for e, share in dns_answer(cut)] == [("wus", 1.0)]

    shift = step(switch="shift_weight")
    shifted = apply(view, patches_towards(view, desired_settings(view, shift)))
    assert {e.name: (e.weight, e.status) for e in shifted.endpoints} == {
        "eus": (1, "Enabled"),
        "wus": (1000, "Enabled"),
    }
    assert {e.name: share for e, share in dns_answer(shifted)}["wus"] > 0.99
    assert patches_towards(shifted, desired_settings(shifted, shift)) == []


@pytest.mark.parametrize(
    ("method", "switch", "code"),
    [
        ("Weighted", "swap_priorities", "UnsupportedSwitch"),
        ("Priority", "shift_weight", "UnsupportedSwitch"),
        ("Performance", "disable", "UnsupportedRoutingMethod"),
    ],
)
def test_switch_that_does_not_fit_the_routing_method_is_refused(method: str, switch: str, code: str) -> None:
    view = profile(method, endpoint("eus", priority=1), endpoint("wus", priority=2))
    with pytest.raises(InvalidInputError) as raised:
        desired_settings(view, step(switch=switch))
    assert raised.value.code == code


def test_unknown_endpoint_names_the_ones_that_exist() -> None:
    view = profile("Priority", endpoint("eus", priority=1), endpoint("wus", priority=2))
    with pytest.raises(NotFoundError, match=r"no endpoint 'westus'.*eus, wus"):
        desired_settings(view, step(to_endpoints=["westus"]))


def test_dns_answer_skips_degraded_and_fails_open_when_all_are_down() -> None:
    view = profile(
        "Priority",
        endpoint("eus", priority=1, monitor_status="Degraded"),
        endpoint("wus", priority=2, monitor_status="CheckingEndpoint"),
        endpoint("dr3", priority=3, status="Disabled", monitor_status="Disabled"),
    )
    assert dns_answer(view)[0][0].name == "wus"
    all_down = view.with_settings({}).model_copy(
        update={"endpoints": tuple(e.model_copy(update={"monitor_status": "Degraded"}) for e in view.endpoints)}
    )
    assert dns_answer(all_down)[0][0].name == "eus"
    assert dns_answer(view.model_copy(update={"status": "Disabled"})) == []


def test_convergence_uses_the_profile_settings_or_azure_defaults() -> None:
    tuned = profile("Priority", endpoint("eus"), ttl=10, monitor=MonitorView(interval_seconds=10, tolerated_failures=1))
    assert convergence(tuned)["seconds"] == (1 + 1) * 10 + 10
    defaults = convergence(profile("Priority", endpoint("eus")))
    assert defaults["seconds"] == (3 + 1) * 30 + 60
    assert defaults["assumed_azure_defaults"] == ["tolerated", "interval", "ttl"]


def test_cooldown_refuses_another_run_but_not_the_run_that_wrote_the_tag() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    tags = {"dr-last-failover": "2026-11-28T11:40:00Z", "dr-last-failover-run": "run-1"}

    def refusal(run_id: str, at: datetime) -> str | None:
        return cooldown_refusal(tags, now=at, cooldown=timedelta(hours=1), run_id=run_id, profile_name="shop")

    refused = refusal("run-2", now)
    assert refused is not None
    assert "run-1" in refused
    assert "until 2026-11-28T12:40:00Z" in refused
    assert refusal("run-1", now) is None
    assert refusal("run-2", now + timedelta(minutes=41)) is None


def test_drill_baseline_round_trips_through_a_tag_value() -> None:
    baseline = {
        "eus": EndpointSetting(status="Enabled", priority=1),
        "wus": EndpointSetting(status="Disabled", weight=5),
    }
    encoded = encode_baseline(baseline)
    assert encoded is not None
    assert len(encoded) <= 256
    assert decode_baseline(encoded) == baseline
    assert encode_baseline({"a;b": EndpointSetting(status="Enabled")}) is None


def test_health_url_derived_from_the_monitor_config_with_its_headers_and_ranges() -> None:
    view = profile(
        "Priority",
        endpoint("wus", target="shop-wus.example.com", headers={"Host": "shop.example.com"}),
        monitor=MonitorView(protocol="HTTPS", port=443, path="/health", expected=((200, 299),)),
    )
    (target,) = health_targets(view, step(), [view.endpoint("wus")])
    assert target.url == "https://shop-wus.example.com/health"
    assert target.headers == {"Host": "shop.example.com"}
    assert target.expect == ((200, 299),)
    nested = profile("Priority", endpoint("wus", endpoint_type="NestedEndpoints", target=None))
    with pytest.raises(InvalidInputError, match="set health_url"):
        health_targets(nested, step(), [nested.endpoint("wus")])


def test_the_switch_state_travels_as_plain_json() -> None:
    switched = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    state = TrafficState(
        profile_id=PROFILE_ID,
        switched_at=switched,
        verify_deadline=switched + timedelta(minutes=5),
        original={"eus": EndpointSetting(status="Enabled", priority=1)},
    )
    wire = state.dump()
    assert wire == {
        "profile_id": PROFILE_ID,
        "switched_at": "2026-11-28T12:00:00Z",
        "verify_deadline": "2026-11-28T12:05:00Z",
        "original": {"eus": {"status": "Enabled", "priority": 1}},
    }
    assert TrafficState.model_validate(wire) == state
    assert "original" not in state.model_copy(update={"original": None}).dump()
