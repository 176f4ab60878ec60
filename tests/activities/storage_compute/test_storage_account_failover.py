"""storage_account_failover against the ARM emulator through azure-mgmt-storage: what it reads, refuses, asks
for and reports, and how it reads the world back."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.errors import PermanentError, PreconditionError
from tests.arm_fixtures import Clock, arm_calls

from .conftest import ACCOUNT, LAG_SECONDS, LRS_ACCOUNT, Driver, failback_step, storage_client


def step(**fields: Any) -> dict[str, Any]:
    return {
        "id": "data",
        "kind": "storage_account_failover",
        "account_id": ACCOUNT,
        "target_location": "westus",
        **fields,
    }


def account(arm: ArmEmulator, name: str = "shopdata") -> Any:
    return storage_client(arm).storage_accounts.get_properties("shop-eus", name)


def failovers(arm: ArmEmulator) -> list[str]:
    return arm_calls(arm, "POST", "/failover")


# -- pre-flight ------------------------------------------------------------------------------------------------


def test_check_reads_the_account_and_says_what_an_unplanned_failover_would_lose(arm: ArmEmulator) -> None:
    checks = Driver(step()).check()

    assert checks["account_found"].status == "passed"
    assert checks["geo_redundant"].status == "passed"
    assert checks["can_failover"].status == "passed"
    # The primary answers: an unplanned failover would throw away what a planned one keeps.
    assert checks["primary_available"].status == "warning"
    assert "planned_if_available" in checks["primary_available"].message
    risk = checks["data_at_risk"]
    assert risk.facts["rpo_estimate_seconds"] == LAG_SECONDS
    assert risk.facts["last_sync_time"] == "2026-03-02T11:59:30Z"
    assert "now - lastSyncTime" in risk.facts["rpo_basis"]
    assert failovers(arm) == [] and arm_calls(arm, "PATCH", "storageAccounts") == []


def test_check_of_an_account_that_is_not_geo_redundant_fails_and_names_the_fix(arm: ArmEmulator) -> None:
    checks = Driver(step(account_id=LRS_ACCOUNT)).check()

    assert checks["geo_redundant"].status == "failed"
    assert "Standard_LRS" in checks["geo_redundant"].message and "GRS" in checks["geo_redundant"].message


def test_check_of_a_missing_account_fails_naming_the_plan_field(arm: ArmEmulator) -> None:
    checks = Driver(step(account_id=ACCOUNT.replace("shopdata", "nothere"))).check()

    assert checks["account_found"].status == "failed"
    assert "account_id of step 'data'" in checks["account_found"].message


def test_a_target_that_is_not_the_secondary_fails(arm: ArmEmulator) -> None:
    checks = Driver(step(target_location="northeurope")).check()

    assert checks["target_is_secondary"].status == "failed"
    assert "westus" in checks["target_is_secondary"].message


def test_preview_features_are_warnings_and_nfs_refuses_a_planned_failover(arm: ArmEmulator) -> None:
    with arm.estate.lock:
        found = arm.storage.by_id(ACCOUNT)
        assert found is not None
        found.is_hns_enabled, found.enable_nfs_v3 = True, True

    unplanned = Driver(step()).check()
    planned = Driver(step(failover_type="planned")).check()

    assert unplanned["preview_features"].status == "warning"
    assert "hierarchical namespace" in unplanned["preview_features"].message
    assert "supported_features" not in unplanned  # NFS 3.0 allows an unplanned failover
    assert planned["supported_features"].status == "failed" and "NFS 3.0" in planned["supported_features"].message


# -- failover --------------------------------------------------------------------------------------------------


def test_unplanned_failover_starts_once_polls_and_reads_the_account_back_lrs_in_the_secondary(arm: ArmEmulator) -> None:
    driver = Driver(step())

    started = driver.begin()
    assert not started.done and started.poll_after_seconds == 1.0  # the emulator's Retry-After
    assert started.rpo_estimate_seconds == LAG_SECONDS
    (post,) = [r for r in arm.requests() if r.method == "POST"]
    assert post.path.endswith("/storageAccounts/shopdata/failover")
    assert account(arm).tags["dr-failover-run"] == "run-1"  # the record a retried begin reads

    assert not driver.poll().done  # the operation runs for an hour
    arm.finish_operations()
    done = driver.poll()

    assert done.done
    assert done.rpo_estimate_seconds == LAG_SECONDS
    assert done.detail["primary_location_before"] == "eastus" and done.detail["primary_location_after"] == "westus"
    assert done.detail["sku_after"] == "Standard_LRS" and done.detail["geo_redundant_after"] is False
    assert any("re-enable geo-redundancy" in w for w in done.warnings)
    after = account(arm)
    assert after.properties.primary_location == "westus" and after.properties.secondary_location is None
    assert len(failovers(arm)) == 1


def test_a_planned_failover_swaps_the_regions_and_keeps_geo_redundancy(arm: ArmEmulator) -> None:
    """The emulator swaps only for failoverType=Planned (the SDK's default: the kind must send it on purpose for
    planned, and leave it out for unplanned, which the LRS result of the test above shows)."""
    planned = Driver(step(failover_type="planned"))
    progress = planned.begin()
    arm.finish_operations()
    done = planned.poll()

    assert progress.rpo_estimate_seconds == 0.0
    assert done.done and done.detail["sku_after"] == "Standard_RAGRS"
    assert done.detail["secondary_location_after"] == "eastus"
    assert "no data loss" in done.detail["rpo_basis"]
    assert not done.warnings


def test_planned_if_available_runs_unplanned_when_the_primary_region_is_down(arm: ArmEmulator, clock: Clock) -> None:
    arm.region_outage("eastus")
    clock.advance(600)  # the Last Sync Time stopped advancing when the region went down
    driver = Driver(step(failover_type="planned_if_available")).at(clock.now)

    checks = driver.check()
    progress = driver.begin()

    assert checks["data_at_risk"].facts["failover_type"] == "unplanned"
    assert progress.detail["failover_type"] == "unplanned"
    assert "unavailable" in progress.detail["failover_type_reason"]
    assert progress.rpo_estimate_seconds == 600 + LAG_SECONDS


def test_a_planned_failover_with_the_primary_down_is_refused_before_any_request(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    driver = Driver(step(failover_type="planned"))

    assert driver.check()["primary_available"].status == "failed"
    with pytest.raises(PreconditionError) as refused:
        driver.begin()

    assert refused.value.code == "PrimaryUnavailable"
    assert "failover_type unplanned" in refused.value.message
    assert failovers(arm) == [] and arm_calls(arm, "PATCH", "storageAccounts") == []


@pytest.mark.parametrize(
    ("arrange", "code"),
    [
        ("lrs", "NotGeoRedundant"),
        ("secondary_down", "SecondaryUnavailable"),
        ("blocked", "FailoverNotAllowed"),
        ("running", "FailoverInProgress"),
    ],
)
def test_what_the_service_would_refuse_begin_refuses_with_the_reason(arm: ArmEmulator, arrange: str, code: str) -> None:
    params = step(account_id=LRS_ACCOUNT) if arrange == "lrs" else step()
    if arrange == "secondary_down":
        arm.region_outage("westus")
    elif arrange == "blocked":
        with arm.estate.lock:
            found = arm.storage.by_id(ACCOUNT)
            assert found is not None
            found.failover_blocked = "an unsupported feature"
    elif arrange == "running":  # someone else's failover
        storage_client(arm).storage_accounts.begin_failover("shop-eus", "shopdata", failover_type=None, polling=False)
    before = len(failovers(arm))

    with pytest.raises(PreconditionError) as refused:
        Driver(params).begin()

    assert refused.value.code == code
    assert len(failovers(arm)) == before


def test_a_retried_begin_finds_its_own_failover_and_never_asks_twice(arm: ArmEmulator, clock: Clock) -> None:
    Driver(step()).begin()  # the first try: its answer was lost, the failover runs
    retried = Driver(step())

    waiting = retried.begin()
    assert not waiting.done and waiting.detail["status"] == "waiting for the failover already running"
    arm.finish_operations()
    assert retried.poll().done

    clock.advance(60)
    third = Driver(step()).at(clock.now).begin()  # and a try after it finished reports it, with its loss
    assert third.done and third.rpo_estimate_seconds == LAG_SECONDS
    assert "completed before this call looked" in third.detail["action"]
    assert len(failovers(arm)) == 1


def test_an_account_already_primary_in_the_target_is_left_alone(arm: ArmEmulator) -> None:
    storage_client(arm).storage_accounts.begin_failover("shop-eus", "shopdata", failover_type=None, polling=False)
    arm.finish_operations()
    before = len(failovers(arm))

    progress = Driver(step(), run_id="another-run").begin()

    assert progress.done and progress.detail["action"].startswith("none")
    assert progress.rpo_estimate_seconds == 0.0
    assert len(failovers(arm)) == before


def test_a_failed_operation_fails_the_step_with_the_service_code(arm: ArmEmulator) -> None:
    arm.fail_next_operation(
        "storage_account.failover", "FailoverFailed", "the secondary could not take over", status=409
    )
    driver = Driver(step())
    driver.begin()
    arm.finish_operations()

    with pytest.raises(PermanentError) as failed:
        driver.poll()

    assert failed.value.code == "FailoverFailed"
    assert account(arm).properties.primary_location == "eastus"


# -- drill -----------------------------------------------------------------------------------------------------


def test_a_drill_only_reads_and_says_what_a_failover_would_lose(arm: ArmEmulator) -> None:
    arm.clear_requests()
    progress = Driver(step(), mode="drill").begin()

    assert progress.done
    assert progress.detail["failover_would_be"] == "unplanned"
    assert progress.detail["action"] == "none (drill: the account is only read)"
    assert progress.rpo_estimate_seconds == LAG_SECONDS
    assert "would lose 30 s" in progress.summary
    assert {r.method for r in arm.requests()} == {"GET"}


def test_a_drill_of_an_account_the_service_would_refuse_reports_the_refusal(arm: ArmEmulator) -> None:
    progress = Driver(step(account_id=LRS_ACCOUNT), mode="drill").begin()

    assert progress.done and progress.detail["failover_would_be_refused"]
    assert progress.warnings and "not geo-redundant" in progress.warnings[0]


# -- failback ------------------------------------------------------------------------------------------------


def test_failback_needs_geo_redundancy_back_then_fails_over_home_planned(arm: ArmEmulator, clock: Clock) -> None:
    back = failback_step(arm, step())
    assert back.model_dump(include={"target_location", "failover_type"}) == {
        "target_location": "eastus",
        "failover_type": "planned",
    }

    home = Driver(back.model_dump(mode="json"), mode="failback", run_id="run-back").at(clock.now)
    lrs = home.check()["geo_redundant"]
    assert lrs.status == "failed" and "re-enable geo-redundancy" in lrs.message

    from azure.mgmt.storage.models import Sku, StorageAccountUpdateParameters

    arm.set_operation_duration("storage_account.geo_bootstrap", 120)
    storage_client(arm).storage_accounts.update(
        "shop-eus", "shopdata", StorageAccountUpdateParameters(sku=Sku(name="Standard_GRS"))
    )
    seeding = home.check()
    assert seeding["can_failover"].status == "failed" and "Bootstrap" in seeding["can_failover"].message

    clock.advance(121)
    home.at(clock.now)
    assert all(c.status != "failed" for c in home.check().values())
    home.begin()
    arm.finish_operations()
    back_home = home.poll()

    assert back_home.done and back_home.rpo_estimate_seconds == 0.0
    assert account(arm).properties.primary_location == "eastus"
    assert account(arm).sku.name == "Standard_GRS"


def test_the_rpo_is_now_minus_the_last_sync_time_read_before_the_failover(arm: ArmEmulator, clock: Clock) -> None:
    with arm.estate.lock:
        found = arm.storage.by_id(ACCOUNT)
        assert found is not None
        found.replication_lag_seconds = 900.0
    progress = Driver(step()).begin()

    assert progress.rpo_estimate_seconds == 900.0
    assert progress.detail["last_sync_time"] == "2026-03-02T11:45:00Z"
