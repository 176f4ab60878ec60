"""What the two traffic switches (traffic_manager_failover, front_door_origins) share:

- their gates' verdicts (:class:`Verdicts`): each rule's outcome is a pre-flight check and, when it refuses, the
  very error begin raises, so the pre-flight and begin cannot disagree;
- a drill's mark on its test profile: the run that switches it and the baseline its teardown restores, as tags
  written before the first change, so a begin retried after a partial switch still knows the true baseline
  (each kind encodes its own settings: the tag values already written must stay readable);
- poll's verdict on the switch within the plan's verify window (:func:`verify_progress`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..durations import format_duration
from ..errors import DrError, PermanentError
from .base import Check, StepContext, StepProgress

TAG_DRILL_RUN = "dr-drill-run"
TAG_DRILL_BASELINE = "dr-drill-baseline"
TAG_VALUE_MAX = 256  # ARM caps a tag value at 256 characters
BASELINE_TOO_LONG = "baseline too long for a tag: kept in the step state only"


@dataclass(frozen=True)
class Verdict:
    """One rule's outcome: what the pre-flight reports and, when the rule refuses, the error begin raises."""

    check: Check
    refusal: DrError | None = None


@dataclass(kw_only=True)
class Verdicts:
    """The verdicts of a gate's rules, in the order they ran (each kind's gate adds what its rules read)."""

    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def refusal(self) -> DrError | None:
        """The first refusal, in the rules' order: what begin raises."""
        return next((verdict.refusal for verdict in self.verdicts if verdict.refusal is not None), None)

    @property
    def checks(self) -> list[Check]:
        return [verdict.check for verdict in self.verdicts]

    def passed(self, name: str, message: str, **facts: Any) -> None:
        self.verdicts.append(Verdict(Check.passed(name, message, **facts)))

    def warn(self, name: str, message: str, **facts: Any) -> None:
        self.verdicts.append(Verdict(Check.warning(name, message, **facts)))

    def refuse(self, name: str, error: DrError, message: str | None = None, **facts: Any) -> None:
        """A failed rule: ``message`` is the pre-flight's sentence (default: the error's own message)."""
        check = Check.failed(name, message or error.message, code=error.code, **facts)
        self.verdicts.append(Verdict(check, error))


def marked_by(tags: Mapping[str, str], run_id: str) -> bool:
    """The test profile carries this run's drill mark (this run began switching it)."""
    return tags.get(TAG_DRILL_RUN) == run_id


def recorded_baseline[S](tags: Mapping[str, str], run_id: str, decode: Callable[[str], S]) -> S | None:
    """The baseline this run recorded on the test profile (for a retried begin, or a teardown whose state lost
    it), or None when it recorded none."""
    if marked_by(tags, run_id) and tags.get(TAG_DRILL_BASELINE):
        return decode(tags[TAG_DRILL_BASELINE])
    return None


def with_mark(tags: Mapping[str, str], run_id: str, baseline: str | None) -> tuple[dict[str, str], list[str]]:
    """The tags with this run's mark and its encoded ``baseline``, and what to warn about: a baseline too long for
    a tag (None) is kept in the step's state only."""
    marked = {**tags, TAG_DRILL_RUN: run_id}
    if baseline is None:
        return marked, [BASELINE_TOO_LONG]
    marked[TAG_DRILL_BASELINE] = baseline
    return marked, []


def without_mark(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags with a drill's mark taken off: what teardown writes back."""
    return {key: value for key, value in tags.items() if key not in (TAG_DRILL_RUN, TAG_DRILL_BASELINE)}


class Verifies(Protocol):
    """The plan fields of a switch that poll verifies."""

    @property
    def verify_window(self) -> timedelta: ...

    @property
    def poll_interval(self) -> timedelta: ...


def verify_progress(
    ctx: StepContext,
    params: Verifies,
    verify_deadline: datetime,
    *,
    verified: bool,
    name: str,
    subject: str,
    seen: str,
    elapsed: float,
    state: dict[str, Any],
    detail: dict[str, Any],
) -> StepProgress:
    """Poll's answer once it has looked (``seen``, ``elapsed`` seconds after the switch): done when ``verified``,
    else look again after the plan's poll_interval; past ``verify_deadline`` the step fails, naming ``subject``."""
    if verified:
        detail["verified_after_seconds"] = elapsed
        return StepProgress(done=True, state=state, summary=f"{name}: verified, {seen}", detail=detail)
    if ctx.now >= verify_deadline:
        raise PermanentError(
            f"{subject} not verified within {format_duration(params.verify_window)} of the switch: last seen: {seen}",
            code="VerifyWindowExceeded",
        )
    return StepProgress(
        state=state,
        poll_after_seconds=params.poll_interval.total_seconds(),
        summary=f"{name}: verifying ({elapsed:g} s): {seen}",
        detail=detail,
    )
