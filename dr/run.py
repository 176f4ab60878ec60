"""A recovery run's models and bookkeeping, as pure functions the orchestrator calls deterministically.

Everything here is computed from the orchestration input and the outcomes the orchestrator has seen, so
a replay rebuilds exactly the same status and report.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_serializer,
    field_validator,
)

from .durations import iso
from .errors import Failure
from .failback import PrimaryHealthRecord
from .plan import Mode, Plan, RetryPolicy, StepBase, parse_plan
from .preview import StepPreview, preview
from .steps import spec_of
from .steps.base import Check, StepContext, StepProgress, TeardownResult

RunMode = Literal["failover", "drill", "failback", "sync"]
StepStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "canceled"]
RunStatus = Literal["Succeeded", "Failed", "Rejected", "Canceled", "PartiallySucceeded"]
Phase = Literal[
    "starting",
    "primary_health",
    "preflight",
    "awaiting_approval",
    "running",
    "canceling",
    "teardown",
    "reporting",
    "done",
]
FailoverGroupMode = Literal["planned", "forced", "planned_then_forced"]
# A moment as statuses and reports write it (dr.durations.iso: UTC, "Z").
IsoTime = Annotated[datetime, PlainSerializer(iso, return_type=str)]

RECOVERY_ORCHESTRATOR = "recovery"
STEP_ORCHESTRATOR = "recovery_step"
SYNC_ORCHESTRATOR = "standing_sync"
APPROVAL_EVENT = "approval"
# Raised to a run (graceful cancel: no new steps, running ones settle) and to each of its running steps.
CANCEL_EVENT = "cancel"
INSTANCE_SEPARATOR = "--"


def run_id_prefix(plan_name: str, mode: Mode | None = None) -> str:
    """Instance ids start with the plan (and mode), so 'runs of this plan' is a prefix query."""
    return f"{plan_name}{INSTANCE_SEPARATOR}" + (f"{mode}{INSTANCE_SEPARATOR}" if mode else "")


def run_instance_id(plan_name: str, mode: Mode, suffix: str) -> str:
    return f"{run_id_prefix(plan_name, mode)}{suffix}"


# The ids this app gives recovery runs (dr.intake): <plan>--<mode>--op-<UTC stamp>-<6 hex> for the operator
# API, <plan>--failover--alert-<20 hex> for alerts. Anything else is no run of ours, refused before it
# reaches a storage name or a Durable query (a route parameter arrives URL-decoded: "../" and all).
RUN_ID_PATTERN = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}--(?:failover|drill|failback)--(?:op-\d{8}T\d{6}-[0-9a-f]{6}|alert-[0-9a-f]{20})"
)


def is_run_id(value: str) -> bool:
    return RUN_ID_PATTERN.fullmatch(value) is not None


def step_instance_id(run_id: str, step_id: str) -> str:
    return f"{run_id}:{step_id}"


def read_model[M: BaseModel](model: type[M], value: Any) -> M | None:
    """A payload the Durable status API hands back (input, custom status, output), through its model: a JSON
    value, sometimes still encoded as a string. None when it is absent or is not one of these."""
    if isinstance(value, model):
        return value
    try:
        if isinstance(value, str | bytes):
            return model.model_validate_json(value)
        return model.model_validate(value)
    except ValidationError:
        return None


class RunOverrides(BaseModel):
    """What an operator changed for one run (at start or with the approval), recorded in the report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sql_failover_mode: FailoverGroupMode | None = Field(
        None, description="Replaces failover_mode of every sql_failover_group step of this run."
    )

    def is_empty(self) -> bool:
        return self.sql_failover_mode is None

    def merged(self, later: RunOverrides | None) -> RunOverrides:
        if later is None:
            return self
        return RunOverrides(**{**self.model_dump(exclude_none=True), **later.model_dump(exclude_none=True)})

    def apply(self, plan: Plan) -> Plan:
        """The plan with these overrides in its steps (validated again: an override is plan input too)."""
        if self.is_empty():
            return plan
        data = plan.model_dump(mode="json")
        for step in data["steps"]:
            if step["kind"] == "sql_failover_group" and self.sql_failover_mode is not None:
                step.pop("allow_data_loss", None)
                step["failover_mode"] = self.sql_failover_mode
        return parse_plan(data, source=f"plan {plan.name!r} with the run's overrides")


def event_data[M: BaseModel](model: type[M], raw: Any) -> M:
    """An external event's data through its model. The Python SDK's client JSON-encodes event data twice, so
    the orchestrator may see a string; a malformed event raises (pydantic's ValidationError)."""
    return model.model_validate(json.loads(raw) if isinstance(raw, str) else raw)


class RunInput(BaseModel):
    """The orchestration input: a frozen plan snapshot (drill overrides already applied) and the trigger."""

    model_config = ConfigDict(frozen=True)

    plan: Plan = Field(description="The plan as this run executes it (Plan.for_mode), read when the run started.")
    mode: Mode
    trigger: dict[str, Any]
    requested_at: datetime = Field(description="Alert firedDateTime or the operator's request: RTO starts.")
    requested_by: str | None = None
    reason: str | None = None
    force: bool = False
    overrides: RunOverrides = Field(default_factory=RunOverrides, description="Already applied to `plan`.")
    failback_of: str | None = Field(None, description="A failback: the failover run it undoes.")
    failback_left_out: dict[str, str] = Field(
        default_factory=dict, description="A failback: steps of the plan it does not run, and why (dr.failback)."
    )
    min_poll_seconds: float = Field(2.0, ge=0, description="Read from settings by the starter, not on replay.")

    @field_validator("requested_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        """RTO subtracts this from the orchestration's (aware, UTC) clock: a naive time is taken as UTC
        rather than failing the run in its reporting phase."""
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class RunHeadline(BaseModel):
    """What a run listing shows of a RunInput, read leniently: any part of the input may be missing."""

    plan: str | None = Field(None, validation_alias=AliasPath("plan", "name"))
    mode: str | None = None
    reason: str | None = None
    requested_by: str | None = None


class StepRunInput(BaseModel):
    """The input of one step's sub-orchestration (a recovery run's step, or a standing sync target)."""

    model_config = ConfigDict(frozen=True)

    context: StepContext = Field(description="`now` is refreshed for every activity call (context_at).")
    retry: RetryPolicy
    deadline: datetime | None = None
    min_poll_seconds: float = 2.0
    operation: Literal["run", "teardown"] = "run"
    state: dict[str, Any] = Field(default_factory=dict, description="For teardown: the step's last state.")
    graph: str | None = Field(
        None, description="The run whose graph entity (dr.graph) this step reports to and whose dependents it starts."
    )

    @classmethod
    def start(
        cls,
        *,
        run_id: str,
        plan_name: str,
        mode: RunMode,
        step: StepBase,
        started_at: datetime,
        now: datetime,
        min_poll_seconds: float,
        force: bool = False,
        reason: str | None = None,
        deadline: datetime | None = None,
        failover_values: dict[str, Any] | None = None,
    ) -> StepRunInput:
        context = StepContext(
            run_id=run_id,
            plan_name=plan_name,
            mode=mode,
            step=step,
            started_at=started_at,
            now=now,
            force=force,
            reason=reason,
            failover_values=failover_values,
        )
        return cls(context=context, retry=step.retry, deadline=deadline, min_poll_seconds=min_poll_seconds)

    def for_teardown(self, state: dict[str, Any]) -> StepRunInput:
        """The same step's teardown (no deadline: teardown has its own limit), given the step's last state."""
        return self.model_copy(update={"operation": "teardown", "state": state, "deadline": None})

    def context_at(self, now: datetime) -> StepContext:
        return self.context.model_copy(update={"now": now})


class StepCustomStatus(BaseModel):
    """A step sub-orchestration's live status: the operator API shows its summary while the step runs."""

    step: str
    summary: str
    calls: int
    waiting: dict[str, Any] | None = Field(
        None, description="A step waiting for a person (dr.confirmation.ConfirmationWait): what to do, until when."
    )


class StepOutcome(BaseModel):
    """What a step sub-orchestration returns (it completes with this even when the step failed)."""

    id: str
    kind: str
    status: Literal["succeeded", "failed", "canceled"]
    started_at: datetime
    finished_at: datetime
    summary: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    rpo_estimate_seconds: float | None = None
    failure: Failure | None = None
    state: dict[str, Any] = Field(default_factory=dict, description="The kind's last state, for teardown.")
    attempts: int = 1
    descendants: list[StepOutcome] = Field(
        default_factory=list, description="In a run's graph: the outcomes of the steps this step started."
    )

    @classmethod
    def of(
        cls,
        step: StepBase,
        progress: StepProgress,
        *,
        started_at: datetime,
        finished_at: datetime,
        failure: Failure | None = None,
        attempts: int = 1,
        canceled: str | None = None,
        warnings: list[str] | None = None,
    ) -> StepOutcome:
        """The outcome after the step's last progress: succeeded, failed with ``failure``, or canceled
        (``canceled`` says what the step had done when it stopped)."""
        status: Literal["succeeded", "failed", "canceled"] = "succeeded"
        summary = progress.summary
        if failure:
            status, summary = "failed", failure.message[:300]
        elif canceled is not None:
            status, summary = "canceled", canceled[:300]
        return cls(
            id=step.id,
            kind=step.kind,
            status=status,
            started_at=started_at,
            finished_at=finished_at,
            summary=summary,
            detail=progress.detail,
            warnings=[*progress.warnings, *(warnings or [])],
            rpo_estimate_seconds=progress.rpo_estimate_seconds,
            failure=failure,
            state=progress.state,
            attempts=attempts,
        )


class StepRecord(BaseModel):
    id: str
    kind: str
    status: StepStatus = "pending"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    summary: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    rpo_estimate_seconds: float | None = None
    failure: Failure | None = None
    teardown: TeardownResult | None = None
    checks: list[Check] = Field(default_factory=list, description="The step's pre-flight checks.")


class ApprovalRecord(BaseModel):
    required: bool
    decision: Literal[
        "pending", "approved", "rejected", "timed_out_proceed", "timed_out_abort", "refused_over_rpo_budget"
    ] = "pending"
    by: str | None = None
    reason: str | None = None
    decided_at: datetime | None = None
    deadline: datetime | None = None
    preflight_failed: list[str] = Field(
        default_factory=list, description="'step: message' of each failed pre-flight check the approver decides over."
    )
    overrode_failed_checks: bool | None = None
    overrides: RunOverrides | None = None
    rpo_budget_seconds: float | None = None
    data_at_risk: list[dict[str, Any]] = Field(
        default_factory=list, description="Predicted loss per data store, when the data-loss gate asked."
    )

    def as_json(self) -> dict[str, Any]:
        """As the custom status and the report show it (no empty fields)."""
        return self.model_dump(mode="json", exclude_none=True)


class ApprovalDecision(BaseModel):
    """The payload of the approval event the operator API raises."""

    approved: bool
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)
    override_failed_checks: bool = Field(
        False, description="Go on although pre-flight checks failed (the approver saw them in the status)."
    )
    overrides: RunOverrides | None = None


class CancelRequest(BaseModel):
    """The payload of the cancel event the operator API raises to a run and its running steps."""

    by: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)


class CancelRecord(CancelRequest):
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"by": self.by, "reason": self.reason, "at": iso(self.at)}


class StepStatusEntry(BaseModel):
    """One step in a run's custom status."""

    kind: str
    status: StepStatus = "pending"
    started_at: IsoTime | None = None
    finished_at: IsoTime | None = None
    summary: str = ""


class PreflightSummary(BaseModel):
    """Pre-flight in the live status: counts and the failed checks (each 'step: message', bounded)."""

    passed: int = 0
    warnings: int = 0
    failed: list[str] = Field(default_factory=list)


class RunCustomStatus(BaseModel):
    """A recovery run's live status for the operator (kept well under the 16 KB custom status limit)."""

    phase: Phase
    plan: str
    mode: Mode
    approval: ApprovalRecord
    steps: dict[str, StepStatusEntry]
    updated_at: IsoTime
    preflight: PreflightSummary | None = None
    canceled: dict[str, Any] | None = None
    primary_health: str | None = Field(None, description="A failback's primary-health gate: its verdict so far.")
    will_do: list[StepPreview] | None = Field(
        None, description="While awaiting approval: what each step will do (dr.preview), as many as fit WILL_DO_BYTES."
    )

    @field_serializer("approval")
    def _approval(self, approval: ApprovalRecord) -> dict[str, Any]:
        return approval.as_json()


class LeftBehind(BaseModel):
    """A drill step whose teardown failed: what it created may still exist."""

    model_config = ConfigDict(frozen=True)

    step: str
    kind: str
    error: str | None = None


class RunReport(BaseModel):
    """The run report. Top-level keys are a contract that tools read; more may be added."""

    instance_id: str
    plan: str
    mode: str
    status: RunStatus
    trigger: dict[str, Any]
    started_at: str
    finished_at: str
    rto_seconds: float | None
    rpo_estimate_seconds: float | None
    steps: list[dict[str, Any]]
    description: str = ""
    requested_by: str | None = None
    reason: str | None = None
    approval: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list)
    canceled: dict[str, Any] | None = None
    service_restored_seconds: float | None = Field(
        None, description="Trigger to the traffic switch and its verification done: what customers feel."
    )
    rpo_by_store: list[dict[str, Any]] = Field(
        default_factory=list, description="Per data step: seconds of data at risk (null: unknown) and the basis."
    )
    preflight: dict[str, Any] | None = None
    overrides: dict[str, Any] | None = None
    left_behind: list[LeftBehind] = Field(
        default_factory=list, description="Drill steps whose teardown failed: what they created may still exist."
    )
    drill_cost: dict[str, Any] | None = Field(
        None,
        description="A drill's footprint: each resource it created, from creation to its teardown (or still "
        "standing), and the total resource-minutes, to estimate what drills cost.",
    )
    predicted: dict[str, Any] | None = Field(
        None,
        description="What pre-flight predicted (dr.whatif): rto_seconds, rpo_seconds and per store, beside the "
        "measured rto_seconds and rpo_by_store.",
    )
    failback: dict[str, Any] | None = Field(
        None, description="A failback: the failover it undoes, the steps left out and the primary-health gate."
    )
    estate_after: dict[str, Any] | None = Field(
        None,
        description="A failover or failback: which side serves after it and which way protection runs (dr.plan_state).",
    )


class RunResult(RunReport):
    """The recovery orchestration's output: the report, and where it was stored (None: it could not be)."""

    report_url: str | None = None

    @classmethod
    def stored(cls, report: RunReport, url: str) -> RunResult:
        return cls(**dict(report), report_url=url)

    @classmethod
    def not_stored(cls, report: RunReport, why: str) -> RunResult:
        """The run's outcome stands even if storage is down: it is still returned as the output."""
        return cls(**{**dict(report), "warnings": [*report.warnings, f"report not stored: {why}"]})


PREFLIGHT_SHOWN = 10  # failed checks kept in the live status (the report has them all)
WILL_DO_BYTES = 5000  # the preview's share of the live status (16 KB in all): the first steps that fit
# Status semantics (written down in the README, enforced here):
#   Succeeded          every step succeeded.
#   Failed             the service is not serving from the target: a traffic or verification step did not
#                      succeed (failed, skipped, canceled), or nothing succeeded at all.
#   PartiallySucceeded the service serves from the target (every traffic and verification step succeeded) and
#                      something else (a data step) did not.
#   Canceled / Rejected an operator stopped the run / did not approve it.
# RTO is reported only for a run that recovered (Succeeded or PartiallySucceeded).


class RunState:
    """The orchestrator's view of a run: step records, approval, phase; renders status and report."""

    def __init__(self, run_id: str, run: RunInput, plan: Plan, started_at: datetime) -> None:
        self.run_id = run_id
        self.run = run
        self.plan = plan
        self.started_at = started_at
        self.phase: Phase = "starting"
        self.steps = {step.id: StepRecord(id=step.id, kind=step.kind) for step in plan.steps}
        self.approval = ApprovalRecord(required=plan.approval.required)
        self.rejected = False
        self.cancel: CancelRecord | None = None
        self.overrides = run.overrides
        self.preflight_at: datetime | None = None
        self.prediction: dict[str, Any] | None = None
        self.teardown_finished_at: datetime | None = None
        self.warnings: list[str] = []  # the run's own (a notification not delivered); the steps' are on their records
        self.primary_health: PrimaryHealthRecord | None = None
        self.estate_after: dict[str, Any] | None = None

    # -- pre-flight ----------------------------------------------------------------------------------
    def record_checks(self, step_id: str, checks: list[Check], at: datetime) -> None:
        self.preflight_at = at
        self.steps[step_id].checks = checks

    def failed_checks(self) -> list[str]:
        """'step: message' of every failed pre-flight check, in plan order."""
        return [
            f"{record.id}: {check.message}"
            for record in self.steps.values()
            for check in record.checks
            if check.status == "failed"
        ]

    def preflight_summary(self) -> PreflightSummary | None:
        if self.preflight_at is None:
            return None
        checks = [check for record in self.steps.values() for check in record.checks]
        failed = self.failed_checks()
        shown = [message[:300] for message in failed[:PREFLIGHT_SHOWN]]
        if len(failed) > PREFLIGHT_SHOWN:
            shown.append(f"... and {len(failed) - PREFLIGHT_SHOWN} more (see the report)")
        return PreflightSummary(
            passed=sum(check.status == "passed" for check in checks),
            warnings=sum(check.status == "warning" for check in checks),
            failed=shown,
        )

    def apply_overrides(self, overrides: RunOverrides | None) -> None:
        """An approver's overrides: the steps not started yet run with them (all, at the approval gate)."""
        if overrides is None or overrides.is_empty():
            return
        self.overrides = self.overrides.merged(overrides)
        self.plan = overrides.apply(self.plan)

    # -- transitions ---------------------------------------------------------------------------------
    def mark_canceled(self, step_id: str, reason: str, now: datetime) -> None:
        record = self.steps[step_id]
        record.status = "canceled"
        record.summary = reason
        record.finished_at = now

    def checks_note(self, step_id: str) -> str:
        """What pre-flight found for a step that will not run: a drill still learns whether it could have."""
        checks = self.steps[step_id].checks
        if not checks:
            return ""
        failed = [check.message for check in checks if check.status == "failed"]
        if failed:
            return f"; its pre-flight failed: {failed[0]}"
        return f"; its pre-flight checks passed ({len(checks)})"

    def mark_running(self, step_id: str, now: datetime) -> None:
        record = self.steps[step_id]
        record.status = "running"
        record.started_at = now

    def mark_skipped(self, step_id: str, reason: str, now: datetime) -> None:
        record = self.steps[step_id]
        record.status = "skipped"
        record.summary = reason
        record.finished_at = now

    def request_cancel(self, request: CancelRequest, now: datetime) -> None:
        """No step starts after this; steps not started are canceled, running ones settle (CANCEL_EVENT)."""
        if self.cancel is not None:
            return
        self.cancel = CancelRecord(by=request.by, reason=request.reason, at=now)
        for record in self.steps.values():
            if record.status == "pending":
                record.status = "canceled"
                record.summary = f"not started: run canceled by {request.by}"
                record.finished_at = now

    def record_outcome(self, outcome: StepOutcome) -> None:
        record = self.steps[outcome.id]
        record.status = outcome.status
        record.started_at = outcome.started_at
        record.finished_at = outcome.finished_at
        record.summary = outcome.summary
        record.detail = outcome.detail
        record.warnings = outcome.warnings
        record.rpo_estimate_seconds = outcome.rpo_estimate_seconds
        record.failure = outcome.failure

    def record_unexpected_failure(self, step_id: str, message: str, now: datetime) -> None:
        """A step sub-orchestration that itself failed (a bug or the host): still reported, never lost."""
        record = self.steps[step_id]
        record.status = "failed"
        record.finished_at = now
        record.failure = Failure("permanent", "StepOrchestrationFailed", message[:2000])
        record.summary = "step orchestration failed"

    # -- step inputs ---------------------------------------------------------------------------------
    def step_input(self, step_id: str, now: datetime, *, in_graph: bool = False) -> StepRunInput:
        """The input of a step's sub-orchestration started at ``now`` (its timeout counts from then). In the
        run's graph (dr.graph) a step starts when its dependencies finish: its timeout counts from its own start."""
        step = self.plan.step(step_id)
        drill = self.run.mode == "drill"
        run_input = StepRunInput.start(
            run_id=self.run_id,
            plan_name=self.plan.name,
            mode=self.run.mode,
            step=step,
            started_at=self.started_at,
            now=now,
            min_poll_seconds=self.run.min_poll_seconds,
            # An approver who overrode failed checks saw the refusals a step would repeat (a cool-down, a
            # Degraded secondary): refusing again after the data steps moved would leave the estate split.
            force=self.run.force or bool(self.approval.overrode_failed_checks),
            reason=self.run.reason,
            deadline=now + step.timeout if step.timeout and not in_graph else None,
            failover_values=self.plan.drill.failover_values.get(step.id, {}) if drill else None,
        )
        # A kind may reuse a fresh pre-flight verdict (the blob step: an unreachable source): only those travel.
        reused = spec_of(step.kind).reuses_checks
        if self.preflight_at is not None and reused:
            kept = [check for check in self.steps[step_id].checks if check.name in reused]
            checks = {"preflight": kept, "preflight_at": self.preflight_at}
            run_input = run_input.model_copy(update={"context": run_input.context.model_copy(update=checks)})
        return run_input.model_copy(update={"graph": self.run_id}) if in_graph else run_input

    # -- rendering -----------------------------------------------------------------------------------
    def custom_status(self, now: datetime) -> RunCustomStatus:
        """Live status for the operator (kept well under the 16 KB custom status limit)."""
        return RunCustomStatus(
            phase=self.phase,
            plan=self.plan.name,
            mode=self.run.mode,
            approval=self.approval.model_copy(),
            steps={
                record.id: StepStatusEntry(
                    kind=record.kind,
                    status=record.status,
                    started_at=record.started_at,
                    finished_at=record.finished_at,
                    summary=record.summary[:300],
                )
                for record in self.steps.values()
            },
            updated_at=now,
            preflight=self.preflight_summary(),
            canceled=self.cancel.as_json() if self.cancel else None,
            primary_health=self.primary_health.verdict if self.primary_health else None,
            will_do=self._will_do_shown() if self.phase == "awaiting_approval" else None,
        )

    def will_do(self) -> list[StepPreview]:
        """What each step will do as this run executes it (its overrides so far included)."""
        return preview(self.plan, self.run.mode, self.overrides)

    def _will_do_shown(self) -> list[StepPreview]:
        shown: list[StepPreview] = []
        used = 0
        for item in self.will_do():
            used += len(item.model_dump_json())
            if used > WILL_DO_BYTES:
                break
            shown.append(item)
        return shown

    def _service_records(self) -> list[StepRecord]:
        return [record for record in self.steps.values() if spec_of(record.kind).role != "data"]

    def status(self) -> RunStatus:
        if self.rejected:
            return "Rejected"
        if self.cancel is not None:
            return "Canceled"
        statuses = [record.status for record in self.steps.values()]
        if all(status == "succeeded" for status in statuses):
            return "Succeeded"
        serving = all(record.status == "succeeded" for record in self._service_records())
        if serving and any(status == "succeeded" for status in statuses):
            return "PartiallySucceeded"
        return "Failed"

    def service_restored(self) -> datetime | None:
        """When the last traffic or verification step finished, if every one succeeded (None: not restored,
        or the plan moves no traffic)."""
        service = self._service_records()
        if not service or any(record.status != "succeeded" for record in service):
            return None
        finished = [record.finished_at for record in service if record.finished_at]
        return max(finished) if finished else None

    def rpo_by_store(self) -> list[dict[str, Any]]:
        """Per data step: the data at risk and what the number rests on. A step that did not succeed
        (or whose kind could not tell) has an unknown loss: null, never 0."""
        stores = []
        for record in self.steps.values():
            if spec_of(record.kind).role != "data":
                continue
            known = record.status == "succeeded" and record.rpo_estimate_seconds is not None
            basis = record.detail.get("rpo_basis")
            if not known:
                basis = basis if record.status == "succeeded" else f"unknown: the step {record.status}"
            stores.append(
                {
                    "step": record.id,
                    "kind": record.kind,
                    "seconds": record.rpo_estimate_seconds if known else None,
                    "basis": basis or "unknown: the step did not say",
                }
            )
        return stores

    def drill_cost(self, now: datetime) -> dict[str, Any]:
        """Each resource the drill's steps say they created (``detail.drill_created``), alive from its creation
        until the teardown removed it, or until ``now`` when it is still standing (teardown failed or off)."""
        resources = []
        for record in self.steps.values():
            removed = record.teardown is not None and record.teardown.status != "failed"
            until = self.teardown_finished_at if removed and self.teardown_finished_at else now
            for created in record.detail.get("drill_created") or []:
                try:
                    since = datetime.fromisoformat(str(created["created_at"]).replace("Z", "+00:00"))
                except (KeyError, ValueError):
                    continue
                minutes = max(0.0, (until - since).total_seconds() / 60)
                resources.append(
                    {
                        "step": record.id,
                        "type": created.get("type"),
                        "name": created.get("name"),
                        "created_at": iso(since),
                        "removed_at": iso(until) if removed else None,
                        "minutes": round(minutes, 2),
                    }
                )
        return {
            "resources": resources,
            "resource_minutes": round(sum(item["minutes"] for item in resources), 2),
            "still_standing": [item["name"] for item in resources if item["removed_at"] is None],
        }

    def report(self, finished_at: datetime) -> RunReport:
        finished_steps = [r.finished_at for r in self.steps.values() if r.finished_at and r.status != "skipped"]
        status = self.status()
        rto = restored_seconds = None
        if finished_steps and status in ("Succeeded", "PartiallySucceeded"):
            rto = round((max(finished_steps) - self.run.requested_at).total_seconds(), 3)
            restored = self.service_restored()
            if restored is not None:
                restored_seconds = round((restored - self.run.requested_at).total_seconds(), 3)
        stores = self.rpo_by_store()
        known = [store["seconds"] for store in stores]
        rpo = round(max(known), 3) if known and None not in known else None
        warnings = [*self.warnings, *(f"{r.id}: {w}" for r in self.steps.values() for w in r.warnings)]
        preflight = None
        if self.preflight_at is not None:
            summary = self.preflight_summary()
            preflight = {
                "started_at": iso(self.started_at),
                "finished_at": iso(self.preflight_at),
                "seconds": round((self.preflight_at - self.started_at).total_seconds(), 3),
                "passed": not self.failed_checks(),
                "failed": self.failed_checks(),
                "warnings": [
                    f"{r.id}: {c.message}" for r in self.steps.values() for c in r.checks if c.status == "warning"
                ],
                "counts": summary.model_dump(exclude={"failed"}) if summary else {},
            }
        return RunReport(
            instance_id=self.run_id,
            plan=self.plan.name,
            mode=self.run.mode,
            status=status,
            trigger=self.run.trigger,
            started_at=iso(self.started_at),
            finished_at=iso(finished_at),
            rto_seconds=rto,
            rpo_estimate_seconds=rpo,
            steps=[_step_entry(record) for record in self.steps.values()],
            description=self.plan.description,
            requested_by=self.run.requested_by,
            reason=self.run.reason,
            approval=self.approval.as_json() if self.approval.required else None,
            warnings=warnings,
            canceled=self.cancel.as_json() if self.cancel else None,
            service_restored_seconds=restored_seconds,
            rpo_by_store=stores,
            preflight=preflight,
            overrides=None if self.overrides.is_empty() else self.overrides.model_dump(exclude_none=True),
            predicted=self.prediction,
            drill_cost=self.drill_cost(finished_at) if self.run.mode == "drill" else None,
            failback=self._failback_facts(),
            estate_after=self.estate_after,
            left_behind=[
                LeftBehind(step=r.id, kind=r.kind, error=r.teardown.error)
                for r in self.steps.values()
                if r.teardown is not None and r.teardown.status == "failed"
            ],
        )

    def _failback_facts(self) -> dict[str, Any] | None:
        if self.run.mode != "failback":
            return None
        return {
            "of": self.run.failback_of,
            "left_out": self.run.failback_left_out,
            "primary_health": self.primary_health.model_dump(mode="json") if self.primary_health else None,
        }

    def traffic_statuses(self) -> list[str]:
        return [record.status for record in self.steps.values() if spec_of(record.kind).role == "traffic"]


def _step_entry(record: StepRecord) -> dict[str, Any]:
    detail = dict(record.detail)
    if record.summary:
        detail.setdefault("summary", record.summary)
    if record.failure:
        detail["error"] = record.failure.as_dict()
    if record.warnings:
        detail["warnings"] = record.warnings
    if record.rpo_estimate_seconds is not None:
        detail["rpo_estimate_seconds"] = record.rpo_estimate_seconds
    if record.teardown is not None:
        detail["teardown"] = record.teardown.as_dict()
    if record.checks:
        detail["preflight"] = [check.model_dump(mode="json") for check in record.checks]
    return _report_step(record.id, record.kind, record.status, record.started_at, record.finished_at, detail)


def _report_step(
    step_id: str, kind: str, status: str, started_at: datetime | None, finished_at: datetime | None, detail: Any
) -> dict[str, Any]:
    return {
        "id": step_id,
        "kind": kind,
        "status": status,
        "started_at": iso(started_at) if started_at else None,
        "finished_at": iso(finished_at) if finished_at else None,
        "detail": detail,
    }


def canceled_report(run_id: str, run: RunInput, custom_status: Any, *, by: str, reason: str, at: datetime) -> RunReport:
    """The report of a run an operator canceled (the orchestrator was terminated and cannot write it).

    ``custom_status``: the run's last RunCustomStatus, as the status API returned it (None if never published).
    """
    plan = run.plan
    published = read_model(RunCustomStatus, custom_status)
    seen_steps = published.steps if published else {}
    steps = []
    interrupted: list[str] = []
    for step in plan.steps:
        seen = seen_steps.get(step.id) or StepStatusEntry(kind=step.kind)
        running = seen.status == "running"
        summary = seen.summary
        if running:
            interrupted.append(step.id)
            summary = (
                f"terminated while running ({seen.summary or 'no progress reported'}): what it started may still "
                "be changing the estate; check it"
            )
        elif seen.status == "pending":
            summary = f"not started: run canceled by {by}"
        steps.append(
            _report_step(
                step.id,
                step.kind,
                "canceled" if seen.status in ("pending", "running") else seen.status,
                seen.started_at,
                seen.finished_at or (at if running else None),
                {"summary": summary},
            )
        )
    warnings = []
    if interrupted:
        warnings.append(
            "hard cancel: the run was terminated while "
            + ", ".join(interrupted)
            + " ran; their cloud operations were not watched to the end and may have changed the estate after "
            "this report"
        )
    return RunReport(
        instance_id=run_id,
        plan=plan.name,
        mode=run.mode,
        status="Canceled",
        trigger=run.trigger,
        started_at=iso(run.requested_at),
        finished_at=iso(at),
        rto_seconds=None,
        rpo_estimate_seconds=None,
        steps=steps,
        description=plan.description,
        requested_by=run.requested_by,
        reason=run.reason,
        canceled={"by": by, "reason": reason, "at": iso(at), "hard": True},
        warnings=warnings,
    )
