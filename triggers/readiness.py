"""Timers of "know before the disaster" (logic in dr.readiness):

* ``readiness_timer`` (setting DR_READINESS_SCHEDULE, NCRONTAB, default every 30 minutes) evaluates every
  plan and stores each evaluation; a plan that is not ready logs the warning dr.readiness.NOT_READY_EVENT.
* ``readiness_changes_timer`` (every minute) re-evaluates a plan as soon as its file's digest differs from
  its stored evaluation's: cheap when nothing changed (one listing of the stored evaluations).
* ``scheduled_drills_timer`` (every minute) starts each plan's drill due by its ``drill.schedule``, through
  the operator intake, once per due time: the run id derives from the plan and the due time, and a run
  that exists (started by an earlier firing, or another instance) is never started again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from dr.admission import admit_operator_start
from dr.clients import get_clients
from dr.durations import iso
from dr.errors import ConflictError, DrError
from dr.plan import scan_plans
from dr.readiness import due_drills, readiness_tick, scheduled_drill
from dr.settings import get_settings

from .http import log
from .instances import DurableRuns

bp = df.Blueprint()

EVERY_MINUTE = "0 * * * * *"


def _tick(timer: func.TimerRequest, *, changed_only: bool) -> None:
    what = "changed plans" if changed_only else "every plan"
    try:
        result = readiness_tick(get_clients(), get_settings(), datetime.now(UTC), changed_only=changed_only)
    except DrError as exc:  # no plans folder, no reports account: nothing evaluated this tick
        log.error("readiness (%s): %s", what, exc)
        return
    not_ready = sorted(record.plan for record in result.evaluated if record.ready is not True)
    log.info(
        "readiness (%s): %d evaluated, %d not ready%s, %d unchanged, %d error(s)%s",
        what,
        len(result.evaluated),
        len(not_ready),
        f" ({', '.join(not_ready)})" if not_ready else "",
        len(result.unchanged),
        len(result.errors),
        " (late tick)" if timer.past_due else "",
    )


# Sync functions: the worker runs them on its thread pool (evaluations make blocking cloud calls).
@bp.timer_trigger(schedule="%DR_READINESS_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def readiness_timer(timer: func.TimerRequest) -> None:
    _tick(timer, changed_only=False)


@bp.timer_trigger(schedule=EVERY_MINUTE, arg_name="timer", run_on_startup=False, use_monitor=True)
def readiness_changes_timer(timer: func.TimerRequest) -> None:
    _tick(timer, changed_only=True)


@bp.timer_trigger(schedule=EVERY_MINUTE, arg_name="timer", run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def scheduled_drills_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    settings = get_settings()
    now = datetime.now(UTC)
    try:
        files = await asyncio.to_thread(scan_plans, settings.plans_dir)
    except DrError as exc:
        log.error("scheduled drills: %s", exc)
        return
    runs = DurableRuns(client)
    for plan, due in due_drills(files, now):
        instance_id, run = scheduled_drill(plan, due, now, settings)
        try:
            if await runs.status(instance_id) is not None:  # started by an earlier firing (maybe done)
                continue
            await admit_operator_start(runs, plan.name, "drill", instance_id, now=now)
            await runs.start(instance_id, run)
        except ConflictError:  # another firing or instance started it a moment ago
            log.info("scheduled drill %s of plan %s: already started", instance_id, plan.name)
            continue
        except Exception as exc:  # one plan's failure does not keep the others' drills from starting
            log.error("scheduled drill of plan %s due %s not started: %s", plan.name, iso(due), exc)
            continue
        log.info("scheduled drill %s of plan %s started (due %s)", instance_id, plan.name, iso(due))
