"""sql_failover_group through azure-mgmt-sql against the ARM emulator: the plan's failover_mode decides planned,
forced or planned-then-forced (Azure's tryPlannedBeforeForcedFailover); the data a failover may lose is 0
(planned), the lag read from the primary (forced) or unknown (None, never 0); a forced failover the old
primary could not hear is reported as two primaries; drills and checks only read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from devstack.arm import ArmEmulator
from devstack.arm.sql.models import RECONNECT_AFTER
from dr.errors import NotFoundError, PermanentError, TransientError
from dr.plan import SqlFailoverGroupStep
from dr.steps import get_kind
from dr.steps.base import Check
from tests.arm_fixtures import Clock, arm_calls

from .conftest import EUS, FOG_ON_EUS, FOG_ON_WUS, WUS, Driver, make_ctx, shop_estate

FAILOVER = get_kind("sql_failover_group")
ORDERS_ON_EUS = f"{EUS}/databases/orders"
PLANNED_BASIS = "planned failover: no data loss (synchronised before the switch)"


def fog_step(**extra: Any) -> dict[str, Any]:
    return {"id": "fog", "kind": "sql_failover_group", "failover_group_id": FOG_ON_WUS, **extra}


def primary_of(arm: ArmEmulator) -> str:
    return arm.sql.failover_groups[0].primary.name


def failover_posts(arm: ArmEmulator) -> list[str]:
    return [path.rsplit("/", 1)[-1] for path in arm_calls(arm, "POST", "/failoverGroups/")]


def checks_of(step: dict[str, Any], *, mode: str = "failover") -> dict[str, Check]:
    run = Driver(FAILOVER, step, mode=mode)
    found = FAILOVER.check(run.ctx, run.params)
    return {check.name: check for check in found}


def run_to_done(run: Driver, arm: ArmEmulator) -> Any:
    run.begin()
    arm.finish_operations()
    return run.poll()


# -- the plan's mode -----------------------------------------------------------------------------------------


def test_allow_data_loss_is_a_deprecated_alias_of_failover_mode() -> None:
    def mode(**extra: Any) -> str:
        return SqlFailoverGroupStep.model_validate(fog_step(**extra)).failover_mode

    assert mode() == "planned"
    assert mode(allow_data_loss=True) == "forced"
    assert mode(allow_data_loss=False) == "planned"
    assert mode(allow_data_loss=True, failover_mode="forced") == "forced"
    assert mode(failover_mode="planned_then_forced") == "planned_then_forced"
    with pytest.raises(ValueError, match="conflicts with failover_mode: planned_then_forced"):
        mode(allow_data_loss=True, failover_mode="planned_then_forced")
    with pytest.raises(ValueError, match="conflicts"):
        mode(allow_data_loss=False, failover_mode="forced")
    assert "allow_data_loss" not in SqlFailoverGroupStep.model_validate(fog_step(allow_data_loss=True)).model_dump()


# -- planned ---------------------------------------------------------------------------------------------------


def test_planned_with_a_healthy_primary_fails_over_planned_and_never_forces(arm: ArmEmulator) -> None:
    run = Driver(FAILOVER, fog_step(failover_mode="planned"))

    started = run.begin()
    assert not started.done
    assert started.detail["action"] == "planned failover (no data loss)"
    assert started.rpo_estimate_seconds == 0.0
    assert started.detail["rpo_basis"] == PLANNED_BASIS
    assert started.detail["primary"]["reachable"] is True
    assert failover_posts(arm) == ["failover"]
    assert not run.poll().done

    arm.finish_operations()
    done = run.poll()
    assert done.done
    assert done.detail["replication_role"] == "Primary"
    assert done.detail["failover_ran"] == "planned"
    assert done.rpo_estimate_seconds == 0.0
    assert done.detail["old_primary"]["reads_role"] == "Secondary"
    assert done.warnings == []
    assert primary_of(arm) == "shop-wus"
    assert failover_posts(arm) == ["failover"]  # never forceFailoverAllowDataLoss or tryPlanned...


def test_planned_with_the_primary_region_down_times_out_with_azures_error_and_the_hint(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    planned = Driver(FAILOVER, fog_step())
    facts = planned.begin()
    assert facts.detail["replication_state"] == "SUSPENDED"
    assert "planned failover will time out" in facts.detail["failover_decision"]
    assert failover_posts(arm) == ["failover"]  # the step never forces on its own in planned mode
    arm.finish_operations()

    with pytest.raises(PermanentError) as failed:
        planned.poll()
    assert failed.value.code == "PlannedFailoverTimedOut"
    # FailoverGroups.json's message for the code, then how to go on.
    assert "timed out while trying to contact the partner management service" in failed.value.message
    assert "failover_mode: planned_then_forced" in failed.value.message
    assert "step 'fog'" in failed.value.message
    assert primary_of(arm) == "shop-eus"


# -- forced and what it loses ----------------------------------------------------------------------------------


def test_forced_with_a_7s_lag_reports_7s_read_from_the_primary(arm: ArmEmulator) -> None:
    arm.set_replication_lag(ORDERS_ON_EUS, 7)
    run = Driver(FAILOVER, fog_step(failover_mode="forced"))

    started = run.begin()
    assert started.detail["action"] == "forced failover (allow data loss)"
    assert failover_posts(arm) == ["forceFailoverAllowDataLoss"]
    assert started.rpo_estimate_seconds == 7.0
    assert started.detail["estimated_data_loss_seconds"] == 7.0
    basis = started.detail["rpo_basis"]
    assert basis.startswith("forced failover: replication lag of orders")
    assert "read from the primary shop-eus before the failover" in basis
    assert "sys.dm_geo_replication_link_status" in basis

    arm.finish_operations()
    done = run.poll()
    assert done.done
    assert done.rpo_estimate_seconds == 7.0  # the lag read before, not what the links say afterwards
    assert done.detail["failover_ran"] == "forced"
    assert arm.sql.failover_groups[0].last_data_loss_seconds == 7.0  # what the emulator actually threw away


def test_forced_with_an_unreadable_lag_reports_none_not_zero(arm: ArmEmulator) -> None:
    # The primary's region is down: the lag lives on the primary (sys.dm_geo_replication_link_status), so it
    # cannot be read, and a Manual group has no grace period to mistake for a bound either.
    arm.reset()
    arm.seed(shop_estate(fog_policy="Manual"))
    arm.region_outage("eastus")
    run = Driver(FAILOVER, fog_step(failover_mode="forced"))

    started = run.begin()
    assert started.rpo_estimate_seconds is None
    assert started.detail["estimated_data_loss_seconds"] is None
    assert started.detail["rpo_basis"].startswith("unknown: ")
    assert "primary is unreachable" in started.detail["rpo_basis"]
    assert "GatewayTimeout" in started.detail["rpo_basis"]

    arm.finish_operations()
    done = run.poll()
    assert done.done
    assert done.rpo_estimate_seconds is None


def test_the_grace_period_is_a_fact_not_a_data_loss_bound(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")  # Automatic policy, 60 min grace period; the lag is unreadable
    started = Driver(FAILOVER, fog_step(failover_mode="forced")).begin()

    assert started.detail["grace_period_minutes"] == 60
    assert started.rpo_estimate_seconds is None  # the old code reported 3600 s as an "upper bound"


# -- planned then forced -----------------------------------------------------------------------------------------


def test_planned_then_forced_with_the_primary_down_forces_and_says_why(arm: ArmEmulator) -> None:
    arm.set_replication_lag(ORDERS_ON_EUS, 7)
    arm.region_outage("eastus")
    run = Driver(FAILOVER, fog_step(failover_mode="planned_then_forced"))

    started = run.begin()
    assert failover_posts(arm) == ["tryPlannedBeforeForcedFailover"]  # azure-mgmt-sql 4.0.0's own operation
    assert started.detail["expected_failover"] == "forced"
    assert "primary unreachable" in started.detail["failover_decision"]
    assert started.rpo_estimate_seconds is None  # forced, and the lag lives on the unreachable primary

    arm.finish_operations()
    done = run.poll()
    assert done.done
    assert done.detail["failover_ran"] == "forced"
    reason = done.detail["failover_reason"]
    assert reason.startswith("planned failover refused: primary unreachable (shop-eus (eastus): GatewayTimeout")
    assert "forced failover issued" in reason
    assert done.rpo_estimate_seconds is None
    assert done.detail["rpo_basis"].startswith("unknown: ")
    assert primary_of(arm) == "shop-wus"
    # The old primary never heard of it: the step says what happens when it comes back.
    assert any(w.startswith("old primary unreachable") and "two primaries" in w for w in done.warnings)


def test_planned_then_forced_with_a_healthy_primary_runs_planned(arm: ArmEmulator) -> None:
    arm.set_replication_lag(ORDERS_ON_EUS, 7)
    run = Driver(FAILOVER, fog_step(failover_mode="planned_then_forced"))

    started = run.begin()
    assert started.detail["expected_failover"] == "planned"
    assert started.rpo_estimate_seconds == 0.0

    arm.finish_operations()
    done = run.poll()
    assert done.detail["failover_ran"] == "planned"
    assert "answered and is now secondary" in done.detail["failover_reason"]
    assert done.rpo_estimate_seconds == 0.0
    assert done.detail["rpo_basis"] == PLANNED_BASIS
    assert arm.sql.failover_groups[0].last_data_loss_seconds == 0.0


# -- two primaries ---------------------------------------------------------------------------------------------


def test_after_a_forced_failover_the_returning_old_primary_is_reported_as_a_second_primary(
    arm: ArmEmulator, clock: Clock
) -> None:
    arm.region_outage("eastus")
    run_to_done(Driver(FAILOVER, fog_step(failover_mode="forced")), arm)
    arm.region_restore("eastus")

    # Back online, not reconnected yet: the old server still reads the group as Primary (the emulator's model
    # of Azure: it switches to secondary only once it reconnects).
    rerun = Driver(FAILOVER, fog_step(failover_mode="forced"), run_id="run-2").begin()
    assert rerun.done
    assert rerun.detail["action"] == "none: already primary on this server"
    assert rerun.detail["primary"]["reads_role"] == "Primary"
    split = [w for w in rerun.warnings if w.startswith("two primaries:")]
    assert split and "shop-eus still reads failover group shop-fog as Primary" in split[0]
    assert "until re-seeding" in split[0]

    checks = checks_of(fog_step(failover_mode="forced"))
    assert checks["current_role"].status == "passed"
    assert "nothing to do" in checks["current_role"].message
    assert checks["two_primaries"].status == "warning"
    assert checks["two_primaries"].facts["server"] == "shop-eus"

    # Once reconnected, the old primary reads Secondary and the warning is gone.
    clock.now += RECONNECT_AFTER + timedelta(seconds=1)
    arm.finish_operations()  # ticks the estate
    healed = Driver(FAILOVER, fog_step(failover_mode="forced"), run_id="run-3").begin()
    assert healed.detail["primary"]["reads_role"] == "Secondary"
    assert not any(w.startswith("two primaries:") for w in healed.warnings)
    assert "two_primaries" not in checks_of(fog_step())


def test_the_end_of_poll_reports_two_primaries_when_the_old_primary_is_back_before_the_step_looks(
    arm: ArmEmulator,
) -> None:
    arm.region_outage("eastus")
    run = Driver(FAILOVER, fog_step(failover_mode="forced"))
    run.begin()
    arm.finish_operations()
    arm.region_restore("eastus")  # back before the step's next poll, not reconnected

    done = run.poll()
    assert done.done
    assert done.detail["old_primary"]["reads_role"] == "Primary"
    assert any(w.startswith("two primaries: shop-eus") for w in done.warnings)


# -- checks ----------------------------------------------------------------------------------------------------


def test_check_planned_with_the_primary_down_fails_and_says_what_to_choose(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    checks = checks_of(fog_step())

    partner = checks["partner_reachable"]
    assert partner.status == "failed"
    assert partner.message.startswith("planned failover needs the primary; it is unreachable")
    assert "choose forced or planned_then_forced" in partner.message
    assert partner.facts["reachable"] is False
    assert checks["failover_group_exists"].status == "passed"
    assert checks["current_role"].facts["replication_role"] == "Secondary"
    assert checks["failover_mode"].facts["failover_mode"] == "planned"
    assert arm_calls(arm, "POST", "/failoverGroups/") == []  # read-only


@pytest.mark.parametrize("mode", ["forced", "planned_then_forced"])
def test_check_forced_modes_with_the_primary_down_warn_that_forced_will_be_used(arm: ArmEmulator, mode: str) -> None:
    arm.region_outage("eastus")
    checks = checks_of(fog_step(failover_mode=mode))

    assert checks["partner_reachable"].status == "warning"
    assert checks["partner_reachable"].message.startswith("primary unreachable: a forced failover will be used")
    assert checks["failover_mode"].facts["expected_failover"] == "forced"
    assert checks["failover_mode"].facts["rpo_estimate_seconds"] is None
    assert checks["replication"].status == "warning"
    assert checks["replication"].facts["lag_seconds"] is None
    assert "lag unknown" in checks["replication"].message


def test_check_warns_of_a_lag_above_the_objective_with_the_data_at_risk(arm: ArmEmulator) -> None:
    arm.set_replication_lag(ORDERS_ON_EUS, 7)
    checks = checks_of(fog_step(failover_mode="forced"))

    replication = checks["replication"]
    assert replication.status == "warning"
    assert replication.facts["data_at_risk_seconds"] == 7.0
    assert "about 7 s of writes" in replication.message
    assert checks["partner_reachable"].status == "passed"
    assert checks["failover_mode"].facts == {
        "failover_mode": "forced",
        "expected_failover": "forced",
        "rpo_estimate_seconds": 7.0,
        "rpo_basis": checks["failover_mode"].facts["rpo_basis"],
    }


def test_check_passes_a_healthy_planned_failover(arm: ArmEmulator) -> None:
    checks = checks_of(fog_step())  # seeded lag 5 s: at Azure's 5 s objective, not above

    assert {name: check.status for name, check in checks.items()} == {
        "failover_group_exists": "passed",
        "current_role": "passed",
        "partner_reachable": "passed",
        "replication": "passed",
        "failover_mode": "passed",
    }
    assert checks["failover_mode"].facts["rpo_estimate_seconds"] == 0.0


def test_check_of_a_group_already_primary_says_nothing_to_do(arm: ArmEmulator) -> None:
    checks = checks_of(fog_step(failover_group_id=FOG_ON_EUS))

    assert checks["current_role"].status == "passed"
    assert "nothing to do" in checks["current_role"].message
    assert "partner_reachable" not in checks


def test_check_of_a_missing_group_fails(arm: ArmEmulator) -> None:
    checks = checks_of(fog_step(failover_group_id=f"{WUS}/failoverGroups/nope"))

    assert checks["failover_group_exists"].status == "failed"
    assert "not found on server shop-wus" in checks["failover_group_exists"].message


def test_a_drills_check_warns_where_a_failover_would_fail(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    checks = checks_of(fog_step(), mode="drill")

    assert checks["partner_reachable"].status == "warning"
    assert checks["partner_reachable"].message.startswith("a failover would fail: planned failover needs")


# -- drills, already primary, busy groups, errors --------------------------------------------------------------


def test_drill_reads_the_group_the_primary_and_the_lag_and_changes_nothing(arm: ArmEmulator) -> None:
    arm.set_replication_lag(ORDERS_ON_EUS, 7)
    report = Driver(FAILOVER, fog_step(failover_mode="forced"), mode="drill").begin()

    assert report.done
    assert report.detail["action"] == "none (drill: the group is only read)"
    assert report.detail["replication_role"] == "Secondary"
    assert report.detail["failover_mode"] == "forced"
    assert report.detail["failover_would_be"] == "forced"
    assert report.detail["primary"]["reachable"] is True
    assert report.detail["replication_lag_seconds"] == 7.0
    assert report.rpo_estimate_seconds == 7.0
    assert "drill" in report.summary
    assert {r.method for r in arm.requests()} == {"GET"}
    assert primary_of(arm) == "shop-eus"


def test_a_group_already_primary_there_is_done_without_a_call(arm: ArmEmulator) -> None:
    done = Driver(FAILOVER, fog_step(failover_group_id=FOG_ON_EUS)).begin()

    assert done.done
    assert done.detail["action"] == "none: already primary on this server"
    assert done.rpo_estimate_seconds is None
    assert done.warnings == []
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
    assert "failover_mode" not in waiting.summary  # busy is not an outage: no hint
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


def test_a_state_written_before_failover_mode_still_polls(arm: ArmEmulator) -> None:
    run = Driver(FAILOVER, fog_step(failover_mode="forced"))
    started = run.begin()
    legacy = {k: v for k, v in started.state.items() if k != "mode"} | {"forced": True}
    arm.finish_operations()

    done = run.poll(legacy)
    assert done.done
    assert done.state["mode"] == "forced"


def test_a_missing_group_is_not_found(arm: ArmEmulator) -> None:
    with pytest.raises(NotFoundError):
        Driver(FAILOVER, fog_step(failover_group_id=f"{WUS}/failoverGroups/nope")).begin()


def test_throttled_reads_are_transient(arm: ArmEmulator) -> None:
    arm.inject_fault("*/failoverGroups/shop-fog", method="GET", status=429, count=2, retry_after=0)
    with pytest.raises(TransientError):
        Driver(FAILOVER, fog_step()).begin()
    assert not Driver(FAILOVER, fog_step()).begin().done


def test_sync_mode_is_refused(arm: ArmEmulator) -> None:
    run = Driver(FAILOVER, fog_step())
    ctx = make_ctx(fog_step()).model_copy(update={"mode": "sync"})
    with pytest.raises(Exception, match="not in the standing sync"):
        FAILOVER.begin(ctx, run.params)
