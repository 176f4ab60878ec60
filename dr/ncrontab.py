"""NCRONTAB schedules, as Azure Functions timer triggers read them: six fields, seconds first
(``{second} {minute} {hour} {day} {month} {day-of-week}``), and the ``hh:mm:ss`` TimeSpan form (a fixed
interval). The one parser of the project: plan drill schedules (``drill.schedule``) are validated and
followed with it, and the devstack host (devstack/host/cron.py) runs timer triggers with it.

Fields take ``*``, numbers, ranges (``1-5``), lists (``0,30``), steps (``*/15``, ``10-50/10``, ``5/10``),
month names (``Jan``..``Dec``) and day names (``Sun``..``Sat``; day-of-week 0 and 7 are Sunday). A day must
match both the day-of-month and the day-of-week fields (NCrontab's rule). Times are those of the datetime
given (the app passes UTC).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_MONTHS = {
    name: i + 1
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")
_FIELDS = "second minute hour day month day-of-week"
# How far next_after looks before deciding a schedule never occurs: eight years holds every Feb 29.
_SEARCH_DAYS = 366 * 8


class ScheduleError(ValueError):
    """An expression that is no schedule (or one that never occurs), with what is wrong in it."""


def _parse_field(text: str, low: int, high: int, what: str, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ScheduleError(f"{what} field '{text}': empty list item")
        body, slash, step_text = part.partition("/")
        if slash and not step_text.isdigit():
            raise ScheduleError(f"{what} field '{part}': the step after '/' must be a positive number")
        step = int(step_text) if step_text else 1
        if step <= 0:
            raise ScheduleError(f"{what} field '{part}': the step after '/' must be a positive number")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _value(first, what, names), _value(last, what, names)
        else:
            start = _value(body, what, names)
            end = high if slash else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleError(f"{what} field '{part}' is outside {low}-{high}")
        if start > end:
            raise ScheduleError(f"{what} field '{part}': a range must go from low to high")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, what: str, names: dict[str, int] | None) -> int:
    upper = text.strip().upper()
    if upper.isdigit():
        return int(upper)
    if names and upper[:3] in names and upper.isalpha():
        return names[upper[:3]]
    raise ScheduleError(f"{what} field: '{text}' is not a number" + (" or a name" if names else ""))


@dataclass(frozen=True)
class CronSchedule:
    """A six-field NCRONTAB expression: `{second} {minute} {hour} {day} {month} {day-of-week}`."""

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
            raise ScheduleError(f"'{expression}' must have six fields ({_FIELDS}), got {len(fields)}")
        return cls(
            expression,
            _parse_field(fields[0], 0, 59, "second"),
            _parse_field(fields[1], 0, 59, "minute"),
            _parse_field(fields[2], 0, 23, "hour"),
            _parse_field(fields[3], 1, 31, "day"),
            _parse_field(fields[4], 1, 12, "month", _MONTHS),
            frozenset(0 if d == 7 else d for d in _parse_field(fields[5], 0, 7, "day-of-week", _DAYS)),
        )  # 7 = Sunday

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (same timezone as `moment`)."""
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if day.month in self.months and day.day in self.days and (day.isoweekday() % 7) in self.weekdays:
                found = self._first_time_on(day, start.time() if day == start.date() else time(0, 0, 0))
                if found is not None:
                    return datetime.combine(day, found, tzinfo=moment.tzinfo)
            day = day + timedelta(days=1)
        raise ScheduleError(f"'{self.expression}' never occurs")

    def between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every occurrence after `start` and at or before `end`, in order."""
        moment = start
        while True:
            moment = self.next_after(moment)
            if moment > end:
                return
            yield moment

    def latest(self, end: datetime, within: timedelta) -> datetime | None:
        """The last occurrence at or before `end` and after `end - within`, or None."""
        found: datetime | None = None
        for found in self.between(end - within, end):  # noqa: B007 - the last one is wanted
            pass
        return found

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
    """A timer trigger's schedule: NCRONTAB, or the TimeSpan form."""
    match = _TIMESPAN.match(expression.strip())
    if match:
        days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise ScheduleError(f"'{expression}' is not a positive interval")
        return IntervalSchedule(expression, interval)
    return CronSchedule.parse(expression)


def parse_ncrontab(expression: str) -> CronSchedule:
    """A six-field NCRONTAB expression that occurs at least once (ScheduleError saying why not otherwise)."""
    schedule = CronSchedule.parse(expression)
    schedule.next_after(datetime(2000, 1, 1))  # a leap year first: Feb 29 occurs within the search
    return schedule
