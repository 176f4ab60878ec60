"""Failback: the way home after a failover, derived from the plan and the failover run it undoes.

The failback plan is the failover plan with every step reversed in place: the same ids and the same 'after'
order (data home first, then traffic, then verification), each step pointed the other way:

- ``blob_backup``: secondary → primary; never deletes in the primary, and a primary blob newer than its
  secondary copy is kept and reported (``failback.blob_conflicts``);
- ``sql_failover_group``: a *planned* failover (no data loss: Azure syncs before it swaps roles) back to the
  partner server the failover left, read from the failover's report (``partners``);
- ``sql_geo_restore``: a geo-restore of the restored database back to the primary server (under the original
  name; a stale database of that name in the primary fails pre-flight, and the plan may choose another);
- ``traffic_manager_failover``: from and to endpoints swapped (the profile's anti-flap cool-down applies);
- ``health_check``: as written, with the plan's ``failback.overrides`` (it should now expect the primary).
- ``manual``: as written (a person confirms the way back; ``failback.overrides`` may give other instructions).
- ``webhook``: calls ``failback_url_setting`` when the plan gives one, else the same endpoint again (its body
  says mode failback); drill settings are dropped.
- ``front_door_origins``: from and to origins swapped (the primary's origins enabled, or priority 1, again);
- ``dns_record_switch``: from and to targets swapped (the record points back where the failover found it).
- ``cosmos_failover``: a *planned* failover back to the write region the failover found
  (``original_write_region`` in its report); an old write region taken offline is brought online first.
- ``postgresql_promote``: a geo-restore back into the primary region from the server that served during the
  failover (the promoted replica, or the restored server), named ``<primary>-failback``: it loses the writes
  after the last geo-backup, and its pre-flight says the lossless way home (a new replica, then a switchover) is
  an operator's. The primary's region comes from the failover's report, else ``failback.overrides``.

A step the failover did not complete is left out (there is nothing of it to undo) and the run says so. The
plan's ``failback.overrides`` apply last, and the result is validated as any plan is. Before any change the
orchestrator requires the primary to answer healthily ``probes`` times in a row (:func:`probe_primary`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import PlanError
from .plan import BlobBackupStep, FailbackPolicy, Plan, PrimaryHealthPolicy, parse_plan
from .probe import probe, redact_url

PROBES_KEPT = 20  # the last probes a record keeps (the status and report stay small)


# -- the failover a failback undoes --------------------------------------------------------------------------


class FailoverStep(BaseModel):
    """What a failover's report says of one step (as much as a failback needs)."""

    id: str
    kind: str
    status: str
    detail: dict[str, Any] = Field(default_factory=dict)


class FailoverToUndo(BaseModel):
    """The failover run a failback undoes: its id, when it switched, and its steps as reported."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    finished_at: str | None = None
    steps: dict[str, FailoverStep]

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> FailoverToUndo:
        steps = {}
        for entry in report.get("steps") or []:
            step = FailoverStep.model_validate(
                {
                    "id": entry.get("id"),
                    "kind": entry.get("kind"),
                    "status": entry.get("status"),
                    "detail": entry.get("detail") or {},
                }
            )
            steps[step.id] = step
        return cls(run_id=str(report.get("instance_id")), finished_at=report.get("finished_at"), steps=steps)


# -- reversing each kind ------------------------------------------------------------------------------------

Reverser = Callable[[dict[str, Any], FailoverStep, FailbackPolicy], dict[str, Any]]


def _blob(raw: dict[str, Any], _done: FailoverStep, policy: FailbackPolicy) -> dict[str, Any]:
    # The primary keeps whatever it has that the secondary lacks (no deletes), and the secondary must answer:
    # a copy-back cannot "fail back with the last sync" the way a failover fails over.
    raw["source"], raw["target"] = raw["target"], raw["source"]
    raw.update(mirror_deletes=False, on_conflict=policy.blob_conflicts, on_source_unavailable="fail")
    return raw


def reprotect_step(step: BlobBackupStep, policy: FailbackPolicy) -> BlobBackupStep:
    """A blob step of a failed-over plan as the standing sync runs it: the failback's copy-back."""
    raw = _blob(step.model_dump(mode="json"), FailoverStep(id=step.id, kind=step.kind, status="succeeded"), policy)
    return BlobBackupStep.model_validate(raw)


def _geo_restore(raw: dict[str, Any], _done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    source_server, _, source_name = raw["source_database_id"].rpartition("/databases/")
    restored = raw.get("target_database") or source_name
    raw["source_database_id"] = f"{raw['target_server_id']}/databases/{restored}"
    raw["target_server_id"] = source_server
    raw["target_database"] = source_name
    # The secondary region's pool means nothing in the primary's; drill names belong to the failover direction.
    raw.update(elastic_pool_id=None, drill_target_database=None)
    return raw


def _way_back_unknown(raw: dict[str, Any], lacking: str, override: str) -> PlanError:
    """What to raise when the failover's report lacks what the way back needs (``lacking``: how it lacks it): the
    operator then gives it as the step's failback override ``override``."""
    return PlanError(
        f"step {raw['id']!r}: the failover's report {lacking}, so the way back is unknown: set "
        f"failback.overrides.{raw['id']}.{override}"
    )


def _failover_group(raw: dict[str, Any], done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    partners = done.detail.get("partners") or []
    partner = partners[0].get("id") if partners and isinstance(partners[0], dict) else None
    if not partner:
        raise _way_back_unknown(raw, "names no partner server of the failover group", "failover_group_id")
    group = raw["failover_group_id"].rsplit("/failoverGroups/", 1)[1]
    raw["failover_group_id"] = f"{partner}/failoverGroups/{group}"
    # Back home without data loss: a planned failover syncs first, and refuses if the partner cannot.
    raw.pop("allow_data_loss", None)
    raw["failover_mode"] = "planned"
    return raw


def _traffic(raw: dict[str, Any], _done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    raw["from_endpoints"], raw["to_endpoints"] = raw["to_endpoints"], raw["from_endpoints"]
    # The plan's health_url is the secondary's; without an override the primary endpoints' own Traffic
    # Manager monitor URLs are probed.
    raw.update(health_url=None, drill_profile_id=None)
    return raw


def _front_door(raw: dict[str, Any], _done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    raw["from_origins"], raw["to_origins"] = raw["to_origins"], raw["from_origins"]
    # health_url is the secondary's; the primary origins are judged by Front Door's own health probes.
    raw.update(health_url=None, drill_profile_id=None)
    return raw


def _dns_record(raw: dict[str, Any], _done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    # The record goes back to the target it left (the Front Door endpoint); health_url was the bypass's.
    raw["from_target"], raw["to_target"] = raw["to_target"], raw["from_target"]
    raw.update(health_url=None, drill_record=None)
    return raw


def _webhook(raw: dict[str, Any], _done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    # The runbook that undoes the failover's, when the plan names one; the drill's endpoint is the failover's.
    if raw.get("failback_url_setting"):
        raw["url_setting"] = raw["failback_url_setting"]
    raw.update(drill=None, drill_url_setting=None)
    return raw


def _as_written(raw: dict[str, Any], _done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    return raw


def _cosmos(raw: dict[str, Any], done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    original = done.detail.get("original_write_region")
    if not original:
        raise _way_back_unknown(raw, "names no original write region of the Cosmos DB account", "target_region")
    # Home without data loss: a priority change, once the old write region answers (pre-flight checks it).
    raw.update(target_region=original, failover_mode="planned")
    return raw


def _postgresql(raw: dict[str, Any], done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    detail = done.detail
    if raw.get("method", "promote_replica") == "promote_replica":
        serving, primary = raw["replica_server_id"], detail.get("primary_server_id")
        region = detail.get("primary_location")
    else:
        serving, primary, region = raw["target_server_id"], raw["source_server_id"], detail.get("source_location")
    if not primary or not region:
        raise PlanError(
            f"step {raw['id']!r}: the failover's report does not say where the primary server was (its region was "
            f"unreachable): set failback.overrides.{raw['id']}.target_server_id and .target_location"
        )
    group, _, name = str(primary).rpartition("/")
    # The old primary still holds its name (stale): the way back restores next to it.
    raw.update(
        method="geo_restore",
        source_server_id=serving,
        target_server_id=f"{group}/{name[:54].rstrip('-')}-failback",
        target_location=region,
        replica_server_id=None,
        drill_target_server_id=None,
        promote_option="planned",
    )
    return raw


def _storage_account(raw: dict[str, Any], done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    # The way back is another failover of the same account, to the primary the failover left; planned (Azure
    # synchronises first: nothing lost). After an unplanned failover the account is LRS: its pre-flight fails until
    # geo-redundancy is re-enabled and the new secondary is Live.
    home = done.detail.get("primary_location_before")
    if not home:
        raise _way_back_unknown(raw, "names no primary_location_before", "target_location")
    raw.update(target_location=home, failover_type="planned")
    return raw


def _app_scale(raw: dict[str, Any], done: FailoverStep, _policy: FailbackPolicy) -> dict[str, Any]:
    # Back to the values the failover recorded before it changed anything: the plan's instance count exactly, and
    # the apps it started stopped again (apps that were running before stay as they are).
    before = done.detail.get("plan_before") or {}
    if raw.get("plan_id") and isinstance(before.get("capacity"), int) and before["capacity"] >= 1:
        raw.update(instance_count=before["capacity"], scale="exactly")
    states = done.detail.get("sites_before") or {}
    started = [site for site in raw.get("site_ids") or [] if states.get(site) not in (None, "Running")]
    if started:
        raw.update(site_ids=started, site_state="Stopped")
    elif raw.get("plan_id"):
        raw.update(site_ids=[])
    raw.update(drill_plan_id=None, drill_site_ids=[])
    return raw


REVERSERS: dict[str, Reverser] = {
    "blob_backup": _blob,
    "sql_geo_restore": _geo_restore,
    "sql_failover_group": _failover_group,
    "traffic_manager_failover": _traffic,
    "health_check": _as_written,
    "manual": _as_written,
    "webhook": _webhook,
    "front_door_origins": _front_door,
    "dns_record_switch": _dns_record,
    "cosmos_failover": _cosmos,
    "postgresql_promote": _postgresql,
    "storage_account_failover": _storage_account,
    "app_scale": _app_scale,
}


def _check_every_kind_reverses() -> None:
    from .steps import kind_names  # a kind without a way back would fail every failback of its plans

    missing = kind_names() - set(REVERSERS)
    if missing:
        raise RuntimeError(f"dr.failback has no reverser for kind(s): {', '.join(sorted(missing))}")


_check_every_kind_reverses()


class FailbackDerivation(BaseModel):
    """The failback's plan and what was left out of it (step id → why)."""

    plan: Plan
    left_out: dict[str, str] = Field(default_factory=dict)


def failback_plan(plan: Plan, failover: FailoverToUndo) -> FailbackDerivation:
    """The plan a failback of ``failover`` runs (see the module docstring). PlanError says what is missing."""
    policy = plan.failback
    document = plan.model_dump(mode="json")
    left_out: dict[str, str] = {}
    steps = []
    for raw in document["steps"]:
        step_id = raw["id"]
        done = failover.steps.get(step_id)
        if step_id in policy.skip_steps:
            left_out[step_id] = "failback.skip_steps"
            continue
        if done is None or done.status != "succeeded":
            status = done.status if done else "not in its report"
            left_out[step_id] = f"the failover {failover.run_id} did not complete it ({status}): nothing to undo"
            continue
        reversed_step = REVERSERS[raw["kind"]](raw, done, policy)
        reversed_step.update(policy.overrides.get(step_id, {}))
        steps.append(reversed_step)
    if not steps:
        raise PlanError(f"nothing to fail back: the failover {failover.run_id} completed no step of plan {plan.name!r}")
    kept = {step["id"] for step in steps}
    for step in steps:
        step["after"] = [dep for dep in step["after"] if dep in kept]
    document["steps"] = steps
    document["description"] = f"Failback of {plan.name} (undoing {failover.run_id}): {plan.description}".strip()
    document["approval"] = {
        "required": True,
        "timeout": document["failback"]["approval_timeout"],
        "on_timeout": "abort",
    }
    # The drill section describes the failover direction; the overrides are applied.
    document.pop("drill", None)
    document["failback"].update(overrides={}, skip_steps=[])
    derived = parse_plan(document, source=f"plan {plan.name!r} reversed for failback")
    if not primary_health_urls(derived):
        raise PlanError(
            f"plan {plan.name!r}: a failback needs URLs that prove the primary healthy: set "
            "failback.primary_health.urls (or a failback health_url on its traffic steps)"
        )
    return FailbackDerivation(plan=derived, left_out=left_out)


def primary_health_urls(plan: Plan) -> list[str]:
    """What the primary-health gate probes: the plan's list, else the failback traffic steps' health URLs."""
    if plan.failback.primary_health.urls:
        return list(plan.failback.primary_health.urls)
    return [url for step in plan.steps if (url := getattr(step, "health_url", None))]


# -- the primary-health gate ---------------------------------------------------------------------------------


class PrimaryProbeInput(BaseModel):
    """probe_primary's input."""

    urls: list[str] = Field(min_length=1)
    expect_status: int = 200
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @classmethod
    def of(cls, plan: Plan) -> PrimaryProbeInput:
        policy: PrimaryHealthPolicy = plan.failback.primary_health
        return cls(
            urls=primary_health_urls(plan),
            expect_status=policy.expect_status,
            timeout_seconds=policy.request_timeout.total_seconds(),
        )


class UrlProbe(BaseModel):
    url: str = Field(description="Redacted: no query string or user info.")
    ok: bool
    result: str
    latency_ms: float


class PrimaryProbe(BaseModel):
    """One round: every URL probed once; healthy only when each answered as expected."""

    ok: bool
    urls: list[UrlProbe]
    at: datetime | None = None

    def describe(self) -> str:
        failing = [f"{probe.url}: {probe.result}" for probe in self.urls if not probe.ok]
        return "healthy" if self.ok else "; ".join(failing)


def probe_primary(payload: dict[str, Any]) -> dict[str, Any]:
    """One round of the primary-health gate (the activity): never raises for an unhealthy primary."""
    request = PrimaryProbeInput.model_validate(payload)
    results = []
    for url in request.urls:
        result = probe(url, expect_status=request.expect_status, timeout_seconds=request.timeout_seconds)
        results.append(
            UrlProbe(url=redact_url(url), ok=result.ok, result=result.describe(), latency_ms=result.latency_ms)
        )
    return PrimaryProbe(ok=all(item.ok for item in results), urls=results).model_dump(mode="json")


class PrimaryHealthRecord(BaseModel):
    """The gate's progress and verdict, in the status and the report."""

    required_probes: int
    interval_seconds: float
    streak: int = 0
    rounds: int = 0
    verdict: str = "probing"
    healthy_at: datetime | None = None
    last: list[PrimaryProbe] = Field(default_factory=list, description=f"The last {PROBES_KEPT} rounds.")

    @classmethod
    def start(cls, policy: PrimaryHealthPolicy) -> PrimaryHealthRecord:
        gaps = max(policy.probes - 1, 1)
        return cls(required_probes=policy.probes, interval_seconds=policy.over.total_seconds() / gaps)

    def add(self, probe_round: PrimaryProbe, at: datetime) -> None:
        self.rounds += 1
        self.streak = self.streak + 1 if probe_round.ok else 0
        self.last = [*self.last, probe_round.model_copy(update={"at": at})][-PROBES_KEPT:]
        if self.healthy:
            self.healthy_at = at
            self.verdict = f"healthy: {self.streak} probes in a row"
        else:
            self.verdict = f"{self.streak}/{self.required_probes} healthy in a row; last: {probe_round.describe()}"

    @property
    def healthy(self) -> bool:
        return self.streak >= self.required_probes
