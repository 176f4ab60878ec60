"""A run's report, and a plan's run history, as one self-contained HTML page each (pure functions).

The page is what a manager or an auditor reads after a run: the header, a timeline (Gantt) of the run's
phases and steps, RTO per phase, RPO per data store (predicted and measured), the decisions taken (who,
when, why), warnings, pre-flight checks, a drill's footprint and the plan snapshot.

Invariants:
- Every value taken from a report is escaped (:func:`html.escape`): plan names, reasons, alert text and step
  summaries are user input. A Content-Security-Policy that allows no script stands behind the escaping.
- The page loads nothing: inline CSS and inline SVG, no script, no font or image from anywhere, so it opens
  offline and a copy kept for an audit shows the same thing years later.
- Every step of the report appears, whatever became of it, with a stable hook: ``data-step-id="<id>"`` on its
  timeline bar and on its row in the steps table.
- Nothing is assumed present: a report of a rejected, canceled or failed run, of a drill, of a run without
  approval, or of an older schema renders with what it has.
- Deterministic: the same report renders the same bytes (no clock is read), so a rewritten report rewrites
  the same page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

import yaml

from .durations import parse_time
from .steps import REGISTRY

if TYPE_CHECKING:  # dr.history imports dr.report, which writes these pages: no import at run time
    from .history import RunSummary

# The page may load nothing and run nothing; inline styles are its only active content.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
STATUS_COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "canceled": "#ef6c00",
    "skipped": "#9e9e9e",
    "pending": "#bdbdbd",
    "running": "#1565c0",
}
RUN_STATUS_COLOURS = {
    "Succeeded": "#2e7d32",
    "PartiallySucceeded": "#f9a825",
    "Failed": "#c62828",
    "Rejected": "#6d4c41",
    "Canceled": "#ef6c00",
}
PHASE_COLOURS = {
    "detection": "#8e24aa",
    "pre-flight": "#5c6bc0",
    "decision": "#f9a825",
    "data": "#00838f",
    "traffic": "#1e88e5",
    "verification": "#43a047",
    "teardown": "#6d4c41",
}
PHASE_MEANING = {
    "detection": "the alert fired → the run started",
    "pre-flight": "every step's read-only checks",
    "decision": "waiting for the approver",
    "data": "data steps: first start → last end",
    "traffic": "traffic steps: first start → last end",
    "verification": "verification steps: first start → last end",
    "teardown": "the drill's teardown: last step done → resources removed",
}
# Counters a kind's detail may carry about how hard the step had to try (health_check: attempts;
# blob_backup: rounds of work and blobs retried); shown beside the bar when the report has them.
STEP_COUNTERS = ("attempts", "polls", "calls", "retries", "retried", "rounds")
NOT_KNOWN = "—"

_CHART_WIDTH = 1100
_LABEL_WIDTH = 230
_RIGHT_MARGIN = 30
_ROW_HEIGHT = 24
_AXIS_HEIGHT = 34
_MARKER_BAND = 36  # under the bars: the RTO and service-restored labels
_CHAR_WIDTH = 6.4  # of the 11 px chart text, to tell whether a note fits right of its bar
_TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:24px;
color:#1f2328;background:#fff;font-size:14px;line-height:1.45}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.sub{color:#57606a;margin:0 0 12px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:8px 0}
dl.facts dt{color:#57606a}dl.facts dd{margin:0}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.kpi{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:150px}
.kpi .v{font-size:20px;font-weight:600}.kpi .k{color:#57606a;font-size:12px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.st{font-weight:600}.st-succeeded,.st-passed{color:#2e7d32}.st-failed{color:#c62828}
.st-canceled,.st-warning{color:#b45309}.st-skipped,.st-pending{color:#6e7781}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:10px;overflow:auto;font-size:12px;max-height:480px}
ul.warn li{margin:2px 0}.muted{color:#57606a}
svg.gantt{max-width:1100px;height:auto}svg.rto-chart{max-width:900px;height:auto}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
"""


# -- reading a report leniently ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def role_of(kind: str) -> str:
    """The step's role (dr.steps.REGISTRY); a kind this app no longer knows is 'other'."""
    spec = REGISTRY.get(kind)
    return spec.role if spec is not None else "other"


def trigger_time(report: Mapping[str, Any]) -> datetime | None:
    """Where RTO starts: the alert's firedDateTime, else the operator's request, else the run's start."""
    trigger = _mapping(report.get("trigger"))
    return _moment(trigger.get("fired_at")) or _moment(trigger.get("requested_at")) or _moment(report.get("started_at"))


def step_counters(step: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The retry, poll and attempt counts the step's detail carries (none: an empty list)."""
    detail = _mapping(step.get("detail"))
    return [
        (name, int(value))
        for name in STEP_COUNTERS
        if isinstance(value := detail.get(name), int) and not isinstance(value, bool)
    ]


@dataclass(frozen=True)
class Span:
    """One phase of a run on its timeline."""

    name: str
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


def phases(report: Mapping[str, Any]) -> list[Span]:
    """The run's phases, in order, each only when the report tells when it began and ended."""
    found: list[Span] = []

    def add(name: str, start: datetime | None, end: datetime | None) -> None:
        if start is not None and end is not None and end >= start:
            found.append(Span(name, start, end))

    trigger = _mapping(report.get("trigger"))
    started = _moment(report.get("started_at"))
    add("detection", _moment(trigger.get("fired_at")), started)
    preflight = _mapping(report.get("preflight"))
    preflight_end = _moment(preflight.get("finished_at"))
    add("pre-flight", _moment(preflight.get("started_at")), preflight_end)
    approval = _mapping(report.get("approval"))
    if approval:
        # An undecided gate ended when the run was canceled (if it was).
        decided = _moment(approval.get("decided_at")) or _moment(_mapping(report.get("canceled")).get("at"))
        add("decision", preflight_end or started, decided)
    steps = [_mapping(step) for step in _items(report.get("steps"))]
    finished = _moment(report.get("finished_at"))
    for role in ("data", "traffic", "verification"):
        mine = [step for step in steps if role_of(_text(step.get("kind"))) == role]
        starts = [s for step in mine if (s := _moment(step.get("started_at")))]
        ends = [e for step in mine if (e := _moment(step.get("finished_at")))]
        if starts:
            add(role, min(starts), max(ends) if ends else finished)
    if report.get("mode") == "drill" and any("teardown" in _mapping(step.get("detail")) for step in steps):
        ends = [e for step in steps if (e := _moment(step.get("finished_at")))]
        removed = [
            r
            for item in _items(_mapping(report.get("drill_cost")).get("resources"))
            if (r := _moment(_mapping(item).get("removed_at")))
        ]
        add("teardown", max(ends) if ends else None, max(removed) if removed else finished)
    return found


# -- formatting ---------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    """Escaped for text and for a double- or single-quoted attribute alike."""
    return escape(_text(value), quote=True)


def format_seconds(value: float | None) -> str:
    if value is None:
        return NOT_KNOWN
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.3g} s" if value < 10 else f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s")]
    shown = [f"{amount} {unit}" for amount, unit in parts if amount]
    return " ".join(shown[:3])


def format_time(value: Any) -> str:
    moment = _moment(value)
    if moment is None:
        return _text(value) or NOT_KNOWN
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def _offset(seconds: float) -> str:
    if seconds >= 120:
        return f"+{format_seconds(seconds)}"
    return f"+{seconds:g} s"


def _status_class(status: str) -> str:
    return "st st-" + "".join(ch for ch in status.lower() if ch.isalnum() or ch == "-")


def _dl(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list; values are HTML already (escaped by the caller)."""
    rows = "".join(f"<dt>{_e(key)}</dt><dd>{value}</dd>" for key, value in pairs)
    return f'<dl class="facts">{rows}</dl>'


def _table(headers: Sequence[str], rows: Iterable[str], *, css_class: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(rows)
    return f'<table class="{_e(css_class)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _td(value: Any, *, number: bool = False) -> str:
    return f'<td class="n">{_e(value)}</td>' if number else f"<td>{_e(value)}</td>"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _tick_step(span_seconds: float, max_ticks: int = 10) -> float:
    return next((step for step in _TICK_STEPS if span_seconds / step <= max_ticks), _TICK_STEPS[-1])


# -- the run report -----------------------------------------------------------------------------------------


def render_report(report: Mapping[str, Any], *, plan_snapshot: Mapping[str, Any] | None = None) -> str:
    """One run's report (the JSON of ``GET /api/recoveries/{id}/report``) as a self-contained HTML page.

    ``plan_snapshot``: the plan as the run executed it (the run's input), shown at the end when given; the
    stored report does not carry it."""
    steps = [_mapping(step) for step in _items(report.get("steps"))]
    run_id = _text(report.get("instance_id"))
    plan = _text(report.get("plan"))
    sections = [
        _header(report),
        _section("Timeline", _timeline(report, steps)),
        _section("RTO by phase", _rto_breakdown(report)),
        _section("Steps", _steps_table(steps)),
        _section("RPO per data store", _rpo(report)),
        _section("Decisions", _decisions(report)),
        _section("Warnings", _warnings(report)),
        _section("Pre-flight checks", _preflight(report, steps)),
    ]
    if report.get("drill_cost") is not None or report.get("mode") == "drill":
        sections.append(_section("Drill cost", _drill_cost(report)))
    sections.append(_section("Plan snapshot", _plan_snapshot(plan_snapshot)))
    sections.append(
        f'<p class="muted">Rendered from the stored JSON report of run {_e(run_id)}; '
        "times are UTC; RTO runs from the trigger (alert fired or operator request) to the last step done.</p>"
    )
    return _page(f"DR report · {plan} · {run_id}", "\n".join(sections))


def _section(title: str, content: str) -> str:
    anchor = title.lower().replace(" ", "-")
    return f'<section id="{_e(anchor)}"><h2>{_e(title)}</h2>\n{content}\n</section>'


def _who_started(report: Mapping[str, Any]) -> str:
    trigger = _mapping(report.get("trigger"))
    source = _text(trigger.get("source"))
    who = report.get("requested_by") or trigger.get("requested_by")
    if source == "alert":
        rule = trigger.get("alert_rule")
        return f"alert {rule!s} ({_text(trigger.get('severity')) or 'no severity'})" if rule else "an alert"
    if source == "schedule":
        return f"the drill schedule {_text(trigger.get('schedule'))}".strip()
    return _text(who) or (f"{source} (no name recorded)" if source else NOT_KNOWN)


def _header(report: Mapping[str, Any]) -> str:
    status = _text(report.get("status")) or "unknown"
    colour = RUN_STATUS_COLOURS.get(status, "#57606a")
    trigger = _mapping(report.get("trigger"))
    approval = _mapping(report.get("approval"))
    approved_by = approval.get("by")
    decision = _text(approval.get("decision"))
    approval_text = (
        f"{_e(decision)} by {_e(approved_by)}" if approved_by else (_e(decision) if approval else "not required")
    )
    predicted = _mapping(report.get("predicted"))
    rto, rpo = _number(report.get("rto_seconds")), _number(report.get("rpo_estimate_seconds"))
    kpis = [
        ("RTO", format_seconds(rto), "trigger → every step done" if rto is not None else "the run did not recover"),
        ("Service restored", format_seconds(_number(report.get("service_restored_seconds"))), "trigger → traffic"),
        (
            "RPO",
            format_seconds(rpo),
            "data at risk (largest store)" if rpo is not None else "a store's loss is unknown",
        ),
        ("Predicted RTO", format_seconds(_number(predicted.get("rto_seconds"))), "at pre-flight"),
        ("Predicted RPO", format_seconds(_number(predicted.get("rpo_seconds"))), "at pre-flight"),
    ]
    kpi_html = "".join(
        f'<div class="kpi" data-kpi="{_e(name)}"><div class="k">{_e(name)}</div><div class="v">{_e(value)}</div>'
        f'<div class="k">{_e(note)}</div></div>'
        for name, value, note in kpis
    )
    facts = [
        ("Run id", f"<code>{_e(report.get('instance_id'))}</code>"),
        ("Plan", _e(report.get("plan")) + (f" — {_e(report.get('description'))}" if report.get("description") else "")),
        ("Mode", _e(report.get("mode"))),
        ("Trigger", _e(trigger.get("source") or NOT_KNOWN)),
        ("Started by", _e(_who_started(report))),
        ("Reason", _e(report.get("reason") or NOT_KNOWN)),
        ("Approval", approval_text),
        ("Alert fired", _e(format_time(trigger.get("fired_at")))) if trigger.get("fired_at") else None,
        ("Started", _e(format_time(report.get("started_at")))),
        ("Finished", _e(format_time(report.get("finished_at")))),
    ]
    return (
        f"<header><h1>{_e(report.get('plan') or 'DR run')}: {_e(report.get('mode') or 'run')} "
        f'<span class="badge" data-status="{_e(status)}" style="background:{colour}">{_e(status)}</span></h1>'
        f'<p class="sub">Disaster-recovery run report</p>'
        f"{_dl(pair for pair in facts if pair is not None)}"
        f'<div class="kpis">{kpi_html}</div></header>'
    )


def _step_note(step: Mapping[str, Any]) -> str:
    """Duration and counters, as the bar's caption."""
    start, end = _moment(step.get("started_at")), _moment(step.get("finished_at"))
    parts = [format_seconds((end - start).total_seconds())] if start and end else []
    parts += [f"{name} {value}" for name, value in step_counters(step)]
    status = _text(step.get("status"))
    if status != "succeeded":
        parts.append(status or "unknown")
    return " · ".join(parts)


def _timeline(report: Mapping[str, Any], steps: list[Mapping[str, Any]]) -> str:
    spans = phases(report)
    origin = trigger_time(report)
    moments = [origin] if origin else []
    moments += [m for span in spans for m in (span.start, span.end)]
    moments += [m for step in steps for key in ("started_at", "finished_at") if (m := _moment(step.get(key)))]
    moments += [m for key in ("started_at", "finished_at") if (m := _moment(report.get(key)))]
    if not moments:
        return '<p class="muted">The report records no times: no timeline to draw.</p>' + "".join(
            f'<span data-step-id="{_e(step.get("id"))}"></span>' for step in steps
        )
    t0, t1 = min(moments), max(moments)
    total = max((t1 - t0).total_seconds(), 0.001)
    plot = _CHART_WIDTH - _LABEL_WIDTH - _RIGHT_MARGIN

    def x(moment: datetime) -> float:
        return _LABEL_WIDTH + (moment - t0).total_seconds() / total * plot

    rows: list[str] = []
    y = _AXIS_HEIGHT
    for span in spans:
        colour = PHASE_COLOURS.get(span.name, "#57606a")
        x0, x1 = x(span.start), x(span.end)
        rows.append(
            f'<g class="phase" data-phase="{_e(span.name)}"><title>{_e(span.name)}: {_e(PHASE_MEANING[span.name])}, '
            f"{_e(format_seconds(span.seconds))}</title>"
            f'<text x="8" y="{y + 16}" font-size="12" font-weight="600" fill="{colour}">{_e(span.name)}</text>'
            f'<rect x="{x0:.1f}" y="{y + 5}" width="{max(x1 - x0, 2):.1f}" height="14" rx="2" fill="{colour}"/>'
            f"{_caption(x0, x1, y, format_seconds(span.seconds))}</g>"
        )
        y += _ROW_HEIGHT
    if spans:
        rows.append(f'<line x1="0" x2="{_CHART_WIDTH}" y1="{y + 2}" y2="{y + 2}" stroke="#d0d7de"/>')
        y += 6
    for step in steps:
        rows.append(_step_bar(step, x, y, _moment(report.get("finished_at"))))
        y += _ROW_HEIGHT
    bars_end = y + 6
    height = bars_end + _MARKER_BAND
    axis = _axis(t0, total, plot, bars_end)
    markers = _markers(report, origin, x, bars_end)
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{_e(status)}</span>' for status, colour in STATUS_COLOURS.items()
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="100%" '
        f'viewBox="0 0 {_CHART_WIDTH} {height}" role="img" aria-label="timeline of the run">'
        f'<rect width="100%" height="100%" fill="#ffffff"/>{axis}{"".join(rows)}{markers}</svg>'
        f'<p class="legend">Steps by status: {legend}</p>'
    )


def _caption(x0: float, x1: float, y: int, text: str) -> str:
    """A bar's note: right of the bar when it fits, else left of it."""
    if not text:
        return ""
    if x1 + 6 + len(text) * _CHAR_WIDTH <= _CHART_WIDTH:
        return f'<text x="{x1 + 6:.1f}" y="{y + 16}" font-size="11" fill="#1f2328">{_e(text)}</text>'
    return (
        f'<text x="{max(x0 - 6, _LABEL_WIDTH):.1f}" y="{y + 16}" font-size="11" fill="#1f2328" '
        f'text-anchor="end">{_e(text)}</text>'
    )


def _step_bar(step: Mapping[str, Any], x: Callable[[datetime], float], y: int, run_finished: datetime | None) -> str:
    step_id, kind, status = _text(step.get("id")), _text(step.get("kind")), _text(step.get("status"))
    colour = STATUS_COLOURS.get(status, "#57606a")
    start = _moment(step.get("started_at"))
    end = _moment(step.get("finished_at")) or (run_finished if start else None)
    note = _step_note(step)
    label = step_id if len(step_id) <= 30 else step_id[:29] + "…"
    title = f"{step_id} ({kind}, {role_of(kind)}): {status}" + (f"; {note}" if note else "")
    summary = _text(_mapping(step.get("detail")).get("summary"))
    if summary:
        title += f" — {summary}"
    parts = [
        f'<g class="step" data-step-id="{_e(step_id)}" data-status="{_e(status)}"><title>{_e(title)}</title>',
        f'<text x="8" y="{y + 16}" font-size="12" fill="#1f2328">{_e(label)}</text>',
    ]
    if start is not None and end is not None:
        x0, x1 = x(start), x(max(end, start))
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 2):.1f}" height="16" rx="3" fill="{colour}"/>'
        )
        parts.append(_caption(x0, x1, y, note))
    else:
        why = "not started" + (f" ({status})" if status else "")
        parts.append(
            f'<text x="{_LABEL_WIDTH}" y="{y + 16}" font-size="11" fill="{colour}" font-style="italic">{_e(why)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _axis(t0: datetime, total: float, plot: float, height: int) -> str:
    step = _tick_step(total)
    ticks = []
    for index in range(math.floor(total / step) + 1):
        seconds = index * step
        tx = _LABEL_WIDTH + seconds / total * plot
        ticks.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{_AXIS_HEIGHT - 6}" y2="{height - 4}" stroke="#eaeef2"/>'
            f'<text x="{tx:.1f}" y="{_AXIS_HEIGHT - 10}" font-size="11" fill="#57606a" text-anchor="middle">'
            f"{_e(_offset(round(seconds, 3)))}</text>"
        )
    start = (
        f'<text x="8" y="{_AXIS_HEIGHT - 10}" font-size="11" fill="#57606a">{_e(format_time(t0.isoformat()))}</text>'
    )
    return start + "".join(ticks)


def _markers(report: Mapping[str, Any], origin: datetime | None, x: Callable[[datetime], float], bars_end: int) -> str:
    """Dashed lines where the service was restored and where RTO was reached, labelled under the bars."""
    if origin is None:
        return ""
    lines = []
    for row, (key, label, colour) in enumerate(
        (("service_restored_seconds", "service restored", "#1565c0"), ("rto_seconds", "RTO", "#c62828"))
    ):
        seconds = _number(report.get(key))
        if seconds is None:
            continue
        mx = x(origin + timedelta(seconds=seconds))
        text_y = bars_end + 14 + row * 14
        lines.append(
            f'<g class="marker" data-marker="{_e(key)}"><line x1="{mx:.1f}" x2="{mx:.1f}" y1="{_AXIS_HEIGHT - 4}" '
            f'y2="{text_y - 10}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="5,3"/>'
            f'<text x="{mx:.1f}" y="{text_y}" font-size="11" font-weight="600" fill="{colour}" text-anchor="end">'
            f"{_e(label)} {_e(format_seconds(seconds))}</text></g>"
        )
    return "".join(lines)


def _rto_breakdown(report: Mapping[str, Any]) -> str:
    spans = phases(report)
    origin = trigger_time(report)
    rto = _number(report.get("rto_seconds"))
    rows = []

    def since(moment: datetime) -> str:
        return _offset(round((moment - origin).total_seconds(), 3)) if origin else NOT_KNOWN

    for span in spans:
        # The teardown of a drill comes after its RTO: no share of it.
        share = f"{span.seconds / rto:.0%}" if rto and span.name != "teardown" else NOT_KNOWN
        rows.append(
            f'<tr data-phase="{_e(span.name)}"><td><b>{_e(span.name)}</b></td>{_td(PHASE_MEANING[span.name])}'
            f"{_td(since(span.start), number=True)}{_td(since(span.end), number=True)}"
            f"{_td(format_seconds(span.seconds), number=True)}{_td(share, number=True)}</tr>"
        )
    rows.append(
        f'<tr data-phase="rto"><td><b>RTO</b></td>{_td("trigger → the last step done")}<td></td><td></td>'
        f"{_td(format_seconds(rto), number=True)}{_td('100%' if rto else NOT_KNOWN, number=True)}</tr>"
    )
    restored = _number(report.get("service_restored_seconds"))
    rows.append(
        f'<tr data-phase="service_restored"><td><b>service restored</b></td>'
        f"{_td('trigger → traffic switched and verified')}<td></td><td></td>"
        f"{_td(format_seconds(restored), number=True)}"
        f"{_td(f'{restored / rto:.0%}' if restored is not None and rto else NOT_KNOWN, number=True)}</tr>"
    )
    note = (
        '<p class="muted">Offsets are from the trigger. Phases may overlap: a step starts as soon as the steps it '
        "waits for are done, so data, traffic and verification can run side by side.</p>"
    )
    if rto is None:
        note += f'<p class="muted">No RTO: the run did not recover (status {_e(report.get("status"))}).</p>'
    return _table(("phase", "what", "from", "to", "duration", "share of RTO"), rows, css_class="rto") + note


def _steps_table(steps: list[Mapping[str, Any]]) -> str:
    if not steps:
        return '<p class="muted">The report lists no steps.</p>'
    rows = []
    for step in steps:
        detail = _mapping(step.get("detail"))
        start, end = _moment(step.get("started_at")), _moment(step.get("finished_at"))
        status = _text(step.get("status"))
        what = [_e(detail.get("summary"))] if detail.get("summary") else []
        error = _mapping(detail.get("error"))
        if error:
            what.append(f'<br><span class="st-failed">{_e(error.get("code"))}: {_e(error.get("message"))}</span>')
        teardown = _mapping(detail.get("teardown"))
        if teardown:
            undone = teardown.get("error") or teardown.get("teardown") or teardown.get("status")
            what.append(f"<br><i>teardown:</i> {_e(undone)}")
        counters = ", ".join(f"{name} {value}" for name, value in step_counters(step))
        rows.append(
            f'<tr class="step-row" data-step-id="{_e(step.get("id"))}"><td><code>{_e(step.get("id"))}</code></td>'
            f"{_td(step.get('kind'))}{_td(role_of(_text(step.get('kind'))))}"
            f'<td class="{_status_class(status)}">{_e(status)}</td>'
            f"{_td(format_time(step.get('started_at')) if start else NOT_KNOWN)}"
            f"{_td(format_time(step.get('finished_at')) if end else NOT_KNOWN)}"
            f"{_td(format_seconds((end - start).total_seconds()) if start and end else NOT_KNOWN, number=True)}"
            f"{_td(counters or NOT_KNOWN)}<td>{''.join(what)}</td></tr>"
        )
    headers = ("step", "kind", "role", "status", "started", "finished", "duration", "tries", "what happened")
    return _table(headers, rows, css_class="steps")


def _rpo(report: Mapping[str, Any]) -> str:
    measured = {_text(_mapping(s).get("step")): _mapping(s) for s in _items(report.get("rpo_by_store"))}
    predicted_report = _mapping(report.get("predicted"))
    predicted = {_text(_mapping(s).get("step")): _mapping(s) for s in _items(predicted_report.get("rpo_by_store"))}
    stores = list(dict.fromkeys([*predicted, *measured]))
    if not stores:
        return '<p class="muted">No data store in this report (the plan has no data step, or it did not run).</p>'
    rows = []
    for store in stores:
        before, after = predicted.get(store, {}), measured.get(store, {})
        rows.append(
            f'<tr data-store="{_e(store)}"><td><code>{_e(store)}</code></td>'
            f"{_td(after.get('kind') or before.get('kind'))}"
            f"{_td(format_seconds(_number(before.get('seconds'))) if before else 'not predicted', number=True)}"
            f"{_td(before.get('basis') or NOT_KNOWN)}"
            f"{_td(format_seconds(_number(after.get('seconds'))) if after else 'not measured', number=True)}"
            f"{_td(after.get('basis') or NOT_KNOWN)}</tr>"
        )
    overall = _dl(
        [
            ("RPO measured", _e(format_seconds(_number(report.get("rpo_estimate_seconds"))))),
            ("RPO predicted", _e(format_seconds(_number(predicted_report.get("rpo_seconds"))))),
            ("Bound by", _e(predicted_report.get("rpo_bound_by") or NOT_KNOWN)),
        ]
    )
    note = '<p class="muted">"—" is an unknown loss, never zero: the run\'s RPO is unknown when any store\'s is.</p>'
    headers = ("store (step)", "kind", "predicted", "predicted from", "measured", "measured from")
    return overall + _table(headers, rows, css_class="rpo") + note


def _decisions(report: Mapping[str, Any]) -> str:
    parts = []
    approval = _mapping(report.get("approval"))
    if approval:
        facts = [
            ("Decision", f'<b data-decision="{_e(approval.get("decision"))}">{_e(approval.get("decision"))}</b>'),
            ("By", _e(approval.get("by") or NOT_KNOWN)),
            ("When", _e(format_time(approval.get("decided_at")) if approval.get("decided_at") else NOT_KNOWN)),
            ("Why", _e(approval.get("reason") or NOT_KNOWN)),
            ("Deadline", _e(format_time(approval.get("deadline")) if approval.get("deadline") else NOT_KNOWN)),
        ]
        if approval.get("preflight_failed"):
            failed = "".join(f"<li>{_e(item)}</li>" for item in _items(approval.get("preflight_failed")))
            overrode = "yes" if approval.get("overrode_failed_checks") else "no"
            facts.append(("Failed checks decided over", f"<ul>{failed}</ul>overridden: {overrode}"))
        if approval.get("rpo_budget_seconds") is not None:
            facts.append(("RPO budget", _e(format_seconds(_number(approval.get("rpo_budget_seconds"))))))
        for item in _items(approval.get("data_at_risk")):
            store = _mapping(item)
            facts.append(
                (
                    f"Data at risk: {_text(store.get('step'))}",
                    _e(f"{format_seconds(_number(store.get('seconds')))} ({_text(store.get('basis'))})"),
                )
            )
        if approval.get("overrides"):
            facts.append(("Overrides with the approval", f"<code>{_e(json.dumps(approval.get('overrides')))}</code>"))
        parts.append("<h3>Approval</h3>" + _dl(facts))
    else:
        parts.append('<p data-approval="none">No approval was asked for: the plan needs none for this run.</p>')
    canceled = _mapping(report.get("canceled"))
    if canceled:
        kind = "hard (terminated)" if canceled.get("hard") else "graceful"
        parts.append(
            "<h3>Canceled</h3>"
            + _dl(
                [
                    ("By", _e(canceled.get("by") or NOT_KNOWN)),
                    ("When", _e(format_time(canceled.get("at")))),
                    ("Why", _e(canceled.get("reason") or NOT_KNOWN)),
                    ("How", _e(kind)),
                ]
            )
        )
    if report.get("overrides"):
        parts.append(f"<h3>Overrides</h3><code>{_e(json.dumps(report.get('overrides'), sort_keys=True))}</code>")
    return "".join(parts)


def _warnings(report: Mapping[str, Any]) -> str:
    items = [_text(w) for w in _items(report.get("warnings"))]
    items += [
        f"left behind by {_text(_mapping(left).get('step'))} ({_text(_mapping(left).get('kind'))}): "
        f"{_text(_mapping(left).get('error')) or 'teardown failed'}"
        for left in _items(report.get("left_behind"))
    ]
    if not items:
        return '<p class="muted">No warnings.</p>'
    return '<ul class="warn">' + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"


def _preflight(report: Mapping[str, Any], steps: list[Mapping[str, Any]]) -> str:
    summary = _mapping(report.get("preflight"))
    parts = []
    if summary:
        counts = _mapping(summary.get("counts"))
        verdict = "passed" if summary.get("passed") else "failed"
        parts.append(
            _dl(
                [
                    ("Verdict", f'<span class="{_status_class(verdict)}">{_e(verdict)}</span>'),
                    ("Took", _e(format_seconds(_number(summary.get("seconds"))))),
                    ("Counts", _e(", ".join(f"{k} {v}" for k, v in counts.items()) or NOT_KNOWN)),
                ]
            )
        )
        failed = _items(summary.get("failed"))
        if failed:
            parts.append('<ul class="warn">' + "".join(f'<li class="st-failed">{_e(f)}</li>' for f in failed) + "</ul>")
    else:
        parts.append('<p class="muted">This report records no pre-flight (the run ended before it).</p>')
    rows = [
        f'<tr data-check-step="{_e(step.get("id"))}"><td><code>{_e(step.get("id"))}</code></td>'
        f'{_td(check.get("name"))}<td class="{_status_class(_text(check.get("status")))}">'
        f"{_e(check.get('status'))}</td>{_td(check.get('message'))}</tr>"
        for step in steps
        for check in map(_mapping, _items(_mapping(step.get("detail")).get("preflight")))
    ]
    if rows:
        parts.append(
            f"<details><summary>Every check ({len(rows)})</summary>"
            + _table(("step", "check", "status", "message"), rows, css_class="checks")
            + "</details>"
        )
    return "".join(parts)


def _drill_cost(report: Mapping[str, Any]) -> str:
    cost = _mapping(report.get("drill_cost"))
    if not cost:
        return '<p class="muted">This report records no drill footprint.</p>'
    rows = [
        f"<tr>{_td(item.get('step'))}{_td(item.get('type'))}{_td(item.get('name'))}"
        f"{_td(format_time(item.get('created_at')))}"
        f"{_td(format_time(item.get('removed_at')) if item.get('removed_at') else 'still standing')}"
        f"{_td(item.get('minutes'), number=True)}</tr>"
        for item in map(_mapping, _items(cost.get("resources")))
    ]
    standing = [_text(name) for name in _items(cost.get("still_standing"))]
    facts = _dl(
        [
            ("Resource-minutes", _e(cost.get("resource_minutes", NOT_KNOWN))),
            ("Still standing", _e(", ".join(standing) or "none")),
        ]
    )
    table = _table(("step", "type", "name", "created", "removed", "minutes"), rows, css_class="cost") if rows else ""
    return facts + table


def _plan_snapshot(plan_snapshot: Mapping[str, Any] | None) -> str:
    if not plan_snapshot:
        return (
            '<p class="muted">The stored report does not carry the plan; '
            "<code>GET /api/recoveries/{id}/report.html</code> shows the run's snapshot while its history is kept.</p>"
        )
    text = yaml.safe_dump(json.loads(json.dumps(plan_snapshot, default=str)), sort_keys=False, allow_unicode=True)
    return f'<pre class="plan">{_e(text)}</pre>'


# -- a plan's run history -----------------------------------------------------------------------------------


def render_history(plan: str, runs: Sequence[RunSummary], *, days: int | None = None, mode: str | None = None) -> str:
    """A plan's past runs (newest first, as dr.history gives them): RTO per run over time and a table."""
    scope = ", ".join(
        part for part in (f"last {days} day(s)" if days else "", f"{mode} runs" if mode else "all modes") if part
    )
    rows = [
        f'<tr data-run-id="{_e(run.id)}">{_td(run.id)}{_td(run.mode)}'
        f'<td class="{_status_class(_text(run.status))}">{_e(run.status)}</td>'
        f"{_td(format_time(run.started_at))}{_td(format_time(run.finished_at))}"
        f"{_td(format_seconds(run.rto_seconds), number=True)}"
        f"{_td(format_seconds(run.service_restored_seconds), number=True)}"
        f"{_td(format_seconds(run.rpo_estimate_seconds), number=True)}</tr>"
        for run in runs
    ]
    table = (
        _table(
            ("run", "mode", "status", "started", "finished", "RTO", "service restored", "RPO"), rows, css_class="runs"
        )
        if rows
        else '<p class="muted">No stored report of this plan in this period.</p>'
    )
    body = (
        f"<header><h1>Run history: {_e(plan)}</h1>"
        f'<p class="sub">{_e(len(runs))} run(s), {_e(scope)}, newest first. RTO: trigger → every step done.</p>'
        "</header>" + _section("RTO per run", _rto_chart(runs)) + _section("Runs", table)
    )
    return _page(f"DR history · {plan}", body)


def _rto_chart(runs: Sequence[RunSummary]) -> str:
    timed = sorted(
        ((moment, run) for run in runs if (moment := _moment(run.started_at)) is not None), key=lambda pair: pair[0]
    )
    measured = [run.rto_seconds for _, run in timed if run.rto_seconds is not None]
    if not measured:
        return '<p class="muted">No run in this period measured an RTO (a run that did not recover has none).</p>'
    width, height, left, right, top, bottom = 900, 320, 70, 30, 20, 50
    first, last = timed[0][0], timed[-1][0]
    span = max((last - first).total_seconds(), 1.0)
    top_value = max(measured) * 1.15 or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(moment: datetime) -> float:
        if len(timed) == 1:
            return left + plot_w / 2
        return left + (moment - first).total_seconds() / span * plot_w

    def y(seconds: float) -> float:
        return top + plot_h - seconds / top_value * plot_h

    grid = []
    step = _tick_step(top_value, max_ticks=6)
    for index in range(math.floor(top_value / step) + 1):
        gy = y(index * step)
        grid.append(
            f'<line x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="#eaeef2"/>'
            f'<text x="{left - 6}" y="{gy + 4:.1f}" font-size="11" fill="#57606a" text-anchor="end">'
            f"{_e(format_seconds(index * step) if index else '0')}</text>"
        )
    grid.append(
        f'<text x="{left}" y="{height - 12}" font-size="11" fill="#57606a">'
        f"{_e(format_time(timed[0][1].started_at))}</text>"
        f'<text x="{width - right}" y="{height - 12}" font-size="11" fill="#57606a" text-anchor="end">'
        f"{_e(format_time(timed[-1][1].started_at))}</text>"
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#57606a"/>'
    )
    drills = [(x(m), y(run.rto_seconds)) for m, run in timed if run.mode == "drill" and run.rto_seconds is not None]
    line = (
        f'<polyline fill="none" stroke="#1565c0" stroke-width="2" '
        f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in drills)}"/>'
        if len(drills) > 1
        else ""
    )
    points = []
    for moment, run in timed:
        px = x(moment)
        label = f"{run.id}: {run.mode}, {run.status}, RTO {format_seconds(run.rto_seconds)}"
        hook = f'class="point" data-run-id="{_e(run.id)}"'
        if run.rto_seconds is None:  # did not recover: marked on the axis, not drawn as a fast run
            cy = top + plot_h
            points.append(
                f'<g {hook}><title>{_e(label)}</title><path d="M{px - 5:.1f},{cy - 5:.1f}l10,10m0,-10l-10,10" '
                'stroke="#c62828" stroke-width="2"/></g>'
            )
        elif run.mode == "drill":
            points.append(
                f'<g {hook}><title>{_e(label)}</title><circle cx="{px:.1f}" cy="{y(run.rto_seconds):.1f}" r="5" '
                'fill="#1565c0"/></g>'
            )
        else:
            py = y(run.rto_seconds)
            points.append(
                f'<g {hook}><title>{_e(label)}</title><rect x="{px - 5:.1f}" y="{py - 5:.1f}" width="10" '
                'height="10" fill="#ef6c00"/></g>'
            )
    legend = (
        '<p class="legend"><span><i style="background:#1565c0"></i>drill</span>'
        '<span><i style="background:#ef6c00"></i>failover (or another mode)</span>'
        '<span><i style="background:#c62828"></i>did not recover (no RTO)</span></p>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="rto-chart" width="100%" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="RTO per run over time">'
        f'<rect width="100%" height="100%" fill="#ffffff"/>{"".join(grid)}{line}{"".join(points)}</svg>{legend}'
    )
