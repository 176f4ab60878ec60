"""Step activities: a thin dispatch onto dr.dispatch (the kinds live in dr/steps/, the inputs' models in
dr/steps/base.py)."""

from __future__ import annotations

import azure.durable_functions as df

from dr import dispatch
from dr.clients import get_clients
from dr.history import plan_reports
from dr.steps import load_all_kinds
from dr.whatif import HISTORY_REPORTS, PreflightInput, run_preflight

# Binding annotations are plain classes (dict, list): the Functions Python runtime refuses a builtin
# generic alias such as dict[str, Any] at load ("invalid non-type annotation"), and the worker then
# loads no function of the app at all.
bp = df.Blueprint()
load_all_kinds()


@bp.activity_trigger(input_name="payload", activity="step_begin")
def step_begin(payload: dict) -> dict:
    return dispatch.begin(payload)


@bp.activity_trigger(input_name="payload", activity="preflight")
def preflight(payload: dict) -> dict:
    """A run's pre-flight: every step's checks at once and the plan's past runs, in one activity (one
    dispatch and one orchestrator episode per run, not one per step)."""
    request = PreflightInput.model_validate(payload)
    result = run_preflight(request, lambda: plan_reports(get_clients(), request.plan, limit=HISTORY_REPORTS))
    return result.model_dump(mode="json")


@bp.activity_trigger(input_name="payload", activity="step_poll")
def step_poll(payload: dict) -> dict:
    return dispatch.poll(payload)


@bp.activity_trigger(input_name="payload", activity="step_work")
async def step_work(payload: dict) -> dict:
    """Async on purpose: the Python worker runs coroutine functions on its event loop, so the work items of a
    round (a blob step's copies: network-bound) share one loop rather than a thread each, whose contention for
    the interpreter lock cost a fifth of the copy rate through a 20 ms round trip (benchmarks/blob_backup.py)."""
    return await dispatch.work(payload)


@bp.activity_trigger(input_name="payload", activity="step_teardown")
def step_teardown(payload: dict) -> dict:
    return dispatch.teardown(payload)
