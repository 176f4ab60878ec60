"""Pre-flight: does the app's identity hold, on each scope a step touches, the ARM actions the step needs?

Asked of ARM itself: the Permissions API (Microsoft.Authorization ``Permissions_ListForResource`` /
``Permissions_ListForResourceGroup``, azure-mgmt-authorization) answers the permissions of every role
assignment the caller has at a scope or above it, and they are evaluated as Azure RBAC does (Microsoft Learn,
"Understand Azure role definitions"): an action is allowed when some permission's ``actions`` matches it and
no ``notActions`` of *that same* permission does. ``*`` is a wildcard anywhere in a pattern; actions compare
case-insensitively. ``notActions`` are not a deny: they subtract from their own role only, so another role
that grants the action still allows it.

What each kind needs comes from how it calls ARM (``dr/steps/**``), per mode: a drill checks what the drill
does (failed when missing) and also what a failover of the same plan would do (a warning when only that is
missing: the drill can run, the disaster would not). Action names are Microsoft's, from "Azure permissions
for Databases" (Microsoft.Sql) and "Azure permissions for Networking" (Microsoft.Network),
https://learn.microsoft.com/azure/role-based-access-control/permissions/databases and .../networking.

A resource's resource group is asked first: a resource inherits every assignment there, so when the group's
answer already allows all the resource needs, the resource itself is not asked (the steps of a plan mostly share
a few groups); otherwise the resource's own answer decides. The steps of one pre-flight share these reads
(:func:`dr.shared_reads.reads_shared`): in a region outage, fifty plans' pre-flights are fifty times the reads.

One :class:`~dr.steps.base.Check` per scope: ``passed`` (holds what it needs), ``failed`` (names each missing
action, the scope, and a role that grants it), or ``warning`` when the permissions could not be read (the
cause is in the message: nothing is passed without looking).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from .plan import (
    AppScaleStep,
    CosmosFailoverStep,
    DnsRecordSwitchStep,
    FrontDoorOriginsStep,
    PostgresqlPromoteStep,
    SqlFailoverGroupStep,
    SqlGeoRestoreStep,
    StepBase,
    StorageAccountFailoverStep,
    TrafficManagerFailoverStep,
)
from .shared_reads import shared
from .steps.base import Check, StepContext

SQL_SERVER_READ = "Microsoft.Sql/servers/read"
SQL_DATABASE_READ = "Microsoft.Sql/servers/databases/read"
SQL_DATABASE_WRITE = "Microsoft.Sql/servers/databases/write"
SQL_DATABASE_DELETE = "Microsoft.Sql/servers/databases/delete"
SQL_RECOVERABLE_DATABASE_READ = "Microsoft.Sql/servers/recoverableDatabases/read"
SQL_FAILOVER_GROUP_READ = "Microsoft.Sql/servers/failoverGroups/read"
# The failover the step starts (dr/steps/sql/arm.py: begin_failover, begin_force_failover_allow_data_loss,
# begin_try_planned_before_forced_failover), one action each.
SQL_FAILOVER_ACTIONS: dict[str, str] = {
    "planned": "Microsoft.Sql/servers/failoverGroups/failover/action",
    "forced": "Microsoft.Sql/servers/failoverGroups/forceFailoverAllowDataLoss/action",
    "planned_then_forced": "Microsoft.Sql/servers/failoverGroups/tryPlannedBeforeForcedFailover/action",
}
TM_PROFILE_READ = "Microsoft.Network/trafficManagerProfiles/read"
TM_PROFILE_WRITE = "Microsoft.Network/trafficManagerProfiles/write"
# Azure Front Door (Microsoft.Cdn, "Azure permissions for Networking"): the origin group and its origins are read,
# origins written; Front Door's health view is an Azure Monitor metric of the profile; a drill's test profile
# also gets its baseline tags (profile write).
CDN_PROFILE_READ = "Microsoft.Cdn/profiles/read"
CDN_PROFILE_WRITE = "Microsoft.Cdn/profiles/write"
CDN_ORIGIN_GROUP_READ = "Microsoft.Cdn/profiles/originGroups/read"
CDN_ORIGIN_READ = "Microsoft.Cdn/profiles/originGroups/origins/read"
CDN_ORIGIN_WRITE = "Microsoft.Cdn/profiles/originGroups/origins/write"
METRICS_READ = "Microsoft.Insights/metrics/read"
# Azure DNS record sets (Microsoft.Network/dnsZones/<type>/...); a drill may create and then delete its record.
DNS_ZONE_READ = "Microsoft.Network/dnsZones/read"
DNS_CNAME_READ = "Microsoft.Network/dnsZones/CNAME/read"
DNS_CNAME_WRITE = "Microsoft.Network/dnsZones/CNAME/write"
DNS_CNAME_DELETE = "Microsoft.Network/dnsZones/CNAME/delete"

# A built-in role that grants the actions a pattern matches (names as scripts/azure-built-in-roles.tsv spells
# them; a test holds them to it), narrowest first. SQL DB Contributor has Microsoft.Sql/servers/databases/*;
# failover groups and geo-backups are in no SQL built-in role narrower than SQL Server Contributor
# (Microsoft.Sql/servers/*); see infra/main.bicep.
ROLE_HINTS: tuple[tuple[str, str], ...] = (
    ("Microsoft.Sql/servers/databases/*", "SQL DB Contributor"),
    ("Microsoft.Sql/*", "SQL Server Contributor"),
    ("Microsoft.Network/trafficManagerProfiles/*", "Traffic Manager Contributor"),
    ("Microsoft.Cdn/profiles/*", "CDN Profile Contributor"),
    ("Microsoft.Network/dnsZones/*", "DNS Zone Contributor"),
    ("Microsoft.Insights/metrics/*", "Monitoring Reader"),
    ("Microsoft.DocumentDB/databaseAccounts/*", "DocumentDB Account Contributor"),
    ("Microsoft.Storage/storageAccounts/*", "Storage Account Contributor"),
    ("Microsoft.Web/serverfarms/*", "Web Plan Contributor"),
    ("Microsoft.Web/sites/*", "Website Contributor"),
)

# One read: no retries, a short wait (pre-flight must not hang on a slow ARM), a bounded number of pages.
READ_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 5, "read_timeout": 10}
MAX_PAGES = 10

NeedMode = Literal["failover", "drill"]


@dataclass(frozen=True)
class Need:
    """Actions a step needs on one scope (an ARM resource or resource group id)."""

    label: str
    """Stable name of the scope's role in the step ('failover_group', 'target_server'): the check's name."""
    scope: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Granted:
    """One role assignment's permissions, as the Permissions API answers them."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()


# -- what each kind needs --------------------------------------------------------------------------------------


def _failover_group(step: SqlFailoverGroupStep, mode: NeedMode) -> list[Need]:
    # A drill only reads the group (dr/steps/sql/failover_group.py); a failover starts the mode's failover.
    actions = [SQL_FAILOVER_GROUP_READ]
    if mode == "failover":
        actions.append(SQL_FAILOVER_ACTIONS[step.failover_mode])
    return [Need("failover_group", step.failover_group_id, tuple(actions))]


def _geo_restore(step: SqlGeoRestoreStep, mode: NeedMode) -> list[Need]:
    # The geo-backup is read on the source server (recoverable_databases.get); the target server is read
    # (its region), the target name looked up, the database created (databases.begin_create_or_update); a
    # drill deletes its copy at teardown. An elastic_pool_id needs nothing more: Microsoft.Sql documents no
    # join action for elastic pools (elasticPools has read/write/delete/failover only), the database write on
    # the pool's own server places it there.
    source_server = step.source_database_id.rsplit("/", 2)[0]
    target = [SQL_SERVER_READ, SQL_DATABASE_READ, SQL_DATABASE_WRITE]
    if mode == "drill":
        target.append(SQL_DATABASE_DELETE)
    return [
        Need("source_server", source_server, (SQL_RECOVERABLE_DATABASE_READ,)),
        Need("target_server", step.target_server_id, tuple(target)),
    ]


def _traffic(step: TrafficManagerFailoverStep, mode: NeedMode) -> list[Need]:
    # A failover reads the profile and writes it (endpoint settings, its anti-flap tags). A drill only reads
    # the production profile and, with drill_profile_id, reads and writes the test profile instead.
    if mode == "failover":
        return [Need("profile", step.profile_id, (TM_PROFILE_READ, TM_PROFILE_WRITE))]
    needs = [Need("profile", step.profile_id, (TM_PROFILE_READ,))]
    if step.drill_profile_id is not None:
        needs.append(Need("drill_profile", step.drill_profile_id, (TM_PROFILE_READ, TM_PROFILE_WRITE)))
    return needs


def _front_door(step: FrontDoorOriginsStep, mode: NeedMode) -> list[Need]:
    # dr/steps/frontdoor/arm.py: the group and its origins are read, origins PATCHed (a failover, or a drill's
    # test profile, whose tags keep the drill's baseline); the health metric is read on the production profile.
    profile = step.origin_group_id.rsplit("/", 2)[0]
    reads = (CDN_ORIGIN_GROUP_READ, CDN_ORIGIN_READ)
    if mode == "failover":
        return [
            Need("origin_group", step.origin_group_id, (*reads, CDN_ORIGIN_WRITE)),
            Need("profile_metrics", profile, (METRICS_READ,)),
        ]
    needs = [Need("origin_group", step.origin_group_id, reads), Need("profile_metrics", profile, (METRICS_READ,))]
    if step.drill_profile_id is not None:
        drill_actions = (CDN_PROFILE_READ, CDN_PROFILE_WRITE, *reads, CDN_ORIGIN_WRITE)
        needs.append(Need("drill_profile", step.drill_profile_id, drill_actions))
    return needs


def _dns_record(step: DnsRecordSwitchStep, mode: NeedMode) -> list[Need]:
    # dr/steps/dns/arm.py: the zone and the record are read and the record written; a drill writes only its
    # drill_record (and deletes it at teardown when it created it), or nothing at all.
    if mode == "failover":
        return [Need("zone", step.zone_id, (DNS_ZONE_READ, DNS_CNAME_READ, DNS_CNAME_WRITE))]
    actions = [DNS_ZONE_READ, DNS_CNAME_READ]
    if step.drill_record is not None:
        actions += [DNS_CNAME_WRITE, DNS_CNAME_DELETE]
    return [Need("zone", step.zone_id, tuple(actions))]


# Cosmos DB and PostgreSQL actions: "Azure permissions for Databases" (Microsoft.DocumentDB,
# Microsoft.DBforPostgreSQL) and "Azure permissions for Monitor" (Microsoft.Insights), same Learn pages as above.
COSMOS_ACCOUNT_READ = "Microsoft.DocumentDB/databaseAccounts/read"
COSMOS_FAILOVER_PRIORITY_CHANGE = "Microsoft.DocumentDB/databaseAccounts/failoverPriorityChange/action"
COSMOS_OFFLINE_REGION = "Microsoft.DocumentDB/databaseAccounts/offlineRegion/action"
COSMOS_ONLINE_REGION = "Microsoft.DocumentDB/databaseAccounts/onlineRegion/action"
POSTGRESQL_SERVER_READ = "Microsoft.DBforPostgreSQL/flexibleServers/read"
POSTGRESQL_SERVER_WRITE = "Microsoft.DBforPostgreSQL/flexibleServers/write"
POSTGRESQL_SERVER_DELETE = "Microsoft.DBforPostgreSQL/flexibleServers/delete"
POSTGRESQL_BACKUPS_READ = "Microsoft.DBforPostgreSQL/flexibleServers/backups/read"
METRICS_READ = "Microsoft.Insights/metrics/read"


def _cosmos(step: CosmosFailoverStep, mode: NeedMode) -> list[Need]:
    # dr/steps/cosmos: a drill reads the account; a failover changes priorities (planned), takes the write region
    # offline (forced), and brings an offline target online before giving it priority 0 (a failback's way home).
    actions = [COSMOS_ACCOUNT_READ]
    if mode == "failover":
        if step.failover_mode != "forced":
            actions += [COSMOS_FAILOVER_PRIORITY_CHANGE, COSMOS_ONLINE_REGION]
        if step.failover_mode != "planned":
            actions.append(COSMOS_OFFLINE_REGION)
    return [Need("account", step.account_id, tuple(actions))]


def _postgresql(step: PostgresqlPromoteStep, mode: NeedMode) -> list[Need]:
    # dr/steps/postgresql: a promotion reads the replica and its lag (Azure Monitor) and PATCHes it; a geo-restore
    # reads the source and its backups and creates the target in its resource group (a drill deletes its copy).
    if step.method == "promote_replica" and step.replica_server_id:
        actions = [POSTGRESQL_SERVER_READ, METRICS_READ] + ([POSTGRESQL_SERVER_WRITE] if mode == "failover" else [])
        return [Need("replica", step.replica_server_id, tuple(actions))]
    if not (step.source_server_id and step.target_server_id):
        return []
    target_group = step.target_server_id.split("/providers/", 1)[0]
    target = [POSTGRESQL_SERVER_READ, POSTGRESQL_SERVER_WRITE] + ([POSTGRESQL_SERVER_DELETE] if mode == "drill" else [])
    return [
        Need("source_server", step.source_server_id, (POSTGRESQL_SERVER_READ, POSTGRESQL_BACKUPS_READ)),
        Need("target_resource_group", target_group, tuple(target)),
    ]


# Microsoft.Storage and Microsoft.Web actions ("Azure permissions for Storage" and "... for Web and Mobile").
STORAGE_ACCOUNT_READ = "Microsoft.Storage/storageAccounts/read"
STORAGE_ACCOUNT_WRITE = "Microsoft.Storage/storageAccounts/write"
STORAGE_ACCOUNT_FAILOVER = "Microsoft.Storage/storageAccounts/failover/action"
WEB_PLAN_READ = "Microsoft.Web/serverfarms/read"
WEB_PLAN_WRITE = "Microsoft.Web/serverfarms/write"
WEB_SITE_READ = "Microsoft.Web/sites/read"
WEB_SITE_START = "Microsoft.Web/sites/start/action"
WEB_SITE_STOP = "Microsoft.Web/sites/stop/action"


def _storage_account(step: StorageAccountFailoverStep, mode: NeedMode) -> list[Need]:
    # dr/steps/storage_account: a drill reads the account (with its geo-replication stats); a failover also tags
    # it with the run (StorageAccounts_Update) and starts the failover (StorageAccounts_Failover).
    actions = [STORAGE_ACCOUNT_READ]
    if mode == "failover":
        actions += [STORAGE_ACCOUNT_WRITE, STORAGE_ACCOUNT_FAILOVER]
    return [Need("storage_account", step.account_id, tuple(actions))]


def _app_scale(step: AppScaleStep, mode: NeedMode) -> list[Need]:
    # dr/steps/compute: the plan is read and PUT with its new capacity; apps are read and started or stopped. A
    # drill writes only its drill_* resources (and their teardown) and reads production.
    site_action = WEB_SITE_START if step.site_state == "Running" else WEB_SITE_STOP
    plan_actions = (WEB_PLAN_READ, WEB_PLAN_WRITE)
    site_actions = (WEB_SITE_READ, site_action) if mode == "failover" else (WEB_SITE_READ,)
    needs: list[Need] = []
    if step.plan_id:
        needs.append(Need("plan", step.plan_id, plan_actions if mode == "failover" else (WEB_PLAN_READ,)))
        if mode == "drill" and step.drill_plan_id:
            needs.append(Need("drill_plan", step.drill_plan_id, plan_actions))
    needs += [Need(f"app_{index + 1}", site, site_actions) for index, site in enumerate(step.site_ids)]
    if mode == "drill":
        drill_actions = (WEB_SITE_READ, WEB_SITE_START, WEB_SITE_STOP)
        needs += [Need(f"drill_app_{index + 1}", site, drill_actions) for index, site in enumerate(step.drill_site_ids)]
    return needs


def _nothing(step: StepBase, mode: NeedMode) -> list[Need]:
    return []


# Per kind (dr.steps.REGISTRY names the same kinds; a test holds them together). blob_backup needs no ARM
# permission: blob access is data plane (Storage Blob Data roles on the accounts, not ARM actions), and
# health_check only calls the plan's URL.
NEEDS: dict[str, Callable[[Any, NeedMode], list[Need]]] = {
    "sql_failover_group": _failover_group,
    "sql_geo_restore": _geo_restore,
    "traffic_manager_failover": _traffic,
    "blob_backup": _nothing,
    "health_check": _nothing,
    # A person, and a URL from an app setting: no ARM action.
    "manual": _nothing,
    "webhook": _nothing,
    "front_door_origins": _front_door,
    "dns_record_switch": _dns_record,
    "cosmos_failover": _cosmos,
    "postgresql_promote": _postgresql,
    "storage_account_failover": _storage_account,
    "app_scale": _app_scale,
}


def needs(step: StepBase, mode: NeedMode) -> list[Need]:
    """The ARM actions ``step`` needs, per scope, when run in ``mode`` (a kind not listed needs none)."""
    return NEEDS.get(step.kind, _nothing)(step, mode)


# -- Azure RBAC evaluation -------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in text.split("*")) + "$", re.IGNORECASE)


def matches(pattern: str, action: str) -> bool:
    """True when an action pattern of a role (``*``, ``Microsoft.Sql/*``, ``*/read``) covers ``action``."""
    return _pattern(pattern.strip()).match(action) is not None


def allows(permissions: Iterable[Granted], action: str) -> bool:
    """Azure RBAC: some permission grants ``action`` through ``actions`` and does not take it back through its
    own ``notActions``."""
    return any(
        any(matches(p, action) for p in permission.actions)
        and not any(matches(n, action) for n in permission.not_actions)
        for permission in permissions
    )


def roles_granting(actions: Iterable[str]) -> list[str]:
    """Built-in roles (one per action, in order, without repeats) that grant the actions."""
    roles: list[str] = []
    for action in actions:
        role = next((role for pattern, role in ROLE_HINTS if matches(pattern, action)), None)
        if role is not None and role not in roles:
            roles.append(role)
    return roles


# -- reading the Permissions API -------------------------------------------------------------------------------


class TooManyPermissions(Exception):
    """More role assignments at a scope than a pre-flight reads."""


def _split_scope(scope: str) -> tuple[str, str, str | None, list[tuple[str, str]]]:
    """(subscription, resource group, provider namespace, [(type, name), ...]) of a resource group or resource id."""
    parts = scope.strip("/").split("/")
    if len(parts) < 4 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups":
        raise ValueError(f"not a resource group or resource id: {scope!r}")
    if len(parts) == 4:
        return parts[1], parts[3], None, []
    rest = parts[6:]
    if parts[4].lower() != "providers" or len(parts) < 8 or len(rest) % 2:
        raise ValueError(f"not a resource group or resource id: {scope!r}")
    return parts[1], parts[3], parts[5], [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]


def read_permissions(scope: str) -> list[Granted]:
    """What the app's identity holds at ``scope`` (and inherits there), from the Permissions API."""
    from .clients import get_clients

    subscription, group, namespace, segments = _split_scope(scope)
    client = get_clients().authorization(subscription)
    if namespace is None:
        pager = client.permissions.list_for_resource_group(group, **READ_OPTIONS)
    else:
        *parents, (resource_type, name) = segments
        parent = "/".join(f"{t}/{n}" for t, n in parents)
        pager = client.permissions.list_for_resource(group, namespace, parent, resource_type, name, **READ_OPTIONS)
    found: list[Granted] = []
    for count, page in enumerate(pager.by_page(), start=1):
        if count > MAX_PAGES:
            raise TooManyPermissions(f"more than {MAX_PAGES} pages of role assignments")
        found.extend(Granted(tuple(item.actions or ()), tuple(item.not_actions or ())) for item in page)
    return found


def _shared_permissions(scope: str) -> list[Granted]:
    return shared("permissions", scope, lambda: read_permissions(scope))


def _resource_group_scope(scope: str) -> str | None:
    """The resource group holding a resource id (None for a resource group itself)."""
    subscription, group, namespace, _ = _split_scope(scope)
    return None if namespace is None else f"/subscriptions/{subscription}/resourceGroups/{group}"


# -- the checks ------------------------------------------------------------------------------------------------


@dataclass
class _ScopeNeeds:
    label: str
    scope: str
    now: list[str] = field(default_factory=list)
    failover_only: list[str] = field(default_factory=list)


def _by_scope(now: Sequence[Need], failover: Sequence[Need]) -> list[_ScopeNeeds]:
    scopes: dict[str, _ScopeNeeds] = {}
    for need in now:
        entry = scopes.setdefault(need.scope.lower(), _ScopeNeeds(need.label, need.scope))
        entry.now.extend(a for a in need.actions if a not in entry.now)
    for need in failover:
        entry = scopes.setdefault(need.scope.lower(), _ScopeNeeds(need.label, need.scope))
        entry.failover_only.extend(a for a in need.actions if a not in entry.now and a not in entry.failover_only)
    return list(scopes.values())


def _assign(missing: Sequence[str]) -> str:
    roles = roles_granting(missing)
    return f"assign {' and '.join(roles)} or the plan's custom role" if roles else "assign a role that grants it"


def _one(entry: _ScopeNeeds, name: str, read: Callable[[str], list[Granted]]) -> Check:
    scope = entry.scope
    facts: dict[str, Any] = {"scope": scope, "actions": entry.now}
    if entry.failover_only:
        facts["failover_actions"] = entry.failover_only
    try:
        granted = _granted(entry, read)
    except Exception as exc:  # unreadable is reported, never taken as allowed
        cause = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        needed = len(entry.now) + len(entry.failover_only)
        return Check.warning(
            name,
            f"could not read the app's identity's permissions on {scope} ({cause}): the {needed} ARM actions "
            "the step needs there are not verified",
            **facts,
            error=type(exc).__name__,
        )
    missing = [a for a in entry.now if not allows(granted, a)]
    if missing:
        return Check.failed(
            name,
            f"the app's identity lacks {', '.join(missing)} on {scope}: {_assign(missing)}",
            **facts,
            missing=missing,
        )
    missing_later = [a for a in entry.failover_only if not allows(granted, a)]
    if missing_later:
        return Check.warning(
            name,
            f"a failover of this plan would fail: the app's identity lacks {', '.join(missing_later)} on {scope} "
            f"(this drill does not need it): {_assign(missing_later)}",
            **facts,
            missing_for_failover=missing_later,
        )
    held = len(entry.now) + len(entry.failover_only)
    return Check.passed(name, f"the app's identity holds the {held} actions it needs on {scope}", **facts)


def _granted(entry: _ScopeNeeds, read: Callable[[str], list[Granted]]) -> list[Granted]:
    """What decides ``entry``: its resource group's permissions when they allow every action it needs (a
    resource inherits them all, so its own answer could only add), else the resource's own. A plan's steps
    mostly share a few resource groups: one read each instead of one per resource."""
    try:
        group = _resource_group_scope(entry.scope)
        inherited = read(group) if group is not None else None
    except Exception:  # the resource's own read decides, and reports its error if it has one
        inherited = None
    if inherited is not None and all(allows(inherited, a) for a in (*entry.now, *entry.failover_only)):
        return inherited
    return read(entry.scope)


def permission_checks(ctx: StepContext, read: Callable[[str], list[Granted]] | None = None) -> list[Check]:
    """One check per scope the step touches. Never raises: a scope that cannot be read is a warning. Reads
    go through the pre-flight's shared reads when there is one (:func:`dr.shared_reads.reads_shared`)."""
    read = read or _shared_permissions
    if ctx.is_drill:
        now = needs(ctx.step, "drill")
        failover = needs(ctx.failover_step() or ctx.step, "failover")
    else:
        now, failover = needs(ctx.step, "failover"), []
    checks: list[Check] = []
    names: set[str] = set()
    for entry in _by_scope(now, failover):
        name = f"permissions_{entry.label}"
        if name in names:
            name = f"{name}_{len(names) + 1}"
        names.add(name)
        checks.append(_one(entry, name, read))
    return checks
