"""Following a run: `drctl run watch` and anything else that wants the same view (the demo).

:func:`follow` polls `GET /api/recoveries/{id}` until the run ends. On a terminal it redraws one live table
(rich.live): each step's state, elapsed time and progress, the run's phase, and, while the run waits for an
approver, what it waits for and how to decide. Anywhere else (a pipe, a CI log, `make demo`'s output) a
redraw would be noise, so it prints one plain line per change instead. Either way it ends with the outcome
and returns the run's last view; :func:`exit_code` turns that into drctl's exit code.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TextIO

from rich.console import Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from drctl.client import Api, run_path
from drctl.errors import RUN_STATUS_CODES, CliError, ExitCode
from drctl.format import OUTCOME_STYLES, STATE_STYLES, console, one_line, progress, seconds, when
from drctl.models import RunView, StepView

UNREACHABLE_POLLS = 10
SUMMARY_EVERY = 2.0  # plain lines: a step's progress-only change is printed at most this often


def fetch(api: Api, run_id: str) -> RunView:
    return RunView.model_validate(api.get(run_path(run_id)))


def exit_code(view: RunView) -> ExitCode:
    if not view.terminal:
        return ExitCode.RUNNING
    return RUN_STATUS_CODES.get(view.outcome, ExitCode.FAILED)


def approval_lines(view: RunView) -> list[str]:
    """What a run waiting at its approval gate waits for and how to decide ([] when it is not waiting)."""
    approval = view.approval
    if view.terminal or view.phase != "awaiting_approval" or approval is None or approval.decision != "pending":
        return []
    if approval.preflight_failed:
        why = "pre-flight checks failed: nothing changes until an approver decides knowing what fails"
    elif approval.rpo_budget_seconds is not None:
        why = f"the predicted data loss is over the plan's RPO budget ({seconds(approval.rpo_budget_seconds)})"
    else:
        why = "the plan requires an approval"
    deadline = f", until {when(approval.deadline)}" if approval.deadline else ""
    lines = [f"WAITING FOR APPROVAL{deadline}: {why}"]
    lines += [f"  failed check  {one_line(check, 140)}" for check in approval.preflight_failed]
    for store in approval.data_at_risk:
        loss = store.get("seconds")
        amount = seconds(loss) if isinstance(loss, int | float) else "unknown"
        basis = one_line(str(store.get("basis", "")), 90)
        lines.append(f"  data at risk  {store.get('step', '?')}: {amount} {basis}")
    for step in view.will_do or []:
        lines.append(f"  will do       {step.step}: {one_line(step.action, 140)}")
    override = " --override-failed-checks" if approval.preflight_failed else ""
    quoted = shlex.quote(view.id)
    lines.append(f'  approve:  drctl approve {quoted} --reason "…"{override}')
    lines.append(f'  reject:   drctl reject {quoted} --reason "…"')
    return lines


def _report_details(view: RunView) -> dict[str, dict[str, Any]]:
    steps = (view.report or {}).get("steps") or []
    return {str(s.get("id")): s.get("detail") or {} for s in steps if isinstance(s, dict)}


def _headline(view: RunView, elapsed: float) -> str:
    what = f"{view.mode or '?'} of {view.plan or '?'}"
    return f"{what} · phase {view.phase or '-'} · {view.runtime_status} · watched {seconds(elapsed)}"


def render(view: RunView, elapsed: float) -> RenderableType:
    """The live view: headline, steps table, approval prompt."""
    table = Table(expand=False, show_edge=False, pad_edge=False, header_style="bold")
    for name, extra in (
        ("step", {}),
        ("kind", {"style": "dim"}),
        ("state", {}),
        ("elapsed", {"justify": "right"}),
        ("progress", {}),
        ("summary", {"overflow": "ellipsis", "no_wrap": True, "max_width": 70}),
    ):
        table.add_column(name, **extra)
    details = _report_details(view)
    for step in view.steps:
        table.add_row(
            step.id,
            step.kind,
            Text(step.status, style=STATE_STYLES.get(step.status, "")),
            seconds(step.elapsed_seconds),
            progress(step, details.get(step.id)),
            one_line(step.summary, 200),
        )
    parts: list[RenderableType] = [Text(f"run {view.id}", style="bold"), Text(_headline(view, elapsed)), table]
    prompt = approval_lines(view)
    if prompt:
        parts.append(Panel("\n".join(prompt[1:]), title=prompt[0], title_align="left", border_style="yellow"))
    if view.stuck:
        parts.append(Text(f"stuck: {one_line(str(view.stuck.get('reason', view.stuck)), 150)}", style="bold red"))
    return Group(*parts)


def _step_line(step: StepView, detail: dict[str, Any] | None) -> str:
    done = progress(step, detail)
    line = f"step {step.id:<12} {step.status:<10} {seconds(step.elapsed_seconds):>7}"
    if done:
        line += f"  {done}"
    if step.summary:
        line += f"  — {one_line(step.summary, 110)}"
    return line


class ChangeLog:
    """The plain-line view: one line for each change an operator cares about (not for each passing second)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._phase: tuple[str | None, str] | None = None
        self._steps: dict[str, tuple[str, str, float]] = {}  # id -> (status, summary, printed at)
        self._prompted = False

    def _say(self, elapsed: float, text: str) -> None:
        self._out.write(f"[{elapsed:7.1f}s] {text}\n")
        self._out.flush()

    def show(self, view: RunView, elapsed: float) -> None:
        if (view.phase, view.runtime_status) != self._phase:
            self._phase = (view.phase, view.runtime_status)
            self._say(elapsed, _headline(view, elapsed))
        details = _report_details(view)
        now = time.monotonic()
        for step in view.steps:
            seen = self._steps.get(step.id)
            changed = seen is None or seen[0] != step.status
            progressed = seen is not None and seen[1] != step.summary and now - seen[2] >= SUMMARY_EVERY
            if changed or progressed:
                self._steps[step.id] = (step.status, step.summary, now)
                self._say(elapsed, _step_line(step, details.get(step.id)))
        prompt = approval_lines(view)
        if prompt and not self._prompted:
            self._say(elapsed, prompt[0])
            for line in prompt[1:]:
                self._out.write(f"{'':11}{line}\n")
            self._out.flush()
        self._prompted = bool(prompt)


def closing_lines(view: RunView) -> list[str]:
    report = view.report or {}
    outcome = view.outcome
    lines = [f"run {view.id} ended: {outcome}"]
    if report:
        rpo = report.get("rpo_estimate_seconds")
        lines[0] += (
            f" · RTO {seconds(report.get('rto_seconds'), 'n/a')}"
            f" · service restored {seconds(report.get('service_restored_seconds'), 'n/a')}"
            f" · RPO {seconds(rpo) if rpo is not None else 'unknown'}"
        )
    if report.get("report_url"):
        lines.append(f"report: {report['report_url']}")
    if view.error:
        lines.append(f"error: {one_line(view.error, 300)}")
    return lines


def follow(
    api: Api,
    run_id: str,
    out: TextIO | None = None,
    *,
    interval: float = 1.0,
    timeout: float | None = None,
    on_approval: Callable[[RunView], None] | None = None,
    live: bool | None = None,
) -> RunView:
    """Watch run ``run_id`` to its end on ``out`` (stdout by default) and return its last view (with the report).

    ``live``: redraw one table (default: when ``out`` is a terminal) or print a line per change.
    ``on_approval`` is called once, with the view, when the run starts waiting for an approver (the demo
    approves there). CliError RUNNING when ``timeout`` seconds pass or the watch is interrupted (Ctrl-C)
    before the run ends; UNREACHABLE when the API stops answering for good."""
    stream = out if out is not None else sys.stdout
    screen = console(stream)
    use_live = screen.is_terminal if live is None else live
    started = time.monotonic()
    log = ChangeLog(stream)
    asked = False
    misses = 0
    view: RunView | None = None
    try:
        with Live(console=screen, refresh_per_second=4, transient=False) if use_live else nullcontext() as board:
            while True:
                # Until the first answer, a failure is final: a wrong URL must not look like a long wait.
                found = _look(api, run_id, misses if view is not None else UNREACHABLE_POLLS)
                if found is None:
                    misses += 1
                    time.sleep(interval)
                    continue
                view, misses = found, 0
                elapsed = time.monotonic() - started
                if view.terminal and view.report is None:
                    view.report = _stored_report(api, run_id)
                if board is not None:
                    board.update(render(view, elapsed), refresh=True)
                else:
                    log.show(view, elapsed)
                if view.terminal:
                    break
                if view.phase == "awaiting_approval" and not asked and on_approval is not None:
                    asked = True
                    on_approval(view)
                if timeout is not None and elapsed >= timeout:
                    raise CliError(
                        f"run {run_id} is still running after {timeout:g} s (phase {view.phase}); "
                        f"follow it again with: drctl run watch {shlex.quote(run_id)}",
                        ExitCode.RUNNING,
                    )
                time.sleep(interval)
    except KeyboardInterrupt:
        raise CliError(
            f"interrupted: run {run_id} goes on; follow it again with: drctl run watch {shlex.quote(run_id)}",
            ExitCode.RUNNING,
        ) from None
    for line in closing_lines(view):
        if use_live:
            screen.print(Text(line, style=OUTCOME_STYLES.get(view.outcome, "")))
        else:
            stream.write(line + "\n")
    stream.flush()
    return view


def _look(api: Api, run_id: str, misses: int) -> RunView | None:
    """The run now; None when the API did not answer this time (a host restarting is not the end of a watch;
    UNREACHABLE_POLLS misses in a row are)."""
    try:
        return fetch(api, run_id)
    except CliError as exc:
        if exc.code != ExitCode.UNREACHABLE or misses + 1 >= UNREACHABLE_POLLS:
            raise
        return None


def _stored_report(api: Api, run_id: str) -> dict[str, Any] | None:
    """A run that ended without its report in the status (a hard cancel): the stored one, if any."""
    try:
        report = api.get(run_path(run_id, "report"))
    except CliError:
        return None
    return report if isinstance(report, dict) else None
