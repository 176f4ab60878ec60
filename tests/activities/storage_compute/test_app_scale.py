"""app_scale against the ARM emulator through azure-mgmt-web: it records what was there, changes only what differs,
reads the plan and the apps back, and a drill either reads or acts on its own test resources."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.errors import PermanentError, PreconditionError, TransientError
from dr.steps.base import TeardownResult
from tests.arm_fixtures import arm_calls

from .conftest import CONSUMPTION_PLAN, DRILL_PLAN, DRILL_SITE, PLAN, SITE, WORKER, Driver, failback_step, web_client


def step(**fields: Any) -> dict[str, Any]:
    return {
        "id": "compute",
        "kind": "app_scale",
        "plan_id": PLAN,
        "instance_count": 3,
        "site_ids": [SITE, WORKER],
        **fields,
    }


def plan(arm: ArmEmulator, name: str = "shop-wus-plan") -> Any:
    return web_client(arm).app_service_plans.get("shop-wus", name)


def site_state(arm: ArmEmulator, name: str) -> str:
    return str(web_client(arm).web_apps.get("shop-wus", name).properties.state)


def writes(arm: ArmEmulator) -> list[tuple[str, str]]:
    return [
        (r.method, r.path.rsplit("/", 2)[-2] + "/" + r.path.rsplit("/", 1)[-1])
        for r in arm.requests()
        if r.method != "GET"
    ]


def test_check_says_what_a_failover_would_change(arm: ArmEmulator) -> None:
    checks = Driver(step()).check()

    assert checks["plan_scalable"].status == "passed" and "at most 30" in checks["plan_scalable"].message
    assert checks["changes"].facts["changes"] == [
        "scale App Service plan shop-wus-plan from 1 to 3 instance(s)",
        "start app shop-wus-app (now Stopped)",
    ]
    assert writes(arm) == []


def test_failover_records_before_values_scales_starts_and_verifies_by_reading_back(arm: ArmEmulator) -> None:
    driver = Driver(step())

    started = driver.begin()
    assert not started.done and started.poll_after_seconds == 10.0
    assert started.detail["plan_before"]["capacity"] == 1
    assert started.detail["sites_before"] == {SITE: "Stopped", WORKER: "Running"}
    assert site_state(arm, "shop-wus-app") == "Running"  # WebApps_Start answers when it is done
    assert plan(arm).properties.provisioning_state == "InProgress"

    assert not driver.poll().done  # the scale runs: the workers are not there yet
    arm.finish_operations()
    done = driver.poll()

    assert done.done and done.detail["status"] == "done"
    assert done.detail["plan_after"]["capacity"] == 3 and done.detail["plan_after"]["workers"] == 3
    assert done.detail["sites_after"] == {SITE: "Running", WORKER: "Running"}
    assert done.detail["changes"] == [
        "scale App Service plan shop-wus-plan from 1 to 3 instance(s)",
        "start app shop-wus-app (now Stopped)",
    ]
    assert plan(arm).sku.capacity == 3
    assert [m for m, _ in writes(arm)].count("PUT") == 1
    assert ("POST", "shop-wus-app/start") in writes(arm) and ("POST", "shop-wus-worker/start") not in writes(arm)


def test_a_repeated_call_finds_the_work_done(arm: ArmEmulator) -> None:
    first = Driver(step())
    first.begin()
    arm.finish_operations()
    first.poll()
    arm.clear_requests()

    again = Driver(step()).begin()

    assert again.done and again.detail["action"] == "none: already as wanted"
    assert writes(arm) == []


def test_a_retried_begin_waits_for_the_scale_already_running(arm: ArmEmulator) -> None:
    Driver(step(site_ids=[])).begin()  # the first try's answer was lost; its scale runs
    retried = Driver(step(site_ids=[]))

    waiting = retried.begin()
    assert not waiting.done and [m for m, _ in writes(arm)].count("PUT") == 1
    arm.finish_operations()

    assert retried.poll().done
    assert [m for m, _ in writes(arm)].count("PUT") == 1


def test_at_least_never_scales_down_and_exactly_does(arm: ArmEmulator) -> None:
    from azure.mgmt.web.models import AppServicePlan, SkuDescription

    web_client(arm).app_service_plans.begin_create_or_update(
        "shop-wus",
        "shop-wus-plan",
        AppServicePlan(location="westus", sku=SkuDescription(name="P1v3", tier="PremiumV3", capacity=5)),
        polling=False,
    )
    arm.finish_operations()

    kept = Driver(step(site_ids=[])).begin()
    assert kept.done and plan(arm).sku.capacity == 5

    down = Driver(step(site_ids=[], instance_count=2, scale="exactly"))
    down.begin()
    arm.finish_operations()
    assert down.poll().done and plan(arm).sku.capacity == 2


def test_more_instances_than_the_tier_allows_is_refused_with_the_fix(arm: ArmEmulator) -> None:
    driver = Driver(step(instance_count=40))

    assert driver.check()["plan_scalable"].status == "failed"
    with pytest.raises(PreconditionError) as refused:
        driver.begin()

    assert refused.value.code == "CannotScale" and "at most 30" in refused.value.message
    assert writes(arm) == []


def test_a_consumption_plan_takes_no_instance_count(arm: ArmEmulator) -> None:
    with pytest.raises(PreconditionError, match="scales it by itself"):
        Driver(step(plan_id=CONSUMPTION_PLAN, site_ids=[])).begin()


def test_a_region_outage_is_transient_and_a_failed_scale_is_permanent(arm: ArmEmulator) -> None:
    arm.region_outage("westus")
    with pytest.raises(TransientError) as outage:
        Driver(step()).begin()
    assert outage.value.code == "GatewayTimeout"
    arm.region_restore("westus")

    arm.fail_next_operation("serverfarm.scale", "InternalServerError", "the scale failed")
    driver = Driver(step(site_ids=[]))
    driver.begin()
    arm.finish_operations()
    with pytest.raises(PermanentError) as failed:
        driver.poll()
    assert failed.value.code == "InternalServerError"
    assert plan(arm).properties.number_of_workers == 1


# -- drill -----------------------------------------------------------------------------------------------------


def test_a_drill_without_test_resources_only_reads_production(arm: ArmEmulator) -> None:
    progress = Driver(step(), mode="drill").begin()

    assert progress.done
    assert progress.detail["would_change"] == [
        "scale App Service plan shop-wus-plan from 1 to 3 instance(s)",
        "start app shop-wus-app (now Stopped)",
    ]
    assert progress.detail["changes"] == []
    assert writes(arm) == []


def test_a_drill_acts_on_its_test_resources_and_teardown_puts_them_back(arm: ArmEmulator) -> None:
    driver = Driver(step(drill_plan_id=DRILL_PLAN, drill_site_ids=[DRILL_SITE]), mode="drill")

    driver.begin()
    arm.finish_operations()
    done = driver.poll()
    assert done.done
    assert plan(arm, "shop-drill-plan").sku.capacity == 3 and site_state(arm, "shop-drill-app") == "Running"
    assert plan(arm).sku.capacity == 1 and site_state(arm, "shop-wus-app") == "Stopped"  # production untouched

    first = driver.teardown()
    assert first["done"] is False and site_state(arm, "shop-drill-app") == "Stopped"
    arm.finish_operations()
    second = driver.teardown(TeardownResult.model_validate(first))

    assert second["teardown"] == "restored"
    assert second["restored"] == [
        "app shop-drill-app back to Stopped",
        "App Service plan shop-drill-plan back to 1 instance(s)",
    ]
    assert plan(arm, "shop-drill-plan").sku.capacity == 1
    assert all("shop-wus-plan" not in path and "shop-wus-app" not in path for _, path in writes(arm))


# -- failback ------------------------------------------------------------------------------------------------


def test_failback_scales_back_to_the_recorded_count_and_stops_what_the_failover_started(arm: ArmEmulator) -> None:
    back = failback_step(arm, step())

    assert back.model_dump(include={"instance_count", "scale", "site_ids", "site_state"}) == {
        "instance_count": 1,
        "scale": "exactly",
        "site_ids": [SITE],
        "site_state": "Stopped",
    }
    home = Driver(back.model_dump(mode="json"), mode="failback", run_id="run-back")
    home.begin()
    arm.finish_operations()
    assert home.poll().done
    assert plan(arm).sku.capacity == 1
    assert site_state(arm, "shop-wus-app") == "Stopped" and site_state(arm, "shop-wus-worker") == "Running"
    assert arm_calls(arm, "POST", "shop-wus-worker/stop") == []
