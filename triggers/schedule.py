"""Timer: start the standing blob sync on its schedule (setting DR_SYNC_SCHEDULE, NCRONTAB)."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from dr.run import SYNC_ORCHESTRATOR

from .http import log

bp = df.Blueprint()

SYNC_INSTANCE = "standing-sync"


@bp.timer_trigger(schedule="%DR_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def standing_sync_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    # One sync at a time: a slow sync is not stacked on by the next tick (NonRunningStates refuses too).
    status = await client.get_status(SYNC_INSTANCE)
    if status and status.runtime_status and status.runtime_status.value in ("Running", "Pending"):
        log.info("standing sync still running since %s: tick skipped", status.created_time)
        return
    await client.start_new(SYNC_ORCHESTRATOR, SYNC_INSTANCE, {})
    log.info("standing sync started%s", " (late tick)" if timer.past_due else "")
