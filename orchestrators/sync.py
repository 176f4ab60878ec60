"""The standing blob sync: every plan's blob_backup steps, copied incrementally between disasters, so a
regional outage that makes the primary unreadable costs at most one sync interval of data."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from dr.run import STEP_ORCHESTRATOR, SYNC_ORCHESTRATOR, StepOutcome, step_instance_id

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration=SYNC_ORCHESTRATOR)
def standing_sync(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    started = context.current_utc_datetime
    targets: list[dict[str, Any]] = yield context.call_activity("list_sync_targets", {"now": started.isoformat()})
    tasks = [
        context.call_sub_orchestrator(
            STEP_ORCHESTRATOR,
            target["input"],
            instance_id=step_instance_id(context.instance_id, target["key"]),
        )
        for target in targets
    ]
    outcomes = [StepOutcome.model_validate(result) for result in (yield context.task_all(tasks))] if tasks else []
    # Each blob step records its own last successful sync (the RPO watermark a failover reports).
    synced = []
    for target, outcome in zip(targets, outcomes, strict=True):
        entry = {"plan": target["plan"], "step": outcome.id, "status": outcome.status, "summary": outcome.summary}
        if outcome.failure:
            entry["error"] = outcome.failure.get("message", "")
        synced.append(entry)
    failed = [entry for entry in synced if entry["status"] != "succeeded"]
    return {"started_at": started.isoformat(), "steps": synced, "failed": len(failed)}
