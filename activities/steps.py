"""Step activities: a thin dispatch onto dr.dispatch (the kinds live in dr/steps/, the inputs' models in
dr/steps/base.py)."""

from __future__ import annotations

import azure.durable_functions as df

from dr import dispatch

# Binding annotations are plain classes (dict, list): the Functions Python runtime refuses a builtin
# generic alias such as dict[str, Any] at load ("invalid non-type annotation"), and the worker then
# loads no function of the app at all.
bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity="step_begin")
def step_begin(payload: dict) -> dict:
    return dispatch.begin(payload)


@bp.activity_trigger(input_name="payload", activity="step_check")
def step_check(payload: dict) -> list:
    return dispatch.check(payload)


@bp.activity_trigger(input_name="payload", activity="step_poll")
def step_poll(payload: dict) -> dict:
    return dispatch.poll(payload)


@bp.activity_trigger(input_name="payload", activity="step_work")
def step_work(payload: dict) -> dict:
    return dispatch.work(payload)


@bp.activity_trigger(input_name="payload", activity="step_teardown")
def step_teardown(payload: dict) -> dict:
    return dispatch.teardown(payload)
