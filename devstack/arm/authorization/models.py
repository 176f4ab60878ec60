"""Microsoft.Authorization permissions: the caller's role assignments per scope, and the answer of the
Permissions API (`Permissions_ListForResourceGroup`, `Permissions_ListForResource`).

Spec: Azure/azure-rest-api-specs, specification/authorization/resource-manager/Microsoft.Authorization/
Authorization/stable/2022-04-01/authorization-RoleDefinitionsCalls.json (before the folder moved:
.../Microsoft.Authorization/stable/2022-04-01/), api-version 2022-04-01: the default azure-mgmt-authorization
4.0.0 sends (`AuthorizationManagementClient.DEFAULT_API_VERSION`; no profile entry for `permissions`).
- `PermissionGetResult`: `{"value": [Permission], "nextLink"}`, `x-ms-pageable` with nextLinkName nextLink;
- `Permission`: `{"actions", "notActions", "dataActions", "notDataActions"}`, lists of strings;
- paths: `/subscriptions/{s}/resourcegroups/{rg}/providers/Microsoft.Authorization/permissions` and
  `.../providers/{resourceProviderNamespace}/{parentResourcePath}/{resourceType}/{resourceName}/providers/
  Microsoft.Authorization/permissions` (parentResourcePath and resourceType are sent unencoded; the SDK
  sends an empty parentResourcePath for a top-level resource, hence `{namespace}//{type}/{name}`).

Behaviour: the answer for a scope lists the permissions granted at that scope and at every scope above it
(the root "/", the subscription, the resource group, each parent resource), root first: a role assignment
is inherited by every scope below it, as in Azure RBAC. What is granted where is set by the control plane
(`set_permissions`); by default the caller holds `*` at the root (Owner everywhere), so clients that never
look at permissions keep working. A missing resource group answers 404 ResourceGroupNotFound (the front door);
a missing resource of a type the emulator models (SQL servers, their databases, failover groups and
recoverable databases; Traffic Manager profiles; the seeded external resources) answers 404 ResourceNotFound.
Types the emulator does not model cannot be known missing and are answered for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from .. import errors
from ..estate import Estate, ProviderDefaults
from ..ids import parse_resource_id
from ..sql.models import SqlBackend
from ..trafficmanager.models import NETWORK, TrafficManagerBackend

API_VERSIONS = ("2018-01-01-preview", "2022-04-01", "2022-05-01-preview")
ROOT = "/"
PAGE_SIZE = 100
"""Permissions per page; more are reached through nextLink (`$skipToken`)."""


class Permission(BaseModel):
    """One role assignment's permissions (the spec's `Permission`). Python names or the wire's camelCase."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True, frozen=True)

    actions: list[str] = Field(default_factory=list)
    not_actions: list[str] = Field(default_factory=list, alias="notActions")
    data_actions: list[str] = Field(default_factory=list, alias="dataActions")
    not_data_actions: list[str] = Field(default_factory=list, alias="notDataActions")

    def to_resource(self) -> dict[str, list[str]]:
        return self.model_dump()


OWNER_EVERYWHERE = (Permission(actions=["*"]),)


class ScopePermissions(BaseModel):
    """What the caller was granted at exactly one scope (the control plane's unit)."""

    model_config = ConfigDict(extra="forbid")

    scope: str = Field(description="'/', /subscriptions/{s}, a resource group id or a resource id.")
    permissions: list[Permission] = Field(default_factory=list)


def scope_key(scope: str) -> str:
    """The scope in the form grants are stored under (lower case, no trailing slash); ValueError when it is
    not the root, a subscription, a resource group or a resource id."""
    text = scope.strip()
    if text in ("", ROOT):
        return ROOT
    parts = text.strip("/").split("/")
    shaped = (
        len(parts) in (2, 4)
        and parts[0].lower() == "subscriptions"
        and (len(parts) == 2 or parts[2].lower() == "resourcegroups")
    ) or parse_resource_id(text) is not None
    if not shaped or "" in parts:
        raise ValueError(
            f"not a scope: {scope!r} (expected '/', /subscriptions/<id>, /subscriptions/<id>/resourceGroups/<name> "
            "or a resource id)"
        )
    return "/" + "/".join(parts).lower()


def scope_chain(
    subscription_id: str,
    resource_group: str,
    namespace: str | None = None,
    segments: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """The keys of the scope and of every scope above it, root first."""
    chain = [ROOT, f"/subscriptions/{subscription_id}".lower()]
    group = f"{chain[-1]}/resourcegroups/{resource_group}".lower()
    chain.append(group)
    if namespace is not None:
        path = f"{group}/providers/{namespace}".lower()
        for resource_type, name in segments:
            path = f"{path}/{resource_type}/{name}".lower()
            chain.append(path)
    return chain


@dataclass
class _Grant:
    scope: str
    permissions: tuple[Permission, ...]


class AuthorizationBackend(ProviderDefaults):
    """The caller's permissions per scope (callers hold `estate.lock`)."""

    def __init__(self, estate: Estate, sql: SqlBackend, traffic_manager: TrafficManagerBackend) -> None:
        self.estate = estate
        self.sql = sql
        self.traffic_manager = traffic_manager
        self.grants: dict[str, _Grant] = {}
        self.reset()

    # -- Provider protocol ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.grants = {ROOT: _Grant(ROOT, OWNER_EVERYWHERE)}

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        """Role assignments at a deleted resource group (or below it) go with it."""
        group = scope_chain(subscription_id, name)[-1]
        for scope in [s for s in self.grants if s == group or s.startswith(group + "/")]:
            del self.grants[scope]

    # -- what the control plane sets -----------------------------------------------------------------
    def set_permissions(self, scope: str, permissions: Iterable[Permission]) -> None:
        """Replace what the caller holds at exactly `scope` (an empty list: nothing there)."""
        self.grants[scope_key(scope)] = _Grant(scope.strip() or ROOT, tuple(permissions))

    def clear(self) -> None:
        """The caller holds nothing anywhere (not even the default `*` at the root)."""
        self.grants = {}

    def granted(self) -> list[ScopePermissions]:
        return [
            ScopePermissions(scope=grant.scope, permissions=list(grant.permissions))
            for _, grant in sorted(self.grants.items())
        ]

    # -- what ARM answers ----------------------------------------------------------------------------
    def for_scopes(self, chain: Iterable[str]) -> list[Permission]:
        found: list[Permission] = []
        for scope in chain:
            grant = self.grants.get(scope)
            if grant is not None:
                found.extend(grant.permissions)
        return found

    def for_resource_group(self, subscription_id: str, resource_group: str) -> list[Permission]:
        self.estate.resource_group(subscription_id, resource_group)
        return self.for_scopes(scope_chain(subscription_id, resource_group))

    def for_resource(
        self, subscription_id: str, resource_group: str, namespace: str, path: Sequence[str]
    ) -> list[Permission]:
        """`path`: the segments after the namespace ([type, name, type, name...]). A path of an odd length
        (the spec's example gives a one-segment parentResourcePath) names no resource the emulator could
        know: it is answered with what it inherits from the resource group and what was set on it."""
        group = self.estate.resource_group(subscription_id, resource_group)
        if len(path) % 2:
            whole = f"{scope_chain(subscription_id, resource_group)[-1]}/providers/{namespace}/{'/'.join(path)}"
            return self.for_scopes([*scope_chain(subscription_id, resource_group), whole.lower()])
        segments = [(path[i], path[i + 1]) for i in range(0, len(path), 2)]
        if not self._exists(group.subscription_id, group.name, namespace, segments):
            type_and_name = "/".join([namespace, *path])
            raise errors.resource_not_found(type_and_name, resource_group)
        return self.for_scopes(scope_chain(subscription_id, resource_group, namespace, segments))

    def _exists(
        self, subscription_id: str, resource_group: str, namespace: str, segments: Sequence[tuple[str, str]]
    ) -> bool:
        """False only for a resource of a type the emulator models that is not there."""
        resource_id = "/".join(
            [f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{namespace}"]
            + [f"{t}/{n}" for t, n in segments]
        )
        if resource_id.lower() in self.estate.external_resources:
            return True
        top_type, top_name = segments[0]
        if namespace.lower() == NETWORK.lower() and top_type.lower() == "trafficmanagerprofiles":
            return self.traffic_manager.find(subscription_id, resource_group, top_name) is not None
        if namespace.lower() != "microsoft.sql" or top_type.lower() != "servers":
            return True
        server = self.sql.find_server(subscription_id, resource_group, top_name)
        if server is None or len(segments) == 1:
            return server is not None
        child_type, child = segments[1][0].lower(), segments[1][1].lower()
        children: dict[str, Callable[[], bool]] = {
            "databases": lambda: (*server.key, child) in self.sql.databases,
            "recoverabledatabases": lambda: (*server.key, child) in self.sql.geo_backups,
            "failovergroups": lambda: any(group.name.lower() == child for group in self.sql.groups_of(server)),
        }
        # A child type the emulator does not model (elasticPools, firewallRules...) cannot be known missing.
        return children.get(child_type, lambda: True)()
