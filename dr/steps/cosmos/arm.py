"""Cosmos DB through azure-mgmt-cosmosdb: read an account into a :class:`.planning.AccountView`, start a failover
priority change, an offline or an online region as ARM long-running operations, and look at one once per call.

Invariant: the only module of the kind that calls the SDK; every Azure error leaves as a :mod:`dr.errors` error
saying what was being done, except "busy" (None), which callers wait out.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.cosmosdb import CosmosDBManagementClient
from azure.mgmt.cosmosdb.models import FailoverPolicies, FailoverPolicy, RegionForOnlineOffline

from ...azure_lro import ARM_CALL_OPTIONS, OperationRef, OperationStatus, check_operation, start_operation
from ...clients import get_clients
from ...errors import azure_errors, from_azure_error
from ..sdk import ArmRef, wire_text
from .planning import AccountView, RegionView

# Cosmos DB answers a second account operation while one runs with 412 and this text.
_BUSY_TEXT = "operation in progress"


class Account(ArmRef):
    """A Microsoft.DocumentDB/databaseAccounts id."""

    def client(self) -> CosmosDBManagementClient:
        return get_clients().cosmosdb(self.subscription)


def read_account(account: Account) -> AccountView:
    with azure_errors(f"read Cosmos DB account {account.name}"):
        found = account.client().database_accounts.get(account.resource_group, account.name, **ARM_CALL_OPTIONS)
    return account_view(found, account.id)


def account_view(found: Any, account_id: str) -> AccountView:
    properties = found.properties
    consistency = properties.consistency_policy if properties is not None else None
    regions = tuple(
        RegionView(
            name=str(location.location_name),
            failover_priority=int(location.failover_priority or 0),
            offline=wire_text(location.provisioning_state) == "Offline",
        )
        for location in (properties.locations if properties is not None else None) or []
        if location.location_name
    )
    writes = tuple(
        str(location.location_name)
        for location in (properties.write_locations if properties is not None else None) or []
        if location.location_name
    )
    return AccountView(
        id=account_id,
        name=str(found.name),
        regions=regions,
        write_regions=writes,
        multi_write=bool(properties.enable_multiple_write_locations) if properties is not None else False,
        automatic_failover=bool(properties.enable_automatic_failover) if properties is not None else False,
        consistency=wire_text(consistency.default_consistency_level) or "Session" if consistency else "Session",
        max_staleness_prefix=consistency.max_staleness_prefix if consistency else None,
        max_interval_seconds=consistency.max_interval_in_seconds if consistency else None,
    )


def _start(what: str, begin: Any, *args: Any) -> OperationRef | None:
    """Start one account operation. None: the account is busy with another (wait and ask again)."""
    try:
        return start_operation(begin, *args)
    except HttpResponseError as exc:
        if exc.status_code == 412 and _BUSY_TEXT in str(exc.message or "").lower():
            return None
        raise from_azure_error(exc, what=what) from exc
    except Exception as exc:  # a connection failure: the activity's retry policy decides
        raise from_azure_error(exc, what=what) from exc


def start_priority_change(account: Account, priorities: list[tuple[str, int]]) -> OperationRef | None:
    body = FailoverPolicies(
        failover_policies=[
            FailoverPolicy(location_name=name, failover_priority=priority) for name, priority in priorities
        ]
    )
    operations = account.client().database_accounts
    return _start(
        f"change the failover priorities of Cosmos DB account {account.name}",
        operations.begin_failover_priority_change,
        account.resource_group,
        account.name,
        body,
    )


def start_offline(account: Account, region: str) -> OperationRef | None:
    operations = account.client().database_accounts
    return _start(
        f"take region {region} of Cosmos DB account {account.name} offline",
        operations.begin_offline_region,
        account.resource_group,
        account.name,
        RegionForOnlineOffline(region=region),
    )


def start_online(account: Account, region: str) -> OperationRef | None:
    operations = account.client().database_accounts
    return _start(
        f"bring region {region} of Cosmos DB account {account.name} online",
        operations.begin_online_region,
        account.resource_group,
        account.name,
        RegionForOnlineOffline(region=region),
    )


def operation_status(account: Account, operation: OperationRef, what: str) -> OperationStatus:
    """One look at an operation (on the ARM endpoint the clients were built for only)."""
    with azure_errors(what):
        return check_operation(account.client(), operation, endpoint=get_clients().settings.arm_endpoint)
