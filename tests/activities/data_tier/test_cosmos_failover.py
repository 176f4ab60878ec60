"""cosmos_failover through azure-mgmt-cosmosdb against the ARM emulator: planned (failover priority change),
forced (the write region taken offline) and planned-then-forced; what the service refuses; what a failover may
lose per consistency level; drills only read; the original write region is recorded and the failback returns to
it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.errors import PermanentError, PreconditionError
from dr.failback import FailoverStep, _cosmos
from dr.plan import CosmosFailoverStep, FailbackPolicy, parse_plan
from dr.whatif import predict

from .conftest import COSMOS, Driver, posts


def cosmos_step(account: str = "shop-cosmos", **extra: Any) -> dict[str, Any]:
    return {
        "id": "cosmos",
        "kind": "cosmos_failover",
        "account_id": f"{COSMOS}/{account}",
        "target_region": "West US",
        **extra,
    }


def write_region(arm: ArmEmulator, account: str = "shop-cosmos") -> str:
    found = next(a for a in arm.cosmosdb.accounts.values() if a.name == account)
    return found.write_regions()[0].name


def run(driver: Driver, arm: ArmEmulator) -> Any:
    """begin, then finish each operation and poll until done (at most a few operations)."""
    progress = driver.begin()
    for _ in range(5):
        if progress.done:
            return progress
        arm.finish_operations()
        progress = driver.poll()
    raise AssertionError("the step did not finish")


# -- planned ---------------------------------------------------------------------------------------------------


def test_planned_failover_changes_priorities_and_records_the_original_write_region(arm: ArmEmulator) -> None:
    driver = Driver(cosmos_step())

    started = driver.begin()
    assert not started.done and started.detail["status"] == "started"
    assert posts(arm, "/failoverPriorityChange")
    assert started.poll_after_seconds == 1.0  # the emulator's Retry-After
    assert write_region(arm) == "East US"  # nothing changed until the operation finishes
    assert not driver.poll().done

    arm.finish_operations()
    done = driver.poll()
    assert done.done
    assert write_region(arm) == "West US"
    assert done.detail["write_region"] == "West US"
    assert done.detail["original_write_region"] == "East US"
    assert done.detail["failover_ran"] == "planned"
    assert done.rpo_estimate_seconds == 0.0 and "no data loss" in done.detail["rpo_basis"]
    assert [r["name"] for r in done.detail["regions_after"]] == ["West US", "East US"]


def test_a_region_name_matches_however_it_is_written(arm: ArmEmulator) -> None:
    done = run(Driver(cosmos_step(target_region="westus")), arm)
    assert done.done and write_region(arm) == "West US"


def test_an_account_already_writing_in_the_target_is_left_alone(arm: ArmEmulator) -> None:
    done = Driver(cosmos_step(target_region="East US")).begin()
    assert done.done and done.detail["action"] == "none: already the write region"
    assert done.rpo_estimate_seconds == 0.0
    assert posts(arm, "/failoverPriorityChange") == []


def test_planned_with_the_write_region_down_fails_saying_how_to_go_on(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    driver = Driver(cosmos_step())
    driver.begin()
    arm.finish_operations()
    with pytest.raises(PermanentError, match="failover_mode forced") as failed:
        driver.poll()
    assert failed.value.code == "ServiceUnavailable"
    assert write_region(arm) == "East US"


# -- forced and planned_then_forced -----------------------------------------------------------------------------


def test_forced_takes_the_down_write_region_offline_and_reports_the_documented_bound(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    done = run(Driver(cosmos_step(failover_mode="forced")), arm)

    assert posts(arm, "/offlineRegion") and not posts(arm, "/failoverPriorityChange")
    assert write_region(arm) == "West US"
    assert done.detail["failover_ran"] == "forced"
    assert done.rpo_estimate_seconds == 900.0
    assert "Session consistency" in done.detail["rpo_basis"] and "< 15 minutes" in done.detail["rpo_basis"]
    east = next(r for r in done.detail["regions_after"] if r["name"] == "East US")
    assert east["offline"] is True


def test_planned_then_forced_forces_only_once_the_planned_change_failed(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    driver = Driver(cosmos_step(failover_mode="planned_then_forced"))
    driver.begin()
    arm.finish_operations()
    switched = driver.poll()
    assert not switched.done and switched.detail["phase"] == "offline_write_region"
    assert "ServiceUnavailable" in switched.detail["planned_failure"]
    arm.finish_operations()
    done = driver.poll()

    assert done.done and write_region(arm) == "West US"
    assert done.detail["failover_ran"] == "forced"
    assert done.detail["failover_reason"].startswith("the planned failover did not complete (ServiceUnavailable")
    assert done.rpo_estimate_seconds == 900.0


def test_planned_then_forced_with_the_write_region_up_stays_planned(arm: ArmEmulator) -> None:
    done = run(Driver(cosmos_step(failover_mode="planned_then_forced")), arm)
    assert done.detail["failover_ran"] == "planned" and done.rpo_estimate_seconds == 0.0
    assert posts(arm, "/offlineRegion") == []


def test_forced_with_three_regions_ends_on_the_target_not_the_next_priority(arm: ArmEmulator) -> None:
    """Offline promotes the region of best priority left (North Europe); a priority change among the live
    regions then gives the writes to the target."""
    arm.region_outage("eastus")
    done = run(Driver(cosmos_step("bounded-cosmos", failover_mode="forced")), arm)
    assert write_region(arm, "bounded-cosmos") == "West US"
    assert posts(arm, "/offlineRegion") and posts(arm, "/failoverPriorityChange")
    assert done.rpo_estimate_seconds == 60.0
    assert "K=1000 versions or T=60 s" in done.detail["rpo_basis"]


def test_strong_consistency_loses_nothing_even_forced(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    done = run(Driver(cosmos_step("strong-cosmos", failover_mode="forced")), arm)
    assert done.rpo_estimate_seconds == 0.0 and "Strong consistency" in done.detail["rpo_basis"]


def test_a_busy_account_is_waited_for_not_asked_twice(arm: ArmEmulator) -> None:
    first = Driver(cosmos_step())
    first.begin()
    retried = Driver(cosmos_step(), run_id="run-1")  # the activity ran again while the change runs
    waiting = retried.begin()
    assert not waiting.done and waiting.detail["status"] == "started"
    assert waiting.state["waiting_while_busy"] is True
    assert len(posts(arm, "/failoverPriorityChange")) == 2  # the second was refused 412, nothing started
    arm.finish_operations()
    done = retried.poll()
    assert done.done and write_region(arm) == "West US"


# -- refusals ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "code", "text"),
    [
        (cosmos_step("solo-cosmos"), "SingleRegionAccount", "has one region (East US)"),
        (cosmos_step(target_region="North Europe"), "TargetRegionNotInAccount", "its regions: East US, West US"),
        (cosmos_step("multi-cosmos"), "MultiRegionWrites", "already takes writes"),
    ],
)
def test_what_the_service_refuses_is_refused_before_any_call(
    arm: ArmEmulator, step: dict[str, Any], code: str, text: str
) -> None:
    driver = Driver(step)
    checks = driver.check()
    assert checks["regions"].status == "failed" and text in checks["regions"].message
    with pytest.raises(PreconditionError) as refused:
        driver.begin()
    assert refused.value.code == code and text in refused.value.message
    assert posts(arm, "databaseAccounts/") == []


def test_a_forced_failover_to_an_offline_region_is_refused(arm: ArmEmulator) -> None:
    account = next(a for a in arm.cosmosdb.accounts.values() if a.name == "shop-cosmos")
    account.regions[1].offline = True
    with pytest.raises(PreconditionError) as refused:
        Driver(cosmos_step(failover_mode="forced")).begin()
    assert refused.value.code == "TargetRegionOffline"


# -- drill, checks, what-if ---------------------------------------------------------------------------------------


def test_a_drill_only_reads_and_says_what_a_failover_would_do(arm: ArmEmulator) -> None:
    done = Driver(cosmos_step(failover_mode="forced"), mode="drill").begin()
    assert done.done and done.detail["action"] == "none (drill: the account is only read)"
    assert done.detail["failover_would_be"] == "forced"
    assert done.rpo_estimate_seconds == 900.0
    assert done.detail["would_set_priorities"] == [
        {"region": "West US", "failover_priority": 0},
        {"region": "East US", "failover_priority": 1},
    ]
    assert [r.method for r in arm.requests()] == ["GET"]
    assert write_region(arm) == "East US"


def test_checks_say_what_a_failover_may_lose_and_feed_the_what_if(arm: ArmEmulator) -> None:
    step = cosmos_step(failover_mode="forced")
    checks = Driver(step).check()
    assert checks["account_exists"].status == "passed"
    assert checks["current_write_region"].facts["original_write_region"] == "East US"
    assert checks["failover_mode"].facts["rpo_estimate_seconds"] == 900.0
    assert all(r.method == "GET" for r in arm.requests())

    plan = parse_plan({"name": "data", "steps": [step]})
    evaluation = predict(plan, {"cosmos": list(checks.values())}, now=datetime.now(UTC))
    (store,) = evaluation.stores
    assert store.seconds == 900.0 and "< 15 minutes" in store.basis
    assert evaluation.steps[0].seconds == 900.0 and "15 minutes" in evaluation.steps[0].basis


def test_planned_without_service_managed_failover_warns_what_an_outage_would_need(arm: ArmEmulator) -> None:
    checks = Driver(cosmos_step()).check()
    assert checks["service_managed_failover"].status == "warning"
    assert "planned_then_forced" in checks["service_managed_failover"].message
    assert checks["failover_mode"].facts["rpo_estimate_seconds"] == 0.0


def test_a_missing_account_is_a_failed_check(arm: ArmEmulator) -> None:
    checks = Driver(cosmos_step("gone-cosmos")).check()
    assert checks["account_exists"].status == "failed" and "not found" in checks["account_exists"].message


# -- failback ----------------------------------------------------------------------------------------------------


def test_the_failback_goes_planned_to_the_recorded_region_bringing_it_online_first(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    failover = run(Driver(cosmos_step(failover_mode="forced")), arm)
    arm.region_restore("eastus")

    reversed_step = _cosmos(
        cosmos_step(failover_mode="forced"),
        FailoverStep(id="cosmos", kind="cosmos_failover", status="succeeded", detail=failover.detail),
        FailbackPolicy(),
    )
    assert reversed_step["target_region"] == "East US" and reversed_step["failover_mode"] == "planned"
    back = run(Driver(CosmosFailoverStep.model_validate(reversed_step).model_dump(mode="json"), mode="failback"), arm)

    assert posts(arm, "/onlineRegion") and write_region(arm) == "East US"
    assert back.detail["failover_ran"] == "planned" and back.detail["original_write_region"] == "West US"


def test_an_emulated_service_managed_failover_happens_after_the_grace(arm: ArmEmulator, clock: Any) -> None:
    from datetime import timedelta

    account = next(a for a in arm.cosmosdb.accounts.values() if a.name == "shop-cosmos")
    account.enable_automatic_failover = True
    arm.region_outage("eastus")
    clock.now += timedelta(minutes=30)
    arm.operations()  # the estate ticks
    assert write_region(arm) == "East US"
    clock.now += timedelta(minutes=31)
    arm.operations()
    assert write_region(arm) == "West US"
    done = Driver(cosmos_step()).begin()
    assert done.done and done.detail["action"] == "none: already the write region"
