"""postgresql_promote through azure-mgmt-postgresqlflexibleservers against the ARM emulator: promote a read replica
(planned, forced, planned-then-forced) with the lag Azure Monitor reports as what a forced one loses; geo-restore
from a geo-redundant backup (a drill restores under its own name and tears it down); what the service refuses;
the failback's geo-restore back and its honest note."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from devstack.arm import ArmEmulator
from dr.errors import PermanentError, PreconditionError
from dr.failback import FailoverStep, _postgresql
from dr.plan import FailbackPolicy, PostgresqlPromoteStep
from dr.steps.base import TeardownResult

from .conftest import BACKUP_AGE_MINUTES, PG_EUS, PG_WUS, REPLICA_LAG, Driver, posts

PRIMARY = f"{PG_EUS}/pg-eus"
REPLICA = f"{PG_WUS}/pg-wus"


def promote_step(**extra: Any) -> dict[str, Any]:
    return {"id": "pg", "kind": "postgresql_promote", "replica_server_id": REPLICA, **extra}


def restore_step(**extra: Any) -> dict[str, Any]:
    return {
        "id": "pg",
        "kind": "postgresql_promote",
        "method": "geo_restore",
        "source_server_id": PRIMARY,
        "target_server_id": f"{PG_WUS}/pg-restored",
        "target_location": "westus",
        **extra,
    }


def server(arm: ArmEmulator, name: str) -> Any:
    return next((s for s in arm.postgresql.servers.values() if s.name == name), None)


def patches(arm: ArmEmulator) -> list[str]:
    return posts(arm, "/flexibleServers/", method="PATCH")


# -- the plan ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"id": "pg", "kind": "postgresql_promote"}, "method promote_replica needs replica_server_id"),
        (restore_step(target_location=None), "method geo_restore needs target_location"),
        (promote_step(source_server_id=PRIMARY), "method promote_replica does not use source_server_id"),
        (restore_step(replica_server_id=REPLICA), "method geo_restore does not use replica_server_id"),
        (restore_step(target_server_id=PRIMARY), "target_server_id is the source server itself"),
        (restore_step(target_server_id=f"{PG_WUS}/Bad_Name"), "server name 'Bad_Name'"),
        (promote_step(replica_server_id=f"{PG_WUS}".replace("flexibleServers", "servers") + "/x"), "expected a"),
    ],
)
def test_the_plan_says_what_each_method_needs(step: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PostgresqlPromoteStep.model_validate(step)


# -- promote_replica -------------------------------------------------------------------------------------------


def test_planned_promotion_with_the_primary_up_loses_nothing(arm: ArmEmulator) -> None:
    driver = Driver(promote_step())
    started = driver.begin()
    assert not started.done and started.detail["expected_promotion"] == "planned"
    assert len(patches(arm)) == 1
    assert server(arm, "pg-wus").tags["dr-promoted-by-run"] == "run-1"
    assert not driver.poll().done

    arm.finish_operations()
    done = driver.poll()
    assert done.done and server(arm, "pg-wus").source is None
    assert done.detail["server_after"]["replication_role"] == "None"
    assert done.detail["promotion_ran"] == "planned"
    assert done.rpo_estimate_seconds == 0.0 and "no data loss" in done.detail["rpo_basis"]
    assert done.detail["primary_server_id"] == PRIMARY and done.detail["primary_location"] == "eastus"
    assert "create a read replica" in done.detail["failback_note"]


def test_forced_promotion_reports_the_lag_azure_monitor_gave(arm: ArmEmulator) -> None:
    driver = Driver(promote_step(promote_option="forced"))
    started = driver.begin()
    assert started.rpo_estimate_seconds == REPLICA_LAG
    assert "physical_replication_delay_in_seconds" in started.detail["rpo_basis"]
    assert posts(arm, "/providers/Microsoft.Insights/metrics", method="GET")
    arm.finish_operations()
    assert driver.poll().done


def test_planned_with_the_primary_down_is_refused_with_what_to_do(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    driver = Driver(promote_step())
    checks = driver.check()
    assert checks["primary"].status == "failed" and "promote_option forced" in checks["primary"].message
    with pytest.raises(PreconditionError) as refused:
        driver.begin()
    assert refused.value.code == "PrimaryUnreachable"
    assert patches(arm) == []


def test_planned_then_forced_with_the_primary_down_forces_and_says_the_loss_is_unknown(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    driver = Driver(promote_step(promote_option="planned_then_forced"))
    assert driver.check()["primary"].status == "warning"
    started = driver.begin()
    assert started.detail["expected_promotion"] == "forced"
    assert started.rpo_estimate_seconds is None and started.detail["rpo_basis"].startswith("unknown: the primary")
    arm.finish_operations()
    done = driver.poll()
    assert done.done and done.detail["promotion_ran"] == "forced"
    assert server(arm, "pg-wus").source is None


def test_a_planned_promotion_that_fails_is_forced_by_planned_then_forced(arm: ArmEmulator) -> None:
    driver = Driver(promote_step(promote_option="planned_then_forced"))
    driver.begin()
    arm.region_outage("eastus")  # the primary goes down while the planned promotion waits for it
    arm.finish_operations()
    forced = driver.poll()
    assert not forced.done and forced.detail["promotion_reason"].startswith(
        "planned promotion failed (PrimaryServerUnavailable"
    )
    assert forced.rpo_estimate_seconds is None
    arm.finish_operations()
    assert driver.poll().detail["promotion_ran"] == "forced"


def test_a_planned_promotion_that_fails_says_how_to_go_on(arm: ArmEmulator) -> None:
    driver = Driver(promote_step())
    driver.begin()
    arm.region_outage("eastus")
    arm.finish_operations()
    with pytest.raises(PermanentError, match="promote_option forced"):
        driver.poll()
    assert server(arm, "pg-wus").source is not None


def test_a_server_that_is_not_a_replica_is_refused(arm: ArmEmulator) -> None:
    driver = Driver(promote_step(replica_server_id=f"{PG_EUS}/pg-nogeo"))
    assert driver.check()["replica_role"].status == "failed"
    with pytest.raises(PreconditionError, match="is not a read replica") as refused:
        driver.begin()
    assert refused.value.code == "ServerNotReplica"


def test_a_retried_begin_waits_for_its_own_promotion(arm: ArmEmulator) -> None:
    Driver(promote_step()).begin()
    retried = Driver(promote_step())
    waiting = retried.begin()
    assert waiting.state["waiting_while_busy"] is True and not waiting.done
    arm.finish_operations()
    done = retried.poll()
    assert done.done and done.detail["server_after"]["replication_role"] == "None"
    again = Driver(promote_step()).begin()  # and once promoted, a third try finds it done
    assert again.done and again.detail["action"].startswith("none: already standalone")


def test_a_drill_only_reads_the_replica(arm: ArmEmulator) -> None:
    done = Driver(promote_step(promote_option="forced"), mode="drill").begin()
    assert done.done and done.detail["action"] == "none (drill: the replica is only read)"
    assert done.detail["promotion_would_be"] == "forced" and done.rpo_estimate_seconds == REPLICA_LAG
    assert {r.method for r in arm.requests()} == {"GET"}
    assert server(arm, "pg-wus").source is not None


# -- geo_restore -------------------------------------------------------------------------------------------------


def test_geo_restore_works_while_the_source_region_is_down(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    driver = Driver(restore_step())
    checks = driver.check()
    assert checks["source_geo_backup"].status == "warning"
    assert checks["source_geo_backup"].facts["rpo_estimate_seconds"] == 3600.0
    started = driver.begin()
    assert started.rpo_estimate_seconds == 3600.0 and "RPO < 1 hour" in started.detail["rpo_basis"]
    assert posts(arm, "/flexibleServers/pg-restored", method="PUT")
    assert driver.poll().detail["status"] == "InProgress"
    arm.finish_operations()
    done = driver.poll()
    assert done.done and server(arm, "pg-restored").state == "Ready"
    assert server(arm, "pg-restored").tags["dr-run"] == "run-1"


def test_geo_restore_with_the_source_readable_reports_its_newest_backup_age(arm: ArmEmulator) -> None:
    driver = Driver(restore_step())
    checks = driver.check()
    assert checks["source_geo_backup"].status == "passed"
    assert checks["source_geo_backup"].facts["backup_age_seconds"] == BACKUP_AGE_MINUTES * 60
    assert checks["target_server_free"].status == "passed"
    assert driver.begin().rpo_estimate_seconds == BACKUP_AGE_MINUTES * 60


def test_a_source_without_geo_redundant_backup_is_refused(arm: ArmEmulator) -> None:
    driver = Driver(restore_step(source_server_id=f"{PG_EUS}/pg-nogeo"))
    assert driver.check()["source_geo_backup"].status == "failed"
    with pytest.raises(PreconditionError) as refused:
        driver.begin()
    assert refused.value.code == "GeoBackupNotEnabled"


def test_a_server_of_the_target_name_not_made_by_this_step_is_never_overwritten(arm: ArmEmulator) -> None:
    driver = Driver(restore_step(target_server_id=REPLICA))
    assert driver.check()["target_server_free"].status == "failed"
    with pytest.raises(PreconditionError) as refused:
        driver.begin()
    assert refused.value.code == "TargetServerExists"


def test_a_retried_begin_continues_its_own_restore(arm: ArmEmulator) -> None:
    Driver(restore_step()).begin()
    again = Driver(restore_step()).begin()
    assert not again.done and again.detail["origin"] == "restored earlier by this run"
    assert len(posts(arm, "/flexibleServers/pg-restored", method="PUT")) == 1


def test_a_drill_restores_under_its_own_name_and_teardown_deletes_it(arm: ArmEmulator) -> None:
    driver = Driver(restore_step(), mode="drill")
    driver.begin()
    arm.finish_operations()
    done = driver.poll()
    assert done.done and done.detail["target_server_id"].endswith("/pg-restored-drill")
    assert done.detail["drill_created"][0]["type"] == "PostgreSQL flexible server"
    assert server(arm, "pg-restored") is None

    first = driver.teardown()
    assert first["teardown"] == "delete started" and first["done"] is False
    arm.finish_operations()
    second = driver.teardown(TeardownResult.model_validate(first))
    assert second["teardown"] == "deleted" and server(arm, "pg-restored-drill") is None


def test_teardown_leaves_a_server_another_run_made(arm: ArmEmulator) -> None:
    Driver(restore_step(), mode="drill", run_id="other-run").begin()
    arm.finish_operations()
    left = Driver(restore_step(), mode="drill").teardown()
    assert left["teardown"] == "left in place: not created by this drill run"
    assert server(arm, "pg-restored-drill") is not None


# -- failback ----------------------------------------------------------------------------------------------------


def test_the_failback_of_a_promotion_is_a_geo_restore_back_with_its_note(arm: ArmEmulator) -> None:
    driver = Driver(promote_step())
    driver.begin()
    arm.finish_operations()
    done = driver.poll()
    reversed_step = _postgresql(
        promote_step(),
        FailoverStep(id="pg", kind="postgresql_promote", status="succeeded", detail=done.detail),
        FailbackPolicy(),
    )
    step = PostgresqlPromoteStep.model_validate(reversed_step)
    assert step.method == "geo_restore" and step.source_server_id == REPLICA
    assert step.target_server_id == f"{PG_EUS}/pg-eus-failback" and step.target_location == "eastus"
    checks = Driver(step.model_dump(mode="json"), mode="failback").check()
    # The promoted replica has no geo-redundant backup: the failback cannot restore it, and says what can be done.
    assert checks["source_geo_backup"].status == "failed"
    assert "create a read replica" in checks["failback_method"].message


def test_a_failback_without_the_primarys_region_asks_for_an_override() -> None:
    from dr.errors import PlanError

    with pytest.raises(PlanError, match="failback.overrides.pg.target_server_id"):
        _postgresql(
            restore_step(),
            FailoverStep(id="pg", kind="postgresql_promote", status="succeeded", detail={}),
            FailbackPolicy(),
        )
