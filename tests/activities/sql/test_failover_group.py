"""sql_failover_group through azure-mgmt-sql against the ARM emulator: planned by default, forced only when
the plan allows data loss, issued on the server to promote; drills only read the group."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.errors import NotFoundError, PermanentError, TransientError
from dr.steps import get_kind

from .conftest import FOG_ON_EUS, FOG_ON_WUS, WUS, Driver, arm_calls, shop_estate

FAILOVER = get_kind("sql_failover_group")
GRACE_SECONDS = 3600.0  # the seeded group's Automatic policy: 60 minutes


def fog_step(**extra: Any) -> dict[str, Any]:
    return {"id": "fog", "kind": "sql_failover_group", "failover_group_id": FOG_ON_WUS, **extra}


def primary_of(arm: ArmEmulator) -> str:
    return arm.sql.failover_groups[0].primary.name


def test_planned_failover_promotes_the_named_server_without_data_loss(arm: ArmEmulator) -> None:
    run = Driver(FAILOVER, fog_step())

    started = run.begin()
    assert not started.done
    assert started.detail["action"] == "planned failover (no data loss)"
    assert started.rpo_estimate_seconds == 0.0
    assert arm_calls(arm, "POST", "/failoverGroups/") == [f"{WUS}/failoverGroups/shop-fog/failover"]
    assert not run.poll().done

    arm.finish_operations()
    done = run.poll()
    assert done.done
    assert done.detail["replication_role"] == "Primary"
    assert primary_of(arm) == "shop-wus"


def test_forced_failover_only_when_the_plan_allows_data_loss(arm: ArmEmulator) -> None:
    run = Driver(FAILOVER, fog_step(allow_data_loss=True))

    started = run.begin()
    assert started.detail["action"] == "forced failover (allow_data_loss)"
    assert arm_calls(arm, "POST", "/failoverGroups/") == [f"{WUS}/failoverGroups/shop-fog/forceFailoverAllowDataLoss"]
    arm.finish_operations()
    assert run.poll().done
    assert primary_of(arm) == "shop-wus"


def test_data_at_risk_is_bounded_by_the_grace_period_when_arm_reports_no_lag(arm: ArmEmulator) -> None:
    started = Driver(FAILOVER, fog_step(allow_data_loss=True)).begin()

    assert started.rpo_estimate_seconds == GRACE_SECONDS
    assert started.detail["estimated_data_loss_seconds"] == GRACE_SECONDS
    assert "grace period (60 min)" in started.detail["rpo_basis"]
    assert "upper bound" in started.detail["rpo_basis"]
    assert started.detail["replication_links"] == {"orders": "CATCH_UP"}
    assert started.detail["partners"][0]["replication_role"] == "Primary"


def test_without_lag_or_grace_period_the_data_at_risk_is_unknown(arm: ArmEmulator) -> None:
    arm.reset()
    arm.seed(shop_estate(fog_policy="Manual"))

    started = Driver(FAILOVER, fog_step(allow_data_loss=True)).begin()

    assert started.rpo_estimate_seconds is None
    assert started.detail["rpo_basis"].startswith("unknown")


def test_a_group_already_primary_there_is_done_without_a_call(arm: ArmEmulator) -> None:
    done = Driver(FAILOVER, fog_step(failover_group_id=FOG_ON_EUS)).begin()

    assert done.done
    assert done.detail["action"] == "none: already primary on this server"
    assert arm_calls(arm, "POST", "/failoverGroups/") == []


def test_a_busy_group_is_waited_for_on_timers_then_failed_over(arm: ArmEmulator) -> None:
    arm.inject_fault(
        "*/failoverGroups/shop-fog/failover",
        method="POST",
        status=409,
        code="FailoverGroupBusy",
        retry_after=None,
    )
    run = Driver(FAILOVER, fog_step())

    waiting = run.begin()  # busy does not burn the retry budget: the step waits and asks again
    assert not waiting.done
    assert waiting.detail["status"] == "waiting: the group is busy"
    assert "allow_data_loss" not in waiting.summary  # busy is not an outage: no hint
    assert primary_of(arm) == "shop-eus"

    started = run.poll()  # the group is free now: the failover is asked for
    assert not started.done
    arm.finish_operations()
    assert run.poll().done
    assert primary_of(arm) == "shop-wus"
    assert len(arm_calls(arm, "POST", "/failoverGroups/")) == 2


def test_a_rerun_while_the_failover_runs_waits_for_it_and_issues_no_second_failover(arm: ArmEmulator) -> None:
    first = Driver(FAILOVER, fog_step())
    first.begin()

    rerun = Driver(FAILOVER, fog_step())  # the activity ran again (at-least-once): Azure answers busy
    assert not rerun.begin().done
    arm.finish_operations()
    assert rerun.poll().done  # the group became primary: nothing more to ask
    assert len(arm_calls(arm, "POST", "/failoverGroups/")) == 2
    assert primary_of(arm) == "shop-wus"


def test_with_the_primary_region_down_planned_fails_with_the_hint_and_forced_works(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    planned = Driver(FAILOVER, fog_step())
    facts = planned.begin()
    assert facts.detail["replication_state"] == "SUSPENDED"
    arm.finish_operations()

    with pytest.raises(PermanentError) as failed:
        planned.poll()
    assert failed.value.code == "PlannedFailoverTimedOut"
    assert "allow_data_loss: true" in failed.value.message
    assert "step 'fog'" in failed.value.message
    assert primary_of(arm) == "shop-eus"

    forced = Driver(FAILOVER, fog_step(allow_data_loss=True))
    forced.begin()
    arm.finish_operations()
    assert forced.poll().done
    assert primary_of(arm) == "shop-wus"


def test_drill_only_reads_the_group_and_reports_the_data_at_risk(arm: ArmEmulator) -> None:
    report = Driver(FAILOVER, fog_step(allow_data_loss=True), mode="drill").begin()

    assert report.done
    assert report.detail["action"] == "none (drill: the group is only read)"
    assert report.detail["replication_role"] == "Secondary"
    assert report.rpo_estimate_seconds == GRACE_SECONDS
    assert "drill" in report.summary
    assert [r.method for r in arm.requests()] == ["GET", "GET"]  # the group and its replication links
    assert primary_of(arm) == "shop-eus"


def test_a_missing_group_is_not_found(arm: ArmEmulator) -> None:
    with pytest.raises(NotFoundError):
        Driver(FAILOVER, fog_step(failover_group_id=f"{WUS}/failoverGroups/nope")).begin()


def test_throttled_reads_are_transient(arm: ArmEmulator) -> None:
    arm.inject_fault("*/failoverGroups/shop-fog", method="GET", status=429, count=2, retry_after=0)
    with pytest.raises(TransientError):
        Driver(FAILOVER, fog_step()).begin()
    assert not Driver(FAILOVER, fog_step()).begin().done
