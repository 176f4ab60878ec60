"""Step calls by kind: what the step activities do, with azure-core errors translated at this edge.

Each takes its activity's input as it came over the wire (a JSON object), reads it through its model in
:mod:`dr.steps.base`, finds the kind in the registry (:mod:`dr.steps`), and returns JSON. An Azure error a
kind let through leaves as a :mod:`dr.errors` error naming the step and the call (:func:`dr.errors.azure_errors`).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any

from .errors import DrError, azure_errors
from .permissions import permission_checks
from .steps import get_kind
from .steps.base import (
    Check,
    StepBeginInput,
    StepCheckInput,
    StepContext,
    StepPollInput,
    StepTeardownInput,
    StepWorkInput,
    TeardownResult,
)

log = logging.getLogger("dr.activities")


def _edge(ctx: StepContext, call: str) -> AbstractContextManager[None]:
    return azure_errors(f"step {ctx.step_id!r} {call}")


def begin(payload: dict[str, Any]) -> dict[str, Any]:
    ctx = StepBeginInput.model_validate(payload).context
    log.info("begin step %s of %s", ctx.step_id, ctx.run_id)
    with _edge(ctx, "begin"):
        progress = get_kind(ctx.step.kind).begin(ctx, ctx.params())
    return progress.model_dump(mode="json")


def check(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The kind's pre-flight checks, then whether the app's identity holds the ARM actions the step needs on
    each scope (:mod:`dr.permissions`, the same for every kind). A check that could not read what it needed
    is itself a failed check carrying the cause (a credential failure, a missing resource); permissions that
    could not be read are a warning with the cause: pre-flight reports, it does not raise."""
    ctx = StepCheckInput.model_validate(payload).context
    try:
        with _edge(ctx, "check"):
            checks = get_kind(ctx.step.kind).check(ctx, ctx.params())
    except DrError as error:
        checks = [Check.failed("readable", f"could not check step {ctx.step_id!r}: {error}", code=error.code)]
    try:
        checks = [*checks, *permission_checks(ctx)]
    except Exception as error:  # bounded and never raising: the permissions are then not verified
        checks = [
            *checks,
            Check.warning(
                "permissions",
                f"could not check the app's identity's ARM permissions for step {ctx.step_id!r}: {error}",
                error=type(error).__name__,
            ),
        ]
    return [item.model_dump(mode="json") for item in checks]


def poll(payload: dict[str, Any]) -> dict[str, Any]:
    call = StepPollInput.model_validate(payload)
    ctx = call.context
    with _edge(ctx, "poll"):
        progress = get_kind(ctx.step.kind).poll(ctx, ctx.params(), dict(call.state), list(call.work_results))
    return progress.model_dump(mode="json")


async def work(payload: dict[str, Any]) -> dict[str, Any]:
    """One work item, awaited: the items of a round run side by side on the worker's event loop (a kind
    without asyncio work runs on a thread, see :meth:`dr.steps.base.StepKind.work_async`)."""
    call = StepWorkInput.model_validate(payload)
    ctx = call.context
    with _edge(ctx, "work"):
        return await get_kind(ctx.step.kind).work_async(ctx, ctx.params(), dict(call.item))


def teardown(payload: dict[str, Any]) -> dict[str, Any]:
    call = StepTeardownInput.model_validate(payload)
    ctx = call.context
    log.info("teardown step %s of %s", ctx.step_id, ctx.run_id)
    with _edge(ctx, "teardown"):
        result = get_kind(ctx.step.kind).teardown(ctx, ctx.params(), dict(call.state), call.previous)
    return TeardownResult.model_validate(result).as_dict()
