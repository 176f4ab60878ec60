"""The emulator against the REST spec's own examples, through the real SDK clients.

Each test replays an example's request (its parameters, as the SDK sends them) and compares the answer with
the example's response: every value the example shows, the emulator shows too, except the few fields named
in the test with the reason they cannot match (instance ids and dates, or a value the example made up).
Examples: spec_examples/ (see its README for the source path and commit of each file).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.sql.models import (
    Database,
    DatabaseUpdate,
    FailoverGroup,
    FailoverGroupReadOnlyEndpoint,
    FailoverGroupReadWriteEndpoint,
    FailoverGroupUpdate,
    PartnerInfo,
    Server,
    ServerExternalAdministrator,
    ServerUpdate,
    Sku,
)
from azure.mgmt.trafficmanager import TrafficManagerManagementClient
from azure.mgmt.trafficmanager.models import Endpoint

from devstack.arm import ArmEmulator
from tests.arm_fixtures import arm_client

from .arm_helpers import (
    EUS_SERVER_ID,
    SHOP_DB_ID,
    WUS_SERVER_ID,
    error_code,
    raw_and_model,
    undeclared_keys,
)

EXAMPLES = Path(__file__).parent / "spec_examples"
SQL_VERSION = "2025-01-01"  # azure-mgmt-sql 4.0.0's default api-version
TM_VERSION = "2026-09-01"  # azure-mgmt-trafficmanager 2.0.0's default api-version
EXAMPLE_SUB = "00000000-1111-2222-3333-444444444444"
SOURCE_SUB = "55555555-6666-7777-8888-999999999999"
TM_SUB = "00000000-0000-0000-0000-000000000000"
SEA_SERVER = ("Default-SQL-SouthEastAsia", "testsvr")

INSTANCE_FIELDS = {"properties.databaseId", "properties.creationDate", "properties.earliestRestoreDate"}
"""Generated per database: the example's values are those of the database it was recorded on."""
EXAMPLE_ONLY_REGION_FIELDS = {
    "properties.defaultSecondaryLocation": "the examples on southeastasia say 'North Europe', which is not "
    "its pair; the emulator answers the paired region (eastasia), as the westus example does (eastus)",
    "properties.maintenanceConfigurationId": "a regional maintenance window the example's database had "
    "chosen; a database that chose none reports SQL_Default",
}
FAILOVER_GROUP_DISPLAY_NAMES = {"location", "properties.partnerServers[0].location"}
"""The failover group examples give region display names ('Japan West'); the emulator answers with ARM
location names ('japanwest'), as it does for every other resource."""


def example(provider: str, version: str, name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / provider / version / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def differences(expected: Any, actual: Any, path: str = "", skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Where `actual` does not show what `expected` shows (keys `actual` has beyond it are fine)."""
    if path in skip:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        found: list[str] = []
        for key, value in expected.items():
            child = f"{path}.{key}" if path else key
            if key not in actual:
                if child not in skip:
                    found.append(f"{child}: missing")
                continue
            found.extend(differences(value, actual[key], child, skip))
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} != {expected!r}"]
        return [
            d
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for d in differences(e, a, f"{path}[{i}]", skip)
        ]
    return [] if expected == actual else [f"{path}: {actual!r} != {expected!r}"]


@contextmanager
def sql_client(arm: ArmEmulator, subscription_id: str) -> Iterator[SqlManagementClient]:
    with arm_client(SqlManagementClient, arm, subscription_id) as client:
        yield client


@pytest.fixture
def examples_estate(arm: ArmEmulator) -> ArmEmulator:
    """The resource groups and servers the examples' requests name (the shop estate stays seeded too)."""
    arm.seed(
        {
            "subscription_id": EXAMPLE_SUB,
            "resource_groups": [
                {"name": "Default-SQL-SouthEastAsia", "location": "southeastasia"},
                {"name": "Default-SQL-WestUS", "location": "westus"},
                {"name": "Default", "location": "japaneast"},
                {"name": "sqlcrudtest-7398", "location": "japaneast"},
            ],
            "sql": {
                "servers": [
                    {"name": "testsvr", "resource_group": "Default-SQL-SouthEastAsia"},
                    {"name": "testsvr", "resource_group": "Default-SQL-WestUS"},
                    {
                        "name": "failovergroupprimaryserver",
                        "resource_group": "Default",
                        "location": "japanwest",
                        "databases": [{"name": "testdb1"}, {"name": "testdb2"}],
                    },
                    {"name": "failovergroupsecondaryserver", "resource_group": "Default", "location": "japaneast"},
                    {
                        "name": "failover-group-primary-server",
                        "resource_group": "Default",
                        "databases": [{"name": "testdb-1"}],
                    },
                    {"name": "failover-group-secondary-server", "resource_group": "Default", "location": "japanwest"},
                ],
                "failover_groups": [
                    {
                        "name": "failover-group-test-1",
                        "primary": "failover-group-primary-server",
                        "secondary": "failover-group-secondary-server",
                        "databases": [],
                    }
                ],
            },
        }
    )
    arm.seed(
        {
            "subscription_id": SOURCE_SUB,
            "resource_groups": [{"name": "Default-SQL-EastUS", "location": "eastus"}],
            "sql": {
                "servers": [
                    {
                        "name": "srcsvr",
                        "resource_group": "Default-SQL-EastUS",
                        "databases": [{"name": "srcdw", "sku": {"name": "DW1000c"}}],
                    }
                ]
            },
        }
    )
    return arm


def db_args(parameters: dict[str, Any]) -> tuple[str, str, str]:
    return parameters["resourceGroupName"], parameters["serverName"], parameters["databaseName"]


def create_test_db(sql: SqlManagementClient) -> None:
    """testdb on the southeastasia testsvr, as CreateDatabaseMin.json makes it."""
    params = example("sql", SQL_VERSION, "CreateDatabaseMin.json")["parameters"]
    sql.databases.begin_create_or_update(*db_args(params), params["parameters"]).result()


def assert_body_matches(expected: dict[str, Any], raw: dict[str, Any], model: Any, skip: set[str]) -> None:
    assert differences(expected, raw, skip=skip) == []
    assert undeclared_keys(model) == []


# -- databases ------------------------------------------------------------------------------------------


def test_create_database_min_answers_as_the_example(examples_estate: ArmEmulator) -> None:
    """Databases.json Databases_CreateOrUpdate: CreateDatabaseMin.json (default SKU S0 = Standard/10)."""
    spec = example("sql", SQL_VERSION, "CreateDatabaseMin.json")
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        poller = sql.databases.begin_create_or_update(*db_args(spec["parameters"]), spec["parameters"]["parameters"])
        initial = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]
        poller.result()
        raw, model = raw_and_model(sql.databases.get, *db_args(spec["parameters"]))

    assert initial.status_code == 202
    assert "/databaseOperationResults/" in initial.headers["Location"]
    assert_body_matches(
        spec["responses"]["201"]["body"], raw, model, INSTANCE_FIELDS | {"properties.defaultSecondaryLocation"}
    )
    assert raw["properties"]["defaultSecondaryLocation"] == "eastasia"  # southeastasia's pair


def test_copy_names_the_sku_by_objective_and_answers_name_tier_capacity(examples_estate: ArmEmulator) -> None:
    """CreateDatabaseCopyMode.json: sku {"name": "S0", "tier": "Standard"} comes back as Standard/10."""
    spec = example("sql", SQL_VERSION, "CreateDatabaseCopyMode.json")
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        create_test_db(sql)
        sql.databases.begin_create_or_update(*db_args(spec["parameters"]), spec["parameters"]["parameters"]).result()
        raw, model = raw_and_model(sql.databases.get, *db_args(spec["parameters"]))

    assert_body_matches(
        spec["responses"]["201"]["body"], raw, model, INSTANCE_FIELDS | {"properties.defaultSecondaryLocation"}
    )


def test_get_vcore_database_answers_as_the_example(examples_estate: ArmEmulator) -> None:
    """GetVCoreDatabase.json: vCore sku with capacity, licenseType, maxLogSizeBytes, readScale Enabled."""
    spec = example("sql", SQL_VERSION, "GetVCoreDatabase.json")
    args = db_args(spec["parameters"])
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        # Named by SKU name and capacity, the example's own form of the SKU.
        sql.databases.begin_create_or_update(
            *args, Database(location="southeastasia", sku=Sku(name="BC_Gen5", tier="BusinessCritical", capacity=2))
        ).result()
        raw, model = raw_and_model(sql.databases.get, *args)

    skip = INSTANCE_FIELDS | set(EXAMPLE_ONLY_REGION_FIELDS) | {"properties.maxLogSizeBytes"}
    assert_body_matches(spec["responses"]["200"]["body"], raw, model, skip)
    # The example's 100 MB is made up; vCore databases get 30% of maxSizeBytes (documented resource limits).
    assert raw["properties"]["maxLogSizeBytes"] == int(268_435_456_000 * 0.3)
    assert model.max_log_size_bytes == raw["properties"]["maxLogSizeBytes"]


def test_patch_database_is_a_long_running_update(examples_estate: ArmEmulator) -> None:
    """Databases.json Databases_Update (PATCH, 200/202, final-state-via location): PatchDatabaseDefaultEnclave.json."""
    spec = example("sql", SQL_VERSION, "PatchDatabaseDefaultEnclave.json")
    args = db_args(spec["parameters"])
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        create_test_db(sql)
        poller = sql.databases.begin_update(*args, spec["parameters"]["parameters"])
        initial = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]
        updated = poller.result()
        raw, model = raw_and_model(sql.databases.get, *args)

    assert initial.status_code == 202
    assert initial.headers["Location"]
    assert updated.preferred_enclave_type == "Default"
    assert_body_matches(
        spec["responses"]["200"]["body"], raw, model, INSTANCE_FIELDS | {"properties.defaultSecondaryLocation"}
    )


def test_geo_restore_by_source_resource_id_across_subscriptions(examples_estate: ArmEmulator) -> None:
    """CreateDwDatabaseCrossSubscriptionRecovery.json: createMode Recovery with sourceResourceId (a
    recoverable database in another subscription)."""
    spec = example("sql", SQL_VERSION, "CreateDwDatabaseCrossSubscriptionRecovery.json")
    args = db_args(spec["parameters"])
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        sql.databases.begin_create_or_update(*args, spec["parameters"]["parameters"]).result()
        raw, model = raw_and_model(sql.databases.get, *args)

    assert_body_matches(spec["responses"]["201"]["body"], raw, model, INSTANCE_FIELDS)
    restored = examples_estate.sql.database_by_id(raw["id"])
    assert restored is not None
    assert restored.restored_from is not None
    assert restored.restored_from.lower() == spec["parameters"]["parameters"]["properties"]["sourceResourceId"].lower()


def test_source_resource_id_excludes_the_other_source_ids(examples_estate: ArmEmulator) -> None:
    spec = example("sql", SQL_VERSION, "CreateDwDatabaseCrossSubscriptionRecovery.json")
    body = json.loads(json.dumps(spec["parameters"]["parameters"]))
    body["properties"]["recoverableDatabaseId"] = body["properties"]["sourceResourceId"]
    with (
        sql_client(examples_estate, EXAMPLE_SUB) as sql,
        pytest.raises(HttpResponseError) as caught,
    ):
        sql.databases.begin_create_or_update(*db_args(spec["parameters"]), body)

    assert caught.value.status_code == 400
    assert error_code(caught.value) == "InvalidDatabaseCreateOrUpdateRequest"


def test_default_secondary_location_outside_a_failover_group(sql: SqlManagementClient) -> None:
    sql.databases.begin_create_or_update("shop-wus", "shop-wus", "reports", Database(location="westus")).result()

    reports = sql.databases.get("shop-wus", "shop-wus", "reports")
    assert reports.failover_group_id is None
    assert reports.default_secondary_location == "eastus"
    assert sql.databases.get("shop-eus", "shop-eus", "shop").default_secondary_location == "westus"


def test_patch_database_changes_only_what_it_names(sql: SqlManagementClient) -> None:
    updated = sql.databases.begin_update("shop-eus", "shop-eus", "shop", DatabaseUpdate(sku=Sku(name="S2"))).result()

    assert (updated.sku.name, updated.sku.tier, updated.sku.capacity) == ("Standard", "Standard", 50)
    assert updated.current_sku.capacity == 50
    assert updated.current_service_objective_name == "S2"
    assert updated.failover_group_id == f"{EUS_SERVER_ID}/failoverGroups/shop-fog"  # untouched


@pytest.mark.parametrize(
    ("database", "body", "status", "code"),
    [
        ("ghost", DatabaseUpdate(sku=Sku(name="S2")), 404, "ResourceNotFound"),
        ("shop", {"properties": {"createMode": "Copy"}}, 400, "MethodNotAllowedOnSpecifiedCreateMode"),
        ("shop", {"properties": {"licenseType": "Free"}}, 400, "InvalidLicenseType"),
        ("shop", {"sku": {"name": "S1", "capacity": 10}}, 400, "MismatchedSkuNameAndCapacity"),
        ("shop", {"sku": {"name": "S1", "tier": "Premium"}}, 400, "MismatchedSkuNameAndTier"),
    ],
)
def test_patch_database_refusals(
    sql_no_retry: SqlManagementClient, database: str, body: Any, status: int, code: str
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        sql_no_retry.databases.begin_update("shop-eus", "shop-eus", database, body)

    assert caught.value.status_code == status
    assert error_code(caught.value) == code


def test_vcore_database_by_objective_name_and_license_type(sql: SqlManagementClient) -> None:
    created = sql.databases.begin_create_or_update(
        "shop-wus", "shop-wus", "vcore", Database(location="westus", sku=Sku(name="GP_Gen5_2"))
    ).result()
    assert (created.sku.name, created.sku.tier, created.sku.family, created.sku.capacity) == (
        "GP_Gen5",
        "GeneralPurpose",
        "Gen5",
        2,
    )
    assert (created.kind, created.current_service_objective_name) == ("v12.0,user,vcore", "GP_Gen5_2")
    assert created.license_type == "LicenseIncluded"
    assert created.max_log_size_bytes == int(created.max_size_bytes * 0.3)

    updated = sql.databases.begin_update(
        "shop-wus", "shop-wus", "vcore", DatabaseUpdate(license_type="BasePrice")
    ).result()
    assert updated.license_type == "BasePrice"
    # DTU databases carry neither (CreateDatabaseMin.json).
    shop = sql.databases.get("shop-eus", "shop-eus", "shop")
    assert (shop.license_type, shop.max_log_size_bytes) == (None, None)


# -- servers --------------------------------------------------------------------------------------------


def test_server_get_answers_as_the_example(examples_estate: ArmEmulator) -> None:
    """ServerGet.json: isIPv6Enabled, retentionDays, restrictOutboundNetworkAccess."""
    spec = example("sql", SQL_VERSION, "ServerGet.json")
    params = spec["parameters"]
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        sql.servers.begin_create_or_update(
            params["resourceGroupName"],
            params["serverName"],
            Server(
                location="Japan East",
                tags={"tagKey1": "TagValue1"},
                administrator_login="dummylogin",
                administrator_login_password="Not-A-Real-1",
                restrict_outbound_network_access="Enabled",
                is_i_pv6_enabled="Enabled",
                retention_days=7,
            ),
        ).result()
        raw, model = raw_and_model(sql.servers.get, params["resourceGroupName"], params["serverName"])

    not_emulated = {
        "properties.workspaceFeature",  # servers with a Synapse workspace only
        "properties.externalGovernanceStatus",  # Microsoft Purview governance
        "properties.privateEndpointConnections",  # the example's server had a private endpoint
    }
    assert_body_matches(spec["responses"]["200"]["body"], raw, model, not_emulated)
    assert raw["properties"]["privateEndpointConnections"] == []


def test_server_patch_is_a_long_running_update(examples_estate: ArmEmulator) -> None:
    """Servers.json Servers_Update (PATCH, 200/202, long-running): ServerUpdate.json."""
    spec = example("sql", SQL_VERSION, "ServerUpdate.json")
    params = spec["parameters"]
    rg, name = params["resourceGroupName"], params["serverName"]
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        sql.servers.begin_create_or_update(
            rg,
            name,
            Server(
                location="japaneast",
                tags={"tagKey1": "TagValue1"},
                administrator_login="dummylogin",
                administrator_login_password="Not-A-Real-1",
            ),
        ).result()
        before = sql.servers.get(rg, name)
        poller = sql.servers.begin_update(rg, name, params["parameters"])
        initial = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]
        poller.result()
        raw, model = raw_and_model(sql.servers.get, rg, name)

    assert (before.is_i_pv6_enabled, before.restrict_outbound_network_access) == ("Disabled", "Disabled")
    assert initial.status_code == 202
    assert "/serverOperationResults/" in initial.headers["Location"]
    assert_body_matches(spec["responses"]["200"]["body"], raw, model, {"properties.privateEndpointConnections"})
    assert "placeholder" not in str(examples_estate.requests())  # the password is never stored or logged


def test_server_administrators_are_echoed(sql: SqlManagementClient) -> None:
    """Servers.json ServerExternalAdministrator (mutability read, create): given at creation, answered back."""
    admin = ServerExternalAdministrator(
        administrator_type="ActiveDirectory",
        principal_type="Group",
        login="dr-admins",
        sid="00000011-1111-2222-2222-123456789111",
        tenant_id="00000011-1111-2222-2222-123456789111",
        azure_ad_only_authentication=True,
    )
    created = sql.servers.begin_create_or_update(
        "shop-wus", "shop-wus-aad", Server(location="westus", administrators=admin)
    ).result()
    assert created.administrators.as_dict() == admin.as_dict()

    # azureADOnlyAuthentication changes through its own API only, not through a server update.
    updated = sql.servers.begin_update(
        "shop-wus",
        "shop-wus-aad",
        ServerUpdate(
            administrators=ServerExternalAdministrator(
                login="dr-admins-2", sid=admin.sid, azure_ad_only_authentication=False
            )
        ),
    ).result()
    assert updated.administrators.login == "dr-admins-2"
    assert updated.administrators.azure_ad_only_authentication is True


def test_server_refusals(sql_no_retry: SqlManagementClient, arm: ArmEmulator) -> None:
    with pytest.raises(HttpResponseError) as caught:
        sql_no_retry.servers.begin_create_or_update(
            "shop-wus", "no-login", Server(location="westus", administrators=ServerExternalAdministrator(sid="x"))
        )
    assert (caught.value.status_code, error_code(caught.value)) == (400, "InvalidExternalAdministratorLogin")

    with pytest.raises(HttpResponseError) as caught:
        sql_no_retry.servers.begin_update("shop-wus", "shop-wus", {"properties": {"isIPv6Enabled": "Maybe"}})
    assert (caught.value.status_code, error_code(caught.value)) == (400, "InvalidParameterValue")

    with pytest.raises(ResourceNotFoundError):
        sql_no_retry.servers.begin_update("shop-wus", "ghost", ServerUpdate(retention_days=3))

    arm.set_operation_duration("server.update", 5)
    sql_no_retry.servers.begin_update("shop-wus", "shop-wus", ServerUpdate(retention_days=3))
    with pytest.raises(ResourceExistsError) as caught:
        sql_no_retry.servers.begin_update("shop-wus", "shop-wus", ServerUpdate(retention_days=4))
    assert (caught.value.status_code, error_code(caught.value)) == (409, "ConflictingServerOperation")


# -- failover groups ------------------------------------------------------------------------------------


def test_failover_group_get_answers_as_the_example(examples_estate: ArmEmulator) -> None:
    """FailoverGroupGet.json: readOnlyEndpoint {failoverPolicy, targetServer}."""
    spec = example("sql", SQL_VERSION, "FailoverGroupGet.json")
    params = spec["parameters"]
    rg, server, name = params["resourceGroupName"], params["serverName"], params["failoverGroupName"]
    body = spec["responses"]["200"]["body"]["properties"]
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        sql.failover_groups.begin_create_or_update(
            rg,
            server,
            name,
            FailoverGroup(
                read_write_endpoint=FailoverGroupReadWriteEndpoint(
                    failover_policy="Automatic", failover_with_data_loss_grace_period_minutes=120
                ),
                read_only_endpoint=FailoverGroupReadOnlyEndpoint(
                    failover_policy="Enabled", target_server=body["readOnlyEndpoint"]["targetServer"]
                ),
                partner_servers=[PartnerInfo(id=body["partnerServers"][0]["id"])],
                databases=body["databases"],
            ),
        ).result()
        raw, model = raw_and_model(sql.failover_groups.get, rg, server, name)
        secondary = sql.failover_groups.get(rg, "failovergroupsecondaryserver", name)

    assert_body_matches(spec["responses"]["200"]["body"], raw, model, FAILOVER_GROUP_DISPLAY_NAMES)
    assert raw["location"] == "japanwest"
    # The read-only listener points at the secondary, seen from either member.
    assert secondary.read_only_endpoint.target_server == body["readOnlyEndpoint"]["targetServer"]


def test_failover_group_update_answers_as_the_example(examples_estate: ArmEmulator) -> None:
    """FailoverGroupUpdate.json (PATCH): the read-only endpoint keeps its policy and target server."""
    spec = example("sql", SQL_VERSION, "FailoverGroupUpdate.json")
    params = spec["parameters"]
    rg, server, name = params["resourceGroupName"], params["serverName"], params["failoverGroupName"]
    with sql_client(examples_estate, EXAMPLE_SUB) as sql:
        sql.failover_groups.begin_update(rg, server, name, params["parameters"]).result()
        raw, model = raw_and_model(sql.failover_groups.get, rg, server, name)

    # The example's response names failover-group-test-3 although the request is for ...-test-1.
    skip = FAILOVER_GROUP_DISPLAY_NAMES | {"id", "name"}
    assert_body_matches(spec["responses"]["200"]["body"], raw, model, skip)
    assert raw["name"] == name


def test_failover_group_read_only_endpoint_is_checked_and_updated(
    sql: SqlManagementClient, sql_no_retry: SqlManagementClient
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        sql_no_retry.failover_groups.begin_update(
            "shop-eus",
            "shop-eus",
            "shop-fog",
            FailoverGroupUpdate(read_only_endpoint=FailoverGroupReadOnlyEndpoint(target_server=EUS_SERVER_ID)),
        )
    assert caught.value.status_code == 400
    assert error_code(caught.value) == "FailoverGroupCreateOrUpdateRequestInvalidReadOnlyEndpointTargetServer"

    updated = sql.failover_groups.begin_update(
        "shop-eus",
        "shop-eus",
        "shop-fog",
        FailoverGroupUpdate(
            read_only_endpoint=FailoverGroupReadOnlyEndpoint(failover_policy="Enabled", target_server=WUS_SERVER_ID)
        ),
    ).result()
    assert (updated.read_only_endpoint.failover_policy, updated.read_only_endpoint.target_server) == (
        "Enabled",
        WUS_SERVER_ID,
    )
    assert updated.databases == [SHOP_DB_ID]

    # After a failover the read-only listener follows the new secondary.
    sql.failover_groups.begin_failover("shop-wus", "shop-wus", "shop-fog").result()
    assert sql.failover_groups.get("shop-wus", "shop-wus", "shop-fog").read_only_endpoint.target_server == (
        EUS_SERVER_ID
    )


# -- Traffic Manager ------------------------------------------------------------------------------------


def test_nested_endpoints_given_by_target_answer_as_the_example(arm: ArmEmulator) -> None:
    """trafficmanager.json 2026-09-01, Profile-PUT-WithNestedEndpoints.json: NestedEndpoints by `target`."""
    spec = example("trafficmanager", TM_VERSION, "Profile-PUT-WithNestedEndpoints.json")
    params = spec["parameters"]
    arm.seed(
        {"subscription_id": TM_SUB, "resource_groups": [{"name": params["resourceGroupName"], "location": "westus"}]}
    )
    arm.configure(endpoint_checking_seconds=60)  # freshly enabled endpoints: CheckingEndpoint, as in the example
    with arm_client(TrafficManagerManagementClient, arm, TM_SUB) as tm:
        raw, model = raw_and_model(
            tm.profiles.create_or_update, params["resourceGroupName"], params["profileName"], params["parameters"]
        )

    skip = {
        "properties.dnsConfig.fqdn",  # the example was recorded on a test cloud (tmpreview.watmtest.azure-test.net)
        "properties.endpoints[1].properties.priority",  # the example answers 1 for the requested 2 (a slip)
    }
    assert differences(spec["responses"]["201"]["body"], raw, skip=skip) == []
    assert undeclared_keys(model) == []
    assert raw["properties"]["dnsConfig"]["fqdn"] == "parentprofile.trafficmanager.net"
    assert raw["properties"]["endpoints"][1]["properties"]["priority"] == 2


def test_nested_endpoint_put_by_target_only(tm: TrafficManagerManagementClient) -> None:
    created = tm.endpoints.create_or_update(
        "shop-global",
        "shop",
        "NestedEndpoints",
        "child",
        Endpoint(target="shop-child.trafficmanager.net", priority=3, min_child_endpoints=1),
    )
    assert (created.target, created.target_resource_id, created.min_child_endpoints) == (
        "shop-child.trafficmanager.net",
        None,
        1,
    )
    assert created.type == "Microsoft.Network/trafficManagerProfiles/nestedEndpoints"

    with pytest.raises(HttpResponseError) as caught:
        tm.endpoints.create_or_update("shop-global", "shop", "NestedEndpoints", "empty", Endpoint(priority=4))
    assert (caught.value.status_code, error_code(caught.value)) == (400, "BadRequest")
