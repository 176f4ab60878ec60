"""Step calls by kind: what the step activities do, with azure-core errors translated at this edge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import from_azure_error
from .steps import get_kind
from .steps.base import StepContext, StepProgress


def _translated[T](ctx: StepContext, call: Callable[[], T], what: str) -> T:
    from azure.core.exceptions import AzureError

    try:
        return call()
    except AzureError as exc:
        raise from_azure_error(exc, what=f"step {ctx.step_id!r} {what}") from exc


def begin(payload: dict[str, Any]) -> dict[str, Any]:
    ctx = StepContext.model_validate(payload["context"])
    kind = get_kind(ctx.step["kind"])
    progress: StepProgress = _translated(ctx, lambda: kind.begin(ctx, ctx.params()), "begin")
    return progress.model_dump(mode="json")


def poll(payload: dict[str, Any]) -> dict[str, Any]:
    ctx = StepContext.model_validate(payload["context"])
    kind = get_kind(ctx.step["kind"])
    state = dict(payload.get("state") or {})
    results = list(payload.get("work_results") or [])
    progress: StepProgress = _translated(ctx, lambda: kind.poll(ctx, ctx.params(), state, results), "poll")
    return progress.model_dump(mode="json")


def work(payload: dict[str, Any]) -> dict[str, Any]:
    ctx = StepContext.model_validate(payload["context"])
    kind = get_kind(ctx.step["kind"])
    result: dict[str, Any] = _translated(ctx, lambda: kind.work(ctx, ctx.params(), dict(payload["item"])), "work")
    return result


def teardown(payload: dict[str, Any]) -> dict[str, Any]:
    ctx = StepContext.model_validate(payload["context"])
    kind = get_kind(ctx.step["kind"])
    state = dict(payload.get("state") or {})
    result: dict[str, Any] = _translated(ctx, lambda: kind.teardown(ctx, ctx.params(), state), "teardown")
    return result
