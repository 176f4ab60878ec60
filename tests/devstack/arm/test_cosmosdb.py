"""The emulator's Microsoft.DocumentDB against the REST spec's own examples, through azure-mgmt-cosmosdb 10.0.0
(api-version 2026-03-15): each example's request replayed, its answer compared with the example's (the fields the
emulator does not model are named), and the behaviour around them: priorities, offline and online regions, busy
accounts, bad bodies, region outages.

Examples: spec_examples/cosmosdb/ (see its README for the source path and commit of each file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.cosmosdb import CosmosDBManagementClient
from azure.mgmt.cosmosdb.models import FailoverPolicies, FailoverPolicy, RegionForOnlineOffline

from devstack.arm import ArmEmulator
from tests.arm_fixtures import arm_client

from .arm_helpers import error_code, raw_and_model, undeclared_keys
from .test_arm_spec_examples import differences, example

VERSION = "2026-03-15"  # azure-mgmt-cosmosdb 10.0.0's default api-version
EXAMPLE_SUB = "00000000-1111-2222-3333-444444444444"
STATUS_URL = re.compile(
    rf"^https://127\.0\.0\.1:\d+/subscriptions/{EXAMPLE_SUB}/providers/Microsoft\.DocumentDB/locations/[a-z]+"
    r"/operationsStatus/[0-9a-f-]{36}\?api-version=" + VERSION + "$"
)
NOT_MODELLED = {
    f"properties.{key}"
    for key in (
        "disableKeyBasedMetadataWriteAccess",
        "defaultIdentity",
        "privateEndpointConnections",
        "cors",
        "enableFreeTier",
        "apiProperties",
        "enableAnalyticalStorage",
        "enableBurstCapacity",
        "enablePriorityBasedExecution",
        "defaultPriorityLevel",
        "enablePerRegionPerPartitionAutoscale",
        "analyticalStorageConfiguration",
        "backupPolicy",
        "networkAclBypass",
        "networkAclBypassResourceIds",
        "keysMetadata",
        "enablePartitionMerge",
        "minimalTlsVersion",
    )
} | {"identity"}
"""Settings of the example's account that no failover reads: the emulator does not model them."""
INSTANCE_FIELDS = {"id", "properties.instanceId"}
"""The example's id names subscription 'subid' (its request: 00000000-1111-...); instanceId is generated."""


@pytest.fixture
def cosmos(arm: ArmEmulator) -> Iterator[CosmosDBManagementClient]:
    arm.seed(
        {
            "subscription_id": EXAMPLE_SUB,
            "resource_groups": [{"name": "rg1", "location": "westus"}],
            "cosmosdb": {
                "accounts": [
                    {"name": "ddb1", "resource_group": "rg1", "location": "West US", "regions": ["East US"]},
                    {"name": "ddb1-failover", "resource_group": "rg1", "regions": ["westus", "eastus"]},
                    {"name": "ddb2", "resource_group": "rg1", "regions": ["East US", "North Europe", "West US"]},
                ]
            },
        }
    )
    with arm_client(CosmosDBManagementClient, arm, EXAMPLE_SUB) as client:
        yield client


def initial(call: Any, *args: Any) -> tuple[int, dict[str, str]]:
    """The first answer of a long-running call (status, headers), not polled."""
    seen: dict[str, Any] = {}

    def keep(response: Any, *_: Any) -> None:
        seen.setdefault("status", response.http_response.status_code)
        seen.setdefault("headers", dict(response.http_response.headers))

    call(*args, cls=keep, polling=False).result()
    return seen["status"], seen["headers"]


def test_get_answers_as_the_example_does(cosmos: CosmosDBManagementClient) -> None:
    spec = example("cosmosdb", VERSION, "CosmosDBDatabaseAccountGet.json")
    params = spec["parameters"]
    raw, model = raw_and_model(cosmos.database_accounts.get, params["resourceGroupName"], params["accountName"])

    assert differences(spec["responses"]["200"]["body"], raw, skip=NOT_MODELLED | INSTANCE_FIELDS) == []
    assert raw["id"].endswith("/resourceGroups/rg1/providers/Microsoft.DocumentDB/databaseAccounts/ddb1")
    assert undeclared_keys(model) == []


def test_failover_priority_change_answers_202_with_the_status_urls_then_204_once_done(
    arm: ArmEmulator, cosmos: CosmosDBManagementClient
) -> None:
    spec = example("cosmosdb", "2025-10-15", "CosmosDBDatabaseAccountFailoverPriorityChange.json")
    params = spec["parameters"]
    body = FailoverPolicies(params["failoverParameters"])  # the example's body, as its wire JSON
    change = cosmos.database_accounts.begin_failover_priority_change

    status, headers = initial(change, params["resourceGroupName"], params["accountName"], body)
    assert status == 202 and set(spec["responses"]["202"]["headers"]) <= set(headers)
    assert STATUS_URL.match(headers["Azure-AsyncOperation"]) and headers["Location"] == headers["Azure-AsyncOperation"]
    arm.finish_operations()
    account = cosmos.database_accounts.get("rg1", "ddb1-failover")
    assert [(p.location_name, p.failover_priority) for p in account.properties.failover_policies] == [
        ("eastus", 0),
        ("westus", 1),
    ]
    assert account.properties.write_locations[0].location_name == "eastus"
    assert initial(change, "rg1", "ddb1-failover", body)[0] == 204  # nothing to change


def test_a_priority_change_through_the_poller_ends_with_the_new_write_region(cosmos: CosmosDBManagementClient) -> None:
    body = FailoverPolicies(
        failover_policies=[
            FailoverPolicy(location_name="West US", failover_priority=0),
            FailoverPolicy(location_name="East US", failover_priority=1),
            FailoverPolicy(location_name="North Europe", failover_priority=2),
        ]
    )
    assert cosmos.database_accounts.begin_failover_priority_change("rg1", "ddb2", body).result() is None
    properties = cosmos.database_accounts.get("rg1", "ddb2").properties
    assert [w.location_name for w in properties.write_locations] == ["West US"]
    assert [r.location_name for r in properties.read_locations] == ["West US", "East US", "North Europe"]


@pytest.mark.parametrize(
    ("policies", "text"),
    [
        ([("East US", 0), ("West US", 1)], "missing: North Europe"),
        ([("East US", 0), ("West US", 1), ("North Europe", 1)], "must be unique"),
        ([("East US", 0), ("West US", 1), ("Japan East", 2)], "not a location"),
    ],
)
def test_bad_priorities_are_400(cosmos: CosmosDBManagementClient, policies: list[tuple[str, int]], text: str) -> None:
    body = FailoverPolicies(
        failover_policies=[FailoverPolicy(location_name=n, failover_priority=p) for n, p in policies]
    )
    with pytest.raises(HttpResponseError) as refused:
        cosmos.database_accounts.begin_failover_priority_change("rg1", "ddb2", body)
    assert refused.value.status_code == 400 and error_code(refused.value) == "BadRequest"
    assert text in str(refused.value.message)


def test_offline_then_online_region_as_the_examples(arm: ArmEmulator, cosmos: CosmosDBManagementClient) -> None:
    offline = example("cosmosdb", "2025-11-01-preview", "CosmosDBDatabaseAccountOfflineRegion.json")["parameters"]
    online = example("cosmosdb", VERSION, "CosmosDBDatabaseAccountOnlineRegion.json")["parameters"]
    arm.seed(
        {
            "subscription_id": EXAMPLE_SUB,
            "cosmosdb": {
                "accounts": [{"name": "ddb3", "resource_group": "rg1", "regions": ["East US", "North Europe"]}]
            },
        }
    )
    status, headers = initial(
        cosmos.database_accounts.begin_offline_region,
        "rg1",
        "ddb3",
        RegionForOnlineOffline(**offline["regionParameterForOffline"]),
    )
    assert status == 202 and STATUS_URL.match(headers["Azure-AsyncOperation"])
    arm.finish_operations()
    properties = cosmos.database_accounts.get("rg1", "ddb3").properties
    assert [r.location_name for r in properties.read_locations] == ["East US"]
    assert {loc.location_name: loc.provisioning_state for loc in properties.locations}["North Europe"] == "Offline"

    cosmos.database_accounts.begin_online_region(
        "rg1", "ddb3", RegionForOnlineOffline(**online["regionParameterForOnline"])
    ).result()
    properties = cosmos.database_accounts.get("rg1", "ddb3").properties
    assert [r.location_name for r in properties.read_locations] == ["East US", "North Europe"]


def test_taking_the_write_region_offline_moves_the_writes(arm: ArmEmulator, cosmos: CosmosDBManagementClient) -> None:
    arm.region_outage("eastus")
    assert cosmos.database_accounts.get("rg1", "ddb2").name == "ddb2"  # the account answers during the outage
    cosmos.database_accounts.begin_offline_region("rg1", "ddb2", RegionForOnlineOffline(region="East US")).result()
    properties = cosmos.database_accounts.get("rg1", "ddb2").properties
    assert properties.write_locations[0].location_name == "North Europe"
    assert [(p.location_name, p.failover_priority) for p in properties.failover_policies] == [
        ("North Europe", 0),
        ("West US", 1),
        ("East US", 2),
    ]


def test_the_last_online_region_stays_online(cosmos: CosmosDBManagementClient) -> None:
    with pytest.raises(HttpResponseError) as refused:
        cosmos.database_accounts.begin_offline_region("rg1", "ddb1", RegionForOnlineOffline(region="East US"))
    assert refused.value.status_code == 400 and "only online region" in str(refused.value.message)


def test_a_second_operation_while_one_runs_is_412(arm: ArmEmulator, cosmos: CosmosDBManagementClient) -> None:
    arm.configure(default_operation_seconds=3600)
    cosmos.database_accounts.begin_offline_region(
        "rg1", "ddb2", RegionForOnlineOffline(region="West US"), polling=False
    )
    with pytest.raises(HttpResponseError) as busy:
        cosmos.database_accounts.begin_offline_region("rg1", "ddb2", RegionForOnlineOffline(region="North Europe"))
    assert busy.value.status_code == 412 and "operation in progress" in str(busy.value.message)
    assert cosmos.database_accounts.get("rg1", "ddb2").properties.provisioning_state == "Updating"


def test_a_priority_change_with_the_write_region_down_ends_failed(
    arm: ArmEmulator, cosmos: CosmosDBManagementClient
) -> None:
    arm.region_outage("eastus")
    body = FailoverPolicies(
        failover_policies=[
            FailoverPolicy(location_name="West US", failover_priority=0),
            FailoverPolicy(location_name="East US", failover_priority=1),
            FailoverPolicy(location_name="North Europe", failover_priority=2),
        ]
    )
    with pytest.raises(HttpResponseError) as failed:
        cosmos.database_accounts.begin_failover_priority_change("rg1", "ddb2", body).result()
    assert error_code(failed.value) == "ServiceUnavailable"


def test_a_missing_account_is_resource_not_found(cosmos: CosmosDBManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        cosmos.database_accounts.get("rg1", "nope")
    assert error_code(missing.value) == "ResourceNotFound"


def test_lists_by_resource_group_and_subscription(cosmos: CosmosDBManagementClient) -> None:
    assert {a.name for a in cosmos.database_accounts.list_by_resource_group("rg1")} == {"ddb1", "ddb1-failover", "ddb2"}
    assert {a.name for a in cosmos.database_accounts.list()} == {"ddb1", "ddb1-failover", "ddb2"}
