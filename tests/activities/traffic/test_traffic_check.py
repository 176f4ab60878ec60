"""The traffic_manager_failover pre-flight (check) against the ARM emulator, through the step_check dispatch:
it must reach begin's verdicts (a failed check wherever begin would refuse, with the same words) and change
nothing, as seen through the real azure-mgmt-trafficmanager client."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr import dispatch
from dr.clients import get_clients
from dr.errors import DrError, NotFoundError, PreconditionError
from dr.steps import get_kind
from tests.arm_fixtures import NOW
from tests.health_server import HealthUrls

from .conftest import DRILL_PROFILE_ID, GROUP, SUB, context, endpoint, seed_profile, shop_priority, step

KIND = get_kind("traffic_manager_failover")
FAILBACK_RUN = "shop-back--failover--run2"


def run_check(fields: dict[str, Any], **ctx: Any) -> list[dict[str, Any]]:
    """step_check's answer, as the activity returns it (JSON), without the permission checks every kind gets
    (dr.permissions; tests/activities/test_permissions.py)."""
    checks = dispatch.check({"context": context(fields, **ctx).model_dump(mode="json")})
    return [check for check in checks if not check["name"].startswith("permissions")]


def named(checks: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [check for check in checks if check["name"] == name]
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def failed(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [check for check in checks if check["status"] == "failed"]


def begin_refusal(fields: dict[str, Any], **ctx: Any) -> DrError:
    c = context(fields, **ctx)
    with pytest.raises(DrError) as refused:
        KIND.begin(c, c.params())
    return refused.value


def client_view(profile: str = "shop") -> dict[str, Any]:
    """The profile as the real azure-mgmt-trafficmanager client reads it from the emulator."""
    return get_clients().traffic_manager(SUB).profiles.get(GROUP, profile).as_dict()


def writes(arm: ArmEmulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in arm.requests() if r.method in ("PATCH", "PUT", "POST", "DELETE")]


def failover_by_run1(health: HealthUrls) -> None:
    """A failover of shop by run1 at NOW: its anti-flap tag starts a one-hour cool-down."""
    c = context(step(health))
    KIND.begin(c, c.params())


def failback(health: HealthUrls) -> dict[str, Any]:
    return step(health, from_endpoints=["shop-wus"], to_endpoints=["shop-eus"], health_url=health.url("/eus/health"))


def test_healthy_profile_passes_every_check_and_reports_what_it_verified(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm, wus_status="Disabled")
    before = client_view()
    arm.clear_requests()

    checks = run_check(step(health))

    assert {check["status"] for check in checks} == {"passed"}
    assert [check["name"] for check in checks] == [
        "profile_exists",
        "endpoints_exist",
        "routing_fits_switch",
        "changes",
        "cooldown",
        "secondary_healthy",
        "switch_reaches_secondary",
        "primary_status",
        "dns_convergence",
    ]
    assert named(checks, "changes")["facts"]["changes"] == [
        "shop-wus: status Disabled→Enabled",
        "shop-eus: status Enabled→Disabled",
    ]
    assert named(checks, "secondary_healthy")["facts"]["probes"][0]["ok"] is True
    assert named(checks, "dns_convergence")["facts"]["expected_dns_convergence_seconds"] == (2 + 1) * 10 + 30
    assert health.hits == ["/wus/health"]  # one bounded probe of the secondary
    assert writes(arm) == []
    assert client_view() == before


@pytest.mark.parametrize("force", [False, True], ids=["unforced", "forced"])
def test_degraded_secondary_fails_the_check_as_begin_would_refuse_and_changes_nothing(
    arm: ArmEmulator, health: HealthUrls, force: bool
) -> None:
    # The split-estate bug: the SQL step was forced over, then the traffic step refused. Force overrides only
    # the cool-down, so a forced pre-flight must still stop on the secondary's health.
    shop_priority(arm)
    arm.set_target_health("shop-wus.example.com", healthy=False)
    before = client_view()
    arm.clear_requests()

    checks = run_check(step(health), force=force)

    assert [check["name"] for check in failed(checks)] == ["secondary_healthy"]
    refused = named(checks, "secondary_healthy")
    assert refused["message"].startswith("secondary of 'shop' is not healthy, nothing changed: ")
    assert "endpoint shop-wus is Degraded in Traffic Manager" in refused["message"]
    assert refused["facts"]["code"] == "SecondaryUnhealthy"
    assert refused["facts"]["monitor_status"] == {"shop-wus": "Degraded"}
    assert writes(arm) == []
    assert client_view() == before

    error = begin_refusal(step(health), force=force)
    assert isinstance(error, PreconditionError)
    assert (error.code, error.message) == ("SecondaryUnhealthy", refused["message"])


def test_failing_health_url_fails_the_check_without_showing_its_key(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    health.fail("/wus/health")

    checks = run_check(step(health, health_url=health.url("/wus/health?code=s3cret-key")))

    refused = named(checks, "secondary_healthy")
    assert refused["status"] == "failed"
    assert "HTTP 503 (expected 200)" in refused["message"]
    assert "s3cret" not in str(checks)


def test_active_cooldown_fails_the_check_saying_until_when(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    failover_by_run1(health)
    before = client_view()
    arm.clear_requests()
    later = NOW.replace(minute=20)

    checks = run_check(failback(health), run_id=FAILBACK_RUN, now=later)

    assert [check["name"] for check in failed(checks)] == ["cooldown"]
    cooldown = named(checks, "cooldown")
    assert "until 2026-03-02T13:00:00Z" in cooldown["message"]
    assert "shop--failover--run1" in cooldown["message"]
    assert "an operator can force it" in cooldown["message"]
    assert cooldown["facts"]["last_failover"] == "2026-03-02T12:00:00Z"
    assert writes(arm) == []
    assert client_view() == before

    error = begin_refusal(failback(health), run_id=FAILBACK_RUN, now=later)
    assert (error.code, error.message) == ("CooldownActive", cooldown["message"])


def test_forced_run_passes_the_cooldown_check_with_a_note(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    failover_by_run1(health)
    later = NOW.replace(minute=20)

    checks = run_check(failback(health), run_id=FAILBACK_RUN, now=later, force=True)

    assert failed(checks) == []
    cooldown = named(checks, "cooldown")
    assert cooldown["status"] == "passed"
    assert cooldown["facts"]["forced"] is True
    assert "until 2026-03-02T13:00:00Z" in cooldown["message"]
    assert "overridden by the operator" in cooldown["message"]

    c = context(failback(health), run_id=FAILBACK_RUN, now=later, force=True)
    assert KIND.begin(c, c.params()).warnings == [cooldown["message"]]


def test_missing_endpoint_fails_the_check_naming_it(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)

    checks = run_check(step(health, to_endpoints=["shop-cus"]))

    missing = named(checks, "endpoint_exists")
    assert missing["status"] == "failed"
    assert "has no endpoint 'shop-cus' (endpoints: shop-eus, shop-wus)" in missing["message"]
    assert "correct to_endpoints in the plan" in missing["message"]
    assert missing["facts"] == {"code": "EndpointNotFound", "endpoint": "shop-cus", "field": "to_endpoints"}
    error = begin_refusal(step(health, to_endpoints=["shop-cus"]))
    assert isinstance(error, NotFoundError)
    assert error.code == "EndpointNotFound"


def test_missing_profile_fails_the_check(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm, name="shop-other")

    checks = run_check(step(health))

    assert [(check["name"], check["status"]) for check in checks] == [("profile_exists", "failed")]
    assert "profile 'shop' (profile_id) was not found: correct profile_id" in checks[0]["message"]


def test_a_disabled_profile_fails_the_check_and_begin_refuses_it(arm: ArmEmulator, health: HealthUrls) -> None:
    """A Disabled profile answers no DNS query: moving its endpoints would bring nobody back."""
    from azure.mgmt.trafficmanager.models import Profile

    shop_priority(arm, wus_status="Disabled")
    get_clients().traffic_manager(SUB).profiles.update(GROUP, "shop", Profile(profile_status="Disabled"))
    arm.clear_requests()

    checks = run_check(step(health))
    enabled = named(checks, "profile_enabled")
    assert enabled["status"] == "failed" and "is Disabled" in enabled["message"]
    assert named(checks, "endpoints_exist")["status"] == "passed"  # pre-flight still shows everything else
    refusal = begin_refusal(step(health))
    assert isinstance(refusal, PreconditionError) and refusal.code == "ProfileDisabled"
    assert writes(arm) == []


def test_routing_method_that_does_not_fit_the_switch_fails_the_check(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_profile(
        arm,
        endpoint("shop-eus", "eastus", weight=100),
        endpoint("shop-wus", "westus", weight=1),
        routing_method="Weighted",
    )

    checks = run_check(step(health, switch="swap_priorities"))

    routing = named(checks, "routing_fits_switch")
    assert routing["status"] == "failed"
    assert "switch 'swap_priorities' does not apply to the Weighted profile 'shop'" in routing["message"]
    assert routing["facts"]["code"] == "UnsupportedSwitch"
    assert named(checks, "secondary_healthy")["status"] == "passed"  # checked all the same


def test_switch_that_would_route_to_a_third_endpoint_fails_the_check(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_profile(
        arm,
        endpoint("shop-eus", "eastus", priority=1),
        endpoint("shop-cus", "centralus", priority=2),
        endpoint("shop-wus", "westus", priority=3),
    )

    checks = run_check(step(health))

    assert [check["name"] for check in failed(checks)] == ["switch_reaches_secondary"]
    reach = named(checks, "switch_reaches_secondary")
    assert "would answer shop-cus (priority 2, Enabled, Online)" in reach["message"]
    assert "add it to from_endpoints or use switch swap_priorities" in reach["message"]
    assert begin_refusal(step(health)).message == reach["message"]


def test_degraded_primary_is_a_warning_in_a_failover(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    arm.region_outage("eastus")

    checks = run_check(step(health))

    assert failed(checks) == []
    primary = named(checks, "primary_status")
    assert primary["status"] == "warning"
    assert primary["message"].startswith("primary shop-eus is Degraded in 'shop', as expected when its region is down")
    assert primary["facts"]["monitor_status"] == {"shop-eus": "Degraded"}


def test_slow_dns_convergence_is_a_warning_with_the_expected_seconds(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_profile(arm, endpoint("shop-eus", "eastus", priority=1), endpoint("shop-wus", "westus", priority=2), ttl=300)

    checks = run_check(step(health))

    slow = named(checks, "dns_convergence")
    assert slow["status"] == "warning"
    assert slow["facts"]["expected_dns_convergence_seconds"] == (2 + 1) * 10 + 300
    assert "about 330 s to follow the switch" in slow["message"]
    assert "lower the profile's TTL or probe interval" in slow["message"]


def test_already_switched_profile_passes_and_skips_the_gates_begin_skips(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_profile(
        arm, endpoint("shop-eus", "eastus", priority=1, status="Disabled"), endpoint("shop-wus", "westus", priority=2)
    )
    health.fail("/wus/health")  # begin would not probe: nothing to change, nothing to refuse

    checks = run_check(step(health))

    assert failed(checks) == []
    assert named(checks, "changes")["message"] == "'shop' already routes as planned to shop-wus: nothing to change"
    assert "secondary_healthy" not in {check["name"] for check in checks}
    assert health.hits == []


def test_drill_checks_the_test_profile_and_leaves_production_alone(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)
    arm.set_target_health("shop-wus.example.com", healthy=False)  # production's secondary: not the drill's
    seed_profile(
        arm,
        endpoint("shop-eus", "eastus", priority=1, target="shop-eus-drill.example.com"),
        endpoint("shop-wus", "westus", priority=2, target="shop-wus-drill.example.com", status="Disabled"),
        name="shop-drill",
    )
    before = (client_view(), client_view("shop-drill"))
    arm.clear_requests()

    checks = run_check(step(health, drill_profile_id=DRILL_PROFILE_ID), mode="drill", run_id="shop--drill--run1")

    assert failed(checks) == []
    assert named(checks, "profile_exists")["message"].startswith("drill test profile 'shop-drill' found")
    assert named(checks, "secondary_healthy")["facts"]["monitor_status"] == {"shop-wus": "Disabled"}
    assert writes(arm) == []
    assert (client_view(), client_view("shop-drill")) == before


def test_drill_with_a_missing_test_profile_fails_the_check(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_priority(arm)

    checks = run_check(step(health, drill_profile_id=DRILL_PROFILE_ID), mode="drill", run_id="shop--drill--run1")

    assert [(check["name"], check["status"]) for check in checks] == [("profile_exists", "failed")]
    assert checks[0]["message"].startswith(
        "drill test profile 'shop-drill' (drill_profile_id) was not found: create it, or remove drill_profile_id"
    )


def test_drill_without_a_test_profile_reads_production_and_warns_of_the_cooldown(
    arm: ArmEmulator, health: HealthUrls
) -> None:
    shop_priority(arm)
    failover_by_run1(health)
    before = client_view()
    arm.clear_requests()

    checks = run_check(failback(health), mode="drill", run_id="shop--drill--run1", now=NOW.replace(minute=20))

    assert failed(checks) == []
    assert "(read only: the drill has no drill_profile_id)" in named(checks, "profile_exists")["message"]
    cooldown = named(checks, "cooldown")
    assert cooldown["status"] == "warning"
    assert cooldown["message"].startswith("a failover now would be refused: profile 'shop' was failed over")
    assert writes(arm) == []
    assert client_view() == before
