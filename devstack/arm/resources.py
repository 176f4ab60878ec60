"""A provider's top-level resources (profiles, zones, accounts, servers, plans, sites): each backend keeps them in a
dict keyed by `ids.key(subscription, resource group, name)`, and ARM finds, lists and deletes them the same way
whatever the provider. The look-ups here are those shared ways; what a provider adds (a region that must be up,
replicas to detach) stays in its backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from . import errors
from .estate import Estate
from .ids import key, parse_resource_id


class TopLevelResource(Protocol):
    @property
    def subscription_id(self) -> str: ...

    @property
    def resource_group(self) -> str: ...


type Table[R: TopLevelResource] = dict[tuple[str, ...], R]


def existing[R: TopLevelResource](
    estate: Estate, table: Table[R], subscription_id: str, resource_group: str, name: str, type_name: str
) -> R:
    """The resource, or ARM's 404: ResourceGroupNotFound for a missing group, else ResourceNotFound naming
    `type_name/name` (type_name as ARM spells it in the message, e.g. 'Microsoft.Cdn/profiles')."""
    estate.resource_group(subscription_id, resource_group)
    found = table.get(key(subscription_id, resource_group, name))
    if found is None:
        raise errors.resource_not_found(f"{type_name}/{name}", resource_group)
    return found


def child[T](children: Mapping[str, T], name: str, type_path: str, resource_group: str) -> T:
    """A child resource its parent keeps by lower-cased name, or ARM's 404 ResourceNotFound naming
    `type_path/name` (e.g. type_path 'Microsoft.Cdn/profiles/shop-fd/origingroups')."""
    found = children.get(name.lower())
    if found is None:
        raise errors.resource_not_found(f"{type_path}/{name}", resource_group)
    return found


def by_id[R: TopLevelResource](table: Table[R], resource_id: str, namespace: str, resource_type: str) -> R | None:
    """The resource an ARM id names, if the id is of this type (e.g. 'Microsoft.Web', 'sites') and it is here."""
    parsed = parse_resource_id(resource_id)
    if parsed is None or not parsed.type_is(namespace, resource_type):
        return None
    return table.get(key(parsed.subscription_id, parsed.resource_group, parsed.name()))


def in_scope[R: TopLevelResource](
    resources: Iterable[R], subscription_id: str, resource_group: str | None = None
) -> list[R]:
    """ARM's list by subscription (no resource group) or by resource group; names compare case-insensitively."""
    return [
        resource
        for resource in resources
        if resource.subscription_id.lower() == subscription_id.lower()
        and (resource_group is None or resource.resource_group.lower() == resource_group.lower())
    ]


def drop_resource_group[R: TopLevelResource](table: Table[R], subscription_id: str, resource_group: str) -> None:
    """Forget what a deleted resource group held (Azure deletes a group's resources with it)."""
    group = key(subscription_id, resource_group)
    for entry in [k for k in table if k[:2] == group]:
        del table[entry]
