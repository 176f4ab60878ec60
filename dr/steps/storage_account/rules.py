"""The storage failover's decisions, pure: which failover runs, what it loses, and every reason the service would
refuse it. ``begin`` raises the first refusal; the pre-flight reports all of them; both come from :func:`assess`,
so they cannot disagree.

Where each rule comes from (Microsoft.Storage openapi.json 2026-09-01, StorageAccounts_Failover, and Microsoft
Learn's storage disaster recovery guidance): failover needs a geo-redundant SKU (GRS, RA-GRS, GZRS, RA-GZRS);
``geoReplicationStats.canFailover`` / ``canPlannedFailover`` are the service's own verdicts; an unplanned failover
"converts the account to LRS" and loses every write after the Last Sync Time; a planned one "is only available
while the primary and secondary endpoints are available"; NFS 3.0 accounts support unplanned failover only (NFS 3.0
known issues); hierarchical namespace and SFTP accounts fail over in preview only.

Invariant: nothing here calls Azure; time comes in as ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ...durations import iso
from ..base import Check
from .model import AccountView, FailoverType, region

GEO_SKUS = frozenset(
    {"standard_grs", "standard_ragrs", "standard_gzrs", "standard_ragzrs", "standardv2_grs", "standardv2_gzrs"}
)
Requested = Literal["planned", "unplanned", "planned_if_available"]
RunMode = Literal["failover", "drill", "failback", "sync"]

# A fact the checks and the report share: what each failover type does to the account.
WHAT_IT_DOES: dict[FailoverType, str] = {
    "planned": "the regions swap and the account stays geo-redundant; no data is lost",
    "unplanned": "the secondary becomes the primary and the account becomes LRS (geo-redundancy must be re-enabled); "
    "writes after the Last Sync Time are lost",
}


def is_geo(sku: str) -> bool:
    return sku.lower() in GEO_SKUS


def choose(requested: Requested, view: AccountView) -> tuple[FailoverType, str]:
    """The failover that runs, and why. planned_if_available: planned while the primary answers and the service
    allows it, unplanned otherwise."""
    if requested != "planned_if_available":
        return requested, f"failover_type {requested}"
    if view.status_of_primary == "unavailable":
        return "unplanned", f"the primary {view.primary_location} is unavailable: planned failover needs it"
    if view.geo is not None and view.geo.can_planned_failover is False:
        return "unplanned", "the service does not allow a planned failover now (canPlannedFailover false)"
    return "planned", f"the primary {view.primary_location} is available: planned failover loses nothing"


def data_at_risk(kind: FailoverType, view: AccountView, now: datetime) -> tuple[float | None, str]:
    """What the failover loses (seconds of writes) and what that rests on; None, never 0, when unknown."""
    if kind == "planned":
        return 0.0, "planned failover: Azure synchronises the secondary before the regions swap (no data loss)"
    synced = view.geo.last_sync_time if view.geo is not None else None
    if synced is None:
        why = view.geo_unreadable or (
            f"geoReplicationStats reports no Last Sync Time (status {view.geo.status})" if view.geo else "not read"
        )
        return None, f"unknown: the Last Sync Time could not be read ({why})"
    seconds = round(max(0.0, (now - synced).total_seconds()), 3)
    return seconds, (
        f"unplanned failover: writes after the Last Sync Time ({iso(synced)}) are lost: now - lastSyncTime "
        "(geoReplicationStats, read before the failover)"
    )


@dataclass
class Assessment:
    """Every verdict on the account, the failover that would run, and what it would lose."""

    checks: list[Check] = field(default_factory=list)
    failover_type: FailoverType | None = None
    why: str = ""
    already_done: bool = False
    rpo_seconds: float | None = None
    rpo_basis: str = "unknown"

    @property
    def refusal(self) -> Check | None:
        return next((check for check in self.checks if check.status == "failed"), None)


def assess(
    view: AccountView,
    *,
    target_location: str,
    requested: Requested,
    step_id: str,
    now: datetime,
    running_is_ours: bool = False,
) -> Assessment:
    """The verdicts of :mod:`this module's docstring <.rules>` on ``view``. ``running_is_ours``: a failover
    in progress was started by this run (a retried begin waits for it instead of refusing)."""
    name, target = view.name, region(target_location)
    found = Assessment()
    checks = found.checks
    checks.append(
        Check.passed(
            "account_found",
            f"storage account {name} found: {view.sku}, primary {view.primary_location}, secondary "
            f"{view.secondary_location or 'none'}",
            **view.facts(),
        )
    )
    if region(view.primary_location) == target and not view.failover_in_progress:
        found.already_done = True
        found.rpo_seconds, found.rpo_basis = 0.0, f"nothing to fail over: the primary is already {target}"
        checks.append(
            Check.passed(
                "already_failed_over",
                f"storage account {name}'s primary is already {view.primary_location}: nothing to fail over",
                primary_location=view.primary_location,
            )
        )
        return found

    if not is_geo(view.sku):
        when = f" since its failover at {iso(view.last_geo_failover_time)}" if view.last_geo_failover_time else ""
        fix = (
            f"re-enable geo-redundancy first (set its SKU to Standard_GRS, Standard_RAGRS, Standard_GZRS or "
            f"Standard_RAGZRS: an unplanned failover leaves the account LRS) and wait until geoReplicationStats "
            f"reads Live, then run step {step_id!r} again"
            if view.last_geo_failover_time
            else "customer-managed failover needs GRS, RA-GRS, GZRS or RA-GZRS: change the account's redundancy or "
            f"remove step {step_id!r}"
        )
        checks.append(
            Check.failed(
                "geo_redundant",
                f"storage account {name} is {view.sku}{when}, not geo-redundant: {fix}",
                sku=view.sku,
            )
        )
        return found
    checks.append(Check.passed("geo_redundant", f"storage account {name} is {view.sku} (geo-redundant)", sku=view.sku))

    if region(view.secondary_location) != target:
        checks.append(
            Check.failed(
                "target_is_secondary",
                f"storage account {name}'s secondary is {view.secondary_location}, not {target_location}: a failover "
                f"makes the secondary the primary; fix target_location of step {step_id!r}",
                secondary_location=view.secondary_location,
                target_location=target_location,
            )
        )
    if view.failover_in_progress:
        if running_is_ours:
            checks.append(Check.passed("no_failover_running", f"the failover of {name} this run started is running"))
        else:
            checks.append(
                Check.failed(
                    "no_failover_running",
                    f"a failover of storage account {name} is already running (failoverInProgress), not started by "
                    "this run: wait for it to end and check the account's primary before failing over again",
                    failover_in_progress=True,
                )
            )
    if view.status_of_secondary == "unavailable":
        checks.append(
            Check.failed(
                "secondary_available",
                f"the secondary region {view.secondary_location} of storage account {name} is unavailable: no "
                "failover can succeed until it is back",
                status_of_secondary=view.status_of_secondary,
            )
        )

    kind, why = choose(requested, view)
    found.failover_type, found.why = kind, why
    found.rpo_seconds, found.rpo_basis = data_at_risk(kind, view, now)
    checks.extend(_service_verdicts(view, kind, requested, step_id, found.rpo_seconds))
    checks.extend(_features(view, kind, step_id))
    lost = "nothing" if found.rpo_seconds == 0 else _seconds(found.rpo_seconds)
    checks.append(
        Check(
            name="data_at_risk",
            status="passed" if found.rpo_seconds == 0 else "warning",
            message=f"a {kind} failover of {name} now would lose {lost} ({found.rpo_basis})",
            facts={
                "failover_type": kind,
                "failover_type_reason": why,
                "rpo_estimate_seconds": found.rpo_seconds,
                "rpo_basis": found.rpo_basis,
                "last_sync_time": iso(view.geo.last_sync_time) if view.geo and view.geo.last_sync_time else None,
            },
        )
    )
    return found


def _service_verdicts(
    view: AccountView, kind: FailoverType, requested: Requested, step_id: str, rpo: float | None
) -> list[Check]:
    name, geo = view.name, view.geo
    verdicts: list[Check] = []
    if kind == "planned" and view.status_of_primary == "unavailable":
        verdicts.append(
            Check.failed(
                "primary_available",
                f"a planned failover of {name} needs its primary {view.primary_location}, which is unavailable: set "
                f"failover_type unplanned (or planned_if_available) on step {step_id!r}; unplanned loses the writes "
                "after the Last Sync Time",
                status_of_primary=view.status_of_primary,
            )
        )
    elif kind == "unplanned" and view.status_of_primary == "available":
        advice = (
            "a planned failover would lose none (failover_type planned_if_available)"
            if requested == "unplanned"
            else "the service does not allow a planned one now"
        )
        verdicts.append(
            Check.warning(
                "primary_available",
                f"the primary {view.primary_location} of {name} is available: an unplanned failover loses "
                f"{_seconds(rpo)} of writes after the Last Sync Time; {advice}",
                status_of_primary=view.status_of_primary,
            )
        )
    if geo is None:
        verdicts.append(
            Check.warning(
                "can_failover",
                f"could not read storage account {name}'s geoReplicationStats ({view.geo_unreadable or 'not returned'})"
                ": whether the service allows a failover and the Last Sync Time are unknown",
            )
        )
    elif (kind == "unplanned" and geo.can_failover is False) or (
        kind == "planned" and geo.can_planned_failover is False
    ):
        verdicts.append(
            Check.failed(
                "can_failover",
                f"the service refuses a {kind} failover of storage account {name} now: "
                + _why_not(geo.status, kind, step_id),
                status=geo.status,
                can_failover=geo.can_failover,
                can_planned_failover=geo.can_planned_failover,
            )
        )
    else:
        verdicts.append(
            Check.passed(
                "can_failover",
                f"the service allows a {kind} failover of storage account {name} (geo-replication {geo.status})",
                status=geo.status,
            )
        )
    return verdicts


def _why_not(status: str | None, kind: FailoverType, step_id: str) -> str:
    if status == "Bootstrap":
        return (
            "its secondary is still seeding (geo-replication status Bootstrap, no Last Sync Time yet): wait until "
            "geoReplicationStats reads Live"
        )
    if status == "Unavailable":
        return "its secondary is unavailable (geo-replication status Unavailable): no failover can succeed"
    if kind == "planned":
        return (
            f"canPlannedFailover is false: use failover_type unplanned on step {step_id!r} if the primary is down "
            "(it loses the writes after the Last Sync Time)"
        )
    return "canFailover is false (a feature or configuration the service does not fail over, e.g. a preview feature)"


def _features(view: AccountView, kind: FailoverType, step_id: str) -> list[Check]:
    found: list[Check] = []
    if view.enable_nfs_v3 and kind == "planned":
        found.append(
            Check.failed(
                "supported_features",
                f"storage account {view.name} has NFS 3.0 enabled: it supports unplanned failover only (NFS 3.0 "
                f"known issues): set failover_type unplanned on step {step_id!r}",
                enable_nfs_v3=True,
            )
        )
    preview = [
        label
        for label, on in (
            ("hierarchical namespace (Data Lake Storage Gen2)", view.is_hns_enabled),
            ("SFTP", view.is_sftp_enabled),
        )
        if on
    ]
    if preview:
        found.append(
            Check.warning(
                "preview_features",
                f"storage account {view.name} has {' and '.join(preview)} enabled: customer-managed failover of such "
                "accounts is in preview (Microsoft Learn: Initiate a storage account failover); test it in a drill "
                "account first",
                preview_features=preview,
            )
        )
    return found


def _seconds(value: float | None) -> str:
    return "an unknown amount" if value is None else f"{value:g} s"
