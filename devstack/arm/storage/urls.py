"""Microsoft.Storage routes (paths as azure-mgmt-storage 25.3.0 builds them; operations StorageAccounts_List,
_ListByResourceGroup, _GetProperties, _Update and _Failover of
specification/storage/resource-manager/Microsoft.Storage/stable/2026-09-01/openapi.json, and the failover's
Location as its examples give it)."""

from __future__ import annotations

from ..routing import Router, resource_group_scope, subscription_scope
from .models import API_VERSIONS, STORAGE
from .responses import StorageResponses

_SUB = subscription_scope(STORAGE)
_ACCOUNTS = resource_group_scope(STORAGE) + "/storageAccounts"
_ACCOUNT = _ACCOUNTS + "/{accountName}"


def register(router: Router, responses: StorageResponses) -> None:
    add, r = router.provider(STORAGE, API_VERSIONS).add, responses
    add("GET", _SUB + "/storageAccounts", r.list_accounts, "storageAccounts")
    add("GET", _ACCOUNTS, r.list_by_resource_group, "storageAccounts")
    add("GET", _ACCOUNT, r.get_properties, "storageAccounts")
    add("PATCH", _ACCOUNT, r.update, "storageAccounts")
    add("POST", _ACCOUNT + "/failover", r.failover, "storageAccounts")
    # Any api-version: the examples' Location carries another one (2022-09-01) than the request's.
    router.add(
        "GET",
        _SUB + "/locations/{location}/asyncoperations/{operationId}",
        r.operation_status,
        resource_type=f"{STORAGE}/locations/asyncoperations",
        api_versions=None,
    )
