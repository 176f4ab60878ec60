"""Microsoft.DocumentDB routes (paths as azure-mgmt-cosmosdb 10.0.0 builds them; operations DatabaseAccounts_Get,
_List, _ListByResourceGroup, _FailoverPriorityChange, _OfflineRegion, _OnlineRegion of
specification/cosmos-db/resource-manager/Microsoft.DocumentDB/DocumentDB/stable/2026-03-15/openapi.json)."""

from __future__ import annotations

from ..routing import Router, resource_group_scope, subscription_scope
from .models import API_VERSIONS, DOCUMENTDB
from .responses import CosmosDbResponses

_SUB = subscription_scope(DOCUMENTDB)
_ACCOUNTS = resource_group_scope(DOCUMENTDB) + "/databaseAccounts"
_ACCOUNT = _ACCOUNTS + "/{accountName}"


def register(router: Router, responses: CosmosDbResponses) -> None:
    add, r = router.provider(DOCUMENTDB, API_VERSIONS).add, responses
    add("GET", _SUB + "/databaseAccounts", r.list_accounts, "databaseAccounts")
    add("GET", _ACCOUNTS, r.list_by_resource_group, "databaseAccounts")
    add("GET", _ACCOUNT, r.get_account, "databaseAccounts")
    add("POST", _ACCOUNT + "/failoverPriorityChange", r.failover_priority_change, "databaseAccounts")
    add("POST", _ACCOUNT + "/offlineRegion", r.offline_region, "databaseAccounts")
    add("POST", _ACCOUNT + "/onlineRegion", r.online_region, "databaseAccounts")
    add("GET", _SUB + "/locations/{locationName}/operationsStatus/{operationId}", r.operation_status, "locations")
