"""What ARM checks before any provider sees a request: TLS with the emulator's CA, the bearer token,
api-version, subscription and resource group; and the request log."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.trafficmanager import TrafficManagerManagementClient

from devstack.arm import ArmEmulator, StaticTokenCredential
from tests.arm_fixtures import arm_client, client_kwargs

from .arm_helpers import SUB, error_code

SERVERS_PATH = f"/subscriptions/{SUB}/providers/Microsoft.Sql/servers"


def get(arm: ArmEmulator, path: str, *, headers: dict[str, str] | None = None, query: str = "") -> requests.Response:
    return requests.get(f"{arm.url}{path}{query}", headers=headers or {}, verify=str(arm.ca_path), timeout=10)


class OddTokenCredential:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 4_102_444_800)


def test_ca_is_written_to_the_state_dir_and_verifies_the_server(arm: ArmEmulator) -> None:
    assert arm.ca_path.name == "ca.pem"
    assert arm.ca_path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    context = ssl.create_default_context(cafile=str(arm.ca_path))
    with urllib.request.urlopen(f"{arm.url}/_emulator/ping", context=context, timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.URLError):  # the system trust store does not know this CA
        urllib.request.urlopen(f"{arm.url}/_emulator/ping", context=ssl.create_default_context(), timeout=10)


def test_sdk_without_the_ca_refuses_the_connection(arm: ArmEmulator) -> None:
    client = SqlManagementClient(StaticTokenCredential(), SUB, base_url=arm.url, retry_total=0)

    with pytest.raises(ServiceRequestError):
        client.servers.get("shop-eus", "shop-eus")


def test_missing_authorization_is_401_authentication_failed(arm: ArmEmulator) -> None:
    response = get(arm, SERVERS_PATH, query="?api-version=2025-01-01")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    assert "'Authorization' header is missing" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Basic dXNlcjpwYXNz", "AuthenticationFailed"),
        ("Bearer", "InvalidAuthenticationToken"),
        ("Bearer not a token", "InvalidAuthenticationToken"),
    ],
)
def test_malformed_authorization_is_401(arm: ArmEmulator, header: str, code: str) -> None:
    response = get(arm, SERVERS_PATH, headers={"Authorization": header}, query="?api-version=2025-01-01")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_sdk_sees_a_bad_token_as_client_authentication_error(arm: ArmEmulator) -> None:
    client = SqlManagementClient(OddTokenCredential("bad token!"), SUB, **client_kwargs(arm))  # type: ignore[arg-type]

    with pytest.raises(ClientAuthenticationError) as caught:
        client.servers.get("shop-eus", "shop-eus")
    assert error_code(caught.value) == "InvalidAuthenticationToken"


def test_any_well_formed_bearer_token_is_accepted(arm: ArmEmulator) -> None:
    client = SqlManagementClient(StaticTokenCredential("eyJhbGciOi.whatever-you.like"), SUB, **client_kwargs(arm))

    assert client.servers.get("shop-eus", "shop-eus").name == "shop-eus"


def test_api_version_is_required(arm: ArmEmulator) -> None:
    response = get(arm, SERVERS_PATH, headers={"Authorization": "Bearer t"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_unsupported_api_version_names_the_supported_ones(arm: ArmEmulator) -> None:
    client = SqlManagementClient(StaticTokenCredential(), SUB, api_version="1999-01-01", **client_kwargs(arm))

    with pytest.raises(HttpResponseError) as caught:
        client.servers.get("shop-eus", "shop-eus")
    assert caught.value.status_code == 400
    assert error_code(caught.value) == "NoRegisteredProviderFound"
    assert "2025-01-01" in str(caught.value)


def test_unknown_subscription_and_resource_group(arm: ArmEmulator) -> None:
    stranger = SqlManagementClient(
        StaticTokenCredential(), "11111111-2222-3333-4444-555555555555", **client_kwargs(arm)
    )
    client = arm_client(TrafficManagerManagementClient, arm, SUB)

    with pytest.raises(ResourceNotFoundError) as no_subscription:
        stranger.servers.get("shop-eus", "shop-eus")
    with pytest.raises(ResourceNotFoundError) as no_group:
        client.profiles.get("no-such-group", "shop")
    assert error_code(no_subscription.value) == "SubscriptionNotFound"
    assert error_code(no_group.value) == "ResourceGroupNotFound"
    assert "Resource group 'no-such-group' could not be found." in str(no_group.value)


def test_resource_groups_created_by_put_hold_new_resources(arm: ArmEmulator, sql: SqlManagementClient) -> None:
    path = f"/subscriptions/{SUB}/resourcegroups/dr-drill?api-version=2021-04-01"
    created = requests.put(
        f"{arm.url}{path}",
        json={"location": "westus"},
        headers={"Authorization": "Bearer t"},
        verify=str(arm.ca_path),
        timeout=10,
    )

    assert created.status_code == 201
    assert created.json()["id"] == f"/subscriptions/{SUB}/resourceGroups/dr-drill"
    from azure.mgmt.sql.models import Server

    server = sql.servers.begin_create_or_update("dr-drill", "drill-sql", Server(location="westus")).result()
    assert server.id.endswith("/resourceGroups/dr-drill/providers/Microsoft.Sql/servers/drill-sql")


def test_unknown_resource_type_is_404(arm: ArmEmulator) -> None:
    response = get(
        arm,
        f"/subscriptions/{SUB}/resourceGroups/shop-eus/providers/Microsoft.Sql/servers/shop-eus/jobAgents",
        headers={"Authorization": "Bearer t"},
        query="?api-version=2025-01-01",
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "InvalidResourceType"


def test_request_log_records_method_path_status_and_api_version_without_secrets(
    arm: ArmEmulator, sql: SqlManagementClient
) -> None:
    arm.clear_requests()
    secret_token = "super-secret-token-value"
    client = SqlManagementClient(StaticTokenCredential(secret_token), SUB, **client_kwargs(arm, retry_total=0))
    client.servers.get("shop-eus", "shop-eus")
    with pytest.raises(ResourceNotFoundError):
        client.databases.get("shop-eus", "shop-eus", "ghost")

    log = arm.requests()
    assert [(r.method, r.status, r.api_version, r.error_code) for r in log] == [
        ("GET", 200, "2025-01-01", None),
        ("GET", 404, "2025-01-01", "ResourceNotFound"),
    ]
    assert log[0].path == f"/subscriptions/{SUB}/resourceGroups/shop-eus/providers/Microsoft.Sql/servers/shop-eus"
    dumped = "".join(r.model_dump_json() for r in log)
    assert secret_token not in dumped
    assert "Authorization" not in dumped


def test_resource_group_existence_check(arm: ArmEmulator) -> None:
    def head(name: str) -> int:
        return requests.head(
            f"{arm.url}/subscriptions/{SUB}/resourcegroups/{name}?api-version=2021-04-01",
            headers={"Authorization": "Bearer t"},
            verify=str(arm.ca_path),
            timeout=10,
        ).status_code

    assert (head("shop-eus"), head("nowhere")) == (204, 404)


def test_async_clients_work_with_the_ca_file(arm: ArmEmulator) -> None:
    import asyncio

    from azure.mgmt.sql.aio import SqlManagementClient as AsyncSqlManagementClient
    from azure.mgmt.sql.models import Database

    from devstack.arm import AsyncStaticTokenCredential

    async def restore() -> tuple[str, str]:
        async with AsyncSqlManagementClient(AsyncStaticTokenCredential(), SUB, **client_kwargs(arm)) as client:
            group = await client.failover_groups.get("shop-eus", "shop-eus", "shop-fog")
            poller = await client.databases.begin_create_or_update(
                "shop-wus",
                "shop-wus",
                "shop-async",
                Database(location="westus", create_mode="Recovery", source_database_id=group.databases[0]),
            )
            database = await poller.result()
            return group.replication_role, database.status

    assert asyncio.run(restore()) == ("Primary", "Online")


def test_deleting_a_resource_group_deletes_what_it_holds(arm: ArmEmulator, sql: SqlManagementClient) -> None:
    response = requests.delete(
        f"{arm.url}/subscriptions/{SUB}/resourcegroups/shop-wus?api-version=2021-04-01",
        headers={"Authorization": "Bearer t"},
        verify=str(arm.ca_path),
        timeout=10,
    )

    assert response.status_code == 200
    assert [s.name for s in sql.servers.list()] == ["shop-eus"]
    # The failover group lost its partner with it.
    assert list(sql.failover_groups.list_by_server("shop-eus", "shop-eus")) == []
