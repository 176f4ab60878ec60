"""The standing sync's domain side: which steps to run (each blob step records its own success), and what
the sync orchestration reports.

Re-protect: while a plan is failed over (dr.plan_state), its blob steps run the other way, secondary →
primary, with the failback's rules (dr.failback: no deletes, a newer primary blob kept and reported), so that
a failback finds the primary's data fresh. Until the primary answers, those syncs fail and say so.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .clients import get_clients
from .errors import DrError
from .failback import reprotect_step
from .plan import BlobBackupStep, load_catalog
from .plan_state import read_plan_state
from .run import StepOutcome, StepRunInput
from .settings import Settings

log = logging.getLogger(__name__)


class SyncTargetsInput(BaseModel):
    """list_sync_targets' input."""

    model_config = ConfigDict(frozen=True)

    now: datetime = Field(description="The sync orchestration's start: names the run, starts each step.")


def sync_targets(settings: Settings, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """list_sync_targets: every blob_backup step of every valid plan, as a step sub-orchestration input
    (StepRunInput as JSON) in sync mode."""
    now = SyncTargetsInput.model_validate(payload).now
    catalog = load_catalog(settings.plans_dir)
    targets = []
    clients = get_clients()
    for plan in catalog.plans.values():
        blob_steps = [step for step in plan.steps if isinstance(step, BlobBackupStep)]
        if not blob_steps:
            continue
        try:
            protection = read_plan_state(clients, plan.name, plan.regions).protection
        except DrError as exc:
            # Syncing the wrong way would overwrite the serving side's new data with the stale side's: no sync.
            log.warning("standing sync skips plan %s: its state could not be read: %s", plan.name, exc.message)
            continue
        if protection == "none":  # split: which side is current is a question for an operator
            log.warning("standing sync skips plan %s: its service is split between the regions", plan.name)
            continue
        for forward in blob_steps:
            step = reprotect_step(forward, plan.failback) if protection == "secondary_to_primary" else forward
            run_input = StepRunInput.start(
                run_id=f"standing-sync-{now.strftime('%Y%m%dT%H%M%S')}",
                plan_name=plan.name,
                mode="sync",
                step=step,
                started_at=now,
                now=now,
                min_poll_seconds=settings.step_poll_min_seconds,
            )
            targets.append(run_input.model_dump(mode="json"))
    return targets


def target_key(target: StepRunInput) -> str:
    """What names a target's step instance within a sync run: its plan and step."""
    return f"{target.context.plan_name}.{target.context.step_id}"


class SyncedStep(BaseModel):
    plan: str
    step: str
    status: str
    summary: str
    error: str | None = None


class SyncReport(BaseModel):
    """The standing sync orchestration's output (dumped without the None values)."""

    started_at: str
    steps: list[SyncedStep]
    failed: int

    @classmethod
    def of(cls, started_at: datetime, targets: list[StepRunInput], outcomes: list[StepOutcome]) -> SyncReport:
        steps = [
            SyncedStep(
                plan=target.context.plan_name,
                step=outcome.id,
                status=outcome.status,
                summary=outcome.summary,
                error=outcome.failure.message if outcome.failure else None,
            )
            for target, outcome in zip(targets, outcomes, strict=True)
        ]
        failed = sum(1 for step in steps if step.status != "succeeded")
        return cls(started_at=started_at.isoformat(), steps=steps, failed=failed)
