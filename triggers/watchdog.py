"""Timer: the stuck-run watchdog (setting DR_WATCHDOG_SCHEDULE, NCRONTAB; logic in dr.watchdog).

Each tick queries the active instances (every page, through triggers.instances), and writes one warning
per stuck recovery run: a JSON line with the fixed event name dr.watchdog.WATCHDOG_EVENT, which an Azure
Monitor log alert fires on (docs/deploy.md). ``GET /api/recoveries`` shows the same decision as ``stuck``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from dr.settings import get_settings
from dr.watchdog import WatchdogBounds, find_stuck, log_line

from .http import log
from .instances import DurableRuns

bp = df.Blueprint()


@bp.timer_trigger(schedule="%DR_WATCHDOG_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def stuck_run_watchdog(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    bounds = WatchdogBounds.from_settings(get_settings())
    stuck = await find_stuck(DurableRuns(client), datetime.now(UTC), bounds)
    for run in stuck:
        log.warning(log_line(run))
    log.info("watchdog: %d stuck run(s)%s", len(stuck), " (late tick)" if timer.past_due else "")
