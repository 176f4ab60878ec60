"""The emulator's Microsoft.DBforPostgreSQL flexible servers against the REST spec's own examples, through
azure-mgmt-postgresqlflexibleservers 3.0.0 (api-version 2026-10-01): each example's request replayed (its body as
the wire JSON), its answer compared with the example's, and the behaviour around them: promotion to standalone,
geo-restore, Azure Monitor's replica lag, region outages, what the service refuses.

Examples: spec_examples/postgresql/ (see its README for the source path and commit of each file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
from azure.mgmt.postgresqlflexibleservers.models import (
    Replica,
    Server,
    ServerForPatch,
    ServerProperties,
    ServerPropertiesForPatch,
)

from devstack.arm import ArmEmulator
from tests.arm_fixtures import arm_client

from .arm_helpers import error_code, undeclared_keys
from .test_arm_spec_examples import differences, example

VERSION = "2026-10-01"  # azure-mgmt-postgresqlflexibleservers 3.0.0's default api-version
SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
RG = "exampleresourcegroup"
SERVERS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers"
STATUS_URL = re.compile(
    rf"^https://127\.0\.0\.1:\d+/subscriptions/{SUB}/providers/Microsoft\.DBforPostgreSQL/locations/(?P<loc>[a-z]+)"
    r"/(?P<kind>azureAsyncOperation|operationResults)/[0-9a-f-]{36}\?api-version=" + VERSION + "$"
)
NOT_MODELLED = {"properties.storage", "properties.availabilityZone", "properties.minorVersion"}
"""Storage sizing, zone and minor version of the example's server: no failover reads them."""
INSTANCE_FIELDS = {"properties.backup.earliestRestoreDate"}


@pytest.fixture
def pg(arm: ArmEmulator) -> Iterator[PostgreSQLManagementClient]:
    arm.seed(
        {
            "subscription_id": SUB,
            "resource_groups": [{"name": RG, "location": "westus"}, {"name": "dr-eus", "location": "eastus"}],
            "postgresql": {
                "servers": [
                    {
                        "name": "examplesourceserver",
                        "resource_group": RG,
                        "version": "18",
                        "sku": {"name": "Standard_D4ds_v5", "tier": "GeneralPurpose"},
                        "administrator_login": "administratorlogin",
                        "geo_redundant_backup": True,
                    },
                    {
                        "name": "examplereplica",
                        "resource_group": RG,
                        "version": "18",
                        "sku": {"name": "Standard_D4ds_v5", "tier": "GeneralPurpose"},
                        "administrator_login": "administratorlogin",
                        "replica_of": "examplesourceserver",
                        "replication_lag_seconds": 7,
                    },
                ]
            },
        }
    )
    with arm_client(PostgreSQLManagementClient, arm, SUB) as client:
        yield client


def send(client: PostgreSQLManagementClient, method: str, path: str, body: Any = None, **query: str) -> Any:
    request = HttpRequest(
        method,
        f"{client._config.base_url}{path}",
        params={"api-version": VERSION, **query},
        json=body,
    )
    return client.send_request(request)


def test_replicas_list_answers_as_the_example_does(pg: PostgreSQLManagementClient) -> None:
    """The example lists the replicas of 'exampleserver' and shows a replica of the same name; here the replica
    'examplereplica' of 'examplesourceserver' (both in westus: an AsyncReplica) is listed."""
    spec = example("postgresql", "2024-08-01", "ReplicasListByServer.json")
    expected = spec["responses"]["200"]["body"]["value"][0]
    expected = json.loads(json.dumps(expected).replace("exampleserver", "examplereplica"))
    response = send(pg, "GET", f"{SERVERS}/examplesourceserver/replicas")
    (listed,) = response.json()["value"]

    assert differences(expected, listed, skip=NOT_MODELLED | INSTANCE_FIELDS) == []
    assert listed["properties"]["sourceServerResourceId"] == f"{SERVERS}/examplesourceserver"
    (model,) = pg.replicas.list_by_server(RG, "examplesourceserver")
    assert undeclared_keys(model) == []


def test_create_replica_answers_202_with_the_subscriptions_status_urls(
    arm: ArmEmulator, pg: PostgreSQLManagementClient
) -> None:
    spec = example("postgresql", "2025-08-01", "ServersCreateReplica.json")
    params = spec["parameters"]
    response = send(pg, "PUT", f"{SERVERS}/{params['serverName']}", params["parameters"])

    assert response.status_code == 202
    assert set(spec["responses"]["202"]["headers"]) <= set(response.headers)
    status, result = (
        STATUS_URL.match(response.headers["Azure-AsyncOperation"]),
        STATUS_URL.match(response.headers["Location"]),
    )
    assert status and status["kind"] == "azureAsyncOperation" and status["loc"] == "eastus"
    assert result and result["kind"] == "operationResults"
    assert pg.servers.get(RG, "exampleserver").properties.state == "Provisioning"
    arm.finish_operations()
    created = pg.servers.get(RG, "exampleserver")
    assert created.properties.state == "Ready"
    assert created.properties.replica.role == "GeoAsyncReplica"  # eastus replica of a westus server
    assert created.properties.source_server_resource_id == f"{SERVERS}/examplesourceserver"


def test_switchover_as_the_example_swaps_the_roles(arm: ArmEmulator, pg: PostgreSQLManagementClient) -> None:
    spec = example("postgresql", "2025-08-01", "ServersPromoteReplicaAsPlannedSwitchover.json")
    response = send(pg, "PATCH", f"{SERVERS}/examplereplica", spec["parameters"]["parameters"])
    assert response.status_code == 202 and STATUS_URL.match(response.headers["Azure-AsyncOperation"])
    arm.finish_operations()
    assert pg.servers.get(RG, "examplereplica").properties.replication_role == "Primary"
    assert pg.servers.get(RG, "examplesourceserver").properties.replication_role == "AsyncReplica"


def test_promote_to_standalone_through_the_poller(pg: PostgreSQLManagementClient) -> None:
    body = ServerForPatch(
        properties=ServerPropertiesForPatch(replica=Replica(promote_mode="Standalone", promote_option="Forced"))
    )
    promoted = pg.servers.begin_update(RG, "examplereplica", body).result()
    assert promoted.properties.replication_role == "None" and promoted.properties.source_server_resource_id is None
    assert pg.servers.get(RG, "examplesourceserver").properties.replication_role == "None"
    assert list(pg.replicas.list_by_server(RG, "examplesourceserver")) == []


def test_promoting_a_server_that_is_not_a_replica_is_400(pg: PostgreSQLManagementClient) -> None:
    body = ServerForPatch(properties=ServerPropertiesForPatch(replica=Replica(promote_mode="Standalone")))
    with pytest.raises(HttpResponseError) as refused:
        pg.servers.begin_update(RG, "examplesourceserver", body)
    assert refused.value.status_code == 400 and error_code(refused.value) == "ServerIsNotReplica"


def test_a_planned_promotion_with_the_primary_down_ends_failed(
    arm: ArmEmulator, pg: PostgreSQLManagementClient
) -> None:
    arm.seed(
        {
            "subscription_id": SUB,
            "postgresql": {
                "servers": [
                    {"name": "eus-primary", "resource_group": "dr-eus"},
                    {"name": "wus-replica", "resource_group": RG, "replica_of": "eus-primary"},
                ]
            },
        }
    )
    arm.region_outage("eastus")
    with pytest.raises(ResourceNotFoundError.__base__) as down:  # type: ignore[misc]
        pg.servers.get("dr-eus", "eus-primary", retry_total=0)
    assert down.value.status_code == 504
    replica = pg.servers.get(RG, "wus-replica").properties.replica
    assert replica.replication_state == "Broken"
    planned = ServerForPatch(
        properties=ServerPropertiesForPatch(replica=Replica(promote_mode="Standalone", promote_option="Planned"))
    )
    with pytest.raises(HttpResponseError) as failed:
        pg.servers.begin_update(RG, "wus-replica", planned).result()
    assert error_code(failed.value) == "PrimaryServerUnavailable"
    forced = ServerForPatch(
        properties=ServerPropertiesForPatch(replica=Replica(promote_mode="Standalone", promote_option="Forced"))
    )
    assert pg.servers.begin_update(RG, "wus-replica", forced).result().properties.replication_role == "None"


def test_geo_restore_needs_geo_redundant_backup_and_the_paired_region(
    arm: ArmEmulator, pg: PostgreSQLManagementClient
) -> None:
    def restore(name: str, source: str, location: str) -> Any:
        body = Server(
            location=location,
            properties=ServerProperties(create_mode="GeoRestore", source_server_resource_id=f"{SERVERS}/{source}"),
        )
        return pg.servers.begin_create_or_update("dr-eus", name, body)

    arm.region_outage("westus")  # the source's region: its geo-backup is restorable all the same
    restored = restore("restored", "examplesourceserver", "eastus").result()
    assert restored.properties.state == "Ready" and restored.location == "eastus"
    with pytest.raises(HttpResponseError) as wrong_region:
        restore("restored-2", "examplesourceserver", "northeurope")
    assert error_code(wrong_region.value) == "InvalidGeoRestoreLocation"
    with pytest.raises(HttpResponseError) as no_geo:
        restore("restored-3", "examplereplica", "eastus")
    assert no_geo.value.status_code == 400 and error_code(no_geo.value) == "GeoRestoreNotSupported"


def test_the_replica_lag_is_azure_monitors_metric(pg: PostgreSQLManagementClient) -> None:
    response = send(
        pg,
        "GET",
        f"{SERVERS}/examplereplica/providers/Microsoft.Insights/metrics",
        metricnames="physical_replication_delay_in_seconds",
        **{"api-version": "2023-10-01"},  # Azure Monitor's, not the server's
    ).json()
    (metric,) = response["value"]
    assert metric["name"]["value"] == "physical_replication_delay_in_seconds" and metric["unit"] == "Seconds"
    assert metric["timeseries"][0]["data"][-1]["maximum"] == 7
    assert response["namespace"] == "Microsoft.DBforPostgreSQL/flexibleServers"


def test_delete_is_202_then_the_server_is_gone_and_a_second_delete_204(
    arm: ArmEmulator, pg: PostgreSQLManagementClient
) -> None:
    response = send(pg, "DELETE", f"{SERVERS}/examplereplica")
    assert response.status_code == 202 and STATUS_URL.match(response.headers["Location"])
    arm.finish_operations()
    with pytest.raises(ResourceNotFoundError):
        pg.servers.get(RG, "examplereplica")
    assert send(pg, "DELETE", f"{SERVERS}/examplereplica").status_code == 204


def test_backups_list_the_newest_completed_backup(pg: PostgreSQLManagementClient) -> None:
    (backup,) = pg.backups_automatic_and_on_demand.list_by_server(RG, "examplesourceserver")
    assert backup.properties.backup_type == "Full" and backup.properties.completed_time is not None
