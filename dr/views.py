"""What the operator API shows of a run, built from the Durable status (plain values, no SDK types).

A run's view is its orchestration's status, with each running step's live progress read from that step's
own sub-orchestration (its custom status is the one that moves while the step polls).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from .admission import ACTIVE_STATUSES, RunSnapshot, RunStore
from .durations import iso, parse_time
from .preview import StepPreview
from .run import RunCustomStatus, RunHeadline, RunResult, StepCustomStatus, read_model, step_instance_id
from .settings import get_settings
from .watchdog import StuckInfo, WatchdogBounds, stuck_reason


class StepView(BaseModel):
    id: str
    kind: str
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    elapsed_seconds: float | None = None
    summary: str = ""
    waiting: dict[str, Any] | None = Field(
        None,
        description="A step waiting for a person (status 'waiting'): instructions, deadline, the confirm route.",
    )


class RunView(BaseModel):
    id: str
    plan: str | None = None
    mode: str | None = None
    runtime_status: str
    phase: str | None = None
    status: str | None = Field(None, description="The report's status once the run finished.")
    created_at: str | None = None
    updated_at: str | None = None
    reason: str | None = None
    requested_by: str | None = None
    approval: dict[str, Any] | None = None
    steps: list[StepView] = Field(default_factory=list)
    report: dict[str, Any] | None = None
    error: str | None = None
    stuck: StuckInfo | None = Field(None, description="Set when the watchdog's rules find the run stuck.")
    will_do: list[StepPreview] | None = Field(None, description="While awaiting approval: what each step will do.")
    duration_seconds: float | None = Field(
        None, description="Start to end (the report's times once it has one); while active, so far."
    )
    rto_seconds: float | None = Field(None, description="From the report; null while running or when not recovered.")
    rpo_estimate_seconds: float | None = Field(None, description="From the report; null whenever not known.")


def as_json_object(value: Any) -> dict[str, Any]:
    """Status payloads carry JSON values, sometimes still encoded as a string (input, custom status)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _duration(
    result: RunResult | None, ended: bool, created: datetime | None, updated: datetime | None, now: datetime
) -> float | None:
    """The report's start to finish; else what the Durable backend recorded (never a guess)."""
    if result is not None:
        try:
            return round((parse_time(result.finished_at) - parse_time(result.started_at)).total_seconds(), 3)
        except ValueError:
            return None
    end = updated if ended else now
    return round((end - created).total_seconds(), 3) if created and end else None


def run_view(
    instance_id: str,
    runtime_status: str,
    created: datetime | None,
    updated: datetime | None,
    run_input: Any,
    custom_status: Any,
    output: Any,
    now: datetime,
    live_summaries: dict[str, str] | None = None,
    live_waiting: dict[str, dict[str, Any]] | None = None,
) -> RunView:
    headline = read_model(RunHeadline, run_input) or RunHeadline()
    custom = read_model(RunCustomStatus, custom_status)
    output = as_json_object(output) or output
    result = read_model(RunResult, output)
    steps: list[StepView] = []
    ended = runtime_status not in ACTIVE_STATUSES
    for step_id, step in (custom.steps if custom else {}).items():
        status, finished_at, summary = (
            step.status,
            step.finished_at,
            (live_summaries or {}).get(step_id) or step.summary,
        )
        if ended and status in ("pending", "running"):
            # The run ended (terminated, failed) without saying how this step ended: never show it running
            # under a finished run, nor let its elapsed time grow.
            status, finished_at = "canceled", finished_at or updated
            summary = (
                f"the run ended ({runtime_status}) while this step ran: what it started may still be changing the "
                f"estate ({step.summary or 'no progress reported'})"
                if step.status == "running"
                else f"not started: the run ended ({runtime_status})"
            )
        waiting = (live_waiting or {}).get(step_id) if status == "running" else None
        elapsed = None
        if step.started_at:
            end = finished_at or now
            elapsed = round((end - step.started_at).total_seconds(), 1)
        steps.append(
            StepView(
                id=step_id,
                kind=step.kind,
                status="waiting" if waiting is not None else status,
                started_at=iso(step.started_at) if step.started_at else None,
                finished_at=iso(finished_at) if finished_at else None,
                elapsed_seconds=elapsed,
                summary=summary,
                waiting=waiting,
            )
        )
    return RunView(
        id=instance_id,
        plan=headline.plan,
        mode=headline.mode,
        runtime_status=runtime_status,
        # Before the orchestrator's first episode has published a status (the extension answers status
        # queries meanwhile too), a pending or running run is starting.
        phase=custom.phase if custom else ("starting" if runtime_status in ("Pending", "Running") else None),
        status=result.status if result else None,
        created_at=iso(created) if created else None,
        updated_at=iso(updated) if updated else None,
        reason=headline.reason,
        requested_by=headline.requested_by,
        approval=custom.approval.as_json() if custom else None,
        steps=steps,
        report=output if result else None,
        error=output if runtime_status == "Failed" and isinstance(output, str) else None,
        will_do=custom.will_do if custom and custom.phase == "awaiting_approval" and not ended else None,
        duration_seconds=_duration(result, ended, created, updated, now),
        rto_seconds=result.rto_seconds if result else None,
        rpo_estimate_seconds=result.rpo_estimate_seconds if result else None,
    )


def snapshot_view(
    run: RunSnapshot,
    now: datetime,
    live_summaries: dict[str, str] | None = None,
    live_waiting: dict[str, dict[str, Any]] | None = None,
) -> RunView:
    view = run_view(
        run.instance_id,
        run.runtime_status,
        run.created,
        run.updated,
        run.input,
        run.custom_status,
        run.output,
        now,
        live_summaries,
        live_waiting,
    )
    view.stuck = stuck_reason(run, now, WatchdogBounds.from_settings(get_settings()))
    return view


async def live_summaries(store: RunStore, run: RunSnapshot) -> dict[str, str]:
    """Step id -> what the step's sub-orchestration says now, for each step the run shows running."""
    return (await live_steps(store, run)).summaries


@dataclass(frozen=True)
class LiveSteps:
    """What the running steps' own sub-orchestrations say now: a summary each, and the waits for a person."""

    summaries: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)


async def live_steps(store: RunStore, run: RunSnapshot) -> LiveSteps:
    """One status read per step the run shows running."""
    live = LiveSteps()
    for step_id in run.running_steps():
        step = await store.status(step_instance_id(run.instance_id, step_id))
        progress = read_model(StepCustomStatus, step.custom_status) if step else None
        if progress and progress.summary:
            live.summaries[step_id] = progress.summary
        if progress and progress.waiting:
            live.waiting[step_id] = progress.waiting
    return live
