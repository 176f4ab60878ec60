"""The function index the Functions host reads from function_app.py: names, triggers, bindings, routes,
methods and auth levels, as Microsoft's Python runtime (azure-functions-runtime, the one Azure runs for
Python 3.13) indexes and loads it in a fresh interpreter, the way the worker does at start-up. A function
the runtime refuses would make this fail with the runtime's message: in Azure no function would load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

INDEX_SCRIPT = """
import json
from pathlib import Path
from devstack.host.worker import PythonWorker
loaded = PythonWorker.get().load(Path("."))
print(json.dumps({name: function.raw_bindings for name, function in loaded.functions.items()}))
"""

HTTP_ROUTES = {
    "alerts": ("alerts", ["POST"]),
    "start_recovery": ("recoveries", ["POST"]),
    "list_recoveries": ("recoveries", ["GET"]),
    "get_recovery": ("recoveries/{id}", ["GET"]),
    "get_report": ("recoveries/{id}/report", ["GET"]),
    "approve_recovery": ("recoveries/{id}/approve", ["POST"]),
    "reject_recovery": ("recoveries/{id}/reject", ["POST"]),
    "cancel_recovery": ("recoveries/{id}/cancel", ["POST"]),
    "retry_teardown": ("recoveries/{id}/teardown", ["POST"]),
    "get_teardown_retry": ("recoveries/{id}/teardown/{retry}", ["GET"]),
    "get_plans": ("plans", ["GET"]),
    "get_plan": ("plans/{name}", ["GET"]),
    "get_report_html": ("recoveries/{id}/report.html", ["GET"]),
    "get_plan_history": ("plans/{name}/history", ["GET"]),
    "get_plan_history_html": ("plans/{name}/history.html", ["GET"]),
    "confirm_step": ("recoveries/{id}/steps/{step}/confirm", ["POST"]),
}
ORCHESTRATORS = {"recovery", "recovery_step", "standing_sync", "drill_teardown", "drill_teardown_retry"}
ENTITIES = {"plan_lock", "run_graph"}
TIMERS = {
    "standing_sync_timer": "%DR_SYNC_SCHEDULE%",
    "stuck_run_watchdog": "%DR_WATCHDOG_SCHEDULE%",
    "readiness_timer": "%DR_READINESS_SCHEDULE%",
    "readiness_changes_timer": "0 * * * * *",
    "scheduled_drills_timer": "0 * * * * *",
}
# Timers that start no orchestration (no Durable client binding).
PLAIN_TIMERS = {"readiness_timer", "readiness_changes_timer"}
ACTIVITIES = {
    "step_begin",
    "step_poll",
    "step_work",
    "step_teardown",
    "write_report",
    "list_sync_targets",
    "read_report",
    "preflight",
    "notify",
    "probe_primary",
    "record_plan_state",
    "forward_cancel",
}
# Activities that take a Durable client (the run forwards its cancel to its first steps).
CLIENT_ACTIVITIES = {"forward_cancel"}


def _index() -> dict[str, list[dict[str, Any]]]:
    out = subprocess.run(
        [sys.executable, "-c", INDEX_SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _trigger(bindings: list[dict[str, Any]]) -> dict[str, Any]:
    triggers = [b for b in bindings if b["type"].endswith("Trigger")]
    assert len(triggers) == 1
    return triggers[0]


def test_the_index_has_exactly_the_expected_functions() -> None:
    index = _index()
    assert set(index) == set(HTTP_ROUTES) | ORCHESTRATORS | ACTIVITIES | ENTITIES | set(TIMERS)
    for name, (route, methods) in HTTP_ROUTES.items():
        trigger = _trigger(index[name])
        assert trigger["type"] == "httpTrigger", name
        assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == (route, methods, "FUNCTION"), name
        assert {"type": "http", "direction": "OUT", "name": "$return"}.items() <= next(
            b for b in index[name] if b["type"] == "http"
        ).items()
    starters = {name for name, bindings in index.items() if any(b["type"] == "durableClient" for b in bindings)}
    assert (
        starters
        == (set(HTTP_ROUTES) - {"get_report", "get_plans", "get_plan_history", "get_plan_history_html"})
        | (set(TIMERS) - PLAIN_TIMERS)
        | CLIENT_ACTIVITIES
    )
    for name in ENTITIES:
        assert _trigger(index[name])["type"] == "entityTrigger"
    for name in ORCHESTRATORS:
        assert _trigger(index[name])["type"] == "orchestrationTrigger"
    for name in ACTIVITIES:
        assert _trigger(index[name])["type"] == "activityTrigger"
    for name, schedule in TIMERS.items():
        timer = _trigger(index[name])
        assert timer["type"] == "timerTrigger" and timer["schedule"] == schedule, name
        assert timer["runOnStartup"] is False, name


def test_host_json_fits_the_deployment() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["version"].startswith("[4.")
    durable = host["extensions"]["durableTask"]
    assert durable["hubName"] == "%DR_TASK_HUB%"
    assert durable["overridableExistingInstanceStates"] == "NonRunningStates"
    hours, minutes, _ = (int(part) for part in host["functionTimeout"].split(":"))
    assert hours * 60 + minutes <= 30  # Flex Consumption's default; long work is polled, never awaited
