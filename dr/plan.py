"""DR plans: YAML files validated into pydantic models.

The keys below are a contract (tools outside the app write plans with them); kinds add optional keys freely.
A plan is read when a run starts and travels, frozen, in the orchestration input: replays never re-read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .durations import Duration
from .errors import NotFoundError, PlanError

Mode = Literal["failover", "drill"]
Severity = Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$"
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,62}$"
ARM_ID_PATTERN = r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/.+"


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


class BlobBackupStep(StepBase):
    kind: Literal["blob_backup"]
    source: BlobLocation
    target: BlobLocation
    prefix: str = ""
    mirror_deletes: bool = False
    on_source_unavailable: Literal["continue", "fail"] = "continue"
    page_size: int = Field(1000, ge=10, le=5000)
    max_parallel_pages: int = Field(4, ge=1, le=32)
    copy_concurrency: int = Field(32, ge=1, le=256)
    # How long to wait for an account, and how often to retry a throttled or failed request (SDK retry
    # policy, doubling backoff): at failover this bounds the wait before the source counts as unreachable.
    request_timeout: Duration = timedelta(seconds=30)
    retry_attempts: int = Field(4, ge=0, le=10)
    retry_backoff: Duration = timedelta(seconds=1)


# A SQL server id (ARM ids are case-insensitive); databases, pools and failover groups hang below it.
SQL_SERVER_ID_PATTERN = r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Sql/servers/[^/]+"
# Azure SQL database names: 1-128 characters, none of <>*%&:\/? and no trailing dot or space.
SQL_DATABASE_NAME_PATTERN = r"^[^<>*%&:\\/?\s.]([^<>*%&:\\/?]{0,126}[^<>*%&:\\/?\s.])?$"


class SqlGeoRestoreStep(StepBase):
    kind: Literal["sql_geo_restore"]
    source_database_id: str = Field(pattern=SQL_SERVER_ID_PATTERN + r"/databases/[^/]+$")
    target_server_id: str = Field(pattern=SQL_SERVER_ID_PATTERN + r"$")
    target_database: str | None = Field(None, pattern=SQL_DATABASE_NAME_PATTERN)
    sku: str | None = Field(None, description="Service objective of the restored database (e.g. S0, GP_Gen5_2).")
    elastic_pool_id: str | None = Field(None, pattern=SQL_SERVER_ID_PATTERN + r"/elasticPools/[^/]+$")
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
        production = self.target_database or self.source_database_id.rsplit("/", 1)[-1]
        if self.drill_target_database and self.drill_target_database.lower() == production.lower():
            raise ValueError("drill_target_database must differ from the production target name")
        return self


class SqlFailoverGroupStep(StepBase):
    kind: Literal["sql_failover_group"]
    failover_group_id: str = Field(
        pattern=SQL_SERVER_ID_PATTERN + r"/failoverGroups/[^/]+$",
        description="The group on the server to promote (the current secondary).",
    )
    allow_data_loss: bool = False
    timeout: Duration | None = timedelta(minutes=30)


TRAFFIC_PROFILE_ID_PATTERN = ARM_ID_PATTERN + r"trafficManagerProfiles/[^/]+$"


class TrafficManagerFailoverStep(StepBase):
    """Move a Traffic Manager profile's traffic from the primary's endpoints to the secondary's.

    switch: ``disable`` (Priority or Weighted) disables from_endpoints and enables to_endpoints;
    ``swap_priorities`` (Priority) gives to_endpoints the best priorities, the rest keep their order;
    ``shift_weight`` (Weighted) gives to_endpoints ``to_weight`` and from_endpoints weight 1 (kept enabled).
    """

    kind: Literal["traffic_manager_failover"]
    profile_id: str = Field(pattern=TRAFFIC_PROFILE_ID_PATTERN)
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
    drill_profile_id: str | None = Field(None, pattern=TRAFFIC_PROFILE_ID_PATTERN)
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


class Plan(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    trigger: TriggerCriteria = Field(default_factory=TriggerCriteria)
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    steps: list[Step] = Field(min_length=1)
    drill: DrillPolicy = Field(default_factory=DrillPolicy)

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
        for where, names in (("drill.skip_steps", self.drill.skip_steps), ("drill.overrides", self.drill.overrides)):
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ValueError(f"{where} names unknown step(s): {', '.join(unknown)}")
        return self

    def step(self, step_id: str) -> StepBase:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise NotFoundError(f"plan {self.name!r} has no step {step_id!r}")

    def for_mode(self, mode: Mode) -> Plan:
        """The plan as a run in this mode executes it: a drill applies its overrides and skips."""
        if mode == "failover":
            return self
        data = self.model_dump(mode="json")
        skipped = set(self.drill.skip_steps)
        steps = []
        replaced: dict[str, dict[str, Any]] = {}
        for raw in data["steps"]:
            if raw["id"] in skipped:
                continue
            overrides = self.drill.overrides.get(raw["id"], {})
            if overrides:
                replaced[raw["id"]] = {key: raw[key] for key in overrides if key in raw}
            raw.update(overrides)
            raw["after"] = [dep for dep in raw["after"] if dep not in skipped]
            steps.append(raw)
        data["steps"] = steps
        data["approval"]["required"] = self.drill.approval_required
        # Overrides and skips are applied: the snapshot keeps what teardown and the drill's checks need.
        data["drill"].update(overrides={}, skip_steps=[], failover_values=replaced)
        return parse_plan(data, source=f"plan {self.name!r} with its drill overrides")


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


def _describe(error: Any, data: dict[str, Any]) -> str:
    from .steps import kind_names

    loc = list(error["loc"])
    where: list[str] = []
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps") or []
        raw = steps[loc[1]] if loc[1] < len(steps) and isinstance(steps[loc[1]], dict) else {}
        where.append(f"step {raw.get('id', f'#{loc[1] + 1}')!r}")
        loc = loc[2:]
        if loc and loc[0] in kind_names():  # the discriminator tag pydantic inserts
            loc = loc[1:]
    field = ".".join(str(part) for part in loc)
    if field:
        where.append(f"field {field!r}")
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{', '.join(where)}: {message}" if where else message


def load_plan_file(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from None
    return parse_plan(data, source=str(path))


def plan_files(plans_dir: Path) -> Iterable[Path]:
    if not plans_dir.is_dir():
        raise PlanError(f"plans folder {plans_dir} does not exist (setting DR_PLANS_DIR)")
    return sorted(p for p in plans_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


class Catalog(BaseModel):
    """The plans of a folder: the valid ones by name, and an error for each file that is not."""

    plans: dict[str, Plan] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)


def load_catalog(plans_dir: Path) -> Catalog:
    """Read every plan file. A broken file is reported, not fatal: during an outage a typo in one plan
    must not stop another plan from running."""
    catalog = Catalog()
    origin: dict[str, Path] = {}
    for path in plan_files(plans_dir):
        try:
            plan = load_plan_file(path)
        except PlanError as exc:
            catalog.errors.append(exc.message)
            continue
        if plan.name in catalog.plans:
            catalog.errors.append(f"{path}: plan name {plan.name!r} is already used by {origin[plan.name]}")
            continue
        catalog.plans[plan.name] = plan
        origin[plan.name] = path
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
    catalog = load_catalog(plans_dir)
    if name in catalog.plans:
        return catalog.plans[name]
    broken = [error for error in catalog.errors if f"name: {name}" in error or f"/{name}." in error]
    if broken:
        raise PlanError(broken[0])
    known = ", ".join(sorted(catalog.plans)) or "none"
    raise NotFoundError(f"no plan named {name!r} in {plans_dir} (plans: {known})", code="PlanNotFound")
