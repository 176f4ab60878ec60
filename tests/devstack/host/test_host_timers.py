"""Timer triggers run on their schedule (the NCRONTAB parser itself: tests/unit/test_ncrontab.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from devstack.host import load_app, run_host

from .helpers import wait_until

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
