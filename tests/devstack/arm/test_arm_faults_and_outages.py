"""Faults the SDK must live with (429/503 with Retry-After, FailoverGroupBusy, latency) and region
outages: what fails, what keeps working (geo-backups), and how failovers behave."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.sql.models import Database
from azure.mgmt.trafficmanager import TrafficManagerManagementClient

from devstack.arm import ArmEmulator

from .arm_helpers import SHOP_GEO_BACKUP_ID, error_code

SERVER_GET = "*/Microsoft.Sql/servers/shop-eus"


@pytest.mark.parametrize("status", [429, 503])
def test_sdk_retries_throttling_and_unavailability_honouring_retry_after(
    sql: SqlManagementClient, arm: ArmEmulator, status: int
) -> None:
    arm.inject_fault(SERVER_GET, status=status, count=2, retry_after=1)
    started = time.monotonic()

    assert sql.servers.get("shop-eus", "shop-eus").name == "shop-eus"
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 4.5  # two waits of exactly Retry-After
    log = [(r.status, r.fault_id is not None) for r in arm.requests()][-3:]
    assert log == [(status, True), (status, True), (200, False)]


def test_sdk_gives_up_after_its_retry_budget(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.inject_fault(SERVER_GET, status=500, count=None, retry_after=1, code="InternalServerError")

    with pytest.raises(HttpResponseError) as caught:
        sql.servers.get("shop-eus", "shop-eus")
    assert caught.value.status_code == 500
    assert error_code(caught.value) == "InternalServerError"
    assert sum(1 for r in arm.requests() if r.status == 500) == 4  # first try + retry_status 3
    arm.clear_faults()
    assert arm.faults() == []


def test_failover_group_busy_fault(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.inject_fault(
        "*/failoverGroups/shop-fog/forceFailoverAllowDataLoss",
        method="POST",
        status=409,
        code="FailoverGroupBusy",
    )

    with pytest.raises(ResourceExistsError) as caught:
        sql.failover_groups.begin_force_failover_allow_data_loss("shop-wus", "shop-wus", "shop-fog")
    assert error_code(caught.value) == "FailoverGroupBusy"
    assert "Failover Group is busy with another operation." in str(caught.value)
    # The fault was spent: the retry goes through.
    result = sql.failover_groups.begin_force_failover_allow_data_loss("shop-wus", "shop-wus", "shop-fog").result()
    assert result.replication_role == "Primary"


def test_latency_fault_delays_without_failing(tm: TrafficManagerManagementClient, arm: ArmEmulator) -> None:
    arm.inject_fault("*/trafficmanagerprofiles/shop", status=None, latency_seconds=0.5, count=1)
    started = time.monotonic()

    assert tm.profiles.get("shop-global", "shop").name == "shop"
    assert time.monotonic() - started >= 0.5


# -- region outage ---------------------------------------------------------------------------------


def test_outage_makes_the_regions_sql_time_out(sql_no_retry: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.region_outage("eastus")

    for call in (
        lambda: sql_no_retry.servers.get("shop-eus", "shop-eus"),
        lambda: sql_no_retry.databases.get("shop-eus", "shop-eus", "shop"),
        lambda: sql_no_retry.failover_groups.get("shop-eus", "shop-eus", "shop-fog"),
    ):
        with pytest.raises(HttpResponseError) as caught:
            call()
        assert caught.value.status_code == 504
        assert error_code(caught.value) == "GatewayTimeout"
    # The other region is unaffected.
    assert sql_no_retry.databases.get("shop-wus", "shop-wus", "shop").status == "Online"
    assert [r.location for r in arm.regions_down()] == ["eastus"]


def test_geo_backups_stay_readable_and_restorable_during_the_outage(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.region_outage("eastus")

    backup = sql.recoverable_databases.get("shop-eus", "shop-eus", "shop")
    assert [b.name for b in sql.recoverable_databases.list_by_server("shop-eus", "shop-eus")] == ["shop"]
    restored = sql.databases.begin_create_or_update(
        "shop-wus",
        "shop-wus",
        "shop-restored",
        Database(location="westus", create_mode="Recovery", recoverable_database_id=backup.id),
    ).result()
    assert restored.status == "Online"
    assert backup.id == SHOP_GEO_BACKUP_ID


def test_copy_from_a_down_region_fails(sql_no_retry: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.region_outage("eastus")

    with pytest.raises(HttpResponseError) as caught:
        sql_no_retry.databases.begin_create_or_update(
            "shop-wus",
            "shop-wus",
            "shop-copy",
            Database(
                location="westus",
                create_mode="Copy",
                source_database_id=SHOP_GEO_BACKUP_ID.replace("recoverableDatabases", "databases"),
            ),
        )
    assert error_code(caught.value) == "GatewayTimeout"


def test_planned_failover_with_the_primary_down_fails_like_azure(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    group = sql.failover_groups.get("shop-wus", "shop-wus", "shop-fog")
    assert group.replication_state == "SUSPENDED"

    poller = sql.failover_groups.begin_failover("shop-wus", "shop-wus", "shop-fog")
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert error_code(caught.value) == "PlannedFailoverTimedOut"
    assert sql.failover_groups.get("shop-wus", "shop-wus", "shop-fog").replication_role == "Secondary"


def test_forced_failover_with_the_primary_down_succeeds(
    sql: SqlManagementClient, arm: ArmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from devstack.arm.sql.models import RECONNECT_AFTER

    arm.region_outage("eastus")

    promoted = sql.failover_groups.begin_force_failover_allow_data_loss("shop-wus", "shop-wus", "shop-fog").result()
    assert promoted.replication_role == "Primary"
    assert promoted.partner_servers[0].replication_role == "Secondary"
    # Back online, the old primary has not heard of the failover: it still reads Primary (two primaries),
    # no log flows, and it refuses a failover request as a primary would.
    arm.region_restore("eastus")
    stale = sql.failover_groups.get("shop-eus", "shop-eus", "shop-fog")
    assert stale.replication_role == "Primary"
    assert stale.partner_servers[0].replication_role == "Secondary"
    assert stale.replication_state == "SUSPENDED"
    links = list(sql.replication_links.list_by_database("shop-eus", "shop-eus", "shop"))
    assert [(link.role, link.replication_state) for link in links] == [("Primary", "SUSPENDED")]
    assert sql.failover_groups.get("shop-wus", "shop-wus", "shop-fog").replication_role == "Primary"
    # Once it reconnects (RECONNECT_AFTER after its region is back), it sees itself demoted.
    later = arm.estate.now() + RECONNECT_AFTER + timedelta(seconds=1)
    monkeypatch.setattr(arm.estate, "clock", lambda: later)
    demoted = sql.failover_groups.get("shop-eus", "shop-eus", "shop-fog")
    assert demoted.replication_role == "Secondary"
    assert demoted.replication_state == "CATCH_UP"


def test_try_planned_before_forced_falls_back_to_forced(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.region_outage("eastus")

    result = sql.failover_groups.begin_try_planned_before_forced_failover("shop-wus", "shop-wus", "shop-fog").result()
    assert result.replication_role == "Primary"


def test_automatic_policy_fails_over_after_the_grace_period(tmp_path: object) -> None:
    from datetime import UTC, datetime, timedelta

    from devstack.arm import EXAMPLE_ESTATE, load_seed

    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    emulator = ArmEmulator(state_dir=str(tmp_path), clock=lambda: now[0])
    seed = load_seed(EXAMPLE_ESTATE)
    seed.sql.failover_groups[0].failover_policy = "Automatic"
    seed.sql.failover_groups[0].grace_period_minutes = 60
    emulator.seed(seed)  # in-process only: no server needed to drive the clock
    emulator.region_outage("eastus")
    now[0] += timedelta(minutes=59)
    emulator.estate.tick()
    assert emulator.sql.failover_groups[0].primary.name == "shop-eus"
    now[0] += timedelta(minutes=2)
    emulator.estate.tick()
    assert emulator.sql.failover_groups[0].primary.name == "shop-wus"
