"""sql_geo_restore and sql_failover_group: Azure SQL recovery through azure-mgmt-sql.

Both start one long-running ARM operation in ``begin`` and look at it once per ``poll`` (dr.azure_lro);
the orchestrator waits between looks on durable timers.

Geo-restore creates the target database from the source's geo-backup (createMode ``Recovery``). Every
database it creates is tagged (``dr-run``, ``dr-source``, ``dr-mode``...): a re-run recognises its own
restore (in progress or done) and never starts a second one, a database of any other origin is refused,
never overwritten, and a drill's teardown deletes only the database its own run created. A restore cannot
be cancelled in Azure: when a step times out, the restore runs on; a drill's teardown deletes it.

Failover group: a planned failover (no data loss) of the group onto the server named in its id, or a
forced one (``allow_data_loss: true``) when the primary region is down. A drill only reads the group.
Neither operation can be cancelled once ARM accepted it.

Before acting, each step records what data the recovery may lose (``rpo_estimate_seconds``): the age of
the last geo-backup, or the failover group's replication lag (else its data-loss grace period as a bound).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.core.tools import parse_resource_id
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.sql.models import Database, DatabaseProperties, FailoverGroup, RecoverableDatabase, Sku
from pydantic import BaseModel, ConfigDict

from ..azure_lro import ARM_CALL_OPTIONS, OperationRef, OperationStatus, check_operation, start_operation
from ..clients import get_clients
from ..durations import iso, parse_time
from ..errors import (
    DrError,
    NotFoundError,
    PermanentError,
    PreconditionError,
    TransientError,
    from_azure_error,
)
from ..plan import SqlFailoverGroupStep, SqlGeoRestoreStep
from .base import TEARDOWN_PROGRESS, StepContext, StepKind, StepProgress

DRILL_SUFFIX = "-drill"

# Tags on every database a restore creates: who made it, from what, and when (ARM tag values <= 256 chars).
TAG_RUN = "dr-run"
TAG_MODE = "dr-mode"
TAG_PLAN = "dr-plan"
TAG_STEP = "dr-step"
TAG_SOURCE = "dr-source"
TAG_BACKUP = "dr-backup-time"
TAG_STARTED = "dr-started"

RESTORE_POLL_SECONDS = 30.0
FAILOVER_POLL_SECONDS = 10.0
# The source region may be down: reading the source database (only to copy its SKU) must not hang.
SOURCE_READ_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 5, "read_timeout": 10}

PLANNED_FAILOVER_HINT = (
    "a planned failover (no data loss) needs the current primary to answer; if the primary region is down, "
    "only a forced failover can proceed, and it may lose data: set `allow_data_loss: true` on step {step!r} "
    "in the plan to allow it"
)


class SqlRef(BaseModel):
    """The parts of a Microsoft.Sql resource id a call needs."""

    model_config = ConfigDict(frozen=True)

    subscription: str
    resource_group: str
    server: str
    child: str | None = None

    @classmethod
    def parse(cls, resource_id: str) -> SqlRef:
        parts = parse_resource_id(resource_id)
        return cls(
            subscription=parts["subscription"],
            resource_group=parts["resource_group"],
            server=parts["name"],
            child=parts.get("child_name_1"),
        )

    def database_id(self, name: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Sql/servers/{self.server}/databases/{name}"
        )

    def client(self) -> SqlManagementClient:
        return get_clients().sql(self.subscription)


def _arm_endpoint() -> str:
    return get_clients().settings.arm_endpoint


def _text(value: Any) -> str | None:
    """An SDK enum or string as its wire text."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _same_id(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and str(a).rstrip("/").lower() == str(b).rstrip("/").lower()


def _tag_value(text: str) -> str:
    lowered = text.lower()
    return lowered if len(lowered) <= 256 else "sha256:" + hashlib.sha256(lowered.encode()).hexdigest()


def _poll_after(status_retry_after: float | None, default: float) -> float:
    """ARM's Retry-After when it gave one (kept within reason), else the kind's default."""
    if status_retry_after is None or status_retry_after <= 0:
        return default
    return min(max(status_retry_after, 1.0), 120.0)


def _refuse_sync(ctx: StepContext, kind: str) -> None:
    if ctx.mode not in ("failover", "drill"):
        raise PreconditionError(f"{kind} runs in a failover or a drill, not in mode {ctx.mode!r}", code="WrongMode")


def _seconds_between(later: datetime, earlier: datetime) -> float:
    return round(max(0.0, (later - earlier).total_seconds()), 3)


# -- geo-restore -------------------------------------------------------------------------------------------


def restore_target_name(ctx: StepContext, params: SqlGeoRestoreStep) -> str:
    """The database a run restores into. A drill never uses the production name: ``drill_target_database``
    when set, else the target name (as the drill's overrides left it) with a ``-drill`` suffix."""
    production = params.target_database or SqlRef.parse(params.source_database_id).child or ""
    if not ctx.is_drill:
        return production
    if params.drill_target_database:
        return params.drill_target_database
    return production if production.lower().endswith(DRILL_SUFFIX) else production + DRILL_SUFFIX


Origin = Literal["started", "this_run", "earlier_run", "recovery_of_source"]


class GeoRestoreState(BaseModel):
    """What geo-restore remembers between calls (small; travels in the orchestration history)."""

    source_database_id: str
    target_database_id: str
    origin: Origin
    operation: OperationRef | None = None
    rpo_estimate_seconds: float | None = None
    facts: dict[str, Any] = {}
    warnings: list[str] = []


class SqlGeoRestore(StepKind[SqlGeoRestoreStep]):
    kind = "sql_geo_restore"

    def begin(self, ctx: StepContext, params: SqlGeoRestoreStep) -> StepProgress:
        _refuse_sync(ctx, self.kind)
        source = SqlRef.parse(params.source_database_id)
        target = SqlRef.parse(params.target_server_id)
        name = restore_target_name(ctx, params)
        target_id = target.database_id(name)
        client = target.client()

        existing = _get_database(client, target, name)
        if existing is not None:
            return self._adopt(ctx, params, existing, target_id)

        recoverable = _recoverable_database(source, params.source_database_id)
        backup_time = recoverable.last_available_backup_date
        rpo = _seconds_between(ctx.now, backup_time) if backup_time else None
        server = _call(
            lambda: client.servers.get(target.resource_group, target.server, **ARM_CALL_OPTIONS),
            what=f"read target server {target.server}",
        )
        location = server.location
        sku, pool_id, sku_basis, warnings = _choose_sku(params, source, recoverable)

        tags = {
            TAG_RUN: ctx.run_id,
            TAG_MODE: ctx.mode,
            TAG_PLAN: ctx.plan_name,
            TAG_STEP: ctx.step_id,
            TAG_SOURCE: _tag_value(params.source_database_id),
            TAG_STARTED: iso(ctx.now),
        }
        if backup_time:
            tags[TAG_BACKUP] = iso(backup_time)
        body = Database(
            location=location,
            sku=sku,
            tags=tags,
            properties=DatabaseProperties(
                create_mode="Recovery", recoverable_database_id=recoverable.id, elastic_pool_id=pool_id
            ),
        )
        what = f"geo-restore {source.child} onto {target.server}/{name}"
        try:
            operation = start_operation(
                client.databases.begin_create_or_update, target.resource_group, target.server, name, body
            )
        except HttpResponseError as exc:
            if exc.status_code == 409:
                # Someone (maybe our own earlier call) is creating this database right now: look again.
                again = _get_database(client, target, name)
                if again is not None:
                    return self._adopt(ctx, params, again, target_id)
                raise TransientError(
                    f"{what}: a conflicting operation on the target is in progress",
                    code="ConflictingOperation",
                ) from None
            raise from_azure_error(exc, what=what) from None

        facts = {
            "operation": "geo-restore",
            "mode": ctx.mode,
            "source_database_id": params.source_database_id,
            "recoverable_database_id": recoverable.id,
            "target_server_id": params.target_server_id,
            "target_database": name,
            "target_database_id": target_id,
            "location": location,
            "sku": sku.name if sku else None,
            "elastic_pool_id": pool_id,
            "sku_from": sku_basis,
            "last_available_backup": iso(backup_time) if backup_time else None,
            "estimated_data_loss_seconds": rpo,
            "rpo_basis": "age of the last geo-backup when the restore began (now - lastAvailableBackupDate)",
            "started_at": iso(ctx.now),
            "origin": "started by this run",
        }
        state = GeoRestoreState(
            source_database_id=params.source_database_id,
            target_database_id=target_id,
            origin="started",
            operation=operation,
            rpo_estimate_seconds=rpo,
            facts=facts,
            warnings=warnings,
        )
        return StepProgress(
            done=False,
            state=state.model_dump(mode="json"),
            poll_after_seconds=_poll_after(operation.retry_after_seconds, RESTORE_POLL_SECONDS),
            summary=f"geo-restore of {source.child} into {target.server}/{name} started",
            detail={**facts, "status": "started"},
            warnings=warnings,
            rpo_estimate_seconds=rpo,
        )

    def _adopt(self, ctx: StepContext, params: SqlGeoRestoreStep, database: Database, target_id: str) -> StepProgress:
        """The target database exists: continue with it if it is this restore's, refuse it otherwise."""
        origin = _origin(ctx, params, database)
        tags = database.tags or {}
        name = target_id.rsplit("/", 1)[-1]
        if origin is None or (ctx.is_drill and origin != "this_run"):
            made_by = (
                f"drill run {tags[TAG_RUN]!r}, whose teardown did not delete it"
                if tags.get(TAG_MODE) == "drill" and tags.get(TAG_RUN)
                else "something other than a geo-restore of this source"
            )
            raise PreconditionError(
                f"target database {name!r} on {SqlRef.parse(target_id).server} already exists, created by "
                f"{made_by}; it is never overwritten: delete it or restore under another name",
                code="TargetDatabaseExists",
            )
        rpo, basis = None, "unknown"
        if tags.get(TAG_BACKUP) and tags.get(TAG_STARTED):
            rpo = _seconds_between(parse_time(tags[TAG_STARTED]), parse_time(tags[TAG_BACKUP]))
            basis = "age of the last geo-backup when the restore started (from the database's tags)"
        elif origin == "recovery_of_source":
            basis = "unknown: the restore was started outside this tool"
        described = {
            "this_run": "restore started earlier by this run",
            "earlier_run": f"restored earlier by run {tags.get(TAG_RUN)!r}",
            "recovery_of_source": "restored from this source outside this tool",
        }[origin]
        facts = {
            "operation": "geo-restore",
            "mode": ctx.mode,
            "source_database_id": params.source_database_id,
            "target_server_id": params.target_server_id,
            "target_database": name,
            "target_database_id": target_id,
            "location": database.location,
            "sku": database.sku.name if database.sku else None,
            "last_available_backup": tags.get(TAG_BACKUP),
            "estimated_data_loss_seconds": rpo,
            "rpo_basis": basis,
            "started_at": tags.get(TAG_STARTED),
            "origin": described,
        }
        state = GeoRestoreState(
            source_database_id=params.source_database_id,
            target_database_id=target_id,
            origin=origin,
            rpo_estimate_seconds=rpo,
            facts=facts,
        )
        return _restore_progress(state, database)

    def poll(
        self,
        ctx: StepContext,
        params: SqlGeoRestoreStep,
        state: dict[str, Any],
        work_results: list[dict[str, Any]],
    ) -> StepProgress:
        current = GeoRestoreState.model_validate(state)
        target = SqlRef.parse(current.target_database_id)
        name = target.child or ""
        what = f"geo-restore into {target.server}/{name}"
        client = target.client()
        status: OperationStatus | None = None
        operation = current.operation
        if operation is not None:
            status = _call(lambda: check_operation(client, operation, endpoint=_arm_endpoint()), what=what)
            if status.status in ("Failed", "Canceled"):
                code = status.error_code or ("OperationCanceled" if status.status == "Canceled" else "Failed")
                raise PermanentError(
                    f"{what} {status.status.lower()}: {code}: {status.error_message or 'no message'}",
                    code=code,
                )
            if status.status == "InProgress":
                return _restore_progress(current, None, status)
        database = _get_database(client, target, name)
        if database is None:
            raise PermanentError(
                f"{what}: the target database is gone (the restore failed or the database was deleted); "
                "see the target server's activity log",
                code="GeoRestoreFailed",
            )
        return _restore_progress(current, database, status)

    def teardown(self, ctx: StepContext, params: SqlGeoRestoreStep, state: dict[str, Any]) -> dict[str, Any]:
        """Delete the drill database this run created (checked by its tags); nothing else, ever."""
        if not ctx.is_drill:
            return {"teardown": "nothing to undo: not a drill"}
        target = SqlRef.parse(params.target_server_id)
        name = restore_target_name(ctx, params)
        if state.get("target_database_id"):
            target = SqlRef.parse(state["target_database_id"])
            name = target.child or name
        target_id = target.database_id(name)
        client = target.client()
        database = _get_database(client, target, name)
        started_delete = (state.get(TEARDOWN_PROGRESS) or {}).get("teardown") == "delete started"
        if database is None:
            return {"teardown": "deleted" if started_delete else "nothing to delete", "database_id": target_id}
        if started_delete:  # our delete is still running: the orchestrator checks again after a timer
            return {**state[TEARDOWN_PROGRESS], "status_now": _text(database.status)}
        tags = database.tags or {}
        if tags.get(TAG_RUN) != ctx.run_id or tags.get(TAG_MODE) != "drill":
            return {
                "teardown": "left in place: not created by this drill run",
                "database_id": target_id,
                "created_by_run": tags.get(TAG_RUN),
            }
        what = f"delete drill database {target.server}/{name}"
        try:
            operation = start_operation(client.databases.begin_delete, target.resource_group, target.server, name)
        except HttpResponseError as exc:
            if exc.status_code == 404:
                return {"teardown": "nothing to delete", "database_id": target_id}
            if exc.status_code == 409:  # still being created or busy: the orchestrator tries teardown again
                raise TransientError(
                    f"{what}: the database is busy ({exc.reason}); will retry", code="DatabaseBusy"
                ) from None
            raise from_azure_error(exc, what=what) from None
        if operation.completed_at_once:
            return {"teardown": "deleted", "database_id": target_id, "status_before": _text(database.status)}
        return {
            "teardown": "delete started",
            "done": False,
            "poll_after_seconds": 5,
            "database_id": target_id,
            "status_before": _text(database.status),
        }


def _restore_progress(
    state: GeoRestoreState, database: Database | None, status: OperationStatus | None = None
) -> StepProgress:
    facts = state.facts
    name = facts.get("target_database", "")
    server = SqlRef.parse(state.target_database_id).server
    db_status = _text(database.status) if database is not None else None
    done = db_status == "Online"
    detail = {**facts, "status": db_status or (status.status if status else "InProgress")}
    if status is not None and status.percent_complete is not None:
        detail["percent_complete"] = status.percent_complete
    if done:
        summary = f"{server}/{name} online ({facts.get('origin')})"
    else:
        progress = f", {status.percent_complete:.0f}%" if status and status.percent_complete is not None else ""
        summary = f"geo-restore into {server}/{name}: {detail['status']}{progress}"
    return StepProgress(
        done=done,
        state=state.model_dump(mode="json"),
        poll_after_seconds=0.0
        if done
        else _poll_after(status.retry_after_seconds if status else None, RESTORE_POLL_SECONDS),
        summary=summary,
        detail=detail,
        warnings=state.warnings,
        rpo_estimate_seconds=state.rpo_estimate_seconds,
    )


def _origin(ctx: StepContext, params: SqlGeoRestoreStep, database: Database) -> Origin | None:
    """How an existing target database came to be, as far as it concerns this step (None: not ours)."""
    tags = database.tags or {}
    if tags.get(TAG_SOURCE) == _tag_value(params.source_database_id):
        if tags.get(TAG_RUN) == ctx.run_id:
            return "this_run"
        # A drill's copy is never a failover's result (and vice versa).
        return "earlier_run" if tags.get(TAG_MODE) == ctx.mode else None
    if _text(database.create_mode) == "Recovery":
        source = SqlRef.parse(params.source_database_id)
        recoverable_id = (
            f"/subscriptions/{source.subscription}/resourceGroups/{source.resource_group}/providers/Microsoft.Sql"
            f"/servers/{source.server}/recoverabledatabases/{source.child}"
        )
        if _same_id(database.recoverable_database_id, recoverable_id) or _same_id(
            database.source_database_id, params.source_database_id
        ):
            return "recovery_of_source"
    return None


def _get_database(client: SqlManagementClient, ref: SqlRef, name: str) -> Database | None:
    try:
        return client.databases.get(ref.resource_group, ref.server, name, **ARM_CALL_OPTIONS)
    except ResourceNotFoundError:
        return None
    except HttpResponseError as exc:
        raise from_azure_error(exc, what=f"read database {ref.server}/{name}") from None


def _recoverable_database(source: SqlRef, source_database_id: str) -> RecoverableDatabase:
    client = source.client()
    try:
        return client.recoverable_databases.get(
            source.resource_group, source.server, source.child or "", **ARM_CALL_OPTIONS
        )
    except ResourceNotFoundError:
        raise NotFoundError(
            f"no geo-backup of {source.child!r} on server {source.server!r} (recoverable database not "
            f"found): {source_database_id} cannot be geo-restored",
            code="RecoverableDatabaseNotFound",
        ) from None
    except HttpResponseError as exc:
        raise from_azure_error(exc, what=f"read the geo-backup of {source.server}/{source.child}") from None


def _choose_sku(
    params: SqlGeoRestoreStep, source: SqlRef, recoverable: RecoverableDatabase
) -> tuple[Sku | None, str | None, str, list[str]]:
    """SKU or pool for the restored database: the plan's, else the source's (read while the source region
    may be down, so the geo-backup's own record is the fallback)."""
    if params.elastic_pool_id:
        return None, params.elastic_pool_id, "plan (elastic_pool_id)", []
    if params.sku:
        return Sku(name=params.sku), None, "plan (sku)", []
    try:
        source_db: Database | None = source.client().databases.get(
            source.resource_group, source.server, source.child or "", **SOURCE_READ_OPTIONS
        )
    except Exception:  # unreadable source (region down, throttled): the geo-backup's record will do
        source_db = None
    if (
        source_db is not None
        and source_db.sku
        and not source_db.elastic_pool_id
        and source_db.sku.name != "ElasticPool"
    ):
        src = source_db.sku
        return (
            Sku(name=src.name, tier=src.tier, family=src.family, capacity=src.capacity),
            None,
            "source database",
            [],
        )
    objective, pool = recoverable.service_level_objective, recoverable.elastic_pool_name
    if objective and not pool and objective != "ElasticPool":
        return Sku(name=objective, tier=recoverable.edition), None, "geo-backup (recoverable database)", []
    source_pool = source_db.elastic_pool_id if source_db is not None else None
    pool_name = pool or (source_pool.rstrip("/").rsplit("/", 1)[-1] if source_pool else None)
    if pool_name:
        warning = (
            f"the source database is in elastic pool {pool_name!r}, which the target server does not share: "
            "the restored database gets the server's default SKU; set sku or elastic_pool_id in the plan"
        )
        return None, None, "server default", [warning]
    return (
        None,
        None,
        "server default",
        ["source SKU unknown: the restored database gets the server's default SKU"],
    )


def _call[T](fn: Callable[[], T], *, what: str) -> T:
    """Run one SDK call, its azure-core errors (HTTP and connection) translated into dr.errors."""
    try:
        return fn()
    except AzureError as exc:
        raise from_azure_error(exc, what=what) from None


# -- failover group ------------------------------------------------------------------------------------------


class FailoverState(BaseModel):
    failover_group_id: str
    forced: bool
    operation: OperationRef | None = None
    rpo_estimate_seconds: float | None = None
    facts: dict[str, Any] = {}
    warnings: list[str] = []
    # The group was busy when the failover was asked for (often: our own failover, begun by an earlier
    # try of this activity): poll waits for it and asks again, instead of burning the retry budget.
    waiting_while_busy: bool = False


class SqlFailoverGroup(StepKind[SqlFailoverGroupStep]):
    kind = "sql_failover_group"

    def begin(self, ctx: StepContext, params: SqlFailoverGroupStep) -> StepProgress:
        _refuse_sync(ctx, self.kind)
        ref = SqlRef.parse(params.failover_group_id)
        client = ref.client()
        group = _get_group(client, ref)
        facts, warnings = failover_group_facts(client, ref, group)
        role = facts["replication_role"]
        lag = facts.get("data_at_risk_seconds")

        if ctx.is_drill:
            facts.update(action="none (drill: the group is only read)", estimated_data_loss_seconds=lag)
            return StepProgress(
                done=True,
                summary=f"drill: failover group {ref.child} is {role} on {ref.server}; nothing changed",
                detail=facts,
                warnings=warnings,
                rpo_estimate_seconds=lag,
            )
        if role == "Primary":
            facts.update(action="none: already primary on this server", estimated_data_loss_seconds=None)
            return StepProgress(
                done=True,
                summary=f"failover group {ref.child} already primary on {ref.server}",
                detail=facts,
                warnings=warnings,
            )

        forced = params.allow_data_loss
        # Planned failover waits for the secondary to catch up: it loses nothing, or fails and rolls back.
        rpo = lag if forced else 0.0
        facts.update(
            action="forced failover (allow_data_loss)" if forced else "planned failover (no data loss)",
            estimated_data_loss_seconds=rpo,
            started_at=iso(ctx.now),
        )
        begin_call = (
            client.failover_groups.begin_force_failover_allow_data_loss
            if forced
            else client.failover_groups.begin_failover
        )
        what = f"{'forced' if forced else 'planned'} failover of group {ref.child} to {ref.server}"
        state = FailoverState(
            failover_group_id=params.failover_group_id,
            forced=forced,
            rpo_estimate_seconds=rpo,
            facts=facts,
            warnings=warnings,
        )
        operation = _start_failover(begin_call, ref, what, params, ctx)
        if operation is None:
            return self._progress(state.model_copy(update={"waiting_while_busy": True}), role=None, status=None)
        state.operation = operation
        return StepProgress(
            done=False,
            state=state.model_dump(mode="json"),
            poll_after_seconds=_poll_after(operation.retry_after_seconds, FAILOVER_POLL_SECONDS),
            summary=f"{what} started",
            detail={**facts, "status": "started"},
            warnings=warnings,
            rpo_estimate_seconds=rpo,
        )

    def poll(
        self,
        ctx: StepContext,
        params: SqlFailoverGroupStep,
        state: dict[str, Any],
        work_results: list[dict[str, Any]],
    ) -> StepProgress:
        current = FailoverState.model_validate(state)
        ref = SqlRef.parse(current.failover_group_id)
        client = ref.client()
        what = f"{'forced' if current.forced else 'planned'} failover of group {ref.child} to {ref.server}"
        status: OperationStatus | None = None
        if current.waiting_while_busy:
            role = _text(_get_group(client, ref).replication_role)
            if role == "Primary":
                return self._progress(current, role=role, status=None)
            begin_call = (
                client.failover_groups.begin_force_failover_allow_data_loss
                if current.forced
                else client.failover_groups.begin_failover
            )
            started = _start_failover(begin_call, ref, what, params, ctx)
            if started is None:
                return self._progress(current, role=None, status=None)
            current = current.model_copy(update={"operation": started, "waiting_while_busy": False})
        operation = current.operation
        if operation is not None:
            status = _call(lambda: check_operation(client, operation, endpoint=_arm_endpoint()), what=what)
            if status.status in ("Failed", "Canceled"):
                code = status.error_code or ("OperationCanceled" if status.status == "Canceled" else "Failed")
                error = PermanentError(
                    f"{what} {status.status.lower()}: {code}: {status.error_message or 'no message'}",
                    code=code,
                )
                raise _failover_error(error, params, ctx)
            if status.status == "InProgress":
                return self._progress(current, role=None, status=status)
        group = _get_group(client, ref)
        role = _text(group.replication_role)
        if role != "Primary" and (status is None or status.status == "Unknown"):
            raise PermanentError(
                f"{what}: ARM no longer knows the operation and the group is still {role} on {ref.server}",
                code="FailoverLost",
            )
        return self._progress(current, role=role, status=status)

    def _progress(self, state: FailoverState, *, role: str | None, status: OperationStatus | None) -> StepProgress:
        ref = SqlRef.parse(state.failover_group_id)
        done = role == "Primary"
        waiting = "waiting: the group is busy" if state.waiting_while_busy else "InProgress"
        detail = {**state.facts, "status": "done" if done else (status.status if status else waiting)}
        if role is not None:
            detail["replication_role"] = role
        summary = (
            f"failover group {ref.child} now primary on {ref.server}"
            if done
            else f"failover of group {ref.child} to {ref.server}: {detail['status']}"
        )
        return StepProgress(
            done=done,
            state=state.model_dump(mode="json"),
            poll_after_seconds=0.0
            if done
            else _poll_after(status.retry_after_seconds if status else None, FAILOVER_POLL_SECONDS),
            summary=summary,
            detail=detail,
            warnings=state.warnings,
            rpo_estimate_seconds=state.rpo_estimate_seconds,
        )


def _start_failover(
    begin_call: Any, ref: SqlRef, what: str, params: SqlFailoverGroupStep, ctx: StepContext
) -> OperationRef | None:
    """Ask ARM for the failover; None when the group is busy with another operation (ask again later)."""
    try:
        return start_operation(begin_call, ref.resource_group, ref.server, ref.child)
    except HttpResponseError as exc:
        error = from_azure_error(exc, what=what)
        if error.code == "FailoverGroupBusy":
            return None
        raise _failover_error(error, params, ctx) from None


def _failover_error(error: DrError, params: SqlFailoverGroupStep, ctx: StepContext) -> DrError:
    """A failed planned failover says how to go on when the primary region is down (forced failover)."""
    if params.allow_data_loss or isinstance(error, NotFoundError):
        return error
    if error.code in (
        "FailoverGroupBusy",
        "TooManyRequests",
        "Http429",
        "AuthorizationFailed",
        "Http401",
        "Http403",
    ):
        return error
    hinted = f"{error.message}. {PLANNED_FAILOVER_HINT.format(step=ctx.step_id)}"
    return type(error)(hinted, code=error.code)


def _get_group(client: SqlManagementClient, ref: SqlRef) -> FailoverGroup:
    try:
        return client.failover_groups.get(ref.resource_group, ref.server, ref.child or "", **ARM_CALL_OPTIONS)
    except HttpResponseError as exc:
        raise from_azure_error(exc, what=f"read failover group {ref.child} on server {ref.server}") from None


_LAG_KEYS = ("replicationLagSeconds", "replicationLag", "replication_lag")


def _first_number(mapping: Any, keys: tuple[str, ...]) -> float | None:
    """The first numeric value under one of ``keys`` (SDK models are mappings of the wire JSON)."""
    for key in keys:
        value = mapping.get(key) if mapping is not None else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def failover_group_facts(
    client: SqlManagementClient, ref: SqlRef, group: FailoverGroup
) -> tuple[dict[str, Any], list[str]]:
    """The group's roles and what a forced failover would lose now: the worst replication lag of its
    databases when ARM reports one, else the group's data-loss grace period as an upper bound."""
    partners = [
        {"id": p.id, "location": p.location, "replication_role": _text(p.replication_role)}
        for p in group.partner_servers or []
    ]
    endpoint = group.read_write_endpoint
    databases = [str(d).rstrip("/").rsplit("/", 1)[-1] for d in group.databases or []]
    facts: dict[str, Any] = {
        "operation": "failover group",
        "failover_group_id": group.id or ref.database_id(ref.child or "").replace("/databases/", "/failoverGroups/"),
        "server": ref.server,
        "location": group.location,
        "replication_role": _text(group.replication_role),
        "replication_state": group.replication_state,
        "partners": partners,
        "databases": databases,
        "failover_policy": _text(endpoint.failover_policy) if endpoint else None,
    }
    warnings: list[str] = []
    lags: list[float] = []
    link_states: dict[str, str | None] = {}
    unreadable: list[str] = []
    for name in databases:
        try:
            links = list(
                client.replication_links.list_by_database(ref.resource_group, ref.server, name, **ARM_CALL_OPTIONS)
            )
        except Exception:  # no links readable (partner region down, throttled): fall back to the bound below
            unreadable.append(name)
            continue
        for link in links:
            link_states[name] = _text(link.replication_state)
            lag = _first_number(link.properties, _LAG_KEYS)
            if lag is not None:
                lags.append(lag)
    facts["replication_links"] = link_states
    if unreadable:
        facts["replication_links_unreadable"] = unreadable
    seeding = sorted(name for name, link_state in link_states.items() if link_state in ("SEEDING", "PENDING"))
    if seeding:
        warnings.append(f"database(s) {', '.join(seeding)} still seeding: the secondary does not hold all data yet")
    grace_minutes = endpoint.failover_with_data_loss_grace_period_minutes if endpoint else None
    if grace_minutes is None and endpoint is not None:
        hours = endpoint.get("gracePeriodWithDataLossHours")  # the older API's name for the same setting
        grace_minutes = int(hours) * 60 if isinstance(hours, int | float) else None
    if lags:
        facts.update(
            data_at_risk_seconds=max(lags),
            rpo_basis="replication lag reported by the group's replication links (worst database)",
        )
    elif grace_minutes is not None:
        facts.update(
            data_at_risk_seconds=float(grace_minutes * 60),
            rpo_basis=(
                f"no replication lag reported: the group's data-loss grace period ({grace_minutes} min) "
                "is used as an upper bound"
            ),
        )
    else:
        facts.update(data_at_risk_seconds=None, rpo_basis="unknown: no replication lag and no grace period")
    return facts, warnings


KINDS: dict[str, StepKind[Any]] = {
    "sql_geo_restore": SqlGeoRestore(),
    "sql_failover_group": SqlFailoverGroup(),
}
