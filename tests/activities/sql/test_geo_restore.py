"""sql_geo_restore through azure-mgmt-sql against the ARM emulator: begin returns at once, poll looks once,
re-runs never start a second restore, a database of other origin is never touched, drills clean up."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr import dispatch
from dr.errors import NotFoundError, PermanentError, PreconditionError, TransientError
from dr.steps import get_kind
from dr.whatif import run_checks
from tests.arm_fixtures import NOW, arm_calls

from .conftest import BACKUP_AGE, EUS, SOURCE_DB, WUS, Driver, shop_estate

RESTORE = get_kind("sql_geo_restore")


def restore_step(**extra: Any) -> dict[str, Any]:
    return {
        "id": "db",
        "kind": "sql_geo_restore",
        "source_database_id": SOURCE_DB,
        "target_server_id": WUS,
        **extra,
    }


def database(arm: ArmEmulator, server_id: str, name: str) -> Any:
    return arm.sql.database_by_id(f"{server_id}/databases/{name}")


def test_restore_begins_returns_at_once_and_polls_to_online(arm: ArmEmulator) -> None:
    run = Driver(RESTORE, restore_step())

    started = run.begin()
    assert not started.done
    assert started.poll_after_seconds > 0
    assert started.state["operation"]["status_url"].startswith(arm.url)
    restoring = database(arm, WUS, "shop")
    assert restoring.status == "Restoring"
    assert restoring.restored_from.lower() == f"{EUS}/recoverableDatabases/shop".lower()
    assert restoring.tags["dr-run"] == "run-1"
    assert restoring.sku == {"name": "S1", "tier": "Standard"}  # copied from the source database

    still = run.poll()
    assert not still.done
    assert still.detail["status"] == "InProgress"

    arm.finish_operations()
    online = run.poll()
    assert online.done
    assert online.detail["status"] == "Online"
    assert online.detail["target_database_id"] == f"{WUS}/databases/shop"
    assert database(arm, WUS, "shop").status == "Online"
    assert len(arm_calls(arm, "PUT", "/databases/shop")) == 1


def test_data_loss_estimate_is_the_age_of_the_last_geo_backup(arm: ArmEmulator) -> None:
    started = Driver(RESTORE, restore_step()).begin()

    assert started.rpo_estimate_seconds == BACKUP_AGE.total_seconds()
    assert started.detail["estimated_data_loss_seconds"] == BACKUP_AGE.total_seconds()
    assert started.detail["last_available_backup"] == (NOW - BACKUP_AGE).isoformat().replace("+00:00", "Z")
    assert "geo-backup" in started.detail["rpo_basis"]
    # The figure survives every later call, including a re-run that only finds the database.
    again = Driver(RESTORE, restore_step()).begin()
    assert again.rpo_estimate_seconds == BACKUP_AGE.total_seconds()


def test_rerun_mid_operation_and_after_finds_the_restore_and_starts_no_second_one(arm: ArmEmulator) -> None:
    first = Driver(RESTORE, restore_step())
    first.begin()

    # The activity ran again (its first result was lost): it finds the restore in progress.
    rerun = Driver(RESTORE, restore_step())
    found = rerun.begin()
    assert not found.done
    assert found.detail["origin"] == "restore started earlier by this run"
    assert not rerun.poll().done

    arm.finish_operations()
    assert rerun.poll().done
    assert first.poll().done  # the original state still works too

    after = Driver(RESTORE, restore_step()).begin()
    assert after.done
    assert len(arm_calls(arm, "PUT", "/databases/shop")) == 1


def test_a_later_failover_run_finds_the_database_already_restored(arm: ArmEmulator) -> None:
    Driver(RESTORE, restore_step(), run_id="run-1").begin()
    arm.finish_operations()

    later = Driver(RESTORE, restore_step(), run_id="run-2").begin()

    assert later.done
    assert "run-1" in later.detail["origin"]
    assert len(arm_calls(arm, "PUT", "/databases/shop")) == 1


def test_an_existing_database_of_other_origin_is_refused_and_left_alone(arm: ArmEmulator) -> None:
    arm.reset()
    arm.seed(shop_estate(extra_wus_databases=[{"name": "shop", "tags": {"owner": "someone"}}]))
    before = database(arm, WUS, "shop")

    with pytest.raises(PreconditionError) as refused:
        Driver(RESTORE, restore_step()).begin()

    assert refused.value.code == "TargetDatabaseExists"
    assert "never overwritten" in refused.value.message
    assert database(arm, WUS, "shop") is before
    assert before.tags == {"owner": "someone"}
    assert arm_calls(arm, "PUT", "/databases/") == []


def test_a_failed_restore_reports_arms_code_and_message(arm: ArmEmulator) -> None:
    arm.fail_next_operation("database.geo_restore", "GeoRestoreSourceUnavailable", "The geo-backup is not usable.")
    run = Driver(RESTORE, restore_step())
    run.begin()
    arm.finish_operations()

    with pytest.raises(PermanentError) as failed:
        run.poll()

    assert failed.value.code == "GeoRestoreSourceUnavailable"
    assert "The geo-backup is not usable." in failed.value.message
    assert database(arm, WUS, "shop") is None  # Azure drops what a failed restore created


def test_restore_works_while_the_source_region_is_down(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    run = Driver(RESTORE, restore_step())

    started = run.begin()
    arm.finish_operations()

    assert run.poll().done
    # The source database is unreadable, so the SKU comes from the geo-backup's record.
    assert started.detail["sku_from"] == "geo-backup (recoverable database)"
    assert database(arm, WUS, "shop").sku["name"] == "S1"


def test_plan_sku_wins(arm: ArmEmulator) -> None:
    Driver(RESTORE, restore_step(sku="P1")).begin()
    assert database(arm, WUS, "shop").sku == {"name": "P1"}


def test_a_missing_geo_backup_is_not_found(arm: ArmEmulator) -> None:
    step = restore_step(source_database_id=f"{EUS}/databases/nothing")
    with pytest.raises(NotFoundError) as missing:
        Driver(RESTORE, step).begin()
    assert missing.value.code == "RecoverableDatabaseNotFound"


def test_throttling_is_transient_and_the_retry_restores_once(arm: ArmEmulator) -> None:
    # The SDK retries once inside the call; the second 429 goes back to the orchestrator as transient.
    arm.inject_fault("*/databases/shop", method="PUT", status=429, count=2, retry_after=0)
    run = Driver(RESTORE, restore_step())

    with pytest.raises(TransientError) as throttled:
        run.begin()
    assert throttled.value.code == "TooManyRequests"

    assert not run.begin().done  # the orchestrator's retry
    assert [r.status for r in arm.requests() if r.method == "PUT"] == [429, 429, 202]


def test_a_poll_that_is_throttled_is_transient(arm: ArmEmulator) -> None:
    run = Driver(RESTORE, restore_step())
    run.begin()
    arm.inject_fault("*AzureAsyncOperation*", method="GET", status=429, count=2, retry_after=0)

    with pytest.raises(TransientError):
        run.poll()
    assert not run.poll().done


# -- drills ---------------------------------------------------------------------------------------------


def test_drill_restores_under_the_drill_name_and_teardown_deletes_only_its_database(arm: ArmEmulator) -> None:
    arm.reset()
    arm.seed(shop_estate(extra_wus_databases=[{"name": "shop"}, {"name": "other-drill"}]))
    drill = Driver(RESTORE, restore_step(), mode="drill", run_id="drill-1")

    started = drill.begin()
    assert started.detail["target_database"] == "shop-drill"
    assert database(arm, WUS, "shop-drill").tags["dr-mode"] == "drill"
    arm.finish_operations()
    assert drill.poll().done

    # Another run's teardown (or a failover's) never deletes it.
    other = Driver(RESTORE, restore_step(), mode="drill", run_id="drill-2")
    assert other.teardown(drill.last.state)["teardown"] == "left in place: not created by this drill run"
    failover = Driver(RESTORE, restore_step(), mode="failover", run_id="drill-1")
    assert failover.teardown(drill.last.state)["teardown"] == "nothing to undo: not a drill"
    assert database(arm, WUS, "shop-drill") is not None

    result = drill.teardown()
    assert result["teardown"] == "delete started"
    arm.finish_operations()
    assert database(arm, WUS, "shop-drill") is None
    assert database(arm, WUS, "shop") is not None  # production name untouched
    assert database(arm, WUS, "other-drill") is not None
    assert [p.rsplit("/", 1)[-1] for p in arm_calls(arm, "DELETE", "/databases/")] == ["shop-drill"]
    assert drill.teardown()["teardown"] == "nothing to delete"  # a second teardown finds it gone


def test_drill_uses_the_plans_drill_name(arm: ArmEmulator) -> None:
    drill = Driver(RESTORE, restore_step(target_database="shop-dr-test-drill"), mode="drill")
    assert drill.begin().detail["target_database"] == "shop-dr-test-drill"
    exact = Driver(RESTORE, restore_step(drill_target_database="drillcopy"), mode="drill", run_id="r2")
    assert exact.begin().detail["target_database"] == "drillcopy"


def test_drill_refuses_a_leftover_drill_database_of_another_run(arm: ArmEmulator) -> None:
    Driver(RESTORE, restore_step(), mode="drill", run_id="drill-1").begin()
    arm.finish_operations()

    with pytest.raises(PreconditionError) as refused:
        Driver(RESTORE, restore_step(), mode="drill", run_id="drill-2").begin()
    assert "drill run 'drill-1'" in refused.value.message


def test_teardown_after_a_timeout_deletes_the_restore_once_azure_lets_it(arm: ArmEmulator) -> None:
    """A step timeout leaves the restore running (Azure cannot cancel it); teardown deletes it, retrying
    while the database is still busy being created."""
    drill = Driver(RESTORE, restore_step(), mode="drill", run_id="drill-1")
    drill.begin()

    with pytest.raises(TransientError) as busy:
        drill.teardown()
    assert busy.value.code == "DatabaseBusy"

    arm.finish_operations()
    assert drill.teardown()["teardown"] == "delete started"
    arm.finish_operations()
    assert database(arm, WUS, "shop-drill") is None


def test_teardown_without_state_finds_its_database_by_name(arm: ArmEmulator) -> None:
    drill = Driver(RESTORE, restore_step(), mode="drill", run_id="drill-1")
    drill.begin()
    arm.finish_operations()
    assert drill.teardown({})["teardown"] == "delete started"


def test_sync_mode_never_restores(arm: ArmEmulator) -> None:
    with pytest.raises(PreconditionError):
        Driver(RESTORE, restore_step(), mode="sync").begin()
    assert arm_calls(arm, "PUT", "/databases/") == []


def test_the_activity_payloads_survive_durables_json_round_trip(arm: ArmEmulator) -> None:
    """As the step activities get them: JSON in, JSON out, the state carried by the orchestration history."""
    context = Driver(RESTORE, restore_step(), mode="drill").ctx.model_dump(mode="json")

    def through_json(value: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(value))

    progress = through_json(dispatch.begin(through_json({"context": context})))
    arm.finish_operations()
    progress = through_json(dispatch.poll(through_json({"context": context, "state": progress["state"]})))
    assert progress["done"]
    assert len(json.dumps(progress["state"])) < 16_000
    result = through_json(dispatch.teardown(through_json({"context": context, "state": progress["state"]})))
    assert result["teardown"] == "delete started"


def test_teardown_given_its_running_delete_waits_for_it_then_says_deleted(arm: ArmEmulator) -> None:
    """The orchestrator calls teardown again with its last answer (``previous`` on the wire) while the
    delete runs: teardown reports it still running, never starts a second delete, then says deleted."""
    drill = Driver(RESTORE, restore_step(), mode="drill", run_id="drill-1")
    drill.begin()
    arm.finish_operations()
    context = drill.ctx.model_dump(mode="json")
    call = {"context": context, "state": drill.poll().state}

    first = dispatch.teardown(call)
    assert (first["teardown"], first["done"]) == ("delete started", False)
    running = dispatch.teardown({**call, "previous": first})
    assert {key: running[key] for key in first} == first
    assert "status_now" in running
    assert len(arm_calls(arm, "DELETE", "/databases/")) == 1

    arm.finish_operations()
    assert dispatch.teardown({**call, "previous": running}) == {
        "teardown": "deleted",
        "database_id": first["database_id"],
    }


# -- pre-flight checks and the basis of the data-loss figure ---------------------------------------------------


def restore_checks(step: dict[str, Any], *, mode: str = "failover", run_id: str = "run-1") -> dict[str, Any]:
    run = Driver(RESTORE, step, mode=mode, run_id=run_id)
    return {check.name: check for check in RESTORE.check(run.ctx, run.params)}


def test_the_rpo_basis_names_the_geo_backups_last_available_backup_date(arm: ArmEmulator) -> None:
    started = Driver(RESTORE, restore_step()).begin()

    backup = (NOW - BACKUP_AGE).isoformat().replace("+00:00", "Z")
    assert started.detail["rpo_basis"] == (
        f"age of the last geo-backup when the restore began: now - lastAvailableBackupDate ({backup}) "
        "of the recoverable database"
    )


def test_check_passes_a_restorable_source_onto_a_free_target_with_the_backup_age(arm: ArmEmulator) -> None:
    checks = restore_checks(restore_step())

    assert {name: check.status for name, check in checks.items()} == {
        "source_geo_backup": "passed",
        "target_server_exists": "passed",
        "target_database_free": "passed",
    }
    backup = checks["source_geo_backup"]
    assert backup.facts["backup_age_seconds"] == BACKUP_AGE.total_seconds()
    assert backup.facts["last_available_backup"] == (NOW - BACKUP_AGE).isoformat().replace("+00:00", "Z")
    assert "lastAvailableBackupDate" in backup.facts["rpo_basis"]
    assert checks["target_server_exists"].facts["location"] == "westus"
    assert arm_calls(arm, "PUT", "/databases/") == []  # read-only


def pre_flight(steps: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The steps' checks as a run's pre-flight makes them: all at once, sharing their reads."""
    return run_checks({step["id"]: {"context": Driver(RESTORE, step).ctx.model_dump(mode="json")} for step in steps})


def server_reads(arm: ArmEmulator, server_id: str) -> list[str]:
    return [path for path in arm_calls(arm, "GET", server_id) if path.lower() == server_id.lower()]


def test_one_pre_flight_reads_a_target_server_once_for_every_restore_onto_it(arm: ArmEmulator) -> None:
    """Several databases restoring onto one server (a region outage fires every plan's pre-flight at once, and
    ARM limits reads per subscription); what a step reads before it changes anything is read again."""
    steps = [restore_step(), restore_step(id="db-other", target_database="shop-other")]
    arm.clear_requests()

    results = pre_flight(steps)
    in_pre_flight = server_reads(arm, WUS)
    arm.clear_requests()
    Driver(RESTORE, restore_step()).begin()

    for checks in results.values():
        found = next(check for check in checks if check.name == "target_server_exists")
        assert (found.status, found.facts["location"]) == ("passed", "westus")
    assert len(in_pre_flight) == 1
    assert len(server_reads(arm, WUS)) == 1  # begin's own read, not the pre-flight's answer


def test_a_shared_server_read_that_fails_fails_every_restore_onto_it(arm: ArmEmulator) -> None:
    gone = WUS.replace("/servers/shop-wus", "/servers/gone")
    steps = [restore_step(target_server_id=gone), restore_step(id="db-other", target_server_id=gone)]
    arm.clear_requests()

    results = pre_flight(steps)

    for checks in results.values():
        found = next(check for check in checks if check.name == "target_server_exists")
        assert found.status == "failed"
        assert "target server gone not found" in found.message
    assert len(server_reads(arm, gone)) == 1


def test_check_fails_a_missing_geo_backup_and_a_missing_target_server(arm: ArmEmulator) -> None:
    checks = restore_checks(
        restore_step(
            source_database_id=f"{EUS}/databases/nope",
            target_server_id=WUS.replace("/servers/shop-wus", "/servers/gone"),
        )
    )

    assert checks["source_geo_backup"].status == "failed"
    assert "no geo-backup of 'nope'" in checks["source_geo_backup"].message
    assert checks["target_server_exists"].status == "failed"
    assert "target server gone not found" in checks["target_server_exists"].message
    assert "target_database_free" not in checks


def test_check_fails_a_target_name_taken_by_another_database(arm: ArmEmulator) -> None:
    arm.reset()
    arm.seed(shop_estate(extra_wus_databases=[{"name": "shop", "tags": {"owner": "someone"}}]))

    taken = restore_checks(restore_step())["target_database_free"]
    assert taken.status == "failed"
    assert "never overwritten" in taken.message


def test_check_passes_a_target_already_restored_by_this_run(arm: ArmEmulator) -> None:
    Driver(RESTORE, restore_step()).begin()

    mine = restore_checks(restore_step())["target_database_free"]
    assert mine.status == "passed"
    assert "already restored by this run" in mine.message


def test_check_fails_an_elastic_pool_of_another_server(arm: ArmEmulator) -> None:
    checks = restore_checks(restore_step(elastic_pool_id=f"{EUS}/elasticPools/pool"))

    assert checks["elastic_pool"].status == "failed"
    assert "not on the target server shop-wus" in checks["elastic_pool"].message
    ok = restore_checks(restore_step(elastic_pool_id=f"{WUS}/elasticPools/pool"))["elastic_pool"]
    assert ok.status == "passed"
