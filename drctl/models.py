"""The API payloads drctl reads, as it reads them: only the fields it shows, every one optional where the API
may leave it out, unknown fields ignored (the API adds keys; a newer app must not break an older drctl)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

TERMINAL_RUNTIME = ("Completed", "Failed", "Terminated", "Canceled")
_RPO = AliasChoices("rpo_estimate_seconds", "rpo_seconds")


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StepView(_Read):
    id: str
    kind: str = ""
    status: str = "pending"
    started_at: str | None = None
    finished_at: str | None = None
    elapsed_seconds: float | None = None
    summary: str = ""
    # Not every app version sends these: the live view shows them when it does.
    detail: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None


class Approval(_Read):
    required: bool = False
    decision: str = "pending"
    by: str | None = None
    reason: str | None = None
    decided_at: str | None = None
    deadline: str | None = None
    preflight_failed: list[str] = Field(default_factory=list)
    rpo_budget_seconds: float | None = None
    data_at_risk: list[dict[str, Any]] = Field(default_factory=list)


class StepPreview(_Read):
    """What a step will do, as the run shows it to its approver."""

    step: str
    kind: str = ""
    action: str = ""
    after: list[str] = Field(default_factory=list)


class RunView(_Read):
    """GET /api/recoveries/{id}, and each item of GET /api/recoveries (without steps and report)."""

    id: str
    plan: str | None = None
    mode: str | None = None
    runtime_status: str = "Unknown"
    phase: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    reason: str | None = None
    requested_by: str | None = None
    approval: Approval | None = None
    steps: list[StepView] = Field(default_factory=list)
    report: dict[str, Any] | None = None
    error: str | None = None
    stuck: dict[str, Any] | None = None
    will_do: list[StepPreview] | None = None
    duration_seconds: float | None = None
    rto_seconds: float | None = None
    rpo_estimate_seconds: float | None = Field(None, validation_alias=_RPO)

    @property
    def terminal(self) -> bool:
        """The run ended and said how: a completed run once its report is there (its last status and its
        output are written together, but a poll may fall between two answers of the backend)."""
        if self.runtime_status == "Completed":
            return self.report is not None or self.phase in ("done", None)
        return self.runtime_status in TERMINAL_RUNTIME

    @property
    def outcome(self) -> str:
        """The run's status as the report says it; a run ended without a report by how it ended."""
        stated = self.status or (self.report or {}).get("status")
        if stated:
            return str(stated)
        return {"Terminated": "Canceled", "Canceled": "Canceled", "Failed": "Failed"}.get(
            self.runtime_status, self.runtime_status
        )


class RunList(_Read):
    runs: list[RunView] = Field(default_factory=list)


class PlanSummary(_Read):
    """An item of GET /api/plans (GET /api/plans/{name} adds evaluation, history, recent runs)."""

    name: str | None = None
    file: str = ""
    status: str = "valid"
    readiness: str = "unknown"
    ready: bool | None = None
    stale: bool = False
    evaluated_at: str | None = None
    failed_checks: int = 0
    predicted_rto_seconds: float | None = None
    predicted_rpo_seconds: float | None = None
    last_drill: dict[str, Any] | None = None
    last_drill_rto_seconds: float | None = None
    drill_schedule: str | None = None
    next_drill_at: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)


class PlanList(_Read):
    plans: list[PlanSummary] = Field(default_factory=list)


class HistoryEntry(_Read):
    """One past run of a plan: GET /api/plans/{name}/history (and a plan's `history` in its details)."""

    id: str = Field("", validation_alias=AliasChoices("id", "instance_id", "run_id"))
    mode: str | None = None
    status: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    rto_seconds: float | None = None
    service_restored_seconds: float | None = None
    rpo_estimate_seconds: float | None = Field(None, validation_alias=_RPO)
    rto_regression: dict[str, Any] | None = None


def history_entries(body: Any) -> list[HistoryEntry]:
    """The history answer: a list, or an object holding it (`history`, `runs`, `items`)."""
    items: Any = body
    if isinstance(body, dict):
        items = next((body[key] for key in ("history", "runs", "items") if isinstance(body.get(key), list)), [])
    return [HistoryEntry.model_validate(item) for item in items if isinstance(item, dict)]
