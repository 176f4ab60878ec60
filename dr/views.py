"""What the operator API shows of a run, built from the Durable status (plain values, no SDK types)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from .durations import iso, parse_time


class StepView(BaseModel):
    id: str
    kind: str
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    elapsed_seconds: float | None = None
    summary: str = ""


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


def as_json_object(value: Any) -> dict[str, Any]:
    """Status payloads carry JSON values, sometimes still encoded as a string (input, custom status)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


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
) -> RunView:
    run_input = as_json_object(run_input)
    custom = as_json_object(custom_status)
    output = as_json_object(output) or output
    report = output if isinstance(output, dict) and "steps" in output else None
    steps: list[StepView] = []
    for step_id, step in (custom.get("steps") or {}).items():
        started = step.get("started_at")
        finished = step.get("finished_at")
        elapsed = None
        if started:
            end = parse_time(finished) if finished else now
            elapsed = round((end - parse_time(started)).total_seconds(), 1)
        summary = (live_summaries or {}).get(step_id) or step.get("summary") or ""
        steps.append(
            StepView(
                id=step_id,
                kind=step.get("kind", ""),
                status=step.get("status", "pending"),
                started_at=started,
                finished_at=finished,
                elapsed_seconds=elapsed,
                summary=summary,
            )
        )
    plan = run_input.get("plan") or {}
    return RunView(
        id=instance_id,
        plan=plan.get("name") if isinstance(plan, dict) else None,
        mode=run_input.get("mode"),
        runtime_status=runtime_status,
        # Before the orchestrator's first episode has published a status (the extension answers status
        # queries meanwhile too), a pending or running run is starting.
        phase=custom.get("phase") or ("starting" if runtime_status in ("Pending", "Running") else None),
        status=report.get("status") if report else None,
        created_at=iso(created) if created else None,
        updated_at=iso(updated) if updated else None,
        reason=run_input.get("reason"),
        requested_by=run_input.get("requested_by"),
        approval=custom.get("approval"),
        steps=steps,
        report=report,
        error=output if runtime_status == "Failed" and isinstance(output, str) else None,
    )
