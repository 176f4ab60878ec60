"""Microsoft.DocumentDB database accounts: their regions (locations) with failover priorities, the write and read
regions those give, consistency, and the three region operations a failover uses.

Shapes follow api-version 2026-03-15, the version azure-mgmt-cosmosdb 10.0.0 sends (its _configuration.py).
Spec file: Azure/azure-rest-api-specs, specification/cosmos-db/resource-manager/Microsoft.DocumentDB/DocumentDB/
stable/2026-03-15/openapi.json:
- DatabaseAccounts_Get (200, DatabaseAccountGetResults): `locations`, `writeLocations`, `readLocations` (Location:
  id `<account>-<region>`, locationName, documentEndpoint, provisioningState, failoverPriority, isZoneRedundant),
  `failoverPolicies` (FailoverPolicy: id, locationName, failoverPriority), `consistencyPolicy`,
  `enableAutomaticFailover`, `enableMultipleWriteLocations`; example CosmosDBDatabaseAccountGet.json.
- DatabaseAccounts_FailoverPriorityChange (POST .../failoverPriorityChange, 202/204, long-running): "A failover
  priority of 0 indicates a write region. The maximum value for a failover priority = (total number of regions -
  1). Failover priority values must be unique for each of the regions in which the database account exists."
  Example CosmosDBDatabaseAccountFailoverPriorityChange.json: 202 with Location and Azure-AsyncOperation both on
  `/subscriptions/{s}/providers/Microsoft.DocumentDB/locations/{location}/operationsStatus/{id}`.
- DatabaseAccounts_OfflineRegion / _OnlineRegion (POST .../offlineRegion, .../onlineRegion, 200/202, long-running,
  body RegionForOnlineOffline {region}); examples CosmosDBDatabaseAccountOfflineRegion.json,
  CosmosDBDatabaseAccountOnlineRegion.json.

Behaviour the spec does not spell out, chosen to match Azure's documentation ("Manage an Azure Cosmos DB
account", "High availability in Azure Cosmos DB") and said where it is the emulator's choice:
- A region taken offline leaves `readLocations`/`writeLocations` and reports provisioningState `Offline` in
  `locations`; if it was the write region, the online region with the best failover priority becomes the write
  region (priority 0) and the offline one moves last. Taking the last online region offline is refused (400).
- A priority change is a coordinated switch: it needs the current write region and the new one reachable. While
  either region is down the operation ends Failed, code `ServiceUnavailable` (the emulator's choice of code; Azure
  documents that a manual failover cannot complete during a write region outage: take the region offline).
- A region outage does not make the account's ARM resource unreachable here (Cosmos DB's control plane answers
  from another region); the account's data in that region is unreachable, and with `enableAutomaticFailover`
  (service-managed failover) the account fails over by itself once the write region has been down for
  `automatic_failover_after` (Azure gives no figure; the emulator's default is one hour).
- A second operation while one runs is refused with 412 PreconditionFailed "There is already an operation in
  progress which requires exclusive lock on this service", as Cosmos DB answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import errors, resources
from ..errors import ArmError, bad_request
from ..estate import Estate, normalize_location
from ..ids import key, provider_id
from ..lro import Operation
from .bodies import FailoverPoliciesBody

DOCUMENTDB = "Microsoft.DocumentDB"
ACCOUNT_TYPE = "Microsoft.DocumentDB/databaseAccounts"
API_VERSIONS = ("2024-11-15", "2025-04-15", "2025-10-15", "2026-03-15")

FAILOVER_PRIORITY_CHANGE = "cosmosdb.failover_priority_change"
OFFLINE_REGION = "cosmosdb.offline_region"
ONLINE_REGION = "cosmosdb.online_region"
OPERATION_KINDS = (FAILOVER_PRIORITY_CHANGE, OFFLINE_REGION, ONLINE_REGION)
CONSISTENCY_LEVELS = ("Eventual", "Session", "BoundedStaleness", "Strong", "ConsistentPrefix")
AUTOMATIC_FAILOVER_AFTER = timedelta(hours=1)


def operation_in_progress(account: str) -> ArmError:
    return ArmError(
        412,
        "PreconditionFailed",
        f"There is already an operation in progress which requires exclusive lock on this service {account}. "
        "Please retry the operation after sometime.",
    )


@dataclass
class CosmosRegion:
    name: str
    """As the account was given it ('East US' or 'eastus'); compared normalised."""
    failover_priority: int
    is_zone_redundant: bool = False
    offline: bool = False

    @property
    def key(self) -> str:
        return normalize_location(self.name)


@dataclass
class CosmosAccount:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    regions: list[CosmosRegion]
    consistency_level: str = "Session"
    max_staleness_prefix: int = 100
    max_interval_in_seconds: int = 5
    enable_automatic_failover: bool = False
    enable_multiple_write_locations: bool = False
    kind: str = "GlobalDocumentDB"
    tags: dict[str, str] = field(default_factory=dict)
    instance_id: str = ""
    pending: Operation | None = None

    @property
    def id(self) -> str:
        return provider_id(self.subscription_id, self.resource_group, DOCUMENTDB, "databaseAccounts", self.name)

    @property
    def busy(self) -> bool:
        return self.pending is not None and not self.pending.done

    def ordered(self) -> list[CosmosRegion]:
        return sorted(self.regions, key=lambda r: r.failover_priority)

    def online(self) -> list[CosmosRegion]:
        return [r for r in self.ordered() if not r.offline]

    def region(self, name: str) -> CosmosRegion | None:
        wanted = normalize_location(name)
        return next((r for r in self.regions if r.key == wanted), None)

    def write_regions(self) -> list[CosmosRegion]:
        online = self.online()
        if self.enable_multiple_write_locations:
            return online
        return [r for r in online if r.failover_priority == 0][:1] or online[:1]

    def _location(self, region: CosmosRegion) -> dict[str, Any]:
        return {
            "id": f"{self.name}-{region.key}",
            "locationName": region.name,
            "documentEndpoint": f"https://{self.name}-{region.key}.documents.azure.com:443/",
            "provisioningState": "Offline" if region.offline else "Succeeded",
            "failoverPriority": region.failover_priority,
            "isZoneRedundant": region.is_zone_redundant,
        }

    def to_resource(self) -> dict[str, Any]:
        # Cosmos DB reports the staleness bounds whatever the level (CosmosDBDatabaseAccountGet.json: Session).
        consistency = {
            "defaultConsistencyLevel": self.consistency_level,
            "maxIntervalInSeconds": self.max_interval_in_seconds,
            "maxStalenessPrefix": self.max_staleness_prefix,
        }
        return {
            "id": self.id,
            "name": self.name,
            "location": self.location,
            "type": ACCOUNT_TYPE,
            "kind": self.kind,
            "tags": self.tags,
            "properties": {
                "provisioningState": "Updating" if self.busy else "Succeeded",
                "documentEndpoint": f"https://{self.name}.documents.azure.com:443/",
                "databaseAccountOfferType": "Standard",
                "ipRules": [],
                "isVirtualNetworkFilterEnabled": False,
                "virtualNetworkRules": [],
                "enableAutomaticFailover": self.enable_automatic_failover,
                "enableMultipleWriteLocations": self.enable_multiple_write_locations,
                "consistencyPolicy": consistency,
                "writeLocations": [self._location(r) for r in self.write_regions()],
                "readLocations": [self._location(r) for r in self.online()],
                "locations": [self._location(r) for r in self.ordered()],
                "failoverPolicies": [
                    {"id": f"{self.name}-{r.key}", "locationName": r.name, "failoverPriority": r.failover_priority}
                    for r in self.ordered()
                ],
                "instanceId": self.instance_id,
                "createMode": "Default",
            },
        }


class CosmosDbBackend:
    """All Microsoft.DocumentDB state of the estate (callers hold `estate.lock`)."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.accounts: dict[tuple[str, ...], CosmosAccount] = {}
        self.automatic_failover_after = AUTOMATIC_FAILOVER_AFTER

    # -- Provider protocol ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.accounts.clear()
        self.automatic_failover_after = AUTOMATIC_FAILOVER_AFTER

    def tick(self, now: datetime) -> None:
        """Service-managed failover: a single-write account whose write region has been down long enough
        makes the best online region in a live region its write region."""
        for account in self.accounts.values():
            write = account.write_regions()
            if not write or account.enable_multiple_write_locations or not account.enable_automatic_failover:
                continue
            down_since = self.estate.outages.get(write[0].key)
            if down_since is None or account.busy or now - down_since < self.automatic_failover_after:
                continue
            candidates = [r for r in account.online() if r is not write[0] and not self.estate.region_down(r.name)]
            if candidates:
                _promote(account, candidates[0])

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        resources.drop_resource_group(self.accounts, subscription_id, name)

    def location_of(self, resource_id: str) -> str | None:
        account = self._from_id(resource_id)
        return account.location if account is not None else None

    def hostname_of(self, resource_id: str) -> str | None:
        account = self._from_id(resource_id)
        return f"{account.name}.documents.azure.com" if account is not None else None

    def _from_id(self, resource_id: str) -> CosmosAccount | None:
        return resources.by_id(self.accounts, resource_id, DOCUMENTDB, "databaseAccounts")

    # -- accounts ------------------------------------------------------------------------------------
    def add_account(self, account: CosmosAccount) -> CosmosAccount:
        self.accounts[key(account.subscription_id, account.resource_group, account.name)] = account
        return account

    def find(self, subscription_id: str, resource_group: str, name: str) -> CosmosAccount | None:
        return self.accounts.get(key(subscription_id, resource_group, name))

    def account(self, subscription_id: str, resource_group: str, name: str) -> CosmosAccount:
        found = self.find(subscription_id, resource_group, name)
        if found is None:
            raise errors.resource_not_found(f"{ACCOUNT_TYPE}/{name}", resource_group)
        return found

    def accounts_in(self, subscription_id: str, resource_group: str | None = None) -> list[CosmosAccount]:
        return resources.in_scope(self.accounts.values(), subscription_id, resource_group)

    # -- the region operations -----------------------------------------------------------------------
    def failover_priority_change(self, account: CosmosAccount, body: FailoverPoliciesBody) -> Operation | None:
        """None: the policies are the account's already (204: nothing to do)."""
        if account.busy:
            raise operation_in_progress(account.name)
        wanted: dict[str, int] = {}
        for policy in body.failover_policies:
            region = account.region(policy.location_name)
            if region is None:
                raise bad_request(
                    f"Failover priority change requested for region '{policy.location_name}', which is not a "
                    f"location of database account '{account.name}'."
                )
            if region.key in wanted:
                raise bad_request(f"Region '{policy.location_name}' is given more than one failover priority.")
            wanted[region.key] = policy.failover_priority
        if len(wanted) != len(account.regions):
            missing = sorted(r.name for r in account.regions if r.key not in wanted)
            raise bad_request(f"Failover priorities must be provided for every region; missing: {', '.join(missing)}.")
        if sorted(wanted.values()) != list(range(len(wanted))):
            raise bad_request(
                "Failover priority values must be unique for each region and range from 0 to (number of regions - 1)."
            )
        if all(wanted[r.key] == r.failover_priority for r in account.regions):
            return None
        new_write = next(r for r in account.regions if wanted[r.key] == 0)
        if new_write.offline:
            raise bad_request(f"Region '{new_write.name}' is offline: bring it online before giving it priority 0.")

        def complete() -> None:
            old_write = account.write_regions()
            for region in [*old_write, new_write]:
                if self.estate.region_down(region.name):
                    raise ArmError(
                        503,
                        "ServiceUnavailable",
                        f"Region '{region.name}' is unavailable: a failover priority change needs the current and "
                        "the new write region reachable. During a write region outage take the region offline.",
                    )
            for region in account.regions:
                region.failover_priority = wanted[region.key]

        return self._start(account, FAILOVER_PRIORITY_CHANGE, complete)

    def offline_region(self, account: CosmosAccount, region_name: str) -> Operation:
        if account.busy:
            raise operation_in_progress(account.name)
        region = self._region_of(account, region_name)
        if region.offline:
            raise bad_request(f"Region '{region.name}' is already offline for database account '{account.name}'.")
        if len(account.online()) < 2:
            raise bad_request(
                f"Region '{region.name}' is the only online region of database account '{account.name}': it cannot "
                "be taken offline."
            )

        def complete() -> None:
            was_write = any(r is region for r in account.write_regions())
            region.offline = True
            if was_write and not account.enable_multiple_write_locations:
                _promote(account, account.online()[0])
            _move_last(account, region)

        return self._start(account, OFFLINE_REGION, complete)

    def online_region(self, account: CosmosAccount, region_name: str) -> Operation:
        if account.busy:
            raise operation_in_progress(account.name)
        region = self._region_of(account, region_name)
        if not region.offline:
            raise bad_request(f"Region '{region.name}' of database account '{account.name}' is not offline.")

        def complete() -> None:
            if self.estate.region_down(region.name):
                raise ArmError(503, "ServiceUnavailable", f"Region '{region.name}' is unavailable.")
            region.offline = False

        return self._start(account, ONLINE_REGION, complete)

    def _region_of(self, account: CosmosAccount, name: str) -> CosmosRegion:
        region = account.region(name)
        if region is None:
            raise bad_request(f"Region '{name}' is not a location of database account '{account.name}'.")
        return region

    def _start(self, account: CosmosAccount, kind: str, complete: Any) -> Operation:
        operation = self.estate.start_operation(
            kind=kind,
            subscription_id=account.subscription_id,
            resource_group=account.resource_group,
            location=account.location,
            namespace=DOCUMENTDB,
            url_noun="",
            complete=complete,
        )
        account.pending = operation
        return operation

    def operation(self, operation_id: str) -> Operation:
        found = self.estate.find_operation(operation_id)
        if found.namespace != DOCUMENTDB:
            raise errors.operation_not_found()
        return found


def _promote(account: CosmosAccount, region: CosmosRegion) -> None:
    """``region`` takes priority 0; the others keep their order after it."""
    others = [r for r in account.ordered() if r is not region]
    region.failover_priority = 0
    for priority, other in enumerate(others, start=1):
        other.failover_priority = priority


def _move_last(account: CosmosAccount, region: CosmosRegion) -> None:
    others = [r for r in account.ordered() if r is not region]
    for priority, other in enumerate(others):
        other.failover_priority = priority
    region.failover_priority = len(others)


# -- long-running operations, as Cosmos DB's status URLs give them ------------------------------------------


def operation_path(operation: Operation) -> str:
    """Location and Azure-AsyncOperation both (as the spec's examples): the subscription's operationsStatus."""
    return operation.subscription_path("operationsStatus")
