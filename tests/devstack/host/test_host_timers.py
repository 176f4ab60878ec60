"""Timer triggers: NCRONTAB schedules (six fields, seconds first) and running on schedule."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack.host import load_app, run_host
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


TICK_APP = textwrap.dedent("""
    import json
    import os

    import azure.durable_functions as df
    import azure.functions as func

    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


    @app.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer", run_on_startup=True)
    def tick(timer: func.TimerRequest) -> None:
        with open(os.environ["SAMPLE_TICK_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"past_due": timer.past_due}) + "\\n")
""")


def test_timer_functions_run_on_their_schedule_from_an_app_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMPLE_TICK_SCHEDULE", "* * * * * *")  # every second, via %SAMPLE_TICK_SCHEDULE%
    tick_log = tmp_path / "ticks.jsonl"
    monkeypatch.setenv("SAMPLE_TICK_LOG", str(tick_log))
    app_dir = tmp_path / "tick_app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(TICK_APP)

    def ticks() -> list[bool]:
        lines = tick_log.read_text().splitlines() if tick_log.exists() else []
        return [json.loads(line)["past_due"] for line in lines]

    with run_host(load_app(app_dir), timers=True):
        assert wait_until(lambda: len(ticks()) >= 2, timeout=5)

    assert ticks()[0] is False
