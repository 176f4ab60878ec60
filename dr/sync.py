"""The standing sync's domain side: which steps to run (each blob step records its own success)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .plan import BlobBackupStep, load_catalog
from .run import StepRunInput
from .settings import Settings


def sync_targets(settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Every blob_backup step of every valid plan, as a step sub-orchestration input in sync mode."""
    catalog = load_catalog(settings.plans_dir)
    targets = []
    for plan in catalog.plans.values():
        for step in plan.steps:
            if not isinstance(step, BlobBackupStep):
                continue
            run_input = StepRunInput(
                context={
                    "run_id": f"standing-sync-{now.strftime('%Y%m%dT%H%M%S')}",
                    "plan_name": plan.name,
                    "mode": "sync",
                    "step": step.model_dump(mode="json"),
                    "started_at": now.isoformat(),
                    "now": now.isoformat(),
                },
                retry=step.retry.model_dump(mode="json"),
                min_poll_seconds=settings.step_poll_min_seconds,
            )
            targets.append(
                {
                    "plan": plan.name,
                    "step": step.id,
                    "key": f"{plan.name}.{step.id}",
                    "input": run_input.model_dump(mode="json"),
                }
            )
    return targets
