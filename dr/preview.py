"""What a run will do, one sentence per step, for the person who approves it.

Invariant: pure and deterministic (the recovery orchestrator renders it into its status on every replay), and
it imports no Azure SDK: names are read from the plan's resource ids and URLs, never looked up. A drill is
described as the drill runs it (its own containers, databases and profiles, or read-only), so an approver
never mistakes a drill for a change to production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from .clients import account_name_from_url
from .durations import format_duration
from .errors import InvalidInputError
from .plan import (
    AppScaleStep,
    BlobBackupStep,
    CosmosFailoverStep,
    DnsRecordSwitchStep,
    FrontDoorOriginsStep,
    HealthCheckStep,
    ManualStep,
    Mode,
    Plan,
    PostgresqlPromoteStep,
    SqlFailoverGroupStep,
    SqlGeoRestoreStep,
    StepBase,
    StorageAccountFailoverStep,
    TrafficManagerFailoverStep,
    WebhookStep,
)
from .probe import redact_url

if TYPE_CHECKING:  # dr.run renders previews into the run's status: a runtime import would be circular
    from .run import RunOverrides

# The suffix a drill's geo-restore adds to the target name when the plan gives no drill_target_database
# (the rule of dr.steps.sql.planning.restore_target_name, which imports the SQL SDK; a unit test keeps the two
# in step).
SQL_DRILL_SUFFIX = "-drill"


class StepPreview(BaseModel):
    """One step of a run as an approver reads it."""

    step: str
    kind: str
    action: str = Field(description="What the step will do and to what, in one sentence.")
    after: list[str] = Field(default_factory=list, description="Steps that must succeed before it starts.")


def preview(plan: Plan, mode: Mode, overrides: RunOverrides | None = None) -> list[StepPreview]:
    """Every step of ``plan`` as a run in ``mode`` executes it, in plan order.

    ``plan`` may be the plan file's (a drill's overrides and skips are then applied here) or a run's snapshot
    (already applied: a snapshot keeps no overrides)."""
    if mode == "drill" and (plan.drill.overrides or plan.drill.skip_steps):
        plan = plan.for_mode("drill")
    return [
        StepPreview(step=step.id, kind=step.kind, action=describe_step(step, mode, overrides), after=list(step.after))
        for step in plan.steps
    ]


def describe_step(step: StepBase, mode: Mode, overrides: RunOverrides | None = None) -> str:  # noqa: PLR0911, PLR0912
    """What ``step`` does in a run in ``mode`` with the operator's ``overrides``, as one sentence."""
    drill = mode == "drill"
    if isinstance(step, BlobBackupStep):
        return _blob(step, drill)
    if isinstance(step, SqlGeoRestoreStep):
        return _geo_restore(step, drill)
    if isinstance(step, SqlFailoverGroupStep):
        forced_mode = overrides.sql_failover_mode if overrides is not None else None
        return _failover_group(step, drill, forced_mode)
    if isinstance(step, TrafficManagerFailoverStep):
        return _traffic(step, drill)
    if isinstance(step, HealthCheckStep):
        return _health(step)
    if isinstance(step, ManualStep):
        return _manual(step, drill)
    if isinstance(step, WebhookStep):
        return _webhook(step, drill)
    if isinstance(step, FrontDoorOriginsStep):
        return _front_door(step, drill)
    if isinstance(step, DnsRecordSwitchStep):
        return _dns_record(step, drill)
    if isinstance(step, CosmosFailoverStep):
        return _cosmos(step, drill)
    if isinstance(step, PostgresqlPromoteStep):
        return _postgresql(step, drill)
    if isinstance(step, StorageAccountFailoverStep):
        return _storage_account(step, drill)
    if isinstance(step, AppScaleStep):
        return _app_scale(step, drill)
    raise InvalidInputError(f"step {step.id!r}: no description for kind {step.kind!r}")


def _blob(step: BlobBackupStep, drill: bool) -> str:
    source = f"{_account(step.source.account_url)}/{step.source.container}"
    target = f"{_account(step.target.account_url)}/{step.target.container}"
    text = f"copy new and changed blobs from {source} to {target}"
    if step.prefix:
        text += f" (names starting with {step.prefix!r})"
    if step.mirror_deletes:
        text += ", and delete target blobs the source no longer has"
    if drill:
        text += f" (drill: into {step.target.container})"
    return text


def _geo_restore(step: SqlGeoRestoreStep, drill: bool) -> str:
    source_server, database = _named(step.source_database_id, "servers"), _last(step.source_database_id)
    name = step.target_database or database
    if drill:
        if step.drill_target_database:
            name = step.drill_target_database
        elif not name.lower().endswith(SQL_DRILL_SUFFIX):
            name += SQL_DRILL_SUFFIX
    text = f"geo-restore database {database} from {source_server} to {_last(step.target_server_id)} as {name}"
    if step.elastic_pool_id:
        text += f" in elastic pool {_last(step.elastic_pool_id)}"
    elif step.sku:
        text += f" ({step.sku})"
    if drill:
        text += " (drill: a copy under its own name, production databases untouched)"
    return text


def _failover_group(
    step: SqlFailoverGroupStep, drill: bool, run_mode: Literal["planned", "forced", "planned_then_forced"] | None
) -> str:
    group, server = _last(step.failover_group_id), _named(step.failover_group_id, "servers")
    mode = run_mode or step.failover_mode
    chosen = " (sql_failover_mode set for this run)" if run_mode is not None else ""
    if drill:  # a drill only reads the group (dr.steps.sql.failover_group)
        return (
            f"read failover group {group} and report what a {mode.replace('_', ' ')} failover to server {server} "
            f"would do{chosen} (drill: nothing fails over)"
        )
    if mode == "planned":
        text = f"planned failover (no data loss) of failover group {group} to server {server}"
    elif mode == "forced":
        text = f"forced failover of failover group {group} to server {server} (may lose data; cannot be undone)"
    else:
        text = (
            f"planned failover of failover group {group} to server {server}, forced if the primary does not "
            "answer (then it may lose data)"
        )
    return text + chosen


def _traffic(step: TrafficManagerFailoverStep, drill: bool) -> str:
    sources, targets = _names(step.from_endpoints), _names(step.to_endpoints)
    one_source, one_target = len(step.from_endpoints) == 1, len(step.to_endpoints) == 1
    if step.switch == "swap_priorities":
        switch = (
            f"give {'endpoint' if one_target else 'endpoints'} {targets} the top priority"
            f" ({sources} {'stays' if one_source else 'stay'} enabled behind)"
        )
    elif step.switch == "shift_weight":
        switch = f"shift weight to {targets} ({step.to_weight}; {sources} {'keeps' if one_source else 'keep'} weight 1)"
    else:
        switch = f"disable {'endpoint' if one_source else 'endpoints'} {sources} and enable {targets}"
    if not drill:
        return f"{switch} in Traffic Manager profile {_last(step.profile_id)}"
    profile = _last(step.profile_id)
    if step.drill_profile_id:
        return f"{switch} in test profile {_last(step.drill_profile_id)} (drill: profile {profile} untouched)"
    return f"check and report, without switching: {switch} in Traffic Manager profile {profile} (drill: read only)"


def _front_door(step: FrontDoorOriginsStep, drill: bool) -> str:
    sources, targets = _names(step.from_origins), _names(step.to_origins)
    one_source = len(step.from_origins) == 1
    if step.switch == "priority":
        switch = (
            f"give {targets} priority 1 ({sources} {'drops' if one_source else 'drop'} to priority "
            f"{step.demoted_priority}, still enabled)"
        )
    else:
        switch = f"disable {'origin' if one_source else 'origins'} {sources} and enable {targets}"
    group, profile = _last(step.origin_group_id), _named(step.origin_group_id, "profiles")
    where = f"in Front Door origin group {group} of profile {profile}"
    if not drill:
        return f"{switch} {where}"
    if step.drill_profile_id:
        test_profile = _last(step.drill_profile_id)
        return f"{switch} in origin group {group} of test profile {test_profile} (drill: {profile} untouched)"
    return f"check and report, without switching: {switch} {where} (drill: read only)"


def _dns_record(step: DnsRecordSwitchStep, drill: bool) -> str:
    zone = _last(step.zone_id)
    switch = f"point CNAME {{name}}.{zone} from {step.from_target} to {step.to_target}"
    if not drill:
        return switch.format(name=step.record) + " (clients follow within the record's TTL)"
    if step.drill_record:
        return switch.format(name=step.drill_record) + f" (drill: {step.record}.{zone} untouched)"
    return f"check and report, without switching: {switch.format(name=step.record)} (drill: read only)"


def _cosmos(step: CosmosFailoverStep, drill: bool) -> str:
    account = _last(step.account_id)
    if drill:  # a drill only reads the account (dr.steps.cosmos)
        return (
            f"read Cosmos DB account {account} and report what a {step.failover_mode.replace('_', ' ')} failover to "
            f"{step.target_region} would do (drill: nothing fails over)"
        )
    if step.failover_mode == "planned":
        return (
            f"planned failover (no data loss) of Cosmos DB account {account}: {step.target_region} becomes its write "
            "region"
        )
    if step.failover_mode == "forced":
        return (
            f"forced failover of Cosmos DB account {account}: its write region is taken offline and "
            f"{step.target_region} takes the writes (may lose what had not replicated)"
        )
    return (
        f"planned failover of Cosmos DB account {account} to {step.target_region}, forced (the write region taken "
        "offline) if the planned change cannot complete (then it may lose data)"
    )


def _postgresql(step: PostgresqlPromoteStep, drill: bool) -> str:
    if step.method == "promote_replica":
        replica = _last(step.replica_server_id or "")
        if drill:
            return (
                f"read PostgreSQL replica {replica} and report what a {step.promote_option.replace('_', ' ')} "
                "promotion would do (drill: nothing promoted)"
            )
        option = {
            "planned": "planned: no data loss, needs the primary",
            "forced": "forced: may lose the replica's lag",
            "planned_then_forced": "planned, forced if the primary does not answer",
        }[step.promote_option]
        return f"promote PostgreSQL read replica {replica} to a standalone server ({option}; cannot be undone)"
    source, target = _last(step.source_server_id or ""), _last(step.target_server_id or "")
    if drill:
        # The name a drill restores to: dr.steps.postgresql.planning.restore_target_id's rule.
        name = (
            _last(step.drill_target_server_id)
            if step.drill_target_server_id
            else target
            if target.endswith("-drill")
            else f"{target[:57].rstrip('-')}-drill"
        )
        return (
            f"geo-restore PostgreSQL server {source} into {step.target_location} as {name} (drill: a copy under its "
            "own name, deleted at teardown)"
        )
    return f"geo-restore PostgreSQL server {source} into {step.target_location} as {target} (from its last geo-backup)"


def _health(step: HealthCheckStep) -> str:
    text = f"check {redact_url(step.url)} answers {step.expect_status}"
    if step.expect_body_contains:
        text += f" containing {step.expect_body_contains!r}"
    return text


MANUAL_INSTRUCTIONS_SHOWN = 300  # the approver sees what the person will do; the status has the whole text


def _manual(step: ManualStep, drill: bool) -> str:
    what = " ".join(step.instructions.split())
    if len(what) > MANUAL_INSTRUCTIONS_SHOWN:
        what = what[: MANUAL_INSTRUCTIONS_SHOWN - 1] + "…"
    then = "then fail" if step.on_timeout == "fail" else "then go on without it"
    wait = f"wait up to {format_duration(step.timeout)} ({then}) for a person to confirm: {what}"
    if not drill:
        return wait
    if step.drill == "skip":
        return f"report, without waiting, that a failover would {wait} (drill: skip)"
    return f"{wait} (drill: a person confirms the rehearsal)"


def _webhook(step: WebhookStep, drill: bool) -> str:
    follow = " and follow its job until done" if step.status is not None else " and follow its job if it answers 202"
    if not drill:
        return f"call the webhook in app setting {step.url_setting} with the run's context{follow}"
    if not step.drill_calls:
        return f"report, without calling, that a failover would call the webhook in {step.url_setting} (drill: skip)"
    if step.drill_url_setting:
        return f"call the drill webhook in {step.drill_url_setting}{follow} (drill: {step.url_setting} not called)"
    return (
        f"call the webhook in {step.url_setting} with mode drill{follow} "
        "(drill: the endpoint must not act on production)"
    )


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _account(account_url: str) -> str:
    try:
        return account_name_from_url(account_url)
    except InvalidInputError:  # validated plans always name one; describe, never fail
        return account_url


def _last(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def _named(resource_id: str, resource_type: str) -> str:
    """The name after ``resource_type`` in an ARM id (types compare case-insensitively, as ARM does)."""
    parts = resource_id.strip("/").split("/")
    for index, part in enumerate(parts[:-1]):
        if part.lower() == resource_type.lower():
            return parts[index + 1]
    return _last(resource_id)


def _storage_account(step: StorageAccountFailoverStep, drill: bool) -> str:
    account, target = _last(step.account_id), step.target_location
    kind = {
        "planned": f"planned failover (no data loss) of storage account {account} to {target}, which stays "
        "geo-redundant",
        "unplanned": f"unplanned failover of storage account {account} to {target} (loses the writes after its Last "
        "Sync Time; the account becomes LRS)",
        "planned_if_available": f"planned failover of storage account {account} to {target}, unplanned if the "
        "primary does not answer (then it loses the writes after its Last Sync Time and becomes LRS)",
    }[step.failover_type]
    if drill:  # a drill only reads the account (dr.steps.storage_account)
        return (
            f"read storage account {account}'s failover readiness and Last Sync Time and report what a {kind} would "
            "lose (drill: nothing fails over)"
        )
    return kind


def _app_scale(step: AppScaleStep, drill: bool) -> str:
    def changes(plan_id: str | None, site_ids: list[str]) -> str:
        parts = []
        if plan_id and step.instance_count is not None:
            least = "at least " if step.scale == "at_least" else ""
            parts.append(f"scale App Service plan {_last(plan_id)} to {least}{step.instance_count} instance(s)")
        if site_ids:
            verb = "start" if step.site_state == "Running" else "stop"
            parts.append(f"{verb} {'app' if len(site_ids) == 1 else 'apps'} {_names([_last(s) for s in site_ids])}")
        return " and ".join(parts)

    if not drill:
        return changes(step.plan_id, step.site_ids)
    if step.drill_plan_id or step.drill_site_ids:
        live = changes(step.drill_plan_id, step.drill_site_ids)
        return f"{live} (drill: test resources, put back at teardown; production only read)"
    return f"check and report, without changing: {changes(step.plan_id, step.site_ids)} (drill: read only)"
