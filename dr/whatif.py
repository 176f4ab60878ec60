"""What-if: every check of a plan and what a failover would cost (predicted RTO per step and on the critical
path, predicted RPO per data store), without changing anything.

Interface shared by the what-if API, the readiness timer and the data-loss gate (implementation to come).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from .plan import Mode, Plan
from .steps.base import Check


class StepPrediction(BaseModel):
    """How long a step is expected to take, and what the number rests on."""

    step: str
    kind: str
    seconds: float | None = Field(description="None: no model can tell (the basis says why).")
    basis: str
    earliest_finish_seconds: float | None = Field(None, description="On the step graph, from the run's start.")


class StorePrediction(BaseModel):
    """The data a failover would lose in one data store (a data step), and what the number rests on."""

    step: str
    kind: str
    seconds: float | None = Field(description="None: unknown (never 0 for unknown).")
    basis: str


class PlanEvaluation(BaseModel):
    """One evaluation of a plan: its readiness and the what-if prediction."""

    plan: str
    mode: Mode = "failover"
    evaluated_at: datetime
    ready: bool = Field(description="No check failed.")
    checks: dict[str, list[Check]] = Field(default_factory=dict, description="By step id, in plan order.")
    predicted_rto_seconds: float | None = None
    predicted_rpo_seconds: float | None = Field(None, description="The worst store; None if any store is unknown.")
    rpo_bound_by: str | None = Field(None, description="The data step whose loss bounds the RPO.")
    critical_path: list[str] = Field(default_factory=list, description="Step ids, first to last.")
    steps: list[StepPrediction] = Field(default_factory=list)
    stores: list[StorePrediction] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


def predict(
    plan: Plan, checks: dict[str, list[Check]], *, now: datetime, history: list[dict[str, Any]] | None = None
) -> PlanEvaluation:
    """The prediction from checks already made (pure: the recovery orchestrator calls it on replay too).
    ``history``: past run reports of this plan (newest first), whose measured step times refine the models."""
    raise NotImplementedError


def evaluate_plan(
    plan: Plan, *, now: datetime, mode: Mode = "failover", history: list[dict[str, Any]] | None = None
) -> PlanEvaluation:
    """Run every step's checks (dr.dispatch.check, in parallel, each bounded) and predict."""
    raise NotImplementedError
