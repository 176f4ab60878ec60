"""The traffic_manager_failover step kind against the ARM emulator: what an operator would see in Azure
(endpoint states, tags, what DNS answers) and in the run report (detail, errors)."""

from __future__ import annotations

import pytest

from devstack.arm import ArmEmulator
from dr.errors import PermanentError, PreconditionError
from dr.steps import get_kind
from tests.activities.kind_calls import KindCalls
from tests.arm_fixtures import NOW, Clock
from tests.health_server import HealthUrls

from .conftest import DRILL_PROFILE_ID, GROUP, PROFILE_ID, SUB, context, endpoint, seed_profile, shop_priority, step

KIND = get_kind("traffic_manager_failover")


def endpoints_of(arm: ArmEmulator, profile: str = "shop") -> dict[str, tuple[str, int, int]]:
    """name -> (status, priority, weight), as the emulator holds them."""
    with arm.estate.lock:
        found = arm.traffic_manager.find(SUB, GROUP, profile)
        assert found is not None
        return {e.name: (e.endpoint_status, e.priority, e.weight) for e in found.endpoints.values()}


def tags_of(arm: ArmEmulator, profile: str = "shop") -> dict[str, str]:
    with arm.estate.lock:
        found = arm.traffic_manager.find(SUB, GROUP, profile)
        assert found is not None
        return dict(found.tags)


def writes(arm: ArmEmulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in arm.requests() if r.method in ("PATCH", "PUT", "POST", "DELETE")]


CALLS = KindCalls(KIND, context)
begin, poll = CALLS.begin, CALLS.poll


def test_priority_disable_switches_verifies_and_reports_convergence(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm, wus_status="Disabled")
    fields = step(health)

    started = begin(fields)

    assert endpoints_of(arm) == {"shop-eus": ("Disabled", 1, 1), "shop-wus": ("Enabled", 2, 1)}
    assert arm.resolve(PROFILE_ID).endpoint == "shop-wus"
    assert started.done is False
    assert started.detail["changes"] == [
        "shop-wus: status Disabled→Enabled",
        "shop-eus: status Enabled→Disabled",
    ]
    assert started.detail["expected_dns_convergence_seconds"] == (2 + 1) * 10 + 30
    assert started.detail["secondary"]["probes"][0]["ok"] is True
    assert tags_of(arm)["dr-last-failover"] == "2026-03-02T12:00:00Z"
    assert tags_of(arm)["dr-last-failover-run"] == "shop--failover--run1"

    verified = poll(fields, started.state)
    assert verified.done is True
    assert verified.detail["dns_answer"].startswith("shop-wus")
    assert verified.detail["verified_after_seconds"] == 0
    assert verified.detail["expected_dns_convergence_seconds"] == 60


def test_swap_priorities_gives_the_secondary_the_best_priority(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_profile(
        arm,
        endpoint("shop-eus", "eastus", priority=1),
        endpoint("shop-cus", "centralus", priority=2),
        endpoint("shop-wus", "westus", priority=3),
    )
    fields = step(health, switch="swap_priorities")

    started = begin(fields)

    assert endpoints_of(arm) == {
        "shop-wus": ("Enabled", 1, 1),
        "shop-eus": ("Enabled", 2, 1),
        "shop-cus": ("Enabled", 3, 1),
    }
    assert any("parked" in change for change in started.detail["changes"])
    assert arm.resolve(PROFILE_ID).endpoint == "shop-wus"
    assert poll(fields, started.state).done is True


@pytest.mark.parametrize(
    ("switch", "expected"),
    [
        ("disable", {"shop-eus": ("Disabled", 100), "shop-wus": ("Enabled", 1)}),
        ("shift_weight", {"shop-eus": ("Enabled", 1), "shop-wus": ("Enabled", 1000)}),
    ],
)
def test_weighted_profile_moves_the_traffic(
    arm: ArmEmulator, health: HealthUrls, switch: str, expected: dict[str, tuple[str, int]]
) -> None:
    seed_profile(
        arm,
        endpoint("shop-eus", "eastus", weight=100),
        endpoint("shop-wus", "westus", weight=1, status="Disabled"),
        routing_method="Weighted",
    )
    fields = step(health, switch=switch)

    started = begin(fields)

    assert {name: (s, w) for name, (s, _, w) in endpoints_of(arm).items()} == expected
    verified = poll(fields, started.state)
    assert verified.done is True
    share = 1.0 if switch == "disable" else 1000 / 1001
    assert f"{share:.1%}" in verified.detail["dns_answer"]


def test_rerun_changes_nothing_and_says_already_switched(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    fields = step(health)
    begin(fields)
    before = (endpoints_of(arm), tags_of(arm))
    arm.clear_requests()

    again = begin(fields, now=NOW.replace(minute=3))

    assert writes(arm) == []
    assert (endpoints_of(arm), tags_of(arm)) == before
    assert again.detail["already_switched"] is True
    assert "already switched" in again.summary
    assert poll(fields, again.state, now=NOW.replace(minute=3)).done is True


def test_degraded_secondary_is_refused_and_the_profile_left_alone(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    arm.set_target_health("shop-wus.example.com", healthy=False)
    before = (endpoints_of(arm), tags_of(arm))

    with pytest.raises(PreconditionError) as refused:
        begin(step(health))

    assert refused.value.code == "SecondaryUnhealthy"
    assert "shop-wus is Degraded" in refused.value.message
    assert writes(arm) == []
    assert (endpoints_of(arm), tags_of(arm)) == before


@pytest.mark.parametrize("derived", [False, True], ids=["plan-health-url", "derived-from-monitor-config"])
def test_failing_health_url_is_refused_and_the_profile_left_alone(
    arm: ArmEmulator, health: HealthUrls, derived: bool
) -> None:
    if derived:
        # What Traffic Manager itself probes: http://<target>:<monitor port><monitor path>.
        seed_profile(
            arm,
            endpoint("shop-eus", "eastus", priority=1),
            endpoint("shop-wus", "westus", priority=2, target="127.0.0.1"),
            monitor={"protocol": "HTTP", "port": health.port, "path": "/health"},
        )
        fields = step(health, health_url=None)
        health.fail("/health")
    else:
        shop_priority(arm)
        fields = step(health, health_url=health.url("/wus/health?code=s3cret-key"))
        health.fail("/wus/health")
    before = endpoints_of(arm)

    with pytest.raises(PreconditionError) as refused:
        begin(fields)

    assert refused.value.code == "SecondaryUnhealthy"
    assert "HTTP 503 (expected 200)" in refused.value.message
    assert "s3cret" not in str(refused.value)
    assert writes(arm) == []
    assert endpoints_of(arm) == before

    health.statuses.clear()
    assert begin(fields).detail["changes"] == ["shop-eus: status Enabled→Disabled"]


def test_region_outage_of_the_primary_switch_succeeds_and_verification_sees_the_secondary(
    arm: ArmEmulator, health: HealthUrls
) -> None:
    shop_priority(arm)
    arm.region_outage("eastus")
    fields = step(health)

    started = begin(fields)
    verified = poll(fields, started.state)

    assert endpoints_of(arm)["shop-eus"][0] == "Disabled"
    assert verified.done is True
    assert verified.detail["dns_answer"] == "shop-wus (priority 2, Enabled, Online)"
    assert arm.resolve(PROFILE_ID).endpoint == "shop-wus"


def test_cooldown_refuses_a_flap_unless_forced(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    health_eus = health.url("/eus/health")
    begin(step(health))  # failover by run1 at 12:00
    failback = step(health, from_endpoints=["shop-wus"], to_endpoints=["shop-eus"], health_url=health_eus)
    later = NOW.replace(minute=20)
    arm.clear_requests()

    with pytest.raises(PreconditionError) as refused:
        begin(failback, run_id="shop-back--failover--run2", now=later)
    assert refused.value.code == "CooldownActive"
    assert "shop--failover--run1" in refused.value.message
    assert "until 2026-03-02T13:00:00Z" in refused.value.message
    assert writes(arm) == []

    # The run that wrote the tag is not refused by it (a retried begin).
    assert begin(step(health), now=later).detail["already_switched"] is True

    forced = begin(failback, run_id="shop-back--failover--run2", now=later, force=True)
    assert forced.detail["cooldown_forced"] is True
    assert any("overridden" in warning for warning in forced.warnings)
    assert endpoints_of(arm)["shop-eus"][0] == "Enabled"
    assert tags_of(arm)["dr-last-failover-run"] == "shop-back--failover--run2"


def test_drill_without_a_test_profile_only_reads_and_reports(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    before = (endpoints_of(arm), tags_of(arm))

    drill = begin(step(health), mode="drill", run_id="shop--drill--run1")

    assert drill.done is True
    assert drill.detail["mode"] == "drill (read only)"
    assert drill.detail["would_change"] == ["shop-eus: status Enabled→Disabled"]
    assert drill.detail["secondary"]["probes"][0]["ok"] is True
    assert writes(arm) == []
    assert (endpoints_of(arm), tags_of(arm)) == before
    c = context(step(health), mode="drill", run_id="shop--drill--run1")
    assert KIND.teardown(c, c.params(), drill.state)["teardown"].startswith("nothing to undo")


@pytest.mark.parametrize(
    ("switch", "switched"),
    [
        ("disable", {"shop-eus": ("Disabled", 1, 1), "shop-wus": ("Enabled", 2, 1)}),
        ("swap_priorities", {"shop-eus": ("Enabled", 2, 1), "shop-wus": ("Enabled", 1, 1)}),
    ],
)
def test_drill_with_a_test_profile_switches_it_and_teardown_restores_it(
    arm: ArmEmulator, health: HealthUrls, switch: str, switched: dict[str, tuple[str, int, int]]
) -> None:
    shop_priority(arm)
    shop_priority(arm, name="shop-drill", wus_status="Disabled")
    production = (endpoints_of(arm), tags_of(arm))
    original = endpoints_of(arm, "shop-drill")
    fields = step(health, drill_profile_id=DRILL_PROFILE_ID, switch=switch)
    ctx = context(fields, mode="drill", run_id="shop--drill--run1")

    started = KIND.begin(ctx, ctx.params())

    assert endpoints_of(arm, "shop-drill") == switched
    assert tags_of(arm, "shop-drill")["dr-drill-run"] == "shop--drill--run1"
    assert (endpoints_of(arm), tags_of(arm)) == production
    assert not any("/shop/" in w or w.endswith("/shop") for w in writes(arm))
    assert KIND.poll(ctx, ctx.params(), started.state, []).done is True

    restored = KIND.teardown(ctx, ctx.params(), started.state)

    assert restored["teardown"] == "restored"
    assert endpoints_of(arm, "shop-drill") == original
    assert "dr-drill-run" not in tags_of(arm, "shop-drill")
    assert KIND.teardown(ctx, ctx.params(), started.state)["teardown"] == "already restored"
    assert (endpoints_of(arm), tags_of(arm)) == production


def test_drill_begin_retried_after_a_partial_switch_still_restores_the_true_baseline(
    arm: ArmEmulator, health: HealthUrls
) -> None:
    shop_priority(arm, name="shop-drill", wus_status="Disabled")
    original = endpoints_of(arm, "shop-drill")
    fields = step(health, drill_profile_id=DRILL_PROFILE_ID)
    ctx = context(fields, mode="drill", run_id="shop--drill--run1")
    arm.inject_fault("*/shop-drill/externalEndpoints/shop-eus", method="PATCH", status=409, code="Conflict")

    with pytest.raises(PreconditionError):
        KIND.begin(ctx, ctx.params())  # shop-wus enabled, then the shop-eus PATCH fails: state lost
    assert endpoints_of(arm, "shop-drill")["shop-wus"][0] == "Enabled"

    retried = KIND.begin(ctx, ctx.params())
    KIND.teardown(ctx, ctx.params(), retried.state)

    assert endpoints_of(arm, "shop-drill") == original


def test_verify_window_exceeded_fails_with_what_was_last_seen(
    arm: ArmEmulator, health: HealthUrls, clock: Clock
) -> None:
    arm.configure(endpoint_checking_seconds=3600)  # the secondary stays CheckingEndpoint
    shop_priority(arm, wus_status="Disabled")
    fields = step(health, verify_window="PT2M")
    started = begin(fields)

    waiting = poll(fields, started.state, now=clock.advance(60))
    assert waiting.done is False
    assert "shop-wus is CheckingEndpoint, not Online" in waiting.summary
    assert waiting.poll_after_seconds == 10

    with pytest.raises(PermanentError) as exceeded:
        poll(fields, started.state, now=clock.advance(61))
    assert exceeded.value.code == "VerifyWindowExceeded"
    assert "within PT2M" in exceeded.value.message
    assert "shop-wus (priority 2, Enabled, CheckingEndpoint)" in exceeded.value.message


def test_verification_waits_for_the_secondary_to_come_online_then_its_health_url(
    arm: ArmEmulator, health: HealthUrls, clock: Clock
) -> None:
    arm.configure(endpoint_checking_seconds=30)
    shop_priority(arm, wus_status="Disabled")
    fields = step(health)
    started = begin(fields)

    assert poll(fields, started.state, now=clock.advance(10)).done is False
    health.fail("/wus/health")
    unhealthy = poll(fields, started.state, now=clock.advance(25))
    assert unhealthy.done is False
    assert "HTTP 503" in unhealthy.summary

    health.statuses.clear()
    verified = poll(fields, started.state, now=clock.advance(10))
    assert verified.done is True
    assert verified.detail["verified_after_seconds"] == 45


def test_switch_that_would_route_to_a_third_endpoint_is_refused(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_profile(
        arm,
        endpoint("shop-eus", "eastus", priority=1),
        endpoint("shop-cus", "centralus", priority=2),
        endpoint("shop-wus", "westus", priority=3),
    )

    with pytest.raises(PreconditionError) as refused:
        begin(step(health))

    assert refused.value.code == "SwitchWouldNotReachSecondary"
    assert "would answer shop-cus (priority 2, Enabled, Online)" in refused.value.message
    assert writes(arm) == []
