"""Microsoft.Sql through the real azure-mgmt-sql client: servers, databases (every create mode the DR
steps use), geo-backups, failover groups, replication links, and LROs that succeed and fail."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.sql.models import (
    Database,
    FailoverGroup,
    FailoverGroupReadWriteEndpoint,
    FailoverGroupUpdate,
    PartnerInfo,
    Server,
    Sku,
)

from devstack.arm import ArmEmulator

from .arm_helpers import (
    EUS_SERVER_ID,
    SHOP_DB_ID,
    SHOP_GEO_BACKUP_ID,
    SHOP_SECONDARY_DB_ID,
    SUB,
    WUS_SERVER_ID,
    error_code,
    raw_and_model,
    undeclared_keys,
)


def geo_restore(target_db: str, source_id: str = SHOP_GEO_BACKUP_ID) -> Database:
    return Database(location="westus", create_mode="Recovery", recoverable_database_id=source_id)


# -- shapes: every body deserializes into the SDK model without loss ------------------------------------


@pytest.mark.parametrize(
    ("operation", "args"),
    [
        ("servers.get", ("shop-eus", "shop-eus")),
        ("databases.get", ("shop-eus", "shop-eus", "shop")),
        ("databases.get", ("shop-wus", "shop-wus", "shop")),
        ("recoverable_databases.get", ("shop-eus", "shop-eus", "shop")),
        ("failover_groups.get", ("shop-eus", "shop-eus", "shop-fog")),
        ("failover_groups.get", ("shop-wus", "shop-wus", "shop-fog")),
    ],
)
def test_resource_bodies_round_trip_through_sdk_models(
    sql: SqlManagementClient, operation: str, args: tuple[str, ...]
) -> None:
    group, method = operation.split(".")
    raw, model = raw_and_model(getattr(getattr(sql, group), method), *args)

    assert model.as_dict() == raw
    assert type(model)(model.as_dict()).as_dict() == raw
    assert undeclared_keys(model) == []


def test_replication_link_body_round_trips(sql: SqlManagementClient) -> None:
    [link] = list(sql.replication_links.list_by_database("shop-eus", "shop-eus", "shop"))
    raw, model = raw_and_model(sql.replication_links.get, "shop-eus", "shop-eus", "shop", link.name)

    assert model.as_dict() == raw
    assert undeclared_keys(model) == []


# -- servers ---------------------------------------------------------------------------------------------


def test_server_get_and_lists(sql: SqlManagementClient) -> None:
    server = sql.servers.get("shop-eus", "shop-eus")

    assert server.id == EUS_SERVER_ID
    assert server.location == "eastus"
    assert server.fully_qualified_domain_name == "shop-eus.database.windows.net"
    assert server.state == "Ready"
    assert [s.name for s in sql.servers.list_by_resource_group("shop-wus")] == ["shop-wus"]
    assert sorted(s.name for s in sql.servers.list()) == ["shop-eus", "shop-wus"]


def test_server_create_and_delete(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    server = sql.servers.begin_create_or_update(
        "shop-wus",
        "shop-wus-2",
        Server(location="westus", administrator_login="dr", administrator_login_password="Not-A-Real-1"),
    ).result()

    assert server.name == "shop-wus-2"
    assert server.administrator_login == "dr"
    assert server.administrator_login_password is None  # write-only: never returned
    assert "Not-A-Real-1" not in str(arm.requests())

    sql.servers.begin_delete("shop-wus", "shop-wus-2").result()
    with pytest.raises(ResourceNotFoundError) as caught:
        sql.servers.get("shop-wus", "shop-wus-2")
    assert error_code(caught.value) == "ResourceNotFound"


def test_missing_server_is_arms_resource_not_found(sql_no_retry: SqlManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        sql_no_retry.servers.get("shop-eus", "nope")

    assert error_code(caught.value) == "ResourceNotFound"
    assert "The Resource 'Microsoft.Sql/servers/nope' under resource group 'shop-eus' was not found." in str(
        caught.value
    )


# -- databases -------------------------------------------------------------------------------------------


def test_database_get_and_list(sql: SqlManagementClient) -> None:
    database = sql.databases.get("shop-eus", "shop-eus", "shop")

    assert database.id == SHOP_DB_ID
    assert database.status == "Online"
    # Seeded as {"name": "S1"}: ARM answers with the SKU name, tier and capacity, and the objective.
    assert (database.sku.name, database.sku.tier, database.sku.capacity) == ("Standard", "Standard", 20)
    assert database.current_service_objective_name == "S1"
    assert database.failover_group_id == f"{EUS_SERVER_ID}/failoverGroups/shop-fog"
    assert isinstance(database.creation_date, datetime)
    assert [d.name for d in sql.databases.list_by_server("shop-eus", "shop-eus")] == ["shop"]


def test_missing_database_message_names_the_resource(sql_no_retry: SqlManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        sql_no_retry.databases.get("shop-eus", "shop-eus", "ghost")

    assert error_code(caught.value) == "ResourceNotFound"
    assert (
        "The Resource 'Microsoft.Sql/servers/shop-eus/databases/ghost' under resource group 'shop-eus' "
        "was not found." in str(caught.value)
    )


def test_database_of_missing_server_is_parent_not_found(sql_no_retry: SqlManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        sql_no_retry.databases.get("shop-eus", "ghost-server", "shop")

    assert error_code(caught.value) == "ParentResourceNotFound"


def test_create_default_database_is_creating_then_online(sql: SqlManagementClient) -> None:
    poller = sql.databases.begin_create_or_update(
        "shop-wus", "shop-wus", "fresh", Database(location="westus", sku=Sku(name="S0", tier="Standard"))
    )

    assert sql.databases.get("shop-wus", "shop-wus", "fresh").status == "Creating"
    database = poller.result()
    assert database.status == "Online"
    assert (database.sku.name, database.sku.capacity, database.current_service_objective_name) == (
        "Standard",
        10,
        "S0",
    )
    # Once created, its geo-backup exists (geo-restorable from now on).
    assert sql.recoverable_databases.get("shop-wus", "shop-wus", "fresh").name == "fresh"


def test_geo_restore_from_recoverable_database(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.set_operation_duration("database.geo_restore", 0.5)
    poller = sql.databases.begin_create_or_update("shop-wus", "shop-wus", "shop-restored", geo_restore("x"))

    during = sql.databases.get("shop-wus", "shop-wus", "shop-restored")
    assert during.status == "Restoring"
    assert not poller.done()
    restored = poller.result()
    assert restored.status == "Online"
    assert restored.location == "westus"
    assert restored.current_service_objective_name == "S1"  # the geo-backup's service objective


def test_geo_restore_also_accepts_the_source_database_id(sql: SqlManagementClient) -> None:
    restored = sql.databases.begin_create_or_update(
        "shop-wus",
        "shop-wus",
        "shop-restored",
        Database(location="westus", create_mode="Recovery", source_database_id=SHOP_DB_ID),
    ).result()

    assert restored.status == "Online"


def test_second_put_while_restoring_conflicts(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.set_operation_duration("database.geo_restore", 5)
    sql.databases.begin_create_or_update("shop-wus", "shop-wus", "shop-restored", geo_restore("x"))

    with pytest.raises(ResourceExistsError) as caught:
        sql.databases.begin_create_or_update("shop-wus", "shop-wus", "shop-restored", geo_restore("x"))
    assert error_code(caught.value) == "ConflictingDatabaseOperation"


def test_restore_onto_an_existing_database_is_remote_database_exists(sql: SqlManagementClient) -> None:
    # shop-wus/shop is the failover group's geo-secondary.
    with pytest.raises(ResourceExistsError) as caught:
        sql.databases.begin_create_or_update("shop-wus", "shop-wus", "shop", geo_restore("shop"))

    assert caught.value.status_code == 409
    assert error_code(caught.value) == "RemoteDatabaseExists"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"location": "westus", "properties": {"createMode": "Recovery"}}, "MissingRecoverableDatabaseId"),
        (
            {
                "location": "westus",
                "properties": {"createMode": "Recovery", "recoverableDatabaseId": "garbage"},
            },
            "InvalidRecoverableDatabaseId",
        ),
        (
            {
                "location": "westus",
                "properties": {
                    "createMode": "Recovery",
                    "recoverableDatabaseId": SHOP_GEO_BACKUP_ID.replace("/shop", "/nothing-here"),
                },
            },
            "SourceDatabaseNotFound",
        ),
        ({"location": "westus", "properties": {"createMode": "Copy"}}, "MissingSourceDatabaseId"),
        (
            {
                "location": "westus",
                "properties": {"createMode": "PointInTimeRestore", "sourceDatabaseId": SHOP_DB_ID},
            },
            "MissingRestorePointInTime",
        ),
        ({"properties": {"createMode": "Default"}}, "LocationRequired"),
        (
            {"location": "westus", "properties": {"maxSizeBytes": "lots"}},
            "InvalidDatabaseCreateOrUpdateRequest",
        ),
    ],
)
def test_invalid_database_requests_are_400_with_the_providers_code(
    sql_no_retry: SqlManagementClient, body: dict[str, object], code: str
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        sql_no_retry.databases.begin_create_or_update("shop-wus", "shop-wus", "bad", body)

    assert caught.value.status_code == 400
    assert error_code(caught.value) == code


def test_copy_and_point_in_time_restore(sql: SqlManagementClient) -> None:
    copy = sql.databases.begin_create_or_update(
        "shop-eus",
        "shop-eus",
        "shop-copy",
        Database(location="eastus", create_mode="Copy", source_database_id=SHOP_DB_ID),
    ).result()
    restored = sql.databases.begin_create_or_update(
        "shop-eus",
        "shop-eus",
        "shop-pitr",
        Database(
            location="eastus",
            create_mode="PointInTimeRestore",
            source_database_id=SHOP_DB_ID,
            restore_point_in_time=datetime.now(UTC) - timedelta(minutes=10),
        ),
    ).result()

    assert (copy.status, copy.current_service_objective_name) == ("Online", "S1")
    assert restored.status == "Online"


def test_delete_database(sql: SqlManagementClient) -> None:
    sql.databases.begin_create_or_update("shop-wus", "shop-wus", "scratch", Database(location="westus")).result()
    sql.databases.begin_delete("shop-wus", "shop-wus", "scratch").result()

    with pytest.raises(ResourceNotFoundError):
        sql.databases.get("shop-wus", "shop-wus", "scratch")


# -- LRO failure ------------------------------------------------------------------------------------------


def test_failed_geo_restore_raises_with_the_arm_code_and_leaves_no_database(
    sql: SqlManagementClient, arm: ArmEmulator
) -> None:
    arm.fail_next_operation("database.geo_restore", "OperationTimedOut")
    poller = sql.databases.begin_create_or_update("shop-wus", "shop-wus", "shop-restored", geo_restore("x"))

    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert error_code(caught.value) == "OperationTimedOut"
    assert poller.status() == "Failed"
    with pytest.raises(ResourceNotFoundError):
        sql.databases.get("shop-wus", "shop-wus", "shop-restored")


def test_long_running_operations_follow_arm_headers_and_retry_after(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.configure(retry_after_seconds=1, default_operation_seconds=0.5)
    started = time.monotonic()
    poller = sql.databases.begin_create_or_update("shop-wus", "shop-wus", "slow", Database(location="westus"))
    initial = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]

    assert initial.status_code == 202
    assert "/databaseAzureAsyncOperation/" in initial.headers["Azure-AsyncOperation"]
    assert "/databaseOperationResults/" in initial.headers["Location"]
    assert initial.headers["Retry-After"] == "1"
    assert poller.result().status == "Online"
    # The client waited the 1 s Retry-After (not its own polling interval) before the next poll.
    assert 1.0 <= time.monotonic() - started < 5


# -- recoverable databases ---------------------------------------------------------------------------------


def test_recoverable_databases_carry_the_last_backup_date(sql: SqlManagementClient) -> None:
    backup = sql.recoverable_databases.get("shop-eus", "shop-eus", "shop")

    assert backup.id == SHOP_GEO_BACKUP_ID
    assert isinstance(backup.last_available_backup_date, datetime)
    age = datetime.now(UTC) - backup.last_available_backup_date
    assert timedelta(minutes=40) < age < timedelta(minutes=50)  # the seed says 45 minutes old
    assert backup.service_level_objective == "S1"
    assert [b.name for b in sql.recoverable_databases.list_by_server("shop-eus", "shop-eus")] == ["shop"]


# -- failover groups ---------------------------------------------------------------------------------------


def test_failover_group_roles_seen_from_each_server(sql: SqlManagementClient) -> None:
    primary_view = sql.failover_groups.get("shop-eus", "shop-eus", "shop-fog")
    secondary_view = sql.failover_groups.get("shop-wus", "shop-wus", "shop-fog")

    assert primary_view.replication_role == "Primary"
    assert primary_view.replication_state == "CATCH_UP"
    assert primary_view.partner_servers[0].id == WUS_SERVER_ID
    assert primary_view.partner_servers[0].replication_role == "Secondary"
    assert primary_view.read_write_endpoint.failover_policy == "Manual"
    assert primary_view.databases == [SHOP_DB_ID]
    assert secondary_view.replication_role == "Secondary"
    assert secondary_view.databases == [SHOP_SECONDARY_DB_ID]
    assert [g.name for g in sql.failover_groups.list_by_server("shop-wus", "shop-wus")] == ["shop-fog"]


def test_planned_failover_swaps_roles(sql: SqlManagementClient) -> None:
    result = sql.failover_groups.begin_failover("shop-wus", "shop-wus", "shop-fog").result()

    assert result.replication_role == "Primary"
    assert sql.failover_groups.get("shop-eus", "shop-eus", "shop-fog").replication_role == "Secondary"
    [link] = list(sql.replication_links.list_by_database("shop-wus", "shop-wus", "shop"))
    assert (link.role, link.partner_role) == ("Primary", "Secondary")


def test_failover_requested_on_the_primary_is_refused(sql_no_retry: SqlManagementClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        sql_no_retry.failover_groups.begin_failover("shop-eus", "shop-eus", "shop-fog")

    assert caught.value.status_code == 400
    assert error_code(caught.value) == "FailoverGroupFailoverRequestOnPrimary"


def test_failover_group_is_busy_during_a_failover(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.set_operation_duration("failover_group.failover", 5)
    sql.failover_groups.begin_failover("shop-wus", "shop-wus", "shop-fog")

    with pytest.raises(ResourceExistsError) as caught:
        sql.failover_groups.begin_force_failover_allow_data_loss("shop-wus", "shop-wus", "shop-fog")
    assert error_code(caught.value) == "FailoverGroupBusy"


def test_create_update_and_delete_failover_group(sql: SqlManagementClient) -> None:
    sql.databases.begin_create_or_update("shop-eus", "shop-eus", "orders", Database(location="eastus")).result()
    orders_id = f"{EUS_SERVER_ID}/databases/orders"
    created = sql.failover_groups.begin_create_or_update(
        "shop-eus",
        "shop-eus",
        "orders-fog",
        FailoverGroup(
            read_write_endpoint=FailoverGroupReadWriteEndpoint(
                failover_policy="Automatic", failover_with_data_loss_grace_period_minutes=60
            ),
            partner_servers=[PartnerInfo(id=WUS_SERVER_ID)],
            databases=[orders_id],
        ),
    ).result()

    assert created.replication_role == "Primary"
    assert created.read_write_endpoint.failover_with_data_loss_grace_period_minutes == 60
    # The partner got a geo-secondary of the database.
    assert sql.databases.get("shop-wus", "shop-wus", "orders").secondary_type == "Geo"

    updated = sql.failover_groups.begin_update(
        "shop-eus",
        "shop-eus",
        "orders-fog",
        FailoverGroupUpdate(read_write_endpoint=FailoverGroupReadWriteEndpoint(failover_policy="Manual")),
    ).result()
    assert updated.read_write_endpoint.failover_policy == "Manual"

    sql.failover_groups.begin_delete("shop-eus", "shop-eus", "orders-fog").result()
    assert [g.name for g in sql.failover_groups.list_by_server("shop-eus", "shop-eus")] == ["shop-fog"]


def test_failover_group_validation_codes(sql_no_retry: SqlManagementClient) -> None:
    def create(body: FailoverGroup) -> str | None:
        with pytest.raises(HttpResponseError) as caught:
            sql_no_retry.failover_groups.begin_create_or_update("shop-eus", "shop-eus", "bad-fog", body)
        return error_code(caught.value)

    partner = [PartnerInfo(id=WUS_SERVER_ID)]
    manual = FailoverGroupReadWriteEndpoint(failover_policy="Manual")
    assert create(FailoverGroup(partner_servers=partner)) == (
        "FailoverGroupCreateOrUpdateRequestInvalidReadWriteEndpoint"
    )
    assert create(FailoverGroup(read_write_endpoint=manual, partner_servers=[])) == (
        "FailoverGroupCreateOrUpdateRequestInvalidPartner"
    )
    assert create(
        FailoverGroup(
            read_write_endpoint=FailoverGroupReadWriteEndpoint(failover_policy="Automatic"),
            partner_servers=partner,
        )
    ) == ("FailoverGroupCreateOrUpdateRequestInvalidReadWriteEndpointFields")
    assert create(FailoverGroup(read_write_endpoint=manual, partner_servers=partner, databases=[SHOP_DB_ID])) == (
        "DatabaseBelongsToOtherFailoverGroup"
    )


# -- replication links and lag -------------------------------------------------------------------------------


def test_replication_links_describe_both_sides(sql: SqlManagementClient) -> None:
    [primary_side] = list(sql.replication_links.list_by_database("shop-eus", "shop-eus", "shop"))
    secondary_side = sql.replication_links.get("shop-wus", "shop-wus", "shop", primary_side.name)

    assert primary_side.partner_database_id == SHOP_SECONDARY_DB_ID
    assert primary_side.partner_location == "westus"
    assert (primary_side.role, secondary_side.role) == ("Primary", "Secondary")
    assert primary_side.replication_state == "CATCH_UP"
    assert primary_side.link_type == "GEO"
    assert [link.name for link in sql.replication_links.list_by_server("shop-eus", "shop-eus")] == [primary_side.name]


def test_replication_lag_is_read_and_set_through_the_control_api(arm: ArmEmulator) -> None:
    assert arm.replication_lag(SHOP_DB_ID) == 5  # from the seed
    arm.set_replication_lag(SHOP_SECONDARY_DB_ID, 42)

    assert arm.replication_lag(SHOP_DB_ID) == 42


def test_forced_failover_records_the_lag_as_data_loss(sql: SqlManagementClient, arm: ArmEmulator) -> None:
    arm.set_replication_lag(SHOP_DB_ID, 12)
    sql.failover_groups.begin_force_failover_allow_data_loss("shop-wus", "shop-wus", "shop-fog").result()

    [group] = arm.sql.failover_groups
    assert group.last_data_loss_seconds == 12
    assert group.primary.name == "shop-wus"


def test_subscription_id_is_case_insensitive(arm: ArmEmulator) -> None:
    from tests.arm_fixtures import arm_client

    with arm_client(SqlManagementClient, arm, SUB.upper()) as client:
        assert client.servers.get("SHOP-EUS", "Shop-Eus").name == "shop-eus"
