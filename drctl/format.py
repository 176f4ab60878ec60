"""Small text helpers shared by the tables, the live view and the plain-line log."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console

from drctl.models import StepView

STATE_STYLES = {
    "running": "bold yellow",
    "succeeded": "green",
    "failed": "bold red",
    "skipped": "dim",
    "canceled": "magenta",
    "pending": "dim",
}
OUTCOME_STYLES = {
    "Succeeded": "bold green",
    "PartiallySucceeded": "bold yellow",
    "Failed": "bold red",
    "Rejected": "bold magenta",
    "Canceled": "bold magenta",
}
_COPIED = re.compile(r"(\d+)/(\d+) copied")


def console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    """A console on ``file`` (stdout by default). Not a terminal (a pipe, a log, a test): no colours, and wide
    enough that table rows stay one line each."""
    made = Console(file=file, stderr=stderr, highlight=False, soft_wrap=True)
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made = Console(file=file, stderr=stderr, highlight=False, soft_wrap=True, width=160)
    return made


def seconds(value: float | None, unknown: str = "-") -> str:
    if value is None:
        return unknown
    if value >= 3600:
        return f"{value / 3600:.1f}h"
    if value >= 120:
        return f"{value / 60:.1f}m"
    return f"{value:.1f}s"


def size(value: float | None) -> str:
    if value is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # unreachable


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(value: str | None) -> str:
    """An ISO time as `2026-11-30 06:01:02Z` (UTC, to the second)."""
    parsed = parse_time(value)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if parsed else "-"


def between(start: str | None, end: str | None) -> float | None:
    first, last = parse_time(start), parse_time(end)
    return (last - first).total_seconds() if first and last else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def progress(step: StepView, detail: dict[str, Any] | None = None) -> str:
    """What a step has done so far, as a count and bytes where the step says: `120/240 blobs (50%) · 3.1 MB`.

    From the step's `progress` when the app sends one, else from its live summary (the blob step's
    '120/240 copied, …'), and bytes from its detail (the report's, once the step is done)."""
    facts = step.progress or {}
    detail = detail or step.detail or {}
    done = _number(facts.get("done", facts.get("copied")))
    total = _number(facts.get("total", facts.get("to_copy")))
    moved = _number(facts.get("bytes", facts.get("bytes_copied")))
    if done is None and (found := _COPIED.search(step.summary)):
        done, total = float(found.group(1)), float(found.group(2))
    if done is None:
        done = _number(detail.get("copied"))
    if moved is None:
        moved = _number(detail.get("bytes_copied"))
    parts = []
    if done is not None:
        count = f"{done:.0f}/{total:.0f} blobs" if total is not None else f"{done:.0f} blobs"
        if total:
            count += f" ({min(100.0, 100 * done / total):.0f}%)"
        parts.append(count)
    if moved is not None:
        parts.append(size(moved))
    return " · ".join(parts)


def one_line(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
