"""Step calls by kind: what the step activities do, with azure-core errors translated at this edge.

Each takes its activity's input as it came over the wire (a JSON object), reads it through its model in
:mod:`dr.steps.base`, and returns JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .errors import from_azure_error
from .steps import get_kind
from .steps.base import (
    StepBeginInput,
    StepContext,
    StepKind,
    StepPollInput,
    StepProgress,
    StepTeardownInput,
    StepWorkInput,
    TeardownResult,
)

log = logging.getLogger("dr.activities")


def _translated[T](ctx: StepContext, call: Callable[[], T], what: str) -> T:
    from azure.core.exceptions import AzureError

    try:
        return call()
    except AzureError as exc:
        raise from_azure_error(exc, what=f"step {ctx.step_id!r} {what}") from exc


def _kind(ctx: StepContext) -> StepKind[Any]:
    kind: StepKind[Any] = get_kind(ctx.step.kind)
    return kind


def begin(payload: dict[str, Any]) -> dict[str, Any]:
    ctx = StepBeginInput.model_validate(payload).context
    log.info("begin step %s of %s", ctx.step_id, ctx.run_id)
    kind = _kind(ctx)
    progress: StepProgress = _translated(ctx, lambda: kind.begin(ctx, ctx.params()), "begin")
    return progress.model_dump(mode="json")


def poll(payload: dict[str, Any]) -> dict[str, Any]:
    call = StepPollInput.model_validate(payload)
    ctx, kind = call.context, _kind(call.context)
    progress: StepProgress = _translated(
        ctx, lambda: kind.poll(ctx, ctx.params(), dict(call.state), list(call.work_results)), "poll"
    )
    return progress.model_dump(mode="json")


def work(payload: dict[str, Any]) -> dict[str, Any]:
    call = StepWorkInput.model_validate(payload)
    ctx, kind = call.context, _kind(call.context)
    result: dict[str, Any] = _translated(ctx, lambda: kind.work(ctx, ctx.params(), dict(call.item)), "work")
    return result


def teardown(payload: dict[str, Any]) -> dict[str, Any]:
    call = StepTeardownInput.model_validate(payload)
    ctx, kind = call.context, _kind(call.context)
    log.info("teardown step %s of %s", ctx.step_id, ctx.run_id)
    result = _translated(ctx, lambda: kind.teardown(ctx, ctx.params(), call.kind_state()), "teardown")
    return TeardownResult.model_validate(result).as_dict()
