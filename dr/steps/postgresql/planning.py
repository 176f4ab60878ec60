"""The postgresql_promote decisions, as pure functions: the server a run writes to, whose an existing server is,
what the service would refuse, and what a promotion or a restore may lose.

Invariant: nothing here calls Azure or imports its SDK; every figure says what it rests on.

Documented figures: Azure Database for PostgreSQL flexible server, "Overview of business continuity"
(https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-business-continuity): geo-restore from
geo-redundant backups, RPO < 1 hour (the backups are copied to the paired region asynchronously).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ...durations import iso
from ...plan import PostgresqlPromoteStep
from ..base import StepContext
from ..restores import RestoredBy, restored_by, restores_source

DRILL_SUFFIX = "-drill"
GEO_RESTORE_RPO_SECONDS = 3600.0
CONTINUITY_DOC = "Azure Database for PostgreSQL flexible server, 'Overview of business continuity'"
LAG_METRIC = "physical_replication_delay_in_seconds"
REPLICA_ROLES = ("AsyncReplica", "GeoAsyncReplica")

# The tag a promotion writes on the replica it promotes (a restore writes those of dr.steps.restores).
TAG_PROMOTED_BY = "dr-promoted-by-run"

PromoteKind = Literal["planned", "forced"]


class ServerView(BaseModel):
    """A flexible server as ARM reports it (plain values, no SDK types)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    location: str
    state: str | None = None
    role: str | None = None
    replication_state: str | None = None
    source_server_id: str | None = None
    geo_redundant_backup: str | None = None
    tags: dict[str, str] = {}

    @property
    def is_replica(self) -> bool:
        return self.role in REPLICA_ROLES

    def facts(self) -> dict[str, object]:
        return {
            "server_id": self.id,
            "location": self.location,
            "state": self.state,
            "replication_role": self.role,
            "replication_state": self.replication_state,
            "source_server_id": self.source_server_id,
        }


class Reading(BaseModel):
    """A figure read before acting, or None, and what it rests on."""

    seconds: float | None
    basis: str


def server_name(server_id: str) -> str:
    return server_id.rstrip("/").rsplit("/", 1)[-1]


def restore_target_id(ctx: StepContext, params: PostgresqlPromoteStep) -> str:
    """The server a geo-restore creates: in a drill never the production one (``drill_target_server_id``, else the
    target's name with a '-drill' suffix, cut to the 63 characters a server name allows)."""
    assert params.target_server_id is not None
    if not ctx.is_drill:
        return params.target_server_id
    if params.drill_target_server_id:
        return params.drill_target_server_id
    group, _, name = params.target_server_id.rstrip("/").rpartition("/")
    if name.endswith(DRILL_SUFFIX):
        return params.target_server_id
    return f"{group}/{name[: 63 - len(DRILL_SUFFIX)].rstrip('-')}{DRILL_SUFFIX}"


def restore_origin(ctx: StepContext, source_server_id: str, server: ServerView) -> RestoredBy | None:
    """How an existing target server came to be, as far as this step is concerned (None: not ours)."""
    if not restores_source(server.tags, source_server_id):
        return None
    found = restored_by(ctx, server.tags)
    # A drill only continues its own restore.
    return None if found == "earlier_run" and ctx.is_drill else found


def not_a_replica(view: ServerView, step_id: str) -> str:
    return (
        f"server {view.name} is not a read replica (replicationRole {view.role or 'None'}): there is nothing to "
        f"promote; check replica_server_id of step {step_id!r} (it names the replica in the secondary region)"
    )


def promote_kind(option: str, primary_reachable: bool | None) -> PromoteKind:
    """What a promotion in ``option`` will be: planned_then_forced forces only when the primary does not answer."""
    if option == "forced":
        return "forced"
    if option == "planned_then_forced" and primary_reachable is False:
        return "forced"
    return "planned"


def promote_rpo(kind: PromoteKind, lag: Reading, primary_reachable: bool | None) -> tuple[float | None, str]:
    if kind == "planned":
        return (
            0.0,
            "planned promotion: the replica receives all of the primary's data before it is promoted: no data loss",
        )
    if primary_reachable is False:
        return None, (
            "unknown: the primary is unreachable, so what it had not yet sent to the replica cannot be known (the "
            f"replica's last lag reading was: {lag.basis})"
        )
    return lag.seconds, lag.basis if lag.seconds is not None else f"unknown: {lag.basis}"


def backup_rpo(now: datetime, newest_backup: datetime | None, readable: str | None) -> tuple[float | None, str]:
    """What a geo-restore loses: at least the age of the source's newest backup; the documented bound when the
    source cannot be read (its region down, which is when geo-restore is used)."""
    if newest_backup is not None:
        age = round(max(0.0, (now - newest_backup).total_seconds()), 3)
        return age, (
            f"age of the source's newest backup ({iso(newest_backup)}), read before the restore; its geo-redundant "
            f"copy is made asynchronously and may be older ({CONTINUITY_DOC}: geo-restore RPO < 1 hour)"
        )
    return GEO_RESTORE_RPO_SECONDS, (
        f"documented bound: geo-restore RPO < 1 hour ({CONTINUITY_DOC}); the source's backups could not be read "
        f"({readable or 'no backup listed'})"
    )


FAILBACK_NOTE = (
    "a failback by geo-restore creates a new server from the last geo-backup of the server that served during the "
    "failover: writes after that backup are lost, and the application must be pointed at the new server. The way "
    "home that keeps every write is an operator's: create a read replica of it in the primary region (createMode "
    "Replica), wait until its replicationState is Active, then promote it (promoteMode Switchover or Standalone)"
)
