"""The contract every step kind implements: begin, poll, work (optional fan-out), teardown (optional).

The per-step sub-orchestration drives it (the monitor pattern): ``begin`` starts the work and returns at
once; while the step is not done the orchestrator either fans out the ``work`` items the kind asked for
(bounded parallelism, one activity each) or waits ``poll_after_seconds`` on a durable timer, then calls
``poll`` with the kind's small ``state`` and the results of the work items. No call blocks for minutes.
Every call may run more than once (activities are at-least-once): each must find work already done and say
so instead of doing it twice. Failure is raised as a :mod:`dr.errors` error, never returned.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from ..durations import iso
from ..errors import PreconditionError
from ..plan import Step, StepBase

# A moment in a kind's state, written as reports and statuses write time (``2026-11-28T12:00:00Z``).
IsoTime = Annotated[datetime, PlainSerializer(iso, return_type=str)]


CheckStatus = Literal["passed", "warning", "failed"]


class Check(BaseModel):
    """One pre-flight fact about a step, found read-only before anything changes.

    ``failed`` means the step would fail or leave the estate worse (a failover stops before its first change
    unless an approver overrides it); ``warning`` means it can run but an operator should know (e.g. the primary
    is unreachable, which a failover expects); ``passed`` says what was verified. ``message`` is a sentence an
    operator can act on at 3 a.m.: what is wrong, where, and what to do.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Short, stable id of the check, e.g. 'target_server_exists'.")
    status: CheckStatus
    message: str
    facts: dict[str, Any] = Field(default_factory=dict, description="What the check read (no secrets).")

    @classmethod
    def passed(cls, name: str, message: str, **facts: Any) -> Check:
        return cls(name=name, status="passed", message=message, facts=facts)

    @classmethod
    def warning(cls, name: str, message: str, **facts: Any) -> Check:
        return cls(name=name, status="warning", message=message, facts=facts)

    @classmethod
    def failed(cls, name: str, message: str, **facts: Any) -> Check:
        return cls(name=name, status="failed", message=message, facts=facts)


class StepContext(BaseModel):
    """What a step call knows about its run. Travels in every activity input (keep it small)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    plan_name: str
    mode: Literal["failover", "drill", "failback", "sync"] = Field(
        description="sync = the standing blob sync between disasters (production targets, not a failover); "
        "failback = the way home after a failover (production, each step reversed: dr.failback)."
    )
    step: Step = Field(description="The step as this run executes it (from the run's frozen plan snapshot).")
    started_at: datetime
    now: datetime = Field(description="The orchestrator's deterministic time when it made the call.")
    force: bool = Field(False, description="Operator override of safety refusals such as a cool-down.")
    reason: str | None = Field(None, description="Why the run was started (the operator's or the alert's).")
    failover_values: dict[str, Any] | None = Field(
        None,
        description="Drills only: the failover values of the parameters the drill's overrides replaced, from "
        "the plan snapshot (see Plan.for_mode). None: not known.",
    )
    preflight: list[Check] = Field(
        default_factory=list,
        description="This step's pre-flight checks of this run that its kind reuses (KindSpec.reuses_checks).",
    )
    preflight_at: datetime | None = Field(None, description="When those checks were made.")

    def fresh_check(self, name: str, within_seconds: float) -> Check | None:
        """This run's pre-flight check ``name`` when it was made at most ``within_seconds`` before ``now`` (only the
        checks the kind lists in KindSpec.reuses_checks travel with the step)."""
        if self.preflight_at is None or (self.now - self.preflight_at).total_seconds() > within_seconds:
            return None
        return next((check for check in self.preflight if check.name == name), None)

    def params(self) -> StepBase:
        return self.step

    def failover_step(self) -> StepBase | None:
        """The step as a failover of the same plan runs it: what a drill must never write to (None: unknown)."""
        if self.failover_values is None:
            return None
        model = type(self.step)  # the kind's parameters model (Step is a union discriminated by kind)
        return model.model_validate({**self.step.model_dump(mode="json"), **self.failover_values})

    @property
    def step_id(self) -> str:
        return self.step.id

    @property
    def is_drill(self) -> bool:
        return self.mode == "drill"


class StepProgress(BaseModel):
    """What begin and poll return. ``state`` is the kind's own memory between calls (small: < 16 KB)."""

    done: bool = False
    state: dict[str, Any] = Field(default_factory=dict)
    poll_after_seconds: float = Field(0.0, ge=0)
    work: list[dict[str, Any]] = Field(default_factory=list, description="Items to fan out before next poll.")
    max_parallel: int = Field(4, ge=1, le=64)
    summary: str = Field("", description="One line for the live status, e.g. '1200/3000 blobs copied'.")
    detail: dict[str, Any] = Field(default_factory=dict, description="User-facing facts for the report.")
    warnings: list[str] = Field(default_factory=list)
    rpo_estimate_seconds: float | None = Field(None, description="Data the failover may lose, if known.")


class TeardownResult(BaseModel):
    """What teardown answers: one line of what it did and the kind's own facts for the report (kept as the
    kind gave them). ``done=False`` asks for another call after ``poll_after_seconds``: an undo that takes time."""

    model_config = ConfigDict(extra="allow", frozen=True)

    teardown: str | None = None
    done: bool | None = None
    poll_after_seconds: float | None = Field(None, ge=0)
    status: str | None = Field(None, description="'failed' when the orchestrator could not tear the step down.")
    error: str | None = None

    @classmethod
    def failed(cls, error: str) -> TeardownResult:
        return cls(status="failed", error=error[:1000])

    @property
    def finished(self) -> bool:
        return self.done is not False

    def as_dict(self) -> dict[str, Any]:
        """The answer as given (only the keys it set), for the report and the kind's next call."""
        return self.model_dump(mode="json", exclude_unset=True)


# -- the step activities' inputs (one model each; on the wire, JSON objects) --------------------------------


class StepCall(BaseModel):
    """What every step activity's input carries: the run's context, with ``now`` refreshed per call."""

    model_config = ConfigDict(frozen=True)

    context: StepContext


class StepBeginInput(StepCall):
    """step_begin's input: the context alone."""


class StepPollInput(StepCall):
    state: dict[str, Any] = Field(default_factory=dict, description="StepProgress.state of the last call.")
    work_results: list[dict[str, Any]] = Field(default_factory=list, description="In the work items' order.")


class StepCheckInput(StepCall):
    """step_check's input: the context alone (``context.mode`` says which run the checks are for)."""


class StepWorkInput(StepCall):
    item: dict[str, Any] = Field(description="One of StepProgress.work (the kind's own item).")


class StepTeardownInput(StepCall):
    state: dict[str, Any] = Field(default_factory=dict, description="The step's last state.")
    previous: TeardownResult | None = Field(None, description="The last answer, while an undo is still running.")


class StepKind[P: StepBase](ABC):
    """One kind's calls. The registry (:mod:`dr.steps`) makes the one instance of each and gives it its name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    @abstractmethod
    def begin(self, ctx: StepContext, params: P) -> StepProgress: ...

    def check(self, ctx: StepContext, params: P) -> list[Check]:
        """Read-only pre-flight: every fact that decides whether ``begin`` would succeed in ``ctx.mode``
        (resources exist and are in the expected state, the kind's own refusal rules, the data at risk).
        Never writes, never waits long (each probe bounded); an Azure error a check cannot read through is
        reported as a failed check by the dispatcher. Default: nothing to check."""
        return []

    def poll(
        self, ctx: StepContext, params: P, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        raise NotImplementedError(f"{self.kind} finishes in begin and is never polled")

    def work(self, ctx: StepContext, params: P, item: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError(f"{self.kind} does not fan out work items")

    async def work_async(self, ctx: StepContext, params: P, item: dict[str, Any]) -> dict[str, Any]:
        """``work`` as the (async) ``step_work`` activity calls it. A kind whose work is asyncio I/O overrides
        this, so that the items of a round share the worker's event loop instead of each holding a thread of
        its own and contending for the interpreter lock; by default ``work`` runs on a thread, off the loop."""
        return await asyncio.to_thread(self.work, ctx, params, item)

    def teardown(
        self, ctx: StepContext, params: P, state: dict[str, Any], previous: TeardownResult | None = None
    ) -> dict[str, Any]:
        """Undo what a drill created (only what this run created). Default: nothing to undo.

        An undo that takes time (deleting a database) returns ``"done": False`` with
        ``poll_after_seconds``; the orchestrator waits on a timer and calls teardown again with the
        same ``state`` and its last answer as ``previous``, until an answer without ``"done": False``.
        """
        return {"teardown": "nothing to undo"}


def refuse_sync(ctx: StepContext, kind: str) -> None:
    """The standing sync runs blob steps only: a kind that moves production refuses it (every such kind's begin)."""
    if ctx.mode == "sync":
        raise PreconditionError(
            f"{kind} runs in a failover, failback or drill, not in the standing sync", code="WrongMode"
        )
