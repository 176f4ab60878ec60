"""manual: a runbook item a person does and confirms (call the bank, check the partner's firewall).

begin changes nothing: it says what to do and returns waiting (or, in a drill with ``drill: skip``, done). The
step's sub-orchestration then waits for the person's confirmation (dr.confirmation: the operator API raises it
to the step), the step's timeout, or a cancel, and calls poll once with what happened in the state; poll
decides: ``done`` succeeds, ``failed`` fails the step (PermanentError, nothing to retry), a timeout fails it or
goes on with a warning as ``on_timeout`` says. Every call only reads its input: repeated, it answers the same.
No data moves, so no RPO; nothing is created, so nothing to tear down.
"""

from __future__ import annotations

from typing import Any

from ..confirmation import ManualState, confirm_route
from ..durations import format_duration, iso
from ..errors import PermanentError, StepTimeoutError
from ..plan import ManualStep
from .base import Check, StepContext, StepKind, StepProgress

SUMMARY_CHARS = 300


class Manual(StepKind[ManualStep]):
    def check(self, ctx: StepContext, params: ManualStep) -> list[Check]:
        then = "fails" if params.on_timeout == "fail" else "goes on without it (on_timeout: continue)"
        facts = {"instructions": params.instructions, "timeout": format_duration(params.timeout)}
        if ctx.is_drill and params.drill == "skip":
            return [
                Check.passed(
                    "drill_skips",
                    f"a drill does not wait for a person (drill: skip); a failover waits up to "
                    f"{format_duration(params.timeout)} for someone to confirm: {_short(params.instructions)}",
                    **facts,
                )
            ]
        return [
            Check.passed(
                "confirmation",
                f"the step waits up to {format_duration(params.timeout)} for a person with the operator role to "
                f"confirm with POST {confirm_route(ctx.run_id, params.id)}; without it the step {then}",
                **facts,
            )
        ]

    def begin(self, ctx: StepContext, params: ManualStep) -> StepProgress:
        detail: dict[str, Any] = {
            "instructions": params.instructions,
            "timeout_seconds": params.timeout.total_seconds(),
            "on_timeout": params.on_timeout,
        }
        if ctx.is_drill and params.drill == "skip":
            return StepProgress(
                done=True,
                summary=_short(
                    f"drill: skipped (drill: skip); a failover waits for a person to: {params.instructions}"
                ),
                detail={**detail, "drill": "skipped"},
            )
        state = ManualState(
            instructions=params.instructions,
            on_timeout=params.on_timeout,
            timeout_seconds=params.timeout.total_seconds(),
            waiting_since=ctx.now,
        )
        until = iso(ctx.now + params.timeout)
        return StepProgress(
            state=state.model_dump(mode="json"),
            poll_after_seconds=params.timeout.total_seconds(),
            summary=_short(f"waiting for a person to confirm (until {until}): {params.instructions}"),
            detail=detail,
        )

    def poll(
        self, ctx: StepContext, params: ManualStep, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        wait = ManualState.model_validate(state)
        detail: dict[str, Any] = {
            "instructions": wait.instructions,
            "timeout_seconds": wait.timeout_seconds,
            "on_timeout": wait.on_timeout,
            "waiting_since": iso(wait.waiting_since),
        }
        said = wait.confirmation
        if said is not None:
            heard = wait.heard_at or said.at
            waited = max(0.0, (heard - wait.waiting_since).total_seconds())
            detail.update(
                confirmed_by=said.by,
                confirmed_at=iso(said.at),
                outcome=said.outcome,
                reason=said.reason,
                waited_seconds=round(waited, 3),
            )
            if said.outcome == "failed":
                raise PermanentError(
                    f"{said.by} reported the runbook item failed: {said.reason or 'no reason given'}",
                    code="ManualStepFailed",
                )
            because = f": {said.reason}" if said.reason else ""
            return StepProgress(done=True, summary=_short(f"confirmed done by {said.by}{because}"), detail=detail)
        if wait.timed_out_at is not None:
            within = format_duration(params.timeout)
            if wait.on_timeout == "fail":
                raise StepTimeoutError(
                    f"nobody confirmed within {within} (on_timeout: fail): {_short(wait.instructions, 200)}",
                    code="ManualStepTimedOut",
                )
            detail.update(outcome="timed_out", timed_out_at=iso(wait.timed_out_at))
            return StepProgress(
                done=True,
                summary=_short(f"not confirmed within {within}; went on (on_timeout: continue)"),
                detail=detail,
                warnings=[f"nobody confirmed within {within}; the run went on without it (on_timeout: continue)"],
            )
        # Polled without a decision (only an orchestrator that did not wait does that): still waiting.
        return StepProgress(
            state=state,
            poll_after_seconds=params.timeout.total_seconds(),
            summary=_short(f"waiting for a person to confirm: {wait.instructions}"),
            detail=detail,
        )


def _short(text: str, limit: int = SUMMARY_CHARS) -> str:
    """One line of at most ``limit`` characters (statuses keep summaries short)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
