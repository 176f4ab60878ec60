"""A recovery run's models and bookkeeping, as pure functions the orchestrator calls deterministically.

Everything here is computed from the orchestration input and the outcomes the orchestrator has seen, so
a replay rebuilds exactly the same status and report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .durations import iso
from .plan import Mode, Plan

RunMode = Literal["failover", "drill", "sync"]
StepStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "canceled"]
RunStatus = Literal["Succeeded", "Failed", "Rejected", "Canceled", "PartiallySucceeded"]
Phase = Literal["starting", "awaiting_approval", "running", "teardown", "reporting", "done"]

RECOVERY_ORCHESTRATOR = "recovery"
STEP_ORCHESTRATOR = "recovery_step"
SYNC_ORCHESTRATOR = "standing_sync"
APPROVAL_EVENT = "approval"
INSTANCE_SEPARATOR = "--"


def run_id_prefix(plan_name: str, mode: Mode | None = None) -> str:
    """Instance ids start with the plan (and mode), so 'runs of this plan' is a prefix query."""
    return f"{plan_name}{INSTANCE_SEPARATOR}" + (f"{mode}{INSTANCE_SEPARATOR}" if mode else "")


def run_instance_id(plan_name: str, mode: Mode, suffix: str) -> str:
    return f"{run_id_prefix(plan_name, mode)}{suffix}"


def step_instance_id(run_id: str, step_id: str) -> str:
    return f"{run_id}:{step_id}"


class RunInput(BaseModel):
    """The orchestration input: a frozen plan snapshot (drill overrides already applied) and the trigger."""

    model_config = ConfigDict(frozen=True)

    plan: dict[str, Any]
    mode: Mode
    trigger: dict[str, Any]
    requested_at: datetime = Field(description="Alert firedDateTime or the operator's request: RTO starts.")
    requested_by: str | None = None
    reason: str | None = None
    force: bool = False
    min_poll_seconds: float = Field(2.0, ge=0, description="Read from settings by the starter, not on replay.")

    def plan_model(self) -> Plan:
        return Plan.model_validate(self.plan)


class StepOutcome(BaseModel):
    """What a step sub-orchestration returns (it completes with this even when the step failed)."""

    id: str
    kind: str
    status: Literal["succeeded", "failed"]
    started_at: datetime
    finished_at: datetime
    summary: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    rpo_estimate_seconds: float | None = None
    failure: dict[str, str] | None = None
    state: dict[str, Any] = Field(default_factory=dict, description="The kind's last state, for teardown.")
    attempts: int = 1


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
    failure: dict[str, str] | None = None
    teardown: dict[str, Any] | None = None


class ApprovalRecord(BaseModel):
    required: bool
    decision: Literal["pending", "approved", "rejected", "timed_out_proceed", "timed_out_abort"] = "pending"
    by: str | None = None
    reason: str | None = None
    decided_at: datetime | None = None
    deadline: datetime | None = None


class ApprovalDecision(BaseModel):
    """The payload of the approval event the operator API raises."""

    approved: bool
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)


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

    # -- transitions ---------------------------------------------------------------------------------
    def ready_steps(self) -> tuple[list[str], dict[str, str]]:
        """Steps whose dependencies all succeeded, and steps to skip because a dependency did not."""
        ready: list[str] = []
        skip: dict[str, str] = {}
        for step in self.plan.steps:
            record = self.steps[step.id]
            if record.status != "pending":
                continue
            deps = [self.steps[dep] for dep in step.after]
            blocked = [dep.id for dep in deps if dep.status in ("failed", "skipped", "canceled")]
            if blocked:
                skip[step.id] = f"skipped: {', '.join(blocked)} did not succeed"
            elif all(dep.status == "succeeded" for dep in deps):
                ready.append(step.id)
        return ready, skip

    def mark_running(self, step_id: str, now: datetime) -> None:
        record = self.steps[step_id]
        record.status = "running"
        record.started_at = now

    def mark_skipped(self, step_id: str, reason: str, now: datetime) -> None:
        record = self.steps[step_id]
        record.status = "skipped"
        record.summary = reason
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
        record.failure = {
            "category": "permanent",
            "code": "StepOrchestrationFailed",
            "message": message[:2000],
        }
        record.summary = "step orchestration failed"

    def pending(self) -> bool:
        return any(record.status == "pending" for record in self.steps.values())

    # -- rendering -----------------------------------------------------------------------------------
    def custom_status(self, now: datetime) -> dict[str, Any]:
        """Live status for the operator (kept well under the 16 KB custom status limit)."""
        return {
            "phase": self.phase,
            "plan": self.plan.name,
            "mode": self.run.mode,
            "approval": self.approval.model_dump(mode="json", exclude_none=True),
            "steps": {
                record.id: {
                    "kind": record.kind,
                    "status": record.status,
                    "started_at": iso(record.started_at) if record.started_at else None,
                    "finished_at": iso(record.finished_at) if record.finished_at else None,
                    "summary": record.summary[:300],
                }
                for record in self.steps.values()
            },
            "updated_at": iso(now),
        }

    def status(self) -> RunStatus:
        if self.rejected:
            return "Rejected"
        statuses = [record.status for record in self.steps.values()]
        if all(status == "succeeded" for status in statuses):
            return "Succeeded"
        if any(status == "succeeded" for status in statuses):
            return "PartiallySucceeded"
        return "Failed"

    def report(self, finished_at: datetime) -> RunReport:
        finished_steps = [r.finished_at for r in self.steps.values() if r.finished_at and r.status != "skipped"]
        status = self.status()
        rto = None
        if finished_steps and status in ("Succeeded", "PartiallySucceeded"):
            rto = round((max(finished_steps) - self.run.requested_at).total_seconds(), 3)
        rpos = [r.rpo_estimate_seconds for r in self.steps.values() if r.rpo_estimate_seconds is not None]
        warnings = [f"{r.id}: {w}" for r in self.steps.values() for w in r.warnings]
        return RunReport(
            instance_id=self.run_id,
            plan=self.plan.name,
            mode=self.run.mode,
            status=status,
            trigger=self.run.trigger,
            started_at=iso(self.started_at),
            finished_at=iso(finished_at),
            rto_seconds=rto,
            rpo_estimate_seconds=round(max(rpos), 3) if rpos else None,
            steps=[_step_entry(record) for record in self.steps.values()],
            description=self.plan.description,
            requested_by=self.run.requested_by,
            reason=self.run.reason,
            approval=self.approval.model_dump(mode="json", exclude_none=True) if self.approval.required else None,
            warnings=warnings,
        )


def _step_entry(record: StepRecord) -> dict[str, Any]:
    detail = dict(record.detail)
    if record.summary:
        detail.setdefault("summary", record.summary)
    if record.failure:
        detail["error"] = record.failure
    if record.warnings:
        detail["warnings"] = record.warnings
    if record.rpo_estimate_seconds is not None:
        detail["rpo_estimate_seconds"] = record.rpo_estimate_seconds
    if record.teardown is not None:
        detail["teardown"] = record.teardown
    return {
        "id": record.id,
        "kind": record.kind,
        "status": record.status,
        "started_at": iso(record.started_at) if record.started_at else None,
        "finished_at": iso(record.finished_at) if record.finished_at else None,
        "detail": detail,
    }


def canceled_report(
    run_id: str, run: RunInput, custom_status: dict[str, Any] | None, *, by: str, reason: str, at: datetime
) -> RunReport:
    """The report of a run an operator canceled (the orchestrator was terminated and cannot write it)."""
    plan = run.plan_model()
    steps_status = (custom_status or {}).get("steps") or {}
    steps = []
    for step in plan.steps:
        seen = steps_status.get(step.id) or {}
        status = seen.get("status", "pending")
        steps.append(
            {
                "id": step.id,
                "kind": step.kind,
                "status": "canceled" if status in ("pending", "running") else status,
                "started_at": seen.get("started_at"),
                "finished_at": seen.get("finished_at") or (iso(at) if status == "running" else None),
                "detail": {"summary": seen.get("summary", "")},
            }
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
        canceled={"by": by, "reason": reason, "at": iso(at)},
    )


class StepRunInput(BaseModel):
    """The input of one step's sub-orchestration."""

    model_config = ConfigDict(frozen=True)

    context: dict[str, Any] = Field(description="dr.steps.base.StepContext as JSON; `now` refreshed per call.")
    retry: dict[str, Any] = Field(description="dr.plan.RetryPolicy as JSON.")
    deadline: datetime | None = None
    min_poll_seconds: float = 2.0
    operation: Literal["run", "teardown"] = "run"
    state: dict[str, Any] = Field(default_factory=dict, description="For teardown: the step's last state.")
