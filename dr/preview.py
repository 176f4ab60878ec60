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
from .errors import InvalidInputError
from .plan import (
    BlobBackupStep,
    HealthCheckStep,
    Mode,
    Plan,
    SqlFailoverGroupStep,
    SqlGeoRestoreStep,
    StepBase,
    TrafficManagerFailoverStep,
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


def describe_step(step: StepBase, mode: Mode, overrides: RunOverrides | None = None) -> str:
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


def _health(step: HealthCheckStep) -> str:
    text = f"check {redact_url(step.url)} answers {step.expect_status}"
    if step.expect_body_contains:
        text += f" containing {step.expect_body_contains!r}"
    return text


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
