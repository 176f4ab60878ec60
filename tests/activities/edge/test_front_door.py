"""The front_door_origins step kind against the ARM emulator: what an operator would see in Azure (origin states,
the test profile's tags, Front Door's origin health) and in the run report (detail, checks, errors)."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.errors import PermanentError, PreconditionError, TransientError
from dr.plan import FrontDoorOriginsStep
from dr.steps import get_kind
from tests.activities.kind_calls import KindCalls
from tests.arm_fixtures import NOW, Clock
from tests.health_server import HealthUrls

from .conftest import (
    DRILL_PROFILE_ID,
    GROUP,
    OPERATION_SECONDS,
    ORIGIN_GROUP_ID,
    SUB,
    context,
    origin,
    seed_front_door,
    shop_origins,
)

KIND = get_kind("front_door_origins")


def step(health: HealthUrls | None = None, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "edge",
        "kind": "front_door_origins",
        "origin_group_id": ORIGIN_GROUP_ID,
        "from_origins": ["shop-eus"],
        "to_origins": ["shop-wus"],
        "verify_window": "PT5M",
        "poll_interval": "PT10S",
        "probe_timeout": "PT2S",
    }
    if health is not None:
        values["health_url"] = health.url("/wus/health")
    values.update(fields)
    return FrontDoorOriginsStep.model_validate(values).model_dump(mode="json")


def origins_of(arm: ArmEmulator, profile: str = "shop-fd") -> dict[str, tuple[str, int | None, str]]:
    """name -> (enabledState, priority, provisioningState), as the emulator holds them."""
    with arm.estate.lock:
        group = arm.cdn.origin_group(arm.cdn.profile(SUB, GROUP, profile), "web")
        return {o.name: (o.enabled_state, o.priority, o.provisioning_state) for o in group.origins.values()}


def tags_of(arm: ArmEmulator, profile: str) -> dict[str, str]:
    with arm.estate.lock:
        return dict(arm.cdn.profile(SUB, GROUP, profile).tags)


def writes(arm: ArmEmulator) -> list[str]:
    return [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in arm.requests() if r.method in ("PATCH", "PUT", "DELETE")]


CALLS = KindCalls(KIND, context)
begin, poll, checks = CALLS.begin, CALLS.poll, CALLS.checks


# -- failover --------------------------------------------------------------------------------------------------


def test_failover_enables_the_secondary_first_then_disables_the_primary_and_verifies(
    arm: ArmEmulator, clock: Clock, health: HealthUrls
) -> None:
    shop_origins(arm)
    arm.clear_requests()

    started = begin(step(health))

    assert writes(arm) == ["PATCH shop-wus", "PATCH shop-eus"]  # capacity first
    assert started.detail["changes"] == [
        "shop-wus: enabled_state Disabled→Enabled",
        "shop-eus: enabled_state Enabled→Disabled",
    ]
    assert started.detail["routed_before"] == ["shop-eus"] and not started.done
    assert origins_of(arm)["shop-wus"] == ("Enabled", 1, "Updating")

    waiting = poll(step(health), started.state, now=clock.advance(10))
    assert not waiting.done and "deploying: shop-wus, shop-eus" in waiting.summary

    verified = poll(step(health), waiting.state, now=clock.advance(OPERATION_SECONDS))
    assert verified.done, verified.summary
    assert verified.detail["routed_to"] == ["shop-wus"]
    assert verified.detail["origin_health_percent"] == {"shop-eus": None, "shop-wus": 100.0}
    assert origins_of(arm) == {"shop-eus": ("Disabled", 1, "Succeeded"), "shop-wus": ("Enabled", 1, "Succeeded")}


def test_a_repeated_begin_finds_the_switch_done_and_writes_nothing(
    arm: ArmEmulator, clock: Clock, health: HealthUrls
) -> None:
    shop_origins(arm)
    first = begin(step(health))
    arm.finish_operations()
    arm.clear_requests()

    again = begin(step(health), now=clock.advance(60))

    assert writes(arm) == []
    assert again.detail["already_switched"] is True and again.detail["changes"] == []
    assert poll(step(health), again.state, now=clock.now).done
    assert first.state["origin_group_id"] == again.state["origin_group_id"]


def test_the_priority_switch_promotes_the_secondary_and_keeps_the_primary_enabled_behind(
    arm: ArmEmulator, clock: Clock, health: HealthUrls
) -> None:
    seed_front_door(arm, origin("shop-eus", "eastus", priority=1), origin("shop-wus", "westus", priority=3))

    started = begin(step(health, switch="priority", demoted_priority=4))
    arm.finish_operations()
    verified = poll(step(health, switch="priority", demoted_priority=4), started.state, now=clock.advance(1))

    assert origins_of(arm) == {"shop-eus": ("Enabled", 4, "Succeeded"), "shop-wus": ("Enabled", 1, "Succeeded")}
    assert verified.done and verified.detail["routed_to"] == ["shop-wus"]


def test_a_secondary_front_door_reports_unhealthy_is_refused_before_any_write(
    arm: ArmEmulator, health: HealthUrls
) -> None:
    shop_origins(arm, wus_enabled=True)  # enabled at priority 1 too: Front Door probes it
    seed_front_door(arm, origin("shop-eus", "eastus", priority=1), origin("shop-wus", "westus", priority=2))
    arm.region_outage("westus")
    arm.clear_requests()

    with pytest.raises(PreconditionError) as refused:
        begin(step(health, switch="priority"))

    assert refused.value.code == "SecondaryUnhealthy" and "0 % healthy" in refused.value.message
    assert writes(arm) == []
    found = checks(step(health, switch="priority"))
    assert found["secondary_healthy"].status == "failed"
    assert found["primary_status"].status == "passed"


def test_a_failing_health_url_is_refused_and_an_outage_of_the_primary_is_a_warning(
    arm: ArmEmulator, health: HealthUrls
) -> None:
    shop_origins(arm, wus_enabled=False)
    arm.region_outage("eastus")
    health.fail("/wus/health")

    with pytest.raises(PreconditionError, match="probe of shop-wus"):
        begin(step(health))
    found = checks(step(health))

    assert found["secondary_healthy"].status == "failed"
    assert (
        found["primary_status"].status == "warning"
        and "as expected when its region is down" in found["primary_status"].message
    )
    assert found["changes"].status == "passed" and found["switch_reaches_secondary"].status == "passed"


def test_an_origin_that_would_still_share_the_top_priority_is_refused(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_front_door(
        arm,
        origin("shop-eus", "eastus", priority=1),
        origin("shop-wus", "westus", priority=2),
        origin("shop-cus", "centralus", priority=1),
    )

    with pytest.raises(PreconditionError) as refused:
        begin(step(health, switch="priority"))

    assert refused.value.code == "SwitchWouldNotReachSecondary" and "shop-cus" in refused.value.message


def test_unknown_origins_and_groups_fail_the_checks_with_what_to_do(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_origins(arm)

    missing_origin = checks(step(health, to_origins=["shop-xyz"]))
    missing_group = checks(step(health, origin_group_id=ORIGIN_GROUP_ID.replace("/web", "/nope")))

    assert missing_origin["origin_exists"].status == "failed"
    assert "correct to_origins in the plan" in missing_origin["origin_exists"].message
    assert missing_group["origin_group_exists"].status == "failed"
    assert "correct origin_group_id" in missing_group["origin_group_exists"].message


def test_a_secondary_unhealthy_after_the_switch_fails_verification_when_the_window_ends(
    arm: ArmEmulator, clock: Clock, health: HealthUrls
) -> None:
    shop_origins(arm)
    started = begin(step(health))
    arm.finish_operations()
    arm.region_outage("westus")

    waiting = poll(step(health), started.state, now=clock.advance(60))
    assert not waiting.done and "Front Door would route to no origin" in waiting.summary
    with pytest.raises(PermanentError) as failed:
        poll(step(health), waiting.state, now=clock.advance(300))

    assert failed.value.code == "VerifyWindowExceeded"


def test_a_failed_origin_update_fails_the_step_saying_it_may_be_half_switched(
    arm: ArmEmulator, clock: Clock, health: HealthUrls
) -> None:
    shop_origins(arm)
    arm.fail_next_operation("cdn.origin.write", "InternalServerError", "edge deployment failed")
    started = begin(step(health))

    with pytest.raises(PermanentError) as failed:
        poll(step(health), started.state, now=clock.advance(OPERATION_SECONDS + 1))

    assert failed.value.code == "OriginUpdateFailed" and "half switched" in failed.value.message


def test_throttling_is_transient(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_origins(arm)
    arm.inject_fault("*/originGroups/web", method="GET", status=429, count=5)

    with pytest.raises(TransientError):
        begin(step(health))


# -- drill -----------------------------------------------------------------------------------------------------


def test_a_drill_without_a_test_profile_only_reads_and_says_what_a_failover_would_change(
    arm: ArmEmulator, health: HealthUrls
) -> None:
    shop_origins(arm)
    arm.clear_requests()

    progress = begin(step(health), mode="drill", run_id="edge--drill--run1")

    assert progress.done and writes(arm) == []
    assert progress.detail["mode"] == "drill (read only)"
    assert progress.detail["would_change"] == [
        "shop-wus: enabled_state Disabled→Enabled",
        "shop-eus: enabled_state Enabled→Disabled",
    ]
    assert KIND.teardown(context(step(health), mode="drill"), context(step(health)).params(), progress.state) == {
        "teardown": "nothing to undo (the production origin group was only read)"
    }


def test_a_drill_switches_the_test_profile_and_teardown_restores_its_baseline(
    arm: ArmEmulator, clock: Clock, health: HealthUrls
) -> None:
    shop_origins(arm)
    shop_origins(arm, name="shop-fd-drill")
    fields = step(health, drill_profile_id=DRILL_PROFILE_ID)
    run = "edge--drill--run2"

    started = begin(fields, mode="drill", run_id=run)
    assert tags_of(arm, "shop-fd-drill")["dr-drill-run"] == run
    assert "dr-drill-baseline" in tags_of(arm, "shop-fd-drill")
    arm.finish_operations()
    verified = poll(fields, started.state, mode="drill", run_id=run, now=clock.advance(1))
    assert verified.done and started.detail["mode"] == "drill (test profile)"
    assert origins_of(arm, "shop-fd-drill")["shop-eus"][0] == "Disabled"
    assert origins_of(arm)["shop-eus"][0] == "Enabled"  # production untouched

    c = context(fields, mode="drill", run_id=run)
    answer = KIND.teardown(c, c.params(), verified.state)

    assert answer["teardown"] == "restored"
    arm.finish_operations()
    assert origins_of(arm, "shop-fd-drill") == {
        "shop-eus": ("Enabled", 1, "Succeeded"),
        "shop-wus": ("Disabled", 1, "Succeeded"),
    }
    assert "dr-drill-run" not in tags_of(arm, "shop-fd-drill")
    assert KIND.teardown(c, c.params(), {})["teardown"].startswith("nothing to undo")


def test_a_retried_drill_begin_keeps_the_true_baseline_from_the_tag(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_origins(arm)
    shop_origins(arm, name="shop-fd-drill")
    fields = step(health, drill_profile_id=DRILL_PROFILE_ID)
    run = "edge--drill--run3"
    begin(fields, mode="drill", run_id=run)  # the first try switched; its answer was lost

    again = begin(fields, mode="drill", run_id=run)
    c = context(fields, mode="drill", run_id=run)
    KIND.teardown(c, c.params(), again.state)
    arm.finish_operations()

    assert origins_of(arm, "shop-fd-drill")["shop-eus"][0] == "Enabled"
    assert origins_of(arm, "shop-fd-drill")["shop-wus"][0] == "Disabled"


def test_the_sync_never_runs_the_switch(arm: ArmEmulator, health: HealthUrls) -> None:
    shop_origins(arm)

    assert checks(step(health), mode="sync")["mode"].status == "failed"
    assert NOW  # the clock the fixtures froze
