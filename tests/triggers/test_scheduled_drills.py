"""Scheduled drills on the devstack host: the scheduled_drills timer (run on demand, several times, at once
and after the drill finished) starts a plan's drill once per due time of its ``drill.schedule``, through
the operator intake (requested by "schedule"), and leaves plans that are not due alone."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from dr.readiness import scheduled_drill_id

from .conftest import Stack


def at(moment: datetime) -> str:
    """A six-field NCRONTAB that falls due once a year, at ``moment`` (UTC)."""
    return f"{moment.second} {moment.minute} {moment.hour} {moment.day} {moment.month} *"


def drills(stack: Stack, plan: str) -> list[Any]:
    prefix = f"{plan}--drill--"
    return [i for i in stack.instances() if i.instance_id.startswith(prefix) and i.name == "recovery"]


def fire(stack: Stack) -> None:
    response = stack.call("POST", "/admin/functions/scheduled_drills_timer", json={"input": ""})
    assert response.status_code == 202, response.text


def test_a_due_drill_starts_once_however_often_the_timer_fires(stack: Stack) -> None:
    due = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    probe = [{"id": "probe", "kind": "health_check", "url": stack.health.url()}]
    (stack.plans_dir / "nightly.yaml").write_text(
        yaml.safe_dump({"name": "nightly", "steps": probe, "drill": {"schedule": at(due)}})
    )
    later = datetime.now(UTC) + timedelta(hours=1)
    (stack.plans_dir / "later.yaml").write_text(
        yaml.safe_dump({"name": "later", "steps": probe, "drill": {"schedule": at(later)}})
    )

    with ThreadPoolExecutor(max_workers=3) as pool:  # three firings at once (two instances, a retry...)
        list(pool.map(lambda _: fire(stack), range(3)))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not drills(stack, "nightly"):
        time.sleep(0.2)
    time.sleep(2)  # the other firings have had time to start theirs, had they been going to
    started = drills(stack, "nightly")
    assert [i.instance_id for i in started] == [scheduled_drill_id("nightly", due)]
    assert drills(stack, "later") == []

    # The run came in through the operator intake, requested by "schedule".
    view = stack.call("GET", f"/api/recoveries/{started[0].instance_id}").json()
    assert (view["mode"], view["requested_by"]) == ("drill", "schedule")
    trigger = (
        json.loads(started[0].input)["trigger"] if isinstance(started[0].input, str) else started[0].input["trigger"]
    )
    assert (trigger["source"], trigger["due_at"]) == ("schedule", due.isoformat().replace("+00:00", "Z"))

    # Once the drill is over, a later firing for the same due time does not start it again.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = stack.call("GET", f"/api/recoveries/{started[0].instance_id}").json()["runtime_status"]
        if status not in ("Running", "Pending"):
            break
        time.sleep(0.3)
    assert status == "Completed"
    fire(stack)
    time.sleep(2)
    assert [i.instance_id for i in drills(stack, "nightly")] == [started[0].instance_id]
    assert stack.call("GET", f"/api/recoveries/{started[0].instance_id}").json()["runtime_status"] == "Completed"
