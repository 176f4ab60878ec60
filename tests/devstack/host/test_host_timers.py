"""Timer triggers: NCRONTAB schedules (six fields, seconds first) and running on schedule."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
import pytest

from devstack.host import run_host
from devstack.host.cron import ScheduleError, parse_schedule

from .helpers import wait_until


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", datetime(2024, 1, 1, 10, 3, 7), datetime(2024, 1, 1, 10, 5, 0)),
        ("0 30 9 * * 1-5", datetime(2024, 1, 6, 10, 0, 0), datetime(2024, 1, 8, 9, 30, 0)),  # Sat → Mon
        ("0 0 3 * * Sun", datetime(2024, 1, 1, 10, 0, 0), datetime(2024, 1, 7, 3, 0, 0)),
        ("*/10 * * * * *", datetime(2024, 1, 1, 10, 3, 59), datetime(2024, 1, 1, 10, 4, 0)),
        ("0 0 0 29 Feb *", datetime(2024, 3, 1), datetime(2028, 2, 29)),
        ("0 0 12 * * 0,7", datetime(2024, 1, 1), datetime(2024, 1, 7, 12)),  # 7 is Sunday too
        ("00:05:00", datetime(2024, 1, 1, 10, 0, 0), datetime(2024, 1, 1, 10, 5, 0)),
    ],
)
def test_schedules_give_the_next_occurrence(expression: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(expression).next_after(after.replace(tzinfo=UTC)) == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize("expression", ["0 */5 * * *", "0 61 * * * *", "x * * * * *", "0 0 0 31 2 *"])
def test_invalid_schedules_are_rejected(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(expression).next_after(datetime(2024, 1, 1, tzinfo=UTC))


def test_timer_functions_run_on_their_schedule_from_an_app_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_TICK_SCHEDULE", "* * * * * *")  # every second, via %SAMPLE_TICK_SCHEDULE%
    ticks: list[bool] = []
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer", run_on_startup=True)
    def tick(timer: func.TimerRequest) -> None:
        ticks.append(timer.past_due)

    with run_host(app, timers=True):
        assert wait_until(lambda: len(ticks) >= 2, timeout=5)

    assert ticks[0] is False
