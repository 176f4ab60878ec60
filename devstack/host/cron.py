"""Timer-trigger schedules: NCRONTAB expressions with six fields (seconds first), as Azure Functions uses,
and the `hh:mm:ss` TimeSpan form (a fixed interval)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_MONTHS = {
    name: i + 1
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


class ScheduleError(ValueError):
    pass


def _parse_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ScheduleError(f"empty list item in '{text}'")
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step <= 0:
            raise ScheduleError(f"step must be positive in '{part}'")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(body, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ScheduleError(f"'{part}' is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    upper = text.strip().upper()
    if names and upper[:3] in names and not upper.isdigit():
        return names[upper[:3]]
    if not upper.isdigit():
        raise ScheduleError(f"'{text}' is not a number")
    return int(upper)


@dataclass(frozen=True)
class CronSchedule:
    """A six-field NCRONTAB expression: `{second} {minute} {hour} {day} {month} {day-of-week}` (UTC)."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) != 6:
            raise ScheduleError(f"'{expression}' must have six fields (second minute hour day month day-of-week)")
        return cls(
            expression,
            _parse_field(fields[0], 0, 59),
            _parse_field(fields[1], 0, 59),
            _parse_field(fields[2], 0, 23),
            _parse_field(fields[3], 1, 31),
            _parse_field(fields[4], 1, 12, _MONTHS),
            frozenset(0 if d == 7 else d for d in _parse_field(fields[5], 0, 7, _DAYS)),
        )  # 7 = Sunday

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (same timezone as `moment`)."""
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        for _ in range(366 * 8):
            if day.month in self.months and day.day in self.days and (day.isoweekday() % 7) in self.weekdays:
                found = self._first_time_on(day, start.time() if day == start.date() else time(0, 0, 0))
                if found is not None:
                    return datetime.combine(day, found, tzinfo=moment.tzinfo)
            day = day + timedelta(days=1)
        raise ScheduleError(f"'{self.expression}' never occurs")

    def _first_time_on(self, day: date, earliest: time) -> time | None:
        del day
        for hour in sorted(h for h in self.hours if h >= earliest.hour):
            minute_floor = earliest.minute if hour == earliest.hour else 0
            for minute in sorted(m for m in self.minutes if m >= minute_floor):
                second_floor = earliest.second if (hour, minute) == (earliest.hour, earliest.minute) else 0
                second = next((s for s in sorted(self.seconds) if s >= second_floor), None)
                if second is not None:
                    return time(hour, minute, second)
        return None


@dataclass(frozen=True)
class IntervalSchedule:
    """The TimeSpan form (`00:05:00`): every interval, counted from the previous run."""

    expression: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


def parse_schedule(expression: str) -> CronSchedule | IntervalSchedule:
    match = _TIMESPAN.match(expression.strip())
    if match:
        days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise ScheduleError(f"'{expression}' is not a positive interval")
        return IntervalSchedule(expression, interval)
    return CronSchedule.parse(expression)
