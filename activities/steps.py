"""Step activities: a thin dispatch onto dr.dispatch (the kinds live in dr/steps/)."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from dr import dispatch

bp = df.Blueprint()
log = logging.getLogger("dr.activities")


@bp.activity_trigger(input_name="payload", activity="step_begin")
def step_begin(payload: dict[str, Any]) -> dict[str, Any]:
    log.info("begin step %s of %s", payload["context"]["step"]["id"], payload["context"]["run_id"])
    return dispatch.begin(payload)


@bp.activity_trigger(input_name="payload", activity="step_poll")
def step_poll(payload: dict[str, Any]) -> dict[str, Any]:
    return dispatch.poll(payload)


@bp.activity_trigger(input_name="payload", activity="step_work")
def step_work(payload: dict[str, Any]) -> dict[str, Any]:
    return dispatch.work(payload)


@bp.activity_trigger(input_name="payload", activity="step_teardown")
def step_teardown(payload: dict[str, Any]) -> dict[str, Any]:
    log.info("teardown step %s of %s", payload["context"]["step"]["id"], payload["context"]["run_id"])
    return dispatch.teardown(payload)
