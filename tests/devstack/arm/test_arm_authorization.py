"""Microsoft.Authorization permissions in the emulator, through the real azure-mgmt-authorization client:
the default (the caller holds `*` everywhere), what the control plane sets per scope and how a scope inherits
from the scopes above it, ARM's 404s, paging, the control API over HTTP, and the spec's own examples
(spec_examples/authorization/2022-04-01/, source paths in its README) replayed through the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient

from devstack.arm import ArmEmulator, StaticTokenCredential
from tests.arm_fixtures import arm_client, client_kwargs

from .arm_helpers import EUS_SERVER_ID, SHOP_DB_ID, SUB, WUS_SERVER_ID, error_code
from .test_arm_spec_examples import differences

EXAMPLES = Path(__file__).parent / "spec_examples" / "authorization" / "2022-04-01"
AUTHZ_VERSION = "2022-04-01"  # azure-mgmt-authorization 4.0.0's default api-version (DEFAULT_API_VERSION)
FOG_ID = f"{WUS_SERVER_ID}/failoverGroups/shop-fog"
EUS_GROUP = f"/subscriptions/{SUB}/resourceGroups/shop-eus"
FAILOVER = "Microsoft.Sql/servers/failoverGroups/failover/action"
PERMISSION_KEYS = {"actions", "notActions", "dataActions", "notDataActions"}


@pytest.fixture
def authz(arm: ArmEmulator) -> Iterator[AuthorizationManagementClient]:
    with arm_client(AuthorizationManagementClient, arm, SUB, retry_total=0) as client:
        yield client


class Raw:
    """The raw JSON pages a paged SDK call received (azure-core's raw_response_hook)."""

    def __init__(self) -> None:
        self.pages: list[dict[str, Any]] = []
        self.paths: list[str] = []

    def __call__(self, response: Any) -> None:
        self.pages.append(json.loads(response.http_response.text()))
        self.paths.append(response.http_request.url)


def for_resource(client: AuthorizationManagementClient, resource_id: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Permissions_ListForResource for an ARM id, split as the SDK wants it (a top-level resource has an
    empty parentResourcePath)."""
    parts = resource_id.strip("/").split("/")
    group, namespace, rest = parts[3], parts[5], parts[6:]
    parent = "/".join(rest[:-2])
    items = client.permissions.list_for_resource(group, namespace, parent, rest[-2], rest[-1], **kwargs)
    return [item.as_dict() for item in items]


def for_group(client: AuthorizationManagementClient, group: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [item.as_dict() for item in client.permissions.list_for_resource_group(group, **kwargs)]


def permission(actions: list[str], not_actions: list[str] | None = None) -> dict[str, list[str]]:
    return {"actions": actions, "not_actions": not_actions or [], "data_actions": [], "not_data_actions": []}


OWNER = permission(["*"])


# -- the default and what a scope inherits --------------------------------------------------------------------


def test_by_default_the_caller_holds_everything_at_every_scope(
    arm: ArmEmulator, authz: AuthorizationManagementClient
) -> None:
    raw = Raw()

    assert for_group(authz, "shop-eus", raw_response_hook=raw) == [OWNER]
    assert for_resource(authz, EUS_SERVER_ID, raw_response_hook=raw) == [OWNER]  # top level: Microsoft.Sql//servers
    assert for_resource(authz, SHOP_DB_ID, raw_response_hook=raw) == [OWNER]
    assert for_resource(authz, FOG_ID, raw_response_hook=raw) == [OWNER]
    # The body is the spec's PermissionGetResult: every Permission key, nothing undeclared, no nextLink.
    for page in raw.pages:
        assert set(page) == {"value"}
        assert [set(item) for item in page["value"]] == [PERMISSION_KEYS]
    assert "/providers/Microsoft.Sql//servers/shop-eus/providers/Microsoft.Authorization/permissions" in raw.paths[1]
    assert all(f"api-version={AUTHZ_VERSION}" in path for path in raw.paths)


def test_a_resource_inherits_what_its_resource_group_and_subscription_hold(
    arm: ArmEmulator, authz: AuthorizationManagementClient
) -> None:
    arm.set_permissions("/", [])
    arm.set_permissions(f"/subscriptions/{SUB}", [{"actions": ["*/read"]}])
    arm.set_permissions(EUS_GROUP, [{"actions": ["Microsoft.Sql/*"], "notActions": [FAILOVER]}])
    arm.set_permissions(SHOP_DB_ID, [{"actions": ["Microsoft.Sql/servers/databases/delete"]}])

    group = [permission(["*/read"]), permission(["Microsoft.Sql/*"], [FAILOVER])]
    assert for_group(authz, "shop-eus") == group
    assert for_resource(authz, EUS_SERVER_ID) == group
    assert for_resource(authz, SHOP_DB_ID) == [*group, permission(["Microsoft.Sql/servers/databases/delete"])]
    # Another resource group inherits only the subscription's; a scope is case-insensitive.
    assert for_resource(authz, FOG_ID) == [permission(["*/read"])]
    assert for_group(authz, "SHOP-EUS") == group


def test_setting_a_scope_replaces_what_was_set_there_and_reset_gives_everything_back(
    arm: ArmEmulator, authz: AuthorizationManagementClient
) -> None:
    arm.set_permissions(EUS_GROUP, [{"actions": ["a"]}])
    arm.set_permissions(EUS_GROUP.upper().replace("SUBSCRIPTIONS", "subscriptions"), [{"actions": ["b"]}])
    assert for_group(authz, "shop-eus") == [OWNER, permission(["b"])]

    arm.clear_permissions()
    assert for_group(authz, "shop-eus") == []
    assert arm.granted_permissions() == []

    arm.reset()
    arm.seed({"subscription_id": SUB, "resource_groups": [{"name": "shop-eus", "location": "eastus"}]})
    assert for_group(authz, "shop-eus") == [OWNER]


def test_deleting_a_resource_group_drops_what_was_granted_in_it(arm: ArmEmulator) -> None:
    arm.set_permissions(SHOP_DB_ID, [{"actions": ["x"]}])
    with pytest.raises(ValueError, match="not a scope"):
        arm.set_permissions("/subscriptions/x/resourceGroups", [])

    deleted = requests.delete(
        f"{arm.url}/subscriptions/{SUB}/resourcegroups/shop-eus?api-version=2021-04-01",
        headers={"Authorization": "Bearer t"},
        verify=str(arm.ca_path),
        timeout=10,
    )

    assert deleted.status_code in (200, 202)
    assert [grant.scope for grant in arm.granted_permissions()] == ["/"]


# -- ARM's errors and paging ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_id", "message"),
    [
        (f"{EUS_SERVER_ID}/databases/nope", "Microsoft.Sql/servers/shop-eus/databases/nope"),
        (f"{WUS_SERVER_ID}/failoverGroups/nope", "Microsoft.Sql/servers/shop-wus/failoverGroups/nope"),
        (f"{EUS_GROUP}/providers/Microsoft.Sql/servers/nope", "Microsoft.Sql/servers/nope"),
        (
            f"{EUS_GROUP}/providers/Microsoft.Network/trafficManagerProfiles/nope",
            "Microsoft.Network/trafficManagerProfiles/nope",
        ),
    ],
)
def test_a_missing_resource_is_resource_not_found(
    authz: AuthorizationManagementClient, resource_id: str, message: str
) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        for_resource(authz, resource_id)

    assert error_code(missing.value) == "ResourceNotFound"
    assert f"The Resource '{message}' under resource group" in str(missing.value)


def test_a_missing_resource_group_is_resource_group_not_found(authz: AuthorizationManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        for_group(authz, "nope")
    with pytest.raises(ResourceNotFoundError) as missing_below:
        for_resource(authz, f"/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.Sql/servers/x")

    assert error_code(missing.value) == error_code(missing_below.value) == "ResourceGroupNotFound"


def test_a_type_the_emulator_does_not_model_is_answered(authz: AuthorizationManagementClient) -> None:
    assert for_resource(authz, f"{EUS_SERVER_ID}/elasticPools/pool") == [OWNER]
    assert for_resource(authz, f"{EUS_GROUP}/providers/Microsoft.Web/sites/shop") == [OWNER]


def test_an_unsupported_api_version_is_refused(arm: ArmEmulator) -> None:
    with (
        AuthorizationManagementClient(
            StaticTokenCredential(), SUB, api_version="2015-07-01", **client_kwargs(arm, retry_total=0)
        ) as old,
        pytest.raises(HttpResponseError) as refused,
    ):
        for_group(old, "shop-eus")

    assert error_code(refused.value) == "NoRegisteredProviderFound"


def test_many_permissions_come_in_pages_the_sdk_follows(arm: ArmEmulator, authz: AuthorizationManagementClient) -> None:
    arm.set_permissions(SHOP_DB_ID, [{"actions": [f"action/{i}"]} for i in range(230)])
    raw = Raw()

    found = for_resource(authz, SHOP_DB_ID, raw_response_hook=raw)

    assert [p["actions"] for p in found] == [["*"]] + [[f"action/{i}"] for i in range(230)]
    assert [len(page["value"]) for page in raw.pages] == [100, 100, 31]
    assert "nextLink" in raw.pages[0] and "nextLink" in raw.pages[1] and "nextLink" not in raw.pages[2]


# -- the control API over HTTP --------------------------------------------------------------------------------


def test_permissions_over_http(arm: ArmEmulator, authz: AuthorizationManagementClient) -> None:
    url, verify = f"{arm.url}/_emulator/authorization/permissions", str(arm.ca_path)
    body = {"scope": FOG_ID, "permissions": [{"actions": ["*"], "notActions": [FAILOVER]}]}

    assert requests.put(url, json=body, verify=verify, timeout=10).json() == {"status": "ok"}
    listed = requests.get(url, verify=verify, timeout=10).json()
    bad = requests.put(url, json={"scope": "/nowhere", "permissions": []}, verify=verify, timeout=10)

    assert listed == [
        {"scope": "/", "permissions": [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}]},
        {"scope": FOG_ID, "permissions": [{**body["permissions"][0], "dataActions": [], "notDataActions": []}]},
    ]
    assert for_resource(authz, FOG_ID) == [OWNER, permission(["*"], [FAILOVER])]
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "InvalidControlRequest")
    assert requests.delete(url, verify=verify, timeout=10).status_code == 200
    assert for_resource(authz, FOG_ID) == []


# -- the spec's examples --------------------------------------------------------------------------------------


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_get_permissions_example(arm: ArmEmulator) -> None:
    """authorization-RoleDefinitionsCalls.json Permissions_ListForResourceGroup: GetPermissions.json."""
    spec = example("GetPermissions.json")
    params, expected = spec["parameters"], spec["responses"]["200"]["body"]
    arm.seed(
        {"subscription_id": params["subscriptionId"], "resource_groups": [{"name": "rgname", "location": "eastus"}]}
    )
    group_id = f"/subscriptions/{params['subscriptionId']}/resourceGroups/{params['resourceGroupName']}"
    arm.set_permissions("/", [])
    arm.set_permissions(group_id, expected["value"])
    raw = Raw()

    with AuthorizationManagementClient(
        StaticTokenCredential(), params["subscriptionId"], **client_kwargs(arm, retry_total=0)
    ) as client:
        found = list(client.permissions.list_for_resource_group(params["resourceGroupName"], raw_response_hook=raw))

    assert f"api-version={params['api-version']}" in raw.paths[0]
    # The example's nextLink ("nextlink") is a placeholder: one page of one permission has none.
    assert differences(expected, raw.pages[0], skip={"nextLink"}) == []
    assert [item.as_dict() for item in found] == [permission([])]


def test_get_resource_permissions_example(arm: ArmEmulator) -> None:
    """authorization-RoleDefinitionsCalls.json Permissions_ListForResource: GetResourcePermissions.json (a
    resource of a type the emulator does not model, under a one-segment parentResourcePath, inheriting from
    its resource group)."""
    spec = example("GetResourcePermissions.json")
    params, expected = spec["parameters"], spec["responses"]["200"]["body"]
    arm.seed(
        {"subscription_id": params["subscriptionId"], "resource_groups": [{"name": "rgname", "location": "eastus"}]}
    )
    arm.set_permissions("/", [])
    arm.set_permissions(f"/subscriptions/{params['subscriptionId']}/resourceGroups/rgname", expected["value"])
    raw = Raw()

    with AuthorizationManagementClient(
        StaticTokenCredential(), params["subscriptionId"], **client_kwargs(arm, retry_total=0)
    ) as client:
        found = list(
            client.permissions.list_for_resource(
                params["resourceGroupName"],
                params["resourceProviderNamespace"],
                params["parentResourcePath"],
                params["resourceType"],
                params["resourceName"],
                raw_response_hook=raw,
            )
        )

    assert "/providers/rpnamespace/parentResourcePath/resourceType/resourceName/providers/" in raw.paths[0]
    assert differences(expected, raw.pages[0]) == []
    assert [item.as_dict() for item in found] == [permission([])]
