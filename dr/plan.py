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
from .settings import NOTIFY_SETTING_PATTERN, WEBHOOK_SETTING_PATTERN

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
CdnProfileId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Cdn/profiles"))]
CdnOriginGroupId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Cdn/profiles/originGroups"))]
DnsZoneId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Network/dnsZones"))]
CosmosAccountId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.DocumentDB/databaseAccounts"))]
PostgresqlServerId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.DBforPostgreSQL/flexibleServers"))]
StorageAccountId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Storage/storageAccounts"))]
AppServicePlanId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Web/serverfarms"))]
WebAppId = Annotated[str, AfterValidator(_arm_id_of("Microsoft.Web/sites"))]


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
    max_parallel_pages: int = Field(
        4, ge=1, le=32, description="Chunks copied at once, a work item each (a listing item runs beside them)."
    )
    copy_concurrency: int = Field(
        32,
        ge=1,
        le=256,
        description="Copies in flight per work item. The items of a step that run on one instance pool theirs: "
        "one that finishes lends its copies to the others, never more in flight than all of them together.",
    )
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


class ManualStep(StepBase):
    """A runbook item a person does and confirms (POST /api/recoveries/{id}/steps/{step}/confirm): the step
    waits for the confirmation until ``timeout``, then fails or goes on as ``on_timeout`` says (like the
    approval gate's policy). ``instructions`` are shown in the run's status, the approval preview and the report."""

    kind: Literal["manual"]
    instructions: str = Field(min_length=1, max_length=2000)
    timeout: Duration = timedelta(hours=1)
    on_timeout: Literal["fail", "continue"] = "fail"
    drill: Literal["confirm", "skip"] = Field(
        "confirm", description="confirm: a drill waits for a person too (the rehearsal); skip: it only reports."
    )

    @field_validator("instructions")
    @classmethod
    def _readable(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("instructions must say what the person does")
        return value.strip()


def _webhook_setting(value: str) -> str:
    if not re.fullmatch(WEBHOOK_SETTING_PATTERN, value):
        # Never echo the value: it may be the very URL (with its token) that must stay out of plans and logs.
        raise ValueError(
            "must name an app setting DR_WEBHOOK_<NAME> (capitals, digits, _) that holds the webhook URL; "
            "the URL itself never goes in a plan"
        )
    return value


WebhookSetting = Annotated[str, AfterValidator(_webhook_setting)]
# What a status URL template may name: the run's context, and values of the webhook's JSON answer
# ({response.JobIds.0}: an Automation webhook's job id).
WEBHOOK_TEMPLATE_FIELDS = ("run_id", "plan", "step", "mode")
_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
_JSON_PATH = r"[A-Za-z0-9_$@\-]+(\.[A-Za-z0-9_$@\-]+)*"


class WebhookStatusPoll(_Model):
    """Follow the job a webhook started at a status URL of the plan's, until a JSON field says done or failed.
    The URL must carry no secret (it is plan data): a status endpoint that needs a key cannot be followed."""

    url: str = Field(
        pattern=r"^https?://\S+$",
        description="Template: {run_id}, {plan}, {step}, {mode}, {response.<path>} (from the webhook's JSON answer).",
    )
    field: str = Field(pattern=rf"^{_JSON_PATH}$", description="Dotted path in the status JSON (properties.status).")
    done: list[str] = Field(min_length=1, description="Values of field that mean the job succeeded.")
    failed: list[str] = Field(default_factory=list, description="Values that mean it failed; others: still running.")

    @field_validator("url")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        for name in _TEMPLATE_FIELD.findall(value):
            path = name.removeprefix("response.")
            if name not in WEBHOOK_TEMPLATE_FIELDS and not (
                name.startswith("response.") and re.fullmatch(_JSON_PATH, path)
            ):
                raise ValueError(
                    f"status url names {{{name}}}: use {', '.join(f'{{{f}}}' for f in WEBHOOK_TEMPLATE_FIELDS)} "
                    "or {response.<path>}"
                )
        return value

    @model_validator(mode="after")
    def _values_distinct(self) -> WebhookStatusPoll:
        both = sorted({v.casefold() for v in self.done} & {v.casefold() for v in self.failed})
        if both:
            raise ValueError(f"status value(s) {', '.join(both)} are in both done and failed")
        return self


class WebhookStep(StepBase):
    """Call an HTTP endpoint (an Automation runbook's webhook, a Logic App's HTTP trigger) with the run's
    context, then follow the job until done: Azure's async pattern (202 Accepted + Location, polled until it
    answers anything but 202) or the plan's ``status`` URL. The URL is a secret: the plan names the app
    setting holding it; reports show its host only."""

    kind: Literal["webhook"]
    url_setting: WebhookSetting
    payload: dict[str, Any] = Field(
        default_factory=dict, description="More JSON sent under 'data' with the run context (plan data: no secrets)."
    )
    status: WebhookStatusPoll | None = None
    poll_interval: Duration = Field(
        timedelta(seconds=15), description="Between status reads, when the endpoint gives no Retry-After."
    )
    request_timeout: Duration = timedelta(seconds=10)
    drill: Literal["call", "skip"] | None = Field(
        None,
        description="skip: a drill reports what it would call; call: it calls drill_url_setting, else url_setting "
        "(the body's mode says drill). Default: call when drill_url_setting is given, else skip.",
    )
    drill_url_setting: WebhookSetting | None = None
    failback_url_setting: WebhookSetting | None = Field(
        None, description="What a failback calls (dr.failback); default: url_setting again, with mode failback."
    )
    timeout: Duration | None = timedelta(hours=1)

    @field_validator("request_timeout")
    @classmethod
    def _request_timeout_in_range(cls, value: timedelta) -> timedelta:
        # An activity must not block long; a webhook that takes longer answers 202 and is followed.
        if not timedelta(seconds=1) <= value <= timedelta(seconds=60):
            raise ValueError(f"request_timeout must be between 1 s and 60 s, got {value.total_seconds():g} s")
        return value

    @model_validator(mode="after")
    def _drill_consistent(self) -> WebhookStep:
        if self.drill == "skip" and self.drill_url_setting is not None:
            raise ValueError("drill: skip calls nothing: drop drill_url_setting, or say drill: call")
        if self.drill_url_setting is not None and self.drill_url_setting == self.url_setting:
            raise ValueError("drill_url_setting must name another setting than url_setting (or use drill: call)")
        return self

    @property
    def drill_calls(self) -> bool:
        return self.drill == "call" or (self.drill is None and self.drill_url_setting is not None)


class FrontDoorOriginsStep(StepBase):
    """Move an Azure Front Door (Standard/Premium) origin group from the primary's origins to the secondary's.

    switch: ``disable`` disables from_origins and enables to_origins; ``priority`` gives to_origins priority 1
    (enabled) and from_origins ``demoted_priority``, left enabled: Front Door sends them traffic again only when
    every priority-1 origin fails its health probes. Verified through the origin group's health (Front Door's
    own probes) and, when given, ``health_url``. A drill only reads, or switches the same-named origin group of
    ``drill_profile_id`` (a test profile) and restores it at teardown.
    """

    kind: Literal["front_door_origins"]
    origin_group_id: CdnOriginGroupId
    from_origins: list[str] = Field(min_length=1)
    to_origins: list[str] = Field(min_length=1)
    switch: Literal["disable", "priority"] = "disable"
    demoted_priority: int = Field(2, ge=2, le=5, description="from_origins' priority with switch: priority.")
    health_url: str | None = Field(None, pattern=r"^https?://\S+$")
    health_expect_status: int = Field(200, ge=100, le=599)
    probe_timeout: Duration = timedelta(seconds=10)
    min_health_percent: float = Field(
        100.0, gt=0, le=100, description="Front Door's OriginHealthPercentage a to_origin must reach."
    )
    verify_window: Duration = timedelta(minutes=10)
    poll_interval: Duration = timedelta(seconds=15)
    drill_profile_id: CdnProfileId | None = None
    timeout: Duration | None = timedelta(minutes=30)

    @model_validator(mode="after")
    def _origins_distinct(self) -> FrontDoorOriginsStep:
        both = sorted({n.lower() for n in self.from_origins} & {n.lower() for n in self.to_origins})
        if both:
            raise ValueError(f"origin(s) {', '.join(both)} are in both from_origins and to_origins")
        for field in ("from_origins", "to_origins"):
            names = [name.lower() for name in getattr(self, field)]
            if len(set(names)) != len(names):
                raise ValueError(f"{field} names an origin twice")
        profile_id = self.origin_group_id.rsplit("/", 2)[0]
        if self.drill_profile_id is not None and self.drill_profile_id.lower() == profile_id.lower():
            raise ValueError("drill_profile_id must name a test profile, not the profile of origin_group_id")
        return self


# A record set name relative to its zone ("www", "shop.eu"); "@" (the apex) cannot hold a CNAME (RFC 1034 3.6.2:
# a CNAME owner has no other data, and the apex has SOA and NS).
_DNS_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
DNS_RELATIVE_NAME_PATTERN = rf"^(\*|{_DNS_LABEL})(\.{_DNS_LABEL})*$"
DNS_HOST_PATTERN = rf"^{_DNS_LABEL}(\.{_DNS_LABEL})+\.?$"


def dns_name(value: str) -> str:
    """A host name as DNS compares it: case-insensitive, with or without the root's trailing dot."""
    return value.rstrip(".").lower()


class DnsRecordSwitchStep(StepBase):
    """Point a CNAME record of an Azure DNS zone from one target to another: the Front Door bypass (the public
    name from the Front Door endpoint to a pre-staged Traffic Manager profile) or back.

    Desired state: a record already on ``to_target`` is left alone; one on neither target is refused (someone
    else changed it). The write carries the record's etag (If-Match), so a concurrent change is never
    overwritten. Clients follow within the record's TTL. A drill switches ``drill_record`` (another name in the
    zone, restored or deleted at teardown) or only reads.
    """

    kind: Literal["dns_record_switch"]
    zone_id: DnsZoneId
    record: str = Field(pattern=DNS_RELATIVE_NAME_PATTERN, description="The CNAME's name relative to the zone.")
    from_target: str = Field(pattern=DNS_HOST_PATTERN, max_length=254)
    to_target: str = Field(pattern=DNS_HOST_PATTERN, max_length=254)
    drill_record: str | None = Field(None, pattern=DNS_RELATIVE_NAME_PATTERN)
    health_url: str | None = Field(None, pattern=r"^https?://\S+$", description="Where to_target serves.")
    health_expect_status: int = Field(200, ge=100, le=599)
    probe_timeout: Duration = timedelta(seconds=10)
    verify_window: Duration = timedelta(minutes=2)
    poll_interval: Duration = timedelta(seconds=5)
    timeout: Duration | None = timedelta(minutes=10)

    @model_validator(mode="after")
    def _targets_differ(self) -> DnsRecordSwitchStep:
        if dns_name(self.from_target) == dns_name(self.to_target):
            raise ValueError("from_target and to_target are the same host name")
        if self.drill_record is not None and self.drill_record.lower() == self.record.lower():
            raise ValueError("drill_record must name another record than record")
        return self


# An Azure region name as ARM writes it ("westus") or as Cosmos DB shows it ("West US"); compared without spaces,
# case-insensitively.
REGION_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9]*( [A-Za-z0-9]+)*$"


def region_key(name: str) -> str:
    """A region name as ARM compares it: 'West US' is 'westus'."""
    return name.replace(" ", "").lower()


class CosmosFailoverStep(StepBase):
    """Make ``target_region`` the write region of a Cosmos DB account with a single write region.

    failover_mode: ``planned`` changes the failover priorities (DatabaseAccounts_FailoverPriorityChange: the
    target gets priority 0; Cosmos DB switches once the regions agree, no data loss; needs the current write
    region to answer); ``forced`` takes the current write region offline (DatabaseAccounts_OfflineRegion: the
    region of best priority left becomes the write region; what it had not replicated is lost, bounded by the
    account's consistency); ``planned_then_forced`` forces only when the planned change cannot complete. A
    drill only reads. The write region before the change is recorded for the failback.
    """

    kind: Literal["cosmos_failover"]
    account_id: CosmosAccountId
    target_region: str = Field(pattern=REGION_NAME_PATTERN, max_length=60)
    failover_mode: Literal["planned", "forced", "planned_then_forced"] = "planned"
    timeout: Duration | None = timedelta(minutes=30)


# A flexible server's name: 3-63 lowercase letters, digits and hyphens, no hyphen at either end (Servers_Get).
POSTGRESQL_SERVER_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$"


class PostgresqlPromoteStep(StepBase):
    """Azure Database for PostgreSQL flexible server in the secondary region, by one of two methods.

    ``promote_replica``: PATCH the read replica ``replica_server_id`` with replica.promoteMode Standalone and
    promoteOption Planned (waits until the replica has all the primary's data: needs the primary) or Forced (at
    once: loses the replica's lag); ``planned_then_forced`` is planned while the primary answers. A drill only
    reads the replica. ``geo_restore``: create ``target_server_id`` in ``target_location`` (the source's paired
    region) from ``source_server_id``'s geo-redundant backup (createMode GeoRestore); a drill restores into
    ``drill_target_server_id`` (default: the target's name with a '-drill' suffix), which teardown deletes.
    """

    kind: Literal["postgresql_promote"]
    method: Literal["promote_replica", "geo_restore"] = "promote_replica"
    replica_server_id: PostgresqlServerId | None = None
    promote_option: Literal["planned", "forced", "planned_then_forced"] = "planned"
    source_server_id: PostgresqlServerId | None = None
    target_server_id: PostgresqlServerId | None = None
    target_location: str | None = Field(None, pattern=REGION_NAME_PATTERN, max_length=60)
    drill_target_server_id: PostgresqlServerId | None = None
    timeout: Duration | None = timedelta(hours=2)

    @model_validator(mode="after")
    def _method_fields(self) -> PostgresqlPromoteStep:
        given = {
            name
            for name in ("replica_server_id", "source_server_id", "target_server_id", "target_location")
            if getattr(self, name) is not None
        } | ({"drill_target_server_id"} if self.drill_target_server_id else set())
        if self.method == "promote_replica":
            needed, unused = {"replica_server_id"}, given - {"replica_server_id"}
        else:
            needed = {"source_server_id", "target_server_id", "target_location"}
            unused = given & {"replica_server_id"}
        missing = sorted(needed - given)
        if missing:
            raise ValueError(f"method {self.method} needs {', '.join(missing)}")
        if unused:
            raise ValueError(f"method {self.method} does not use {', '.join(sorted(unused))}")
        names = [self.target_server_id, self.drill_target_server_id, self.replica_server_id]
        for server_id in (value for value in names if value):
            name = server_id.rstrip("/").rsplit("/", 1)[-1]
            if not re.fullmatch(POSTGRESQL_SERVER_NAME_PATTERN, name):
                raise ValueError(
                    f"server name {name!r}: 3-63 lowercase letters, digits and hyphens, not starting or ending "
                    "with a hyphen"
                )
        ids = [value.lower() for value in (self.source_server_id, self.target_server_id) if value]
        if len(ids) == 2 and ids[0] == ids[1]:
            raise ValueError("target_server_id is the source server itself: a geo-restore creates a new server")
        drill = (self.drill_target_server_id or "").lower()
        if drill and drill in ids:
            raise ValueError("drill_target_server_id must name another server than the source and the target")
        return self


class StorageAccountFailoverStep(StepBase):
    """Customer-managed failover of a geo-redundant storage account (Microsoft.Storage StorageAccounts_Failover).

    ``unplanned``: the secondary becomes the primary at once and the account becomes LRS; writes after its Last
    Sync Time are lost. ``planned``: Azure synchronises first and swaps the regions (no loss, stays geo-redundant;
    needs both regions up). ``planned_if_available``: planned while the primary answers, unplanned otherwise. A
    drill only reads the account and reports what a failover would do and lose.
    """

    kind: Literal["storage_account_failover"]
    account_id: StorageAccountId
    target_location: str = Field(
        pattern=REGION_NAME_PATTERN,
        max_length=60,
        description="The region the account's primary must be in afterwards (its secondary before the failover): "
        "an account already primary there is left alone.",
    )
    failover_type: Literal["planned", "unplanned", "planned_if_available"] = "unplanned"
    poll_interval: Duration = timedelta(seconds=30)
    timeout: Duration | None = timedelta(hours=2)


class AppScaleStep(StepBase):
    """Start or scale out standby compute: an App Service plan to ``instance_count`` instances (``at_least``: never
    scaled down by a failover; ``exactly``: a failback's) and apps to ``site_state``. A drill acts on its
    ``drill_plan_id`` / ``drill_site_ids`` (put back by teardown), else only reads production."""

    kind: Literal["app_scale"]
    plan_id: AppServicePlanId | None = None
    instance_count: int | None = Field(None, ge=1, le=100)
    scale: Literal["at_least", "exactly"] = "at_least"
    site_ids: list[WebAppId] = Field(default_factory=list)
    site_state: Literal["Running", "Stopped"] = "Running"
    drill_plan_id: AppServicePlanId | None = None
    drill_site_ids: list[WebAppId] = Field(default_factory=list)
    poll_interval: Duration = timedelta(seconds=10)
    timeout: Duration | None = timedelta(minutes=30)

    @model_validator(mode="after")
    def _consistent(self) -> AppScaleStep:
        if (self.plan_id is None) != (self.instance_count is None):
            raise ValueError("give plan_id and instance_count together (the plan to scale and its instance count)")
        if self.plan_id is None and not self.site_ids:
            raise ValueError("give plan_id and instance_count, site_ids, or both: the step has nothing to do")
        for field, ids in (("site_ids", self.site_ids), ("drill_site_ids", self.drill_site_ids)):
            if len({value.lower() for value in ids}) != len(ids):
                raise ValueError(f"{field} names an app twice")
        if self.drill_plan_id is not None:
            if self.plan_id is None:
                raise ValueError("drill_plan_id stands in for plan_id in a drill: give plan_id too")
            if self.drill_plan_id.lower() == self.plan_id.lower():
                raise ValueError("drill_plan_id must name a test plan, not the production plan_id")
        if self.drill_site_ids:
            if not self.site_ids:
                raise ValueError("drill_site_ids stand in for site_ids in a drill: give site_ids too")
            shared = {value.lower() for value in self.drill_site_ids} & {value.lower() for value in self.site_ids}
            if shared:
                names = ", ".join(sorted(shared))
                raise ValueError(f"drill_site_ids must name test apps, not production ones: {names}")
        return self


# A plan step: the parameters of one of the kinds. The registry of kinds (dr.steps.REGISTRY) pairs each of
# these models with its implementation and checks, when it is imported, that it names the same kinds.
Step = Annotated[
    BlobBackupStep
    | SqlGeoRestoreStep
    | SqlFailoverGroupStep
    | TrafficManagerFailoverStep
    | HealthCheckStep
    | ManualStep
    | WebhookStep
    | FrontDoorOriginsStep
    | DnsRecordSwitchStep
    | CosmosFailoverStep
    | PostgresqlPromoteStep
    | StorageAccountFailoverStep
    | AppScaleStep,
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


# libyaml's loader when PyYAML has it (the wheels do): about ten times faster than the pure-Python one, which
# matters when the first alert of a storm parses every plan of the folder. Same safe schema, same error marks.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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
        data = yaml.load(raw.decode("utf-8"), Loader=_YAML_LOADER)
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
