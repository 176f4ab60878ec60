"""DR plans: YAML files validated into pydantic models.

The keys below are a contract (tools outside the app write plans with them); kinds add optional keys freely.
A plan is read when a run starts and travels, frozen, in the orchestration input: replays never re-read it.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .durations import Duration
from .errors import NotFoundError, PlanError
from .ncrontab import parse_ncrontab
from .settings import NOTIFY_SETTING_PATTERN

# failback: the plan run in reverse after a failover, back to the primary (dr.failback derives that plan).
Mode = Literal["failover", "drill", "failback"]
Severity = Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$"
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,62}$"
# An ARM resource id: /subscriptions/<s>/resourceGroups/<g>/providers/<Namespace>/<type>/<name>[/<type>/<name>...]
# (the keywords, the namespace and the types are case-insensitive, as ARM compares them).
_ARM_ID = re.compile(
    r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/(?P<namespace>[^/]+)/(?P<path>[^/]+(?:/[^/]+)*)$"
)


def arm_resource_type(resource_id: str) -> str | None:
    """The resource type an ARM id names ("Microsoft.Sql/servers/databases"), or None if it is none."""
    match = _ARM_ID.match(resource_id)
    if match is None:
        return None
    segments = match["path"].split("/")
    if len(segments) % 2:  # a type without its name
        return None
    return "/".join([match["namespace"], *segments[0::2]])


def _arm_id_of(resource_type: str) -> Callable[[str], str]:
    """The check of a plan field that holds the id of a ``resource_type`` resource: its provider and types
    must be those (an id of another provider or type is refused, saying what was expected and given)."""
    namespace, *types = resource_type.split("/")
    names = "/".join(f"{t}/<name>" for t in types)
    shape = f"/subscriptions/<id>/resourceGroups/<group>/providers/{namespace}/{names}"

    def check(value: str) -> str:
        given = arm_resource_type(value)
        if given is None or given.lower() != resource_type.lower():
            what = f"a {given} id" if given else "no ARM resource id"
            raise ValueError(f"expected a {resource_type} id ({shape}), got {what}: {value!r}")
        return value

    return check


SqlServerId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Sql/servers"))]
SqlDatabaseId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Sql/servers/databases"))]
SqlElasticPoolId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Sql/servers/elasticPools"))]
SqlFailoverGroupId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Sql/servers/failoverGroups"))]
TrafficManagerProfileId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Network/trafficManagerProfiles"))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Model):
    """How often a failed transient call of a step is tried again (durable timers between attempts)."""

    attempts: int = Field(4, ge=1, le=20)
    first_interval: Duration = timedelta(seconds=5)
    backoff: float = Field(2.0, ge=1.0, le=10.0)
    max_interval: Duration = timedelta(minutes=5)

    def delay_before(self, attempt: int) -> timedelta:
        """Wait before try number ``attempt`` (2 = first retry)."""
        seconds = self.first_interval.total_seconds() * self.backoff ** max(0, attempt - 2)
        return timedelta(seconds=min(seconds, self.max_interval.total_seconds()))


class StepBase(_Model):
    id: str = Field(pattern=STEP_ID_PATTERN)
    kind: str
    description: str | None = None
    after: list[str] = Field(default_factory=list)
    timeout: Duration | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


class BlobLocation(_Model):
    account_url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    container: str = Field(pattern=r"^(\$root|[a-z0-9][a-z0-9-]{1,61}[a-z0-9])$")

    @field_validator("container")
    @classmethod
    def _no_double_dash(cls, value: str) -> str:
        if "--" in value:
            raise ValueError(f"container name {value!r}: consecutive dashes are not allowed")
        return value

    def same_container(self, other: BlobLocation) -> bool:
        """True when both name one container of one account, however the URLs are written: scheme and host
        case, a default port, a trailing slash (https://Acct.blob.core.windows.net/ is
        https://acct.blob.core.windows.net)."""
        return self._key() == other._key()

    def _key(self) -> tuple[str, str, str]:
        url = urlsplit(self.account_url)
        # http and https reach the same account; a default port is no port.
        host = url.netloc.lower().removesuffix(":443").removesuffix(":80")
        # Account names (and Azurite's account path) are lower case: the path compares as the host does.
        return (host, url.path.rstrip("/").lower(), self.container)


class BlobBackupStep(StepBase):
    kind: Literal["blob_backup"]
    source: BlobLocation
    target: BlobLocation
    prefix: str = ""
    mirror_deletes: bool = False
    on_source_unavailable: Literal["continue", "fail"] = "continue"
    on_conflict: Literal["overwrite", "keep_newer"] = Field(
        "overwrite",
        description="A conflict is a target blob that differs from the source and is newer than it (Last-Modified). "
        "keep_newer leaves it and reports it; overwrite copies over it and reports it as overwritten.",
    )
    page_size: int = Field(1000, ge=10, le=5000)
    max_parallel_pages: int = Field(4, ge=1, le=32)
    copy_concurrency: int = Field(32, ge=1, le=256)
    # How long to wait for an account, and how often to retry a throttled or failed request (SDK retry
    # policy, doubling backoff), once the account has answered.
    request_timeout: Duration = timedelta(seconds=30)
    retry_attempts: int = Field(4, ge=0, le=10)
    retry_backoff: Duration = timedelta(seconds=1)
    # At failover (and in pre-flight checks) the source gets one request, no retries, answered within this
    # (connect + read) or it counts as unreachable: the wait before failing over on the last sync.
    source_probe_timeout: Duration = timedelta(seconds=3)

    @field_validator("source_probe_timeout")
    @classmethod
    def _probe_timeout_in_range(cls, value: timedelta) -> timedelta:
        # Under half a second a healthy cross-region round trip (TLS included) could miss it; over a minute
        # the failover waits longer than the retries it replaces.
        if not timedelta(seconds=0.5) <= value <= timedelta(seconds=60):
            raise ValueError(f"source_probe_timeout must be between 0.5 s and 60 s, got {value.total_seconds():g} s")
        return value

    @model_validator(mode="after")
    def _source_is_not_target(self) -> BlobBackupStep:
        if self.source.same_container(self.target):
            raise ValueError(
                f"source and target are the same container ({self.source.container!r} of "
                f"{self.source.account_url}): the backup must go to another account or container"
            )
        return self


# A SQL server id (ARM ids are case-insensitive); databases, pools and failover groups hang below it.
SQL_SERVER_ID_PATTERN = r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Sql/servers/[^/]+"
# Azure SQL database names: 1-128 characters, none of <>*%&:\/? and no trailing dot or space.
SQL_DATABASE_NAME_PATTERN = r"^[^<>*%&:\\/?\s.]([^<>*%&:\\/?]{0,126}[^<>*%&:\\/?\s.])?$"


class SqlGeoRestoreStep(StepBase):
    kind: Literal["sql_geo_restore"]
    source_database_id: SqlDatabaseId
    target_server_id: SqlServerId
    target_database: str | None = Field(None, pattern=SQL_DATABASE_NAME_PATTERN)
    sku: str | None = Field(None, description="Service objective of the restored database (e.g. S0, GP_Gen5_2).")
    elastic_pool_id: SqlElasticPoolId | None = None
    drill_target_database: str | None = Field(
        None,
        pattern=SQL_DATABASE_NAME_PATTERN,
        description="Exact name a drill restores to; default: the target name with a '-drill' suffix.",
    )
    timeout: Duration | None = timedelta(hours=2)

    @model_validator(mode="after")
    def _consistent(self) -> SqlGeoRestoreStep:
        if self.sku and self.elastic_pool_id:
            raise ValueError("give sku or elastic_pool_id, not both (a database in a pool takes the pool's SKU)")
        source_server, _, source_name = self.source_database_id.rsplit("/", 2)
        production = self.target_database or source_name
        if self.drill_target_database and self.drill_target_database.lower() == production.lower():
            raise ValueError("drill_target_database must differ from the production target name")
        # ARM ids and database names compare case-insensitively.
        if source_server.lower() == self.target_server_id.lower():
            for field, name in (("target_database", production), ("drill_target_database", self.drill_target_database)):
                if name is not None and name.lower() == source_name.lower():
                    raise ValueError(
                        f"target_server_id is the source database's own server and {field} is its name "
                        f"({name!r}): the restore would target the database it restores from"
                    )
        return self


class SqlFailoverGroupStep(StepBase):
    kind: Literal["sql_failover_group"]
    failover_group_id: str = Field(
        pattern=SQL_SERVER_ID_PATTERN + r"/failoverGroups/[^/]+$",
        description="The group on the server to promote (the current secondary).",
    )
    failover_mode: Literal["planned", "forced", "planned_then_forced"] = Field(
        "planned",
        description="planned: no data loss, needs the primary to answer (FailoverGroups_Failover); forced: "
        "promote at once, losing the replication lag (FailoverGroups_ForceFailoverAllowDataLoss); "
        "planned_then_forced: Azure's FailoverGroups_TryPlannedBeforeForcedFailover, planned while the "
        "primary answers, forced when it cannot.",
    )
    timeout: Duration | None = timedelta(minutes=30)

    @model_validator(mode="before")
    @classmethod
    def _allow_data_loss_alias(cls, data: Any) -> Any:
        """``allow_data_loss`` (deprecated; plans written before failover_mode keep working): true means
        forced, false means planned. Given with a failover_mode that says otherwise, the plan is ambiguous."""
        if not isinstance(data, dict) or "allow_data_loss" not in data:
            return data
        data = dict(data)
        allow = data.pop("allow_data_loss")
        if not isinstance(allow, bool):
            raise ValueError("allow_data_loss (deprecated) must be true or false; use failover_mode instead")
        implied = "forced" if allow else "planned"
        given = data.get("failover_mode")
        if given is not None and given != implied:
            raise ValueError(
                f"allow_data_loss: {str(allow).lower()} (deprecated, means failover_mode: {implied}) conflicts "
                f"with failover_mode: {given}; give failover_mode alone"
            )
        data["failover_mode"] = implied
        return data


class TrafficManagerFailoverStep(StepBase):
    """Move a Traffic Manager profile's traffic from the primary's endpoints to the secondary's.

    switch: ``disable`` (Priority or Weighted) disables from_endpoints and enables to_endpoints;
    ``swap_priorities`` (Priority) gives to_endpoints the best priorities, the rest keep their order;
    ``shift_weight`` (Weighted) gives to_endpoints ``to_weight`` and from_endpoints weight 1 (kept enabled).
    """

    kind: Literal["traffic_manager_failover"]
    profile_id: TrafficManagerProfileId
    from_endpoints: list[str] = Field(min_length=1)
    to_endpoints: list[str] = Field(min_length=1)
    switch: Literal["disable", "swap_priorities", "shift_weight"] = "disable"
    health_url: str | None = Field(None, pattern=r"^https?://\S+$")
    health_expect_status: int = Field(200, ge=100, le=599, description="What the plan's health_url answers.")
    strict_tls: bool = Field(
        False,
        description="Validate the HTTPS health probe's certificate chain and name. Default: like Traffic "
        "Manager's own HTTPS probe, a certificate must be presented but is not validated.",
    )
    probe_timeout: Duration = timedelta(seconds=10)
    to_weight: int = Field(1000, ge=1, le=1000, description="Weight to_endpoints get with shift_weight.")
    verify_window: Duration = timedelta(minutes=5)
    poll_interval: Duration = timedelta(seconds=10)
    cooldown: Duration = timedelta(hours=1)
    drill_profile_id: TrafficManagerProfileId | None = None
    timeout: Duration | None = timedelta(minutes=15)

    @model_validator(mode="after")
    def _endpoints_distinct(self) -> TrafficManagerFailoverStep:
        both = sorted(set(self.from_endpoints) & set(self.to_endpoints))
        if both:
            raise ValueError(f"endpoint(s) {', '.join(both)} are in both from_endpoints and to_endpoints")
        for field in ("from_endpoints", "to_endpoints"):
            names = getattr(self, field)
            if len(set(names)) != len(names):
                raise ValueError(f"{field} names an endpoint twice")
        if self.drill_profile_id is not None and self.drill_profile_id.lower() == self.profile_id.lower():
            raise ValueError("drill_profile_id must name a test profile, not the production profile_id")
        return self


class HealthCheckStep(StepBase):
    kind: Literal["health_check"]
    url: str = Field(pattern=r"^https?://\S+$")
    expect_status: int = Field(200, ge=100, le=599)
    expect_body_contains: str | None = None
    attempts: int = Field(3, ge=1, le=100)
    interval: Duration = timedelta(seconds=10)
    request_timeout: Duration = timedelta(seconds=10)
    timeout: Duration | None = timedelta(minutes=10)


# A plan step: the parameters of one of the kinds. The registry of kinds (dr.steps.REGISTRY) pairs each of
# these models with its implementation and checks, when it is imported, that it names the same kinds.
Step = Annotated[
    BlobBackupStep | SqlGeoRestoreStep | SqlFailoverGroupStep | TrafficManagerFailoverStep | HealthCheckStep,
    Field(discriminator="kind"),
]


class TriggerCriteria(_Model):
    """An alert matches when any listed criterion matches (and its severity passes the filter)."""

    alert_rules: list[str] = Field(default_factory=list)
    target_resource_ids: list[str] = Field(default_factory=list)
    severities: list[Severity] = Field(default_factory=list)


class ApprovalPolicy(_Model):
    required: bool = False
    timeout: Duration = timedelta(minutes=15)
    on_timeout: Literal["proceed", "abort"] = "abort"


class DrillPolicy(_Model):
    """How a drill differs from a failover: names (per-step parameter overrides), skipped steps, teardown."""

    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    skip_steps: list[str] = Field(default_factory=list)
    teardown: bool = True
    approval_required: bool = False
    failover_values: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Written by for_mode into a drill's snapshot (any value in a plan file is replaced): per "
        "step, the failover values of the parameters the overrides replaced, so a drill can tell where a "
        "failover would write.",
    )
    schedule: str | None = Field(
        None,
        description="NCRONTAB, six fields, UTC (seconds first, as timer triggers): when a drill of this plan "
        "starts on its own (the scheduled_drills timer, once per due time).",
    )

    @field_validator("schedule")
    @classmethod
    def _ncrontab(cls, value: str | None) -> str | None:
        if value is not None:
            parse_ncrontab(value)  # ScheduleError (a ValueError) says what is wrong
        return value


class PrimaryHealthPolicy(_Model):
    """Before a failback changes anything, the primary must answer healthily this many probes in a row, spread
    over ``over`` (a region that has just come back often flaps: one good probe proves nothing)."""

    urls: list[Annotated[str, Field(pattern=r"^https?://\S+$")]] = Field(
        default_factory=list,
        description="Default: the health URLs of the failback's traffic and health_check steps (the primary's).",
    )
    probes: int = Field(5, ge=1, le=100, description="Consecutive healthy probes (of every URL) required.")
    over: Duration = Field(timedelta(minutes=10), description="The probes are spread evenly over this window.")
    expect_status: int = Field(200, ge=100, le=599)
    request_timeout: Duration = timedelta(seconds=10)
    give_up_after: Duration = Field(
        timedelta(hours=1), description="No healthy streak by then: the failback ends without changing anything."
    )


class FailbackPolicy(_Model):
    """How the way home differs from the way out. The failback plan is derived (dr.failback): every step
    reversed in place (same ids, same 'after' order: data home first, then traffic, then verification)."""

    primary_health: PrimaryHealthPolicy = Field(default_factory=PrimaryHealthPolicy)
    blob_conflicts: Literal["keep_newer", "overwrite"] = Field(
        "keep_newer",
        description="Copying back, a primary blob newer than its secondary copy is kept and reported "
        "(keep_newer) or overwritten and reported (overwrite).",
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per step id: parameters of the reversed step (e.g. the primary's health_url).",
    )
    skip_steps: list[str] = Field(default_factory=list)
    approval_timeout: Duration = Field(timedelta(hours=1), description="A failback always waits for an approver.")
    trigger: TriggerCriteria | None = Field(
        None,
        description="Alerts about the secondary: while failed over (after the cool-down) they start a failback, "
        "which still waits for approval.",
    )


class PlanRegions(_Model):
    """Names of the two sides, for statuses and reports ('active: westus')."""

    primary: str = "primary"
    secondary: str = "secondary"


class NotifyPolicy(_Model):
    """Where a run tells people it waits for approval, finished or failed (dr.notify). A webhook URL (Teams,
    Slack, a Logic App) is a secret anyone holding it can post with: the plan names the app setting that holds
    it, never the URL."""

    webhook_url_setting: str = Field(
        description="The app setting (DR_NOTIFY_<NAME>) holding the webhook URL; read when a notification goes out."
    )
    on: list[Literal["approval_wait", "finished", "failed"]] = Field(
        ["approval_wait", "finished", "failed"],
        min_length=1,
        description="approval_wait: a run waits for an approver; finished: it ended with the service recovered "
        "(Succeeded, PartiallySucceeded); failed: it ended otherwise (Failed, Canceled, Rejected).",
    )

    @field_validator("webhook_url_setting")
    @classmethod
    def _a_setting_name(cls, value: str) -> str:
        if not re.fullmatch(NOTIFY_SETTING_PATTERN, value):
            # Never echo the value: it may be the very URL that must stay out of plans, logs and statuses.
            raise ValueError(
                "must name an app setting DR_NOTIFY_<NAME> (capitals, digits, _) that holds the webhook URL; "
                "the URL itself never goes in a plan"
            )
        return value


class Plan(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    trigger: TriggerCriteria = Field(default_factory=TriggerCriteria)
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    steps: list[Step] = Field(min_length=1)
    drill: DrillPolicy = Field(default_factory=DrillPolicy)
    # A step starts as soon as its own 'after' steps succeeded, up to this many at once (AWS ARC Region
    # switch allows 20 parallel steps in a plan of up to 100).
    max_parallel_steps: int = Field(20, ge=1, le=100)
    # The data-loss gate: an alert-started failover whose predicted RPO (from its pre-flight checks, dr.whatif)
    # exceeds this waits for an approver who sees the predicted loss per data store, or is refused outright.
    rpo_budget: Duration | None = None
    rpo_budget_exceeded: Literal["approve", "abort"] = "approve"
    notify: NotifyPolicy | None = None
    failback: FailbackPolicy = Field(default_factory=FailbackPolicy)
    regions: PlanRegions = Field(default_factory=PlanRegions)
    # Anti-flap: within this long after a failover or failback of this plan, an alert starts no run of it;
    # the refusal says why and until when (an operator may still start one, which then waits for approval).
    cooldown: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _check_graph(self) -> Plan:
        ids = [step.id for step in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate step ids: {', '.join(duplicates)}")
        known = set(ids)
        for step in self.steps:
            unknown = [dep for dep in step.after if dep not in known]
            if unknown:
                raise ValueError(f"step {step.id!r}: 'after' names unknown step(s): {', '.join(unknown)}")
            if step.id in step.after:
                raise ValueError(f"step {step.id!r}: 'after' names the step itself")
        cycle = _find_cycle({step.id: list(step.after) for step in self.steps})
        if cycle:
            raise ValueError(f"steps form a cycle: {' -> '.join(cycle)}")
        for where, names in (
            ("drill.skip_steps", self.drill.skip_steps),
            ("drill.overrides", self.drill.overrides),
            ("failback.skip_steps", self.failback.skip_steps),
            ("failback.overrides", self.failback.overrides),
        ):
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ValueError(f"{where} names unknown step(s): {', '.join(unknown)}")
        if self.drill.overrides or self.drill.skip_steps:
            self._check_drill()
        for step_id, overrides in self.failback.overrides.items():
            for key in ("id", "kind", "after"):
                if key in overrides:
                    raise ValueError(f"failback.overrides.{step_id}.{key}: a failback cannot change a step's {key}")
        return self

    def _check_drill(self) -> None:
        """The drill's overrides and skips make a valid plan, checked when the plan loads rather than when a
        drill starts: the plan a drill runs (:func:`_drill_document`, what for_mode validates) is validated
        here, its errors named by the override they come from (``drill.overrides.<step>.<key>``)."""
        for step_id, overrides in self.drill.overrides.items():
            for key in ("id", "kind"):
                if key in overrides:
                    raise ValueError(f"drill.overrides.{step_id}.{key}: a drill cannot change a step's {key}")
        document = _drill_document(self)  # no overrides left in it: validating it does not come back here
        try:
            Plan.model_validate(document)
        except ValidationError as exc:
            raise ValueError(
                "; ".join(_describe(error, document, drill_overrides=True) for error in exc.errors())
            ) from None

    def step(self, step_id: str) -> StepBase:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise NotFoundError(f"plan {self.name!r} has no step {step_id!r}")

    def for_mode(self, mode: Mode) -> Plan:
        """The plan as a run in this mode executes it: a drill applies its overrides and skips. A failback's
        plan also depends on the failover it undoes: dr.failback.failback_plan derives it."""
        if mode == "failback":
            raise PlanError("a failback's plan is derived from the failover it undoes (dr.failback.failback_plan)")
        if mode == "failover":
            return self
        return parse_plan(_drill_document(self), source=f"plan {self.name!r} with its drill overrides")


def _drill_document(plan: Plan) -> dict[str, Any]:
    """The document of the plan a drill runs: each step with its drill overrides applied, skipped steps left
    out (and out of every 'after'), the drill's approval rule, and per step the failover values its overrides
    replaced. The one place overrides are applied: for_mode validates the result as the drill's plan, the
    plan's own validator validates it when the plan loads."""
    data = plan.model_dump(mode="json")
    skipped = set(plan.drill.skip_steps)
    steps = []
    replaced: dict[str, dict[str, Any]] = {}
    for raw in data["steps"]:
        if raw["id"] in skipped:
            continue
        overrides = plan.drill.overrides.get(raw["id"], {})
        if overrides:
            replaced[raw["id"]] = {key: raw[key] for key in overrides if key in raw}
        raw.update(overrides)
        raw["after"] = [dep for dep in raw["after"] if dep not in skipped]
        steps.append(raw)
    data["steps"] = steps
    data["approval"]["required"] = plan.drill.approval_required
    # Overrides and skips are applied: the snapshot keeps what teardown and the drill's checks need.
    data["drill"].update(overrides={}, skip_steps=[], failover_values=replaced)
    return data


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in the 'after' graph, as a path that starts and ends at the same step, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in graph[node]:
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


# -- loading ------------------------------------------------------------------------------------------


def parse_plan(data: Any, *, source: str = "<plan>") -> Plan:
    """Validate a plan document; errors name the file, the step id and the field."""
    if not isinstance(data, dict):
        raise PlanError(f"{source}: a plan is a mapping of keys (name, steps, ...), got {type(data).__name__}")
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(f"{source}: " + "; ".join(_describe(error, data) for error in exc.errors())) from None


def _located(error: Any, data: dict[str, Any]) -> tuple[str | None, str, str]:
    """One validation error as (step id, dotted field, message): the step by its id (pydantic gives its
    index), the kind tag pydantic inserts dropped, and a suggestion for a misspelled kind or key."""
    from .steps import REGISTRY

    loc = list(error["loc"])
    model: type[BaseModel] | None = Plan  # the model the rest of loc is in, when known
    step_id: str | None = None
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps") or []
        raw = steps[loc[1]] if loc[1] < len(steps) and isinstance(steps[loc[1]], dict) else {}
        step_id = str(raw.get("id", f"#{loc[1] + 1}"))
        loc, model = loc[2:], None
        if loc and loc[0] in REGISTRY:  # the discriminator tag pydantic inserts
            model = REGISTRY[loc[0]].params
            loc = loc[1:]
    field = ".".join(str(part) for part in loc)
    message = str(error["msg"]).removeprefix("Value error, ") + _did_you_mean(error, model, loc)
    return step_id, field, message


def _where(step_id: str | None, field: str) -> str:
    where = [f"step {step_id!r}"] if step_id is not None else []
    if field:
        where.append(f"field {field!r}")
    return ", ".join(where)


def _describe(error: Any, data: dict[str, Any], *, drill_overrides: bool = False) -> str:
    """One validation error, located by step id and field (``step 'db', field 'sku': ...``), with a
    suggestion for a misspelled kind or key. ``drill_overrides``: ``data`` is a drill's document (see
    :func:`_drill_document`), and the error is located in the plan's ``drill.overrides.<step>.<key>``."""
    step_id, field, message = _located(error, data)
    if drill_overrides and step_id is not None:
        return f"{'.'.join(part for part in ('drill.overrides', step_id, field) if part)}: {message}"
    where = _where(step_id, field)
    described = f"{where}: {message}" if where else message
    # Not in a step (the graph, every step skipped): the drill's plan as a whole.
    return f"drill: {described}" if drill_overrides else described


def _did_you_mean(error: Any, model: type[BaseModel] | None, loc: Sequence[int | str]) -> str:
    """`` (did you mean 'blob_backup'?)`` for an unknown kind or key close to a known one, else ''."""
    from .steps import kind_names

    if error["type"] == "union_tag_invalid":  # an unknown kind
        word, known = str(error.get("ctx", {}).get("tag", "")), sorted(kind_names())
    elif error["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):  # an unknown key
        owner = _model_at(model, loc[:-1])
        if owner is None:
            return ""
        word, known = loc[-1], list(owner.model_fields)
    else:
        return ""
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_at(model: type[BaseModel] | None, path: Sequence[int | str]) -> type[BaseModel] | None:
    """The model a location inside ``model`` is in (``['approval']`` in Plan: ApprovalPolicy), if known."""
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):  # an item of a list: the list's model
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field's annotation holds (``BlobLocation``, ``list[Step]``'s kinds excepted), if one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = {found for arg in get_args(annotation) if (found := _model_in(arg)) is not None}
    return models.pop() if len(models) == 1 else None


class PlanProblem(_Model):
    """Why a plan file does not load: the file, the key in it (dotted, steps by id: ``steps.db.url``; None for
    the file as a whole) and what is wrong."""

    file: str
    key: str | None
    message: str

    def describe(self) -> str:
        """As plan errors read elsewhere: ``step 'db', field 'url': ...`` (step ids hold no dot)."""
        if self.key is None:
            return self.message
        head, _, rest = self.key.partition(".")
        step_id, _, field = rest.partition(".") if head == "steps" else (None, "", self.key)
        where = _where(step_id, field)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class PlanFile:
    """One file of the plans folder as read once: its content digest and its plan, or its problems."""

    path: Path
    digest: str
    name: str | None = None  # the plan's name (a broken file's, when it names one)
    plan: Plan | None = None
    problems: list[PlanProblem] = dataclass_field(default_factory=list)

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def broken(self) -> bool:
        return self.plan is None

    def error(self) -> str:
        """The problems as one line, prefixed with the file's path."""
        return f"{self.path}: " + "; ".join(problem.describe() for problem in self.problems)


# Read plan files by (path, content digest): every alert reads every plan (a region's outage fires many alerts
# at once, each matched against every plan), and parsing and validating YAML is most of that cost. A changed
# file has a new digest and is parsed again. Bounded: a few entries per plan file at most ever matter.
_READ_PLANS: dict[tuple[str, str], PlanFile] = {}
_READ_PLANS_KEPT = 1024
_read_lock = threading.Lock()


def read_plan_file(path: Path) -> PlanFile:
    """The file's digest and plan (or problems), from one read of its bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = PlanProblem(file=path.name, key=None, message=f"cannot read ({exc.strerror})")
        return PlanFile(path, "", problems=[problem])
    key = (str(path), hashlib.sha256(raw).hexdigest())
    with _read_lock:
        cached = _READ_PLANS.get(key)
    if cached is None:
        cached = _parse_plan_file(path, key[1], raw)
        with _read_lock:
            if len(_READ_PLANS) >= _READ_PLANS_KEPT:
                _READ_PLANS.clear()
            _READ_PLANS[key] = cached
    return cached


def _parse_plan_file(path: Path, digest: str, raw: bytes) -> PlanFile:
    def broken(message: str) -> PlanFile:
        return PlanFile(path, digest, problems=[PlanProblem(file=path.name, key=None, message=message)])

    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return broken("not UTF-8 text")
    except yaml.YAMLError as exc:
        return broken(f"not valid YAML: {exc}")
    if not isinstance(data, dict):
        return broken(f"a plan is a mapping of keys (name, steps, ...), got {type(data).__name__}")
    name = data.get("name") if isinstance(data.get("name"), str) else None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            step_id, field, message = _located(error, data)
            key = ".".join(part for part in ("steps" if step_id is not None else "", step_id or "", field) if part)
            problems.append(PlanProblem(file=path.name, key=key or None, message=message))
        return PlanFile(path, digest, name=name, problems=problems)
    return PlanFile(path, digest, name=plan.name, plan=plan)


def load_plan_file(path: Path) -> Plan:
    item = read_plan_file(path)
    if item.plan is None:
        raise PlanError(item.error())
    return item.plan


def plan_files(plans_dir: Path) -> Iterable[Path]:
    if not plans_dir.is_dir():
        raise PlanError(f"plans folder {plans_dir} does not exist (setting DR_PLANS_DIR)")
    return sorted(p for p in plans_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def scan_plans(plans_dir: Path) -> list[PlanFile]:
    """Every plan file of the folder, in file-name order. A second file that names a plan already named by an
    earlier one is broken. PlanError when the folder does not exist."""
    found: list[PlanFile] = []
    owners: dict[str, str] = {}
    for path in plan_files(plans_dir):
        item = read_plan_file(path)
        if item.plan is not None:
            owner = owners.setdefault(item.plan.name, item.file)
            if owner != item.file:
                message = f"plan name {item.plan.name!r} is already used by {owner}"
                item = PlanFile(path, item.digest, problems=[PlanProblem(file=item.file, key="name", message=message)])
        found.append(item)
    return found


class Catalog(BaseModel):
    """The plans of a folder: the valid ones by name (and the file of each), and an error for each file that
    is not."""

    plans: dict[str, Plan] = Field(default_factory=dict)
    files: dict[str, Path] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)


def load_catalog(plans_dir: Path) -> Catalog:
    """Read every plan file. A broken file is reported, not fatal: during an outage a typo in one plan
    must not stop another plan from running."""
    catalog = Catalog()
    for item in scan_plans(plans_dir):
        if item.plan is None:
            catalog.errors.append(item.error())
        else:
            catalog.plans[item.plan.name] = item.plan
            catalog.files[item.plan.name] = item.path
    return catalog


def load_plans(plans_dir: Path) -> dict[str, Plan]:
    """Every plan in the folder, by name; any broken file fails the load (what CI and tools want)."""
    catalog = load_catalog(plans_dir)
    if catalog.errors:
        raise PlanError("; ".join(catalog.errors))
    return catalog.plans


def find_plan(plans_dir: Path, name: str) -> Plan:
    if not re.match(NAME_PATTERN, name):
        raise PlanError(f"{name!r} is not a plan name")
    files = scan_plans(plans_dir)
    for item in files:
        if item.plan is not None and item.plan.name == name:
            return item.plan
    broken = [item for item in files if item.plan is None and name in (item.name, item.path.stem)]
    if broken:
        raise PlanError(broken[0].error())
    known = ", ".join(sorted(item.plan.name for item in files if item.plan is not None)) or "none"
    raise NotFoundError(f"no plan named {name!r} in {plans_dir} (plans: {known})", code="PlanNotFound")
