"""The standing blob sync: every plan's blob_backup steps, copied incrementally between disasters, so a
regional outage that makes the primary unreadable costs at most one sync interval of data."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from dr.run import STEP_ORCHESTRATOR, SYNC_ORCHESTRATOR, StepOutcome, StepRunInput, step_instance_id
from dr.sync import SyncReport, SyncTargetsInput, target_key

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration=SYNC_ORCHESTRATOR)
def standing_sync(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    started = context.current_utc_datetime
    found = yield context.call_activity("list_sync_targets", SyncTargetsInput(now=started).model_dump(mode="json"))
    targets = [StepRunInput.model_validate(target) for target in found]
    tasks = [
        context.call_sub_orchestrator(
            STEP_ORCHESTRATOR,
            target.model_dump(mode="json"),
            instance_id=step_instance_id(context.instance_id, target_key(target)),
        )
        for target in targets
    ]
    outcomes = [StepOutcome.model_validate(result) for result in (yield context.task_all(tasks))] if tasks else []
    # Each blob step records its own last successful sync (the RPO watermark a failover reports).
    return SyncReport.of(started, targets, outcomes).model_dump(mode="json", exclude_none=True)
