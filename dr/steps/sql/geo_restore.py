"""The sql_geo_restore step: restore the source's geo-backup as a database on the target server, watch the
restore, and in a drill delete the database the run created.

Invariant: one restore per target name. An existing target database is continued only when its tags say it
is this restore's (this run's, or an earlier run's of the same mode), never overwritten otherwise; teardown
deletes only a database this drill run tagged.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.sql.models import Database

from ...azure_lro import OperationStatus
from ...durations import iso
from ...errors import NotFoundError, PermanentError, PreconditionError, TransientError
from ...plan import SqlGeoRestoreStep
from ..base import Check, StepContext, StepKind, StepProgress, TeardownResult, refuse_sync
from ..restores import TAG_MODE, TAG_RUN, TAG_STARTED
from ..sdk import wire_text
from . import arm
from .model import TAG_BACKUP, GeoRestoreState, SqlRef
from .planning import (
    adopted_rpo,
    geo_backup_rpo_basis,
    origin,
    restore_tags,
    restore_target_name,
    seconds_between,
    sku_from_plan,
    sku_from_source,
)


class SqlGeoRestore(StepKind[SqlGeoRestoreStep]):
    def check(self, ctx: StepContext, params: SqlGeoRestoreStep) -> list[Check]:
        """The geo-backup (and its age: what a restore loses), the target server, the target name, the pool."""
        source = SqlRef.parse(params.source_database_id)
        target = SqlRef.parse(params.target_server_id)
        name = restore_target_name(ctx, params)
        checks: list[Check] = []
        try:
            recoverable = arm.recoverable_database(source, params.source_database_id)
        except NotFoundError as error:
            checks.append(
                Check.failed("source_geo_backup", error.message, source_database_id=params.source_database_id)
            )
        else:
            backup_time = recoverable.last_available_backup_date
            age = seconds_between(ctx.now, backup_time) if backup_time else None
            facts = {
                "recoverable_database_id": recoverable.id,
                "last_available_backup": iso(backup_time) if backup_time else None,
                "backup_age_seconds": age,
                "rpo_basis": geo_backup_rpo_basis(backup_time),
            }
            if age is None:
                checks.append(
                    Check.warning(
                        "source_geo_backup",
                        f"geo-backup of {source.child} on {source.server} found, but it reports no "
                        "lastAvailableBackupDate: the data a restore loses is unknown",
                        **facts,
                    )
                )
            else:
                checks.append(
                    Check.passed(
                        "source_geo_backup",
                        f"geo-backup of {source.child} on {source.server}: last backup "
                        f"{facts['last_available_backup']}, {age:g} s old (a restore now loses the writes since)",
                        **facts,
                    )
                )
        sql = arm.client(target)
        try:
            location = arm.server_location(sql, target)
        except NotFoundError as error:
            checks.append(
                Check.failed(
                    "target_server_exists",
                    f"target server {target.server} not found ({error.message}): check target_server_id of step "
                    f"{ctx.step_id!r}",
                    target_server_id=params.target_server_id,
                )
            )
            return checks
        checks.append(
            Check.passed(
                "target_server_exists", f"target server {target.server} found in {location}", location=location
            )
        )
        checks.append(self._target_name_check(ctx, params, sql, target, name))
        if params.elastic_pool_id:
            pool = SqlRef.parse(params.elastic_pool_id)
            # A database joins a pool of its own server only (ARM ids compare case-insensitively).
            same_server = [p.lower() for p in (pool.subscription, pool.resource_group, pool.server)] == [
                t.lower() for t in (target.subscription, target.resource_group, target.server)
            ]
            checks.append(
                Check.passed(
                    "elastic_pool",
                    f"elastic pool {pool.child} is on the target server {target.server}",
                    elastic_pool_id=params.elastic_pool_id,
                )
                if same_server
                else Check.failed(
                    "elastic_pool",
                    f"elastic pool {pool.child} is on server {pool.server}, not on the target server {target.server}: "
                    "a database joins a pool of its own server only; fix elastic_pool_id",
                    elastic_pool_id=params.elastic_pool_id,
                )
            )
        return checks

    def _target_name_check(
        self, ctx: StepContext, params: SqlGeoRestoreStep, sql: SqlManagementClient, target: SqlRef, name: str
    ) -> Check:
        existing = arm.get_database(sql, target, name)
        if existing is None:
            return Check.passed("target_database_free", f"{target.server}/{name} is free", target_database=name)
        found = origin(ctx, params, existing)
        tags = existing.tags or {}
        if found == "this_run":
            return Check.passed(
                "target_database_free",
                f"{target.server}/{name} already restored by this run",
                target_database=name,
                status=wire_text(existing.status),
            )
        if found is not None and not ctx.is_drill:
            return Check.passed(
                "target_database_free",
                f"{target.server}/{name} exists, restored from this source earlier ({found}, run "
                f"{tags.get(TAG_RUN)!r}): it is continued, not restored again",
                target_database=name,
            )
        return Check.failed(
            "target_database_free",
            f"target database {name!r} on {target.server} already exists and is not this restore's; it is never "
            "overwritten: delete it or restore under another name (target_database / drill_target_database)",
            target_database=name,
            created_by_run=tags.get(TAG_RUN),
        )

    def begin(self, ctx: StepContext, params: SqlGeoRestoreStep) -> StepProgress:
        refuse_sync(ctx, self.kind)
        source = SqlRef.parse(params.source_database_id)
        target = SqlRef.parse(params.target_server_id)
        name = restore_target_name(ctx, params)
        target_id = target.database_id(name)
        sql = arm.client(target)

        existing = arm.get_database(sql, target, name)
        if existing is not None:
            return self._adopt(ctx, params, existing, target_id)

        recoverable = arm.recoverable_database(source, params.source_database_id)
        backup_time = recoverable.last_available_backup_date
        rpo = seconds_between(ctx.now, backup_time) if backup_time else None
        location = arm.server_location(sql, target)
        choice = sku_from_plan(params) or sku_from_source(arm.read_source_database(source), recoverable)
        what = f"geo-restore {source.child} onto {target.server}/{name}"
        body = arm.restore_body(
            location=location,
            choice=choice,
            recoverable_database_id=recoverable.id,
            tags=restore_tags(ctx, params, backup_time),
        )
        operation = arm.start_restore(sql, target, name, body, what)
        if operation is None:
            # Someone (maybe our own earlier call) is creating this database right now: look again.
            again = arm.get_database(sql, target, name)
            if again is not None:
                return self._adopt(ctx, params, again, target_id)
            raise TransientError(
                f"{what}: a conflicting operation on the target is in progress", code="ConflictingOperation"
            )

        facts: dict[str, Any] = {
            "operation": "geo-restore",
            "mode": ctx.mode,
            "source_database_id": params.source_database_id,
            "recoverable_database_id": recoverable.id,
            "target_server_id": params.target_server_id,
            "target_database": name,
            "target_database_id": target_id,
            "location": location,
            "sku": choice.sku.name if choice.sku else None,
            "elastic_pool_id": choice.elastic_pool_id,
            "sku_from": choice.basis,
            "last_available_backup": iso(backup_time) if backup_time else None,
            "estimated_data_loss_seconds": rpo,
            "rpo_basis": geo_backup_rpo_basis(backup_time),
            "started_at": iso(ctx.now),
            "origin": "started by this run",
        }
        if ctx.is_drill:  # what this drill makes, for the report's cost (resource x minutes until teardown)
            facts["drill_created"] = [{"type": "SQL database", "name": target_id, "created_at": iso(ctx.now)}]
        state = GeoRestoreState(
            source_database_id=params.source_database_id,
            target_database_id=target_id,
            origin="started",
            operation=operation,
            rpo_estimate_seconds=rpo,
            facts=facts,
            warnings=choice.warnings,
        )
        return state.started(f"geo-restore of {source.child} into {target.server}/{name} started")

    def _adopt(self, ctx: StepContext, params: SqlGeoRestoreStep, database: Database, target_id: str) -> StepProgress:
        """The target database exists: continue with it if it is this restore's, refuse it otherwise."""
        found = origin(ctx, params, database)
        tags = database.tags or {}
        name = target_id.rsplit("/", 1)[-1]
        if found is None or (ctx.is_drill and found != "this_run"):
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
        rpo, basis = adopted_rpo(tags, found)
        described = {
            "this_run": "restore started earlier by this run",
            "earlier_run": f"restored earlier by run {tags.get(TAG_RUN)!r}",
            "recovery_of_source": "restored from this source outside this tool",
        }[found]
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
            origin=found,
            rpo_estimate_seconds=rpo,
            facts=facts,
        )
        return _progress(state, database)

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
        sql = arm.client(target)
        status = arm.operation_status(sql, current.operation, what)
        if status is not None and status.status == "InProgress":
            return _progress(current, None, status)
        database = arm.get_database(sql, target, name)
        if database is None:
            raise PermanentError(
                f"{what}: the target database is gone (the restore failed or the database was deleted); "
                "see the target server's activity log",
                code="GeoRestoreFailed",
            )
        return _progress(current, database, status)

    def teardown(
        self,
        ctx: StepContext,
        params: SqlGeoRestoreStep,
        state: dict[str, Any],
        previous: TeardownResult | None = None,
    ) -> dict[str, Any]:
        """Delete the drill database this run created (checked by its tags); nothing else, ever.

        ``previous`` is this teardown's last answer while a delete it started runs on."""
        if not ctx.is_drill:
            return {"teardown": "nothing to undo: not a drill"}
        target = SqlRef.parse(params.target_server_id)
        name = restore_target_name(ctx, params)
        if state:  # the step got as far as naming its database: that one, whatever the plan says now
            target = SqlRef.parse(GeoRestoreState.model_validate(state).target_database_id)
            name = target.child or name
        target_id = target.database_id(name)
        sql = arm.client(target)
        database = arm.get_database(sql, target, name)
        delete_started = previous.as_dict() if previous is not None and previous.teardown == "delete started" else None
        if database is None:
            return {"teardown": "deleted" if delete_started else "nothing to delete", "database_id": target_id}
        if delete_started:  # our delete is still running: the orchestrator checks again after a timer
            return {**delete_started, "status_now": wire_text(database.status)}
        tags = database.tags or {}
        if tags.get(TAG_RUN) != ctx.run_id or tags.get(TAG_MODE) != "drill":
            return {
                "teardown": "left in place: not created by this drill run",
                "database_id": target_id,
                "created_by_run": tags.get(TAG_RUN),
            }
        return _delete(sql, target, name, database)


def _delete(sql: SqlManagementClient, target: SqlRef, name: str, database: Database) -> dict[str, Any]:
    """Start deleting the drill's database; a delete that takes time asks to be called again."""
    target_id = target.database_id(name)
    operation = arm.start_delete(sql, target, name, f"delete drill database {target.server}/{name}")
    if operation is None:
        return {"teardown": "nothing to delete", "database_id": target_id}
    if operation.completed_at_once:
        return {"teardown": "deleted", "database_id": target_id, "status_before": wire_text(database.status)}
    return {
        "teardown": "delete started",
        "done": False,
        "poll_after_seconds": 5,
        "database_id": target_id,
        "status_before": wire_text(database.status),
    }


def _progress(state: GeoRestoreState, database: Database | None, status: OperationStatus | None = None) -> StepProgress:
    facts = state.facts
    name = facts.get("target_database", "")
    server = SqlRef.parse(state.target_database_id).server
    db_status = wire_text(database.status) if database is not None else None
    done = db_status == "Online"
    detail = {**facts, "status": db_status or (status.status if status else "InProgress")}
    if status is not None and status.percent_complete is not None:
        detail["percent_complete"] = status.percent_complete
    if done:
        summary = f"{server}/{name} online ({facts.get('origin')})"
    else:
        progress = f", {status.percent_complete:.0f}%" if status and status.percent_complete is not None else ""
        summary = f"geo-restore into {server}/{name}: {detail['status']}{progress}"
    return state.progress(done=done, summary=summary, detail=detail, status=status)
