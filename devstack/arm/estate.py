"""The emulated Azure estate every provider shares: subscriptions, resource groups, region health, the
clock, the long-running operations, and the knobs tests turn (durations, Retry-After).

One re-entrant lock guards all of it: HTTP handlers (on the server thread) and control calls (on the
caller's thread) both take it, and nothing blocks while holding it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from . import errors
from .ids import parse_resource_id, resource_group_id
from .lro import Operation, OperationStore

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def normalize_location(location: str) -> str:
    """'East US' and 'eastus' name the same region."""
    return location.replace(" ", "").lower()


class EmulatorSettings(BaseModel):
    """Timing knobs. Change them with `ArmEmulator.configure(...)` or PUT /_emulator/settings."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    retry_after_seconds: int = Field(
        1,
        ge=0,
        description="Retry-After on 202s. 0 leaves the header out: clients then poll at their "
        "polling_interval (30 s by default, so pass polling_interval= when you set 0).",
    )
    default_operation_seconds: float = Field(1.0, ge=0, description="How long an LRO runs by default.")
    operation_seconds: dict[str, float] = Field(
        default_factory=dict,
        description="Per operation kind, e.g. {'database.geo_restore': 30}. Kinds: see OPERATION_KINDS.",
    )
    endpoint_checking_seconds: float = Field(
        0.0,
        ge=0,
        description="How long a newly enabled Traffic Manager endpoint reports CheckingEndpoint.",
    )
    sql_stale_primary_reconnect_seconds: float = Field(
        300.0,
        ge=0,
        description="How long after its region is back an old primary left stale by a forced failover takes to "
        "rejoin its failover group as secondary (not documented by Azure; minutes in practice).",
    )

    def duration_for(self, kind: str) -> float:
        return self.operation_seconds.get(kind, self.default_operation_seconds)


@dataclass
class ResourceGroup:
    subscription_id: str
    name: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return resource_group_id(self.subscription_id, self.name)

    def to_resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.location,
            "tags": self.tags,
            "properties": {"provisioningState": "Succeeded"},
        }


@dataclass
class Subscription:
    id: str
    display_name: str
    resource_groups: dict[str, ResourceGroup] = field(default_factory=dict)


@dataclass
class ExternalResource:
    """An Azure resource no provider here emulates (an App Service site, a public IP) that a Traffic
    Manager AzureEndpoints entry can point at: its region and the host name DNS would answer with."""

    id: str
    location: str
    hostname: str


class Provider(Protocol):
    def reset(self) -> None: ...

    def tick(self, now: datetime) -> None: ...

    def location_of(self, resource_id: str) -> str | None: ...

    def hostname_of(self, resource_id: str) -> str | None: ...

    def drop_resource_group(self, subscription_id: str, name: str) -> None: ...


class ProviderDefaults:
    """The Provider protocol's answers for what a provider does not model: nothing of its own changes with time, and
    none of its resources has a region or a host name other providers look up. A backend overrides what it has."""

    def tick(self, now: datetime) -> None:
        return None

    def location_of(self, resource_id: str) -> str | None:
        return None

    def hostname_of(self, resource_id: str) -> str | None:
        return None


class Estate:
    def __init__(self, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock: Clock = clock or utc_now
        self.settings = EmulatorSettings()
        self.operations = OperationStore()
        self.subscriptions: dict[str, Subscription] = {}
        self.outages: dict[str, datetime] = {}
        """Location (normalized) -> when it went down."""
        self.external_resources: dict[str, ExternalResource] = {}
        self.unhealthy_targets: set[str] = set()
        """Endpoint targets (host names or resource ids, lower case) whose health probe fails."""
        self.providers: list[Provider] = []

    # -- time ----------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock()

    def tick(self) -> None:
        """Bring the estate up to `now`: due operations finish, time-based transitions happen."""
        now = self.now()
        self.operations.advance(now)
        for provider in self.providers:
            provider.tick(now)

    def reset(self) -> None:
        self.settings = EmulatorSettings()
        self.operations.clear()
        self.subscriptions.clear()
        self.outages.clear()
        self.external_resources.clear()
        self.unhealthy_targets.clear()
        for provider in self.providers:
            provider.reset()

    # -- subscriptions and resource groups -----------------------------------------------------------
    def add_subscription(self, subscription_id: str, display_name: str | None = None) -> Subscription:
        existing = self.subscriptions.get(subscription_id.lower())
        if existing is not None:
            return existing
        subscription = Subscription(subscription_id, display_name or f"devstack {subscription_id}")
        self.subscriptions[subscription_id.lower()] = subscription
        return subscription

    def subscription(self, subscription_id: str) -> Subscription:
        subscription = self.subscriptions.get(subscription_id.lower())
        if subscription is None:
            raise errors.subscription_not_found(subscription_id)
        return subscription

    def resource_group(self, subscription_id: str, name: str) -> ResourceGroup:
        group = self.subscription(subscription_id).resource_groups.get(name.lower())
        if group is None:
            raise errors.resource_group_not_found(name)
        return group

    def put_resource_group(
        self, subscription_id: str, name: str, location: str, tags: dict[str, str] | None = None
    ) -> tuple[ResourceGroup, bool]:
        """Create or update; returns (group, created)."""
        groups = self.subscription(subscription_id).resource_groups
        existing = groups.get(name.lower())
        if existing is not None:
            if tags is not None:
                existing.tags = dict(tags)
            return existing, False
        group = ResourceGroup(subscription_id, name, location, dict(tags or {}))
        groups[name.lower()] = group
        return group, True

    def delete_resource_group(self, subscription_id: str, name: str) -> bool:
        """Deleting a group deletes everything in it, as in Azure."""
        for provider in self.providers:
            provider.drop_resource_group(subscription_id, name)
        return self.subscription(subscription_id).resource_groups.pop(name.lower(), None) is not None

    # -- regions -------------------------------------------------------------------------------------
    def region_down(self, location: str | None) -> bool:
        return location is not None and normalize_location(location) in self.outages

    def require_region(self, location: str, namespace: str) -> None:
        """Requests that need a down region's resource provider time out at the ARM gateway."""
        if self.region_down(location):
            raise errors.gateway_timeout(namespace)

    # -- cross-provider look-ups ---------------------------------------------------------------------
    def location_of(self, resource_id: str) -> str | None:
        external = self.external_resources.get(resource_id.lower())
        if external is not None:
            return external.location
        for provider in self.providers:
            location = provider.location_of(resource_id)
            if location is not None:
                return location
        return None

    def hostname_of(self, resource_id: str) -> str | None:
        external = self.external_resources.get(resource_id.lower())
        if external is not None:
            return external.hostname
        for provider in self.providers:
            hostname = provider.hostname_of(resource_id)
            if hostname is not None:
                return hostname
        return None

    def add_external_resource(self, resource_id: str, location: str, hostname: str) -> None:
        if parse_resource_id(resource_id) is None:
            raise ValueError(f"not an ARM resource id: {resource_id!r}")
        self.external_resources[resource_id.lower()] = ExternalResource(resource_id, location, hostname)

    def target_healthy(self, *targets: str | None) -> bool:
        return not any(t is not None and t.lower() in self.unhealthy_targets for t in targets)

    # -- operations ----------------------------------------------------------------------------------
    def start_operation(
        self,
        *,
        kind: str,
        subscription_id: str,
        resource_group: str,
        location: str,
        namespace: str,
        url_noun: str,
        complete: Callable[[], None],
        abandon: Callable[[], None] | None = None,
        result: Callable[[], Any] | None = None,
    ) -> Operation:
        return self.operations.start(
            kind=kind,
            now=self.now(),
            duration_seconds=self.settings.duration_for(kind),
            subscription_id=subscription_id,
            resource_group=resource_group,
            location=normalize_location(location),
            namespace=namespace,
            url_noun=url_noun,
            complete=complete,
            abandon=abandon,
            result=result,
        )

    def find_operation(self, operation_id: str) -> Operation:
        operation = self.operations.get(operation_id)
        if operation is None:
            raise errors.operation_not_found()
        return operation


__all__ = ["Clock", "EmulatorSettings", "Estate", "ExternalResource", "ProviderDefaults", "ResourceGroup"]
