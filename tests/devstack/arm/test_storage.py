"""The emulator's Microsoft.Storage (management plane) through azure-mgmt-storage 25.3.0 (api-version 2026-09-01):
the spec's own examples (spec_examples/storage, see its README), the failover's long-running operation, what it
refuses, and what a region outage does to an account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage.models import Sku, StorageAccountUpdateParameters

from devstack.arm import ArmEmulator, StaticTokenCredential
from tests.arm_fixtures import arm_client

from .arm_helpers import error_code, raw_and_model, undeclared_keys
from .test_arm_spec_examples import differences

EXAMPLES = Path(__file__).parent / "spec_examples" / "storage" / "2025-08-01"
STORAGE_VERSION = "2026-09-01"  # azure-mgmt-storage 25.3.0's default api-version
EXAMPLE_SUB = "00000000-0000-0000-0000-000000000000"
SUB = "00000000-0000-0000-0000-0000000000d1"
INSTANCE_FIELDS = {
    "properties.creationTime": "when the account was created",
    "properties.keyCreationTime": "when its keys were created",
    "properties.encryption.services.blob.lastEnabledTime": "when encryption was enabled (its creation)",
    "properties.encryption.services.file.lastEnabledTime": "when encryption was enabled (its creation)",
    "properties.geoReplicationStats.lastSyncTime": "now minus the replication lag",
}
NOT_MODELLED = {
    "properties.networkAcls.resourceAccessRules": "the example account's own access rules",
    "properties.routingPreference": "routing preference is not modelled (nor its extra endpoints below)",
    "properties.primaryEndpoints.internetEndpoints": "routing preference endpoints",
    "properties.primaryEndpoints.microsoftEndpoints": "routing preference endpoints",
    "properties.supportsHttpsTrafficOnly": "the example account turned HTTPS-only off; accounts here keep the default",
}


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def storage(arm: ArmEmulator) -> Iterator[StorageManagementClient]:
    arm.seed(
        {
            "subscription_id": SUB,
            "resource_groups": [{"name": "shop-eus", "location": "eastus"}],
            "storage_accounts": [
                {"name": "shopdata", "location": "eastus", "resource_group": "shop-eus", "replication_lag_seconds": 30},
                {"name": "shoplogs", "location": "eastus", "resource_group": "shop-eus", "sku": "Standard_LRS"},
            ],
        }
    )
    with arm_client(StorageManagementClient, arm, SUB) as client:
        yield client


@pytest.fixture
def examples(arm: ArmEmulator) -> Iterator[StorageManagementClient]:
    """The accounts the examples' requests name, as the examples describe them."""
    account = {
        "location": "eastus2(stage)",
        "secondary_location": "northcentralus(stage)",
        "sku": "Standard_GRS",
        "kind": "Storage",
        "is_hns_enabled": True,
        "tags": {"key1": "value1", "key2": "value2"},
    }
    arm.seed(
        {
            "subscription_id": EXAMPLE_SUB,
            "resource_groups": [{"name": "res9407", "location": "eastus2"}, {"name": "res4228", "location": "eastus"}],
            "storage_accounts": [
                {"name": "sto8596", "resource_group": "res9407", **account},
                {"name": "sto2434", "resource_group": "res4228", "location": "eastus"},
            ],
        }
    )
    with arm_client(StorageManagementClient, arm, EXAMPLE_SUB) as client:
        yield client


# -- the spec's examples ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "StorageAccountGetPropertiesGeoReplicationStatscanFailoverTrue.json",
        "StorageAccountGetPropertiesGeoReplicationStatscanFailoverFalse.json",
    ],
)
def test_get_properties_with_geo_replication_stats_answers_as_the_example(
    arm: ArmEmulator, examples: StorageManagementClient, name: str
) -> None:
    spec = example(name)
    if "False" in name:  # the example's account cannot fail over, for a reason it does not give
        with arm.estate.lock:
            found = arm.storage.by_id(
                f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/res9407/providers/Microsoft.Storage/storageAccounts/sto8596"
            )
            assert found is not None
            found.failover_blocked = "a feature the example does not name"
    params = spec["parameters"]
    raw, model = raw_and_model(
        lambda *args, **kwargs: examples.storage_accounts.get_properties(*args, expand=params["$expand"], **kwargs),
        params["resourceGroupName"],
        params["accountName"],
    )
    expected = json.loads(json.dumps(spec["responses"]["200"]["body"]).replace("{subscription-id}", EXAMPLE_SUB))

    assert differences(expected, raw, skip=set(INSTANCE_FIELDS) | set(NOT_MODELLED)) == []
    assert undeclared_keys(model) == []
    assert raw["properties"]["geoReplicationStats"]["lastSyncTime"]


@pytest.mark.parametrize(
    ("name", "planned"), [("StorageAccountFailover.json", False), ("StorageAccountFailoverPlanned.json", True)]
)
def test_failover_answers_202_with_the_example_s_location_then_200(
    arm: ArmEmulator, examples: StorageManagementClient, name: str, planned: bool
) -> None:
    spec = example(name)
    params = spec["parameters"]
    poller = examples.storage_accounts.begin_failover(
        params["resourceGroupName"], params["accountName"], failover_type=params.get("failoverType")
    )
    initial = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]
    poller.result()

    assert initial.status_code == 202
    location = urlsplit(initial.headers["Location"])
    shape = urlsplit(spec["responses"]["202"]["headers"]["Location"])
    assert location.path.split("/")[:4] == shape.path.replace("{subscription-id}", EXAMPLE_SUB).split("/")[:4]
    assert location.path.split("/")[4:6] == ["Microsoft.Storage", "locations"]
    assert location.path.split("/")[7] == "asyncoperations"
    assert parse_qs(location.query)["monitor"] == ["true"]
    status = [r for r in arm.requests() if "/asyncoperations/" in r.path]
    assert status[-1].status == 200  # the example's final 200, no body
    account = examples.storage_accounts.get_properties(params["resourceGroupName"], params["accountName"])
    assert account.primary_location == "westus"
    assert account.sku.name == ("Standard_RAGRS" if planned else "Standard_LRS")


# -- behaviour -------------------------------------------------------------------------------------------------


def test_an_unplanned_failover_converts_to_lrs_and_a_planned_one_swaps(
    arm: ArmEmulator, storage: StorageManagementClient
) -> None:
    storage.storage_accounts.begin_failover("shop-eus", "shopdata", failover_type="Planned").result()
    swapped = storage.storage_accounts.get_properties("shop-eus", "shopdata", expand="geoReplicationStats")
    assert (swapped.primary_location, swapped.secondary_location, swapped.location) == ("westus", "eastus", "westus")
    assert swapped.sku.name == "Standard_RAGRS" and swapped.last_geo_failover_time is not None

    storage.storage_accounts.begin_failover("shop-eus", "shopdata", failover_type=None).result()
    alone = storage.storage_accounts.get_properties("shop-eus", "shopdata")
    assert (alone.primary_location, alone.secondary_location, alone.sku.name) == ("eastus", None, "Standard_LRS")
    assert alone.status_of_secondary is None


def test_failover_in_progress_is_reported_and_a_second_one_refused(
    arm: ArmEmulator, storage: StorageManagementClient
) -> None:
    arm.set_operation_duration("storage_account.failover", 3600)
    storage.storage_accounts.begin_failover("shop-eus", "shopdata", failover_type=None, polling=False)
    running = storage.storage_accounts.get_properties("shop-eus", "shopdata", expand="geoReplicationStats")

    assert running.failover_in_progress is True
    assert running.geo_replication_stats.can_failover is False
    with pytest.raises(HttpResponseError) as second:
        storage.storage_accounts.begin_failover("shop-eus", "shopdata", failover_type=None)
    assert second.value.status_code == 409 and error_code(second.value) == "FailoverInProgress"


def test_what_the_service_refuses(arm: ArmEmulator, storage: StorageManagementClient) -> None:
    with arm_client(StorageManagementClient, arm, SUB, retry_total=0) as no_retry:
        with pytest.raises(HttpResponseError) as lrs:
            no_retry.storage_accounts.begin_failover("shop-eus", "shoplogs", failover_type=None)
        assert lrs.value.status_code == 400 and error_code(lrs.value) == "FailoverNotSupportedForAccountType"
        with pytest.raises(HttpResponseError) as stats:  # azure-powershell #15290: the expansion of an LRS account
            no_retry.storage_accounts.get_properties("shop-eus", "shoplogs", expand="geoReplicationStats")
        assert stats.value.status_code == 400 and "AccountType Standard_LRS is invalid" in str(stats.value)
        with pytest.raises(ResourceNotFoundError):
            no_retry.storage_accounts.get_properties("shop-eus", "nothere")

        arm.region_outage("eastus")
        with pytest.raises(HttpResponseError) as planned:
            no_retry.storage_accounts.begin_failover("shop-eus", "shopdata", failover_type="Planned")
        assert planned.value.status_code == 400 and error_code(planned.value) == "PlannedFailoverNotAllowed"


def test_a_primary_outage_leaves_the_management_plane_up_and_freezes_the_last_sync_time(
    arm: ArmEmulator, storage: StorageManagementClient
) -> None:
    arm.region_outage("eastus")
    first = storage.storage_accounts.get_properties("shop-eus", "shopdata", expand="geoReplicationStats")
    again = storage.storage_accounts.get_properties("shop-eus", "shopdata", expand="geoReplicationStats")

    assert first.status_of_primary == "unavailable" and first.status_of_secondary == "available"
    stats = first.geo_replication_stats
    assert (stats.can_failover, stats.can_planned_failover) == (True, False)
    assert stats.last_sync_time == again.geo_replication_stats.last_sync_time

    storage.storage_accounts.begin_failover("shop-eus", "shopdata", failover_type=None).result()
    assert storage.storage_accounts.get_properties("shop-eus", "shopdata").status_of_primary == "available"


def test_a_secondary_outage_blocks_every_failover(arm: ArmEmulator, storage: StorageManagementClient) -> None:
    arm.region_outage("westus")
    account = storage.storage_accounts.get_properties("shop-eus", "shopdata", expand="geoReplicationStats")

    assert account.status_of_secondary == "unavailable"
    assert account.geo_replication_stats.status == "Unavailable"
    assert account.geo_replication_stats.can_failover is False
    assert account.geo_replication_stats.last_sync_time is not None


def test_re_enabling_geo_redundancy_bootstraps_a_new_secondary(
    arm: ArmEmulator, storage: StorageManagementClient
) -> None:
    arm.set_operation_duration("storage_account.geo_bootstrap", 3600)
    storage.storage_accounts.update(
        "shop-eus", "shoplogs", StorageAccountUpdateParameters(sku=Sku(name="Standard_GRS"))
    )
    seeding = storage.storage_accounts.get_properties("shop-eus", "shoplogs", expand="geoReplicationStats")

    assert seeding.secondary_location == "westus"
    assert seeding.geo_replication_stats.status == "Bootstrap"
    assert seeding.geo_replication_stats.can_failover is False
    assert seeding.geo_replication_stats.last_sync_time is None


def test_accounts_are_listed(storage: StorageManagementClient) -> None:
    names = {account.name for account in storage.storage_accounts.list_by_resource_group("shop-eus")}

    assert names == {"shopdata", "shoplogs"}
    assert {account.name for account in storage.storage_accounts.list()} >= names


def test_the_examples_api_version_is_the_sdk_s() -> None:
    from azure.mgmt.storage._configuration import StorageManagementClientConfiguration

    config = StorageManagementClientConfiguration(StaticTokenCredential(), SUB)
    assert config.api_version == STORAGE_VERSION
