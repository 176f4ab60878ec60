"""Calling a step kind the way the per-step sub-orchestration does, for the tests of the kinds that talk to ARM.

`step_context` is the StepContext a run hands a step (started at NOW); `KindCalls` calls begin, poll and check each
with a context of its own (a test moves ctx.now between calls); `Driver` keeps one context and the last progress,
so a test can begin, poll and tear down in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dr.plan import StepBase
from dr.steps import get_kind, spec_of
from dr.steps.base import Check, StepContext, StepKind, StepProgress
from tests.arm_fixtures import NOW


def step_context(
    step: dict[str, Any],
    *,
    plan_name: str,
    mode: str = "failover",
    run_id: str = "run-1",
    now: datetime | None = None,
    force: bool = False,
) -> StepContext:
    return StepContext(
        run_id=run_id,
        plan_name=plan_name,
        mode=mode,  # type: ignore[arg-type]
        step=step,
        started_at=NOW,
        now=now or NOW,
        force=force,
    )


@dataclass(frozen=True)
class KindCalls:
    """`kind`'s calls on a step's fields; `context` builds each call's StepContext from the fields and the call's
    keywords (now=, mode=, force=, ...)."""

    kind: StepKind[Any]
    context: Any  # Callable[..., StepContext]: the package's own defaults (plan name, run id)

    def begin(self, fields: dict[str, Any], **ctx: Any) -> StepProgress:
        c = self.context(fields, **ctx)
        return self.kind.begin(c, c.params())

    def poll(self, fields: dict[str, Any], state: dict[str, Any], **ctx: Any) -> StepProgress:
        c = self.context(fields, **ctx)
        return self.kind.poll(c, c.params(), state, [])

    def checks(self, fields: dict[str, Any], **ctx: Any) -> dict[str, Check]:
        c = self.context(fields, **ctx)
        return {check.name: check for check in self.kind.check(c, c.params())}


class Driver:
    """One step of one run: begin, then poll with the last state, then tear down."""

    def __init__(self, step: dict[str, Any], *, plan_name: str, mode: str = "failover", run_id: str = "run-1") -> None:
        self.kind: StepKind[Any] = get_kind(step["kind"])
        self.params: StepBase = spec_of(step["kind"]).params.model_validate(step)
        self.ctx = step_context(step, plan_name=plan_name, mode=mode, run_id=run_id)
        self.last: StepProgress | None = None

    def at(self, now: datetime) -> Driver:
        self.ctx = self.ctx.model_copy(update={"now": now})
        return self

    def check(self) -> dict[str, Check]:
        return {check.name: check for check in self.kind.check(self.ctx, self.params)}

    def begin(self) -> StepProgress:
        self.last = self.kind.begin(self.ctx, self.params)
        return self.last

    def poll(self, state: dict[str, Any] | None = None) -> StepProgress:
        """With the last progress's state unless given one."""
        if state is None:
            assert self.last is not None, "poll before begin"
            state = self.last.state
        self.last = self.kind.poll(self.ctx, self.params, state, [])
        return self.last

    def teardown(self, previous: Any = None, *, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """With the last progress's state (or none) unless given one; `previous` is the last teardown's result."""
        if state is None:
            state = self.last.state if self.last else {}
        return self.kind.teardown(self.ctx, self.params, state, previous)
