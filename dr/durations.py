"""ISO 8601 durations (``PT15M``, ``PT2H``, ``P1DT30M``) as plans and alerts write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

import isodate
from pydantic import BeforeValidator, PlainSerializer


def parse_duration(value: Any) -> timedelta:
    """Accept an ISO 8601 duration string (or a timedelta / number of seconds from code)."""
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        duration = timedelta(seconds=value)
    elif isinstance(value, str):
        duration = _parse_iso(value)
    else:
        raise ValueError(f"expected an ISO 8601 duration string, got {type(value).__name__}")
    if duration <= timedelta(0):
        raise ValueError(f"{value!r}: a duration must be positive")
    return duration


# Both conversions are cached: every model holding a duration (a step's timeout and retry policy) converts it
# on each dump and load, and an orchestrator replays its whole run on each episode: isodate's regex-based
# formatting was a fifth of a 100-step run's episode. The values are few and immutable.
@lru_cache(maxsize=4096)
def _parse_iso(value: str) -> timedelta:
    try:
        parsed = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise ValueError(f"{value!r} is not an ISO 8601 duration (e.g. PT15M, PT2H)") from exc
    if not isinstance(parsed, timedelta):  # years/months have no fixed length
        raise ValueError(f"{value!r}: use days, hours, minutes or seconds (years and months vary)")
    return parsed


@lru_cache(maxsize=4096)
def format_duration(value: timedelta) -> str:
    return str(isodate.duration_isoformat(value))


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


def iso(moment: datetime) -> str:
    """UTC timestamp as reports and statuses write it."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
