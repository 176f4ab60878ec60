"""The one registry of step kinds, behind the contract in :mod:`dr.steps.base`.

A kind is one entry of :data:`REGISTRY`: its plan parameters (a model of :mod:`dr.plan`, whose ``kind`` literal
is the kind's name, written nowhere else) and the class that implements it. Everything keyed by kind reads
this table: plan validation and error messages (:mod:`dr.plan`), the step activities (:mod:`dr.dispatch`,
through :func:`get_kind`), the tests. Implementations are imported on first use, so loading a plan (in a
trigger) imports no Azure SDK.

Invariant, checked at import: the registry and the plan's ``Step`` union name the same kinds, so a plan can
name no kind without an implementation and no implementation goes without its parameters.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

from ..errors import PlanError
from ..plan import (
    AppScaleStep,
    BlobBackupStep,
    CosmosFailoverStep,
    DnsRecordSwitchStep,
    FrontDoorOriginsStep,
    HealthCheckStep,
    ManualStep,
    PostgresqlPromoteStep,
    SqlFailoverGroupStep,
    SqlGeoRestoreStep,
    Step,
    StepBase,
    StorageAccountFailoverStep,
    TrafficManagerFailoverStep,
    WebhookStep,
)
from .base import StepKind

# What a kind's step is to the service: ``data`` moves or restores data; ``traffic`` moves customers to the
# target; ``verification`` proves the target serves. A run whose traffic or verification step did not succeed
# did not recover (dr.run.RunState.status).
StepRole = Literal["data", "traffic", "verification"]


@dataclass(frozen=True)
class KindSpec:
    """A kind: its parameters model, where its implementation lives (``"module:Class"``), its role, and
    whether what its failover does can be undone (a forced database failover cannot: pre-flight must pass, or
    be overridden, before it)."""

    params: type[StepBase]
    implementation: str
    role: StepRole
    reversible: bool
    # On cancel: True when what begin started is a cloud operation that goes on regardless (a failover, a
    # restore): the step keeps polling until it settles, to report what really happened. False: it stops.
    settles_on_cancel: bool = False
    # True: after begin the step waits for a person's confirmation (dr.confirmation), its timeout or a cancel,
    # then polls once with what happened (orchestrators.step).
    waits_for_confirmation: bool = False
    # The run's pre-flight checks (by name) a step of this kind reads again (StepContext.fresh_check): only
    # these travel in its inputs. Step inputs ride in every activity call, the run graph's state and the
    # recovery orchestrator's history (replayed on every episode): a 100-step plan's checks with their facts
    # would add hundreds of KB to each.
    reuses_checks: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The kind's name, as plans write it: the ``kind`` literal of its parameters model."""
        (name,) = get_args(self.params.model_fields["kind"].annotation)
        return str(name)


_SPECS = (
    # Copies into the secondary; the source is only read.
    # Begin takes a fresh pre-flight verdict that the source did not answer instead of probing it again.
    KindSpec(
        BlobBackupStep, "dr.steps.blob:BlobBackup", role="data", reversible=True, reuses_checks=("source_reachable",)
    ),
    # Creates a new database (a drill deletes its copy); production databases are not touched.
    KindSpec(
        SqlGeoRestoreStep,
        "dr.steps.sql.geo_restore:SqlGeoRestore",
        role="data",
        reversible=True,
        settles_on_cancel=True,
    ),
    # Swaps the primary role: a forced failover may lose data and cannot be taken back.
    KindSpec(
        SqlFailoverGroupStep,
        "dr.steps.sql.failover_group:SqlFailoverGroup",
        role="data",
        reversible=False,
        settles_on_cancel=True,
    ),
    # Endpoint settings can be switched back (the cool-down guards against flapping).
    KindSpec(
        TrafficManagerFailoverStep, "dr.steps.traffic.step:TrafficManagerFailover", role="traffic", reversible=True
    ),
    KindSpec(HealthCheckStep, "dr.steps.health:HealthCheck", role="verification", reversible=True),
    # A new write region: a forced one (the old write region taken offline) may lose data, and bringing the old
    # region back is another failover; the priority change or offline operation settles in Cosmos DB regardless.
    KindSpec(
        CosmosFailoverStep, "dr.steps.cosmos.step:CosmosFailover", role="data", reversible=False, settles_on_cancel=True
    ),
    # A promoted replica leaves its replication set for good (a new replica must be seeded); a geo-restore
    # creates a server a drill deletes. Either operation runs on in Azure once accepted.
    KindSpec(
        PostgresqlPromoteStep,
        "dr.steps.postgresql.step:PostgresqlPromote",
        role="data",
        reversible=False,
        settles_on_cancel=True,
    ),
    # A person confirms the runbook item; a failed or missing confirmation means the recovery is not done.
    KindSpec(ManualStep, "dr.steps.manual:Manual", role="verification", reversible=True, waits_for_confirmation=True),
    # Whatever the endpoint does is unknown here (not undone by this app); the job it started goes on after a
    # cancel, so the step follows it to its end.
    KindSpec(WebhookStep, "dr.steps.webhook:Webhook", role="verification", reversible=False, settles_on_cancel=True),
    # Origin settings can be switched back; the PATCHes it started are ARM operations that settle on their own.
    KindSpec(
        FrontDoorOriginsStep,
        "dr.steps.frontdoor.step:FrontDoorOrigins",
        role="traffic",
        reversible=True,
        settles_on_cancel=True,
    ),
    # One record write, switched back by the failback (clients follow within the record's TTL either way).
    KindSpec(DnsRecordSwitchStep, "dr.steps.dns.step:DnsRecordSwitch", role="traffic", reversible=True),
    # An unplanned failover loses the writes after the Last Sync Time and leaves the account LRS: it cannot be
    # taken back (failing back is another failover, after geo-redundancy is re-enabled). Once accepted it runs on.
    KindSpec(
        StorageAccountFailoverStep,
        "dr.steps.storage_account.step:StorageAccountFailover",
        role="data",
        reversible=False,
        settles_on_cancel=True,
    ),
    # Standby compute serves the traffic: a failed start means the target does not serve. The scale is an ARM
    # operation that settles on its own; the failback scales back to the recorded values.
    KindSpec(AppScaleStep, "dr.steps.compute.step:AppScale", role="traffic", reversible=True, settles_on_cancel=True),
)

REGISTRY: Mapping[str, KindSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def _check_against_plan_models() -> None:
    (union, *_) = get_args(Step)
    in_plans: set[type[StepBase]] = set(get_args(union))
    registered = {spec.params for spec in _SPECS}
    if in_plans != registered or len(REGISTRY) != len(_SPECS):
        names = sorted(model.__name__ for model in in_plans ^ registered)
        raise RuntimeError(f"dr.plan.Step and the registry of step kinds differ (or repeat a name): {names}")


_check_against_plan_models()


def kind_names() -> frozenset[str]:
    return frozenset(REGISTRY)


def spec_of(kind: str) -> KindSpec:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise PlanError(f"step kind {kind!r} is not implemented") from None


_instances: dict[str, StepKind[Any]] = {}
# Activities run in threads: two kinds first used at once would import their modules at once, and Azure SDK
# packages entered from two ends at once (azure.mgmt.sql and azure.mgmt.sql.models) deadlock Python's import
# locks. Kinds are loaded one at a time.
_loading = threading.Lock()


def load_all_kinds() -> None:
    """Import every kind now: the function app calls this as it loads, so the first alert, which is the
    disaster, does not wait about a second for the kinds' modules and their Azure SDK packages."""
    for kind in REGISTRY:
        get_kind(kind)


def get_kind(kind: str) -> StepKind[Any]:
    """The StepKind instance of a kind name (one per kind, its module imported on first use)."""
    spec = spec_of(kind)
    with _loading:
        if kind not in _instances:
            module_name, _, class_name = spec.implementation.partition(":")
            implementation: type[StepKind[Any]] = getattr(importlib.import_module(module_name), class_name)
            _instances[kind] = implementation(kind)
        return _instances[kind]
