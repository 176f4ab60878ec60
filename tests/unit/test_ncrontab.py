"""The project's NCRONTAB parser (dr/ncrontab.py): timer schedules on the devstack host and plans' drill
schedules (six fields, seconds first, as Azure Functions reads them; and the TimeSpan form for timers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devstack.host import cron
from dr.ncrontab import CronSchedule, ScheduleError, parse_ncrontab, parse_schedule


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", datetime(2024, 1, 1, 10, 3, 7), datetime(2024, 1, 1, 10, 5, 0)),
        ("0 30 9 * * 1-5", datetime(2024, 1, 6, 10, 0, 0), datetime(2024, 1, 8, 9, 30, 0)),  # Sat → Mon
        ("0 0 3 * * Sun", datetime(2024, 1, 1, 10, 0, 0), datetime(2024, 1, 7, 3, 0, 0)),
        ("*/10 * * * * *", datetime(2024, 1, 1, 10, 3, 59), datetime(2024, 1, 1, 10, 4, 0)),
        ("0 0 0 29 Feb *", datetime(2024, 3, 1), datetime(2028, 2, 29)),
        ("0 0 12 * * 0,7", datetime(2024, 1, 1), datetime(2024, 1, 7, 12)),  # 7 is Sunday too
        ("0 5/20 * * * *", datetime(2024, 1, 1, 10, 6), datetime(2024, 1, 1, 10, 25)),  # n/step: from n on
        ("0 0 3 * Jan-Mar Mon", datetime(2024, 3, 26), datetime(2025, 1, 6, 3)),
        ("00:05:00", datetime(2024, 1, 1, 10, 0, 0), datetime(2024, 1, 1, 10, 5, 0)),
    ],
)
def test_schedules_give_the_next_occurrence(expression: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(expression).next_after(after.replace(tzinfo=UTC)) == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("0 */5 * * *", "six fields"),
        ("0 61 * * * *", "minute field '61' is outside 0-59"),
        ("x * * * * *", "second field: 'x' is not a number"),
        ("0 0 0 31 2 *", "never occurs"),
        ("0 */0 * * * *", "positive number"),
        ("0 */x * * * *", "positive number"),
        ("0 0 5-1 * * *", "from low to high"),
        ("0 0 0 * Foo *", "not a number or a name"),
        ("0 0,,1 * * * *", "empty list item"),
    ],
)
def test_invalid_schedules_are_rejected_saying_why(expression: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        parse_ncrontab(expression)


def test_ncrontab_refuses_the_timespan_form() -> None:
    with pytest.raises(ScheduleError, match="six fields"):
        parse_ncrontab("00:05:00")


def test_the_latest_occurrence_within_a_window() -> None:
    schedule = CronSchedule.parse("0 0 3 * * *")
    now = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert schedule.latest(now, timedelta(minutes=10)) == datetime(2024, 1, 2, 3, tzinfo=UTC)
    assert schedule.latest(now, timedelta(minutes=3)) is None
    exact = datetime(2024, 1, 2, 3, tzinfo=UTC)  # a due time at the window's end counts, at its start not
    assert schedule.latest(exact, timedelta(minutes=1)) == exact
    assert schedule.latest(exact + timedelta(minutes=1), timedelta(minutes=1)) is None
    every = CronSchedule.parse("0 * * * * *")
    assert list(every.between(now - timedelta(minutes=3), now)) == [
        now - timedelta(minutes=2),
        now - timedelta(minutes=1),
        now,
    ]


def test_the_devstack_host_uses_the_same_parser() -> None:
    assert cron.parse_schedule is parse_schedule and cron.ScheduleError is ScheduleError
