"""A person's confirmation of a ``manual`` step: the event the operator API raises to the step, what a waiting
step shows in its status, and when the API may raise it.

Invariants:

- The event (:data:`STEP_CONFIRMED_EVENT`) goes to the step's own sub-orchestration (instance ``<run>:<step>``),
  never to the run: only the step waits for it, and several manual steps of one run may wait at once.
- The API raises it only while the run is active and the step's sub-orchestration exists and has not ended.
  The step may still be in its begin: the Durable SDK keeps an event that arrives before anything waits for
  it and hands it to the first wait of that name, so an early confirmation is not lost.
- The decision is the manual kind's (dr.steps.manual): the orchestrator only waits, then hands the kind what
  happened (:func:`with_confirmation` / :func:`with_timeout` on the kind's state) through a poll.
- Who confirmed, when, the outcome and the reason go to the step's report detail. With roles enforced, who is
  the signed-in principal's name (dr.auth.actor), never a name in the body.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from .admission import RunStore, recovery_run
from .durations import iso
from .errors import ConflictError, NotFoundError
from .plan import STEP_ID_PATTERN, ManualStep
from .run import RunInput, StepCustomStatus, read_model, step_instance_id

STEP_CONFIRMED_EVENT = "step_confirmed"
ConfirmOutcome = Literal["done", "failed"]
OnTimeout = Literal["fail", "continue"]


class ConfirmRequest(BaseModel):
    """Body of POST /api/recoveries/{id}/steps/{step}/confirm."""

    model_config = ConfigDict(extra="forbid")

    by: str | None = Field(None, max_length=200, description="Who did it (ignored when roles are enforced).")
    reason: str = Field("", max_length=2000, description="What was done, or why it could not be.")
    outcome: ConfirmOutcome = Field("done", description="failed: the item could not be done; the step fails.")


class StepConfirmation(BaseModel):
    """The event's payload: who confirmed, the outcome, why, and when the API took it."""

    by: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)
    outcome: ConfirmOutcome = "done"
    at: datetime


class ManualState(BaseModel):
    """The manual kind's state between begin and its one poll (small: the instructions are bounded)."""

    instructions: str
    on_timeout: OnTimeout
    timeout_seconds: float
    waiting_since: datetime
    confirmation: StepConfirmation | None = None
    heard_at: datetime | None = Field(None, description="When the step heard the confirmation (its own clock).")
    timed_out_at: datetime | None = None


class ConfirmationWait(BaseModel):
    """What a step waiting for a person shows in its live status (and the run view, under the step)."""

    instructions: str
    deadline: str | None = Field(None, description="When the wait ends by itself (the step's timeout).")
    on_timeout: OnTimeout
    confirm: str = Field(description="The route that confirms it (takes the caller's function key).")

    @classmethod
    def of(cls, state: ManualState, run_id: str, step_id: str, deadline: datetime | None) -> ConfirmationWait:
        return cls(
            instructions=state.instructions,
            deadline=iso(deadline) if deadline is not None else None,
            on_timeout=state.on_timeout,
            confirm=f"POST {confirm_route(run_id, step_id)}",
        )


def confirm_route(run_id: str, step_id: str) -> str:
    return f"/api/recoveries/{quote(run_id, safe='')}/steps/{quote(step_id, safe='')}/confirm"


def with_confirmation(state: dict[str, Any], confirmation: StepConfirmation, heard_at: datetime) -> dict[str, Any]:
    """The kind's state with the confirmation the step heard at ``heard_at`` (what its poll decides on)."""
    return {**state, "confirmation": confirmation.model_dump(mode="json"), "heard_at": iso(heard_at)}


def with_timeout(state: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The kind's state once its timeout passed with no confirmation."""
    return {**state, "timed_out_at": iso(at)}


async def admit_confirmation(store: RunStore, run_id: str, step_id: str) -> str:
    """The instance id of the step's sub-orchestration, if a confirmation may be raised to it now.

    NotFoundError for a run or step that does not exist (the step id checked before any backend call);
    ConflictError when the run ended, the step is not a manual step, has not started, or has ended."""
    if not re.fullmatch(STEP_ID_PATTERN, step_id):
        raise NotFoundError(f"no step {step_id!r} in run {run_id!r}", code="StepNotFound")
    run = await recovery_run(store, run_id, show_input=True)
    if not run.active:
        raise ConflictError(f"run {run_id} is {run.runtime_status}: no step waits for a confirmation", code="RunEnded")
    run_input = read_model(RunInput, run.input)
    step = next((s for s in run_input.plan.steps if s.id == step_id), None) if run_input is not None else None
    if step is None:
        raise NotFoundError(f"run {run_id} has no step {step_id!r}", code="StepNotFound")
    if not isinstance(step, ManualStep):
        raise ConflictError(
            f"step {step_id!r} is a {step.kind} step: only manual steps take a confirmation", code="NotAManualStep"
        )
    instance_id = step_instance_id(run_id, step_id)
    step_run = await store.status(instance_id)
    if step_run is None:
        raise ConflictError(
            f"step {step_id!r} of run {run_id} has not started (it waits for {', '.join(step.after) or 'the run'}): "
            "confirm it once the run's status shows it waiting",
            code="StepNotStarted",
        )
    if not step_run.active:
        raise ConflictError(f"step {step_id!r} of run {run_id} has ended: nothing waits", code="StepEnded")
    custom = read_model(StepCustomStatus, step_run.custom_status)
    if custom is not None and custom.waiting is None:  # a waiting step publishes its wait until decided
        raise ConflictError(f"step {step_id!r} of run {run_id} no longer waits: it was decided", code="StepDecided")
    return instance_id
