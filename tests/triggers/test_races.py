"""Starting a run is atomic: duplicate deliveries and racing starts against the real devstack host.

Before the per-plan lock (dr.admission.acquire_plan), admission was check-then-act: two different alerts
for one plan at the same moment both saw no failover in progress and both started one, and the duplicate
delivery that lost the start race met "instance already exists" and answered 503.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from devstack.alert_samples import alert
from devstack.host import RuntimeStatus

from .conftest import Stack

TRIALS = 15


def _race_alert() -> dict[str, Any]:
    unique = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}"
    return alert(rule="race-rule", alertId=unique, alertTargetIDs=[])  # matches plan "race" alone


def _active_failovers(stack: Stack, plan: str = "race") -> list[str]:
    return [
        s.instance_id
        for s in stack.instances()
        if s.name == "recovery"
        and s.instance_id.startswith(f"{plan}--failover--")
        and s.runtime_status in (RuntimeStatus.RUNNING, RuntimeStatus.PENDING)
    ]


def _cancel(stack: Stack, run_id: str) -> None:
    response = stack.call("POST", f"/api/recoveries/{run_id}/cancel", json={"by": "race-test", "hard": True})
    assert response.status_code == 202, response.text


def _together(*calls: Any) -> list[requests.Response]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_duplicate_deliveries_get_200_duplicate_every_time(stack: Stack) -> None:
    for _ in range(5):
        document = _race_alert()
        raw = json.dumps(document).encode()
        responses = _together(*[lambda raw=raw: stack.post_alert(raw)] * 6)
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 5 + [202], [r.text for r in responses]
        started = next(r.json()["id"] for r in responses if r.status_code == 202)
        for response in responses:
            if response.status_code == 200:
                assert response.json()["ignored"].startswith("duplicate"), response.text
                assert response.json()["id"] == started
        assert _active_failovers(stack) == [started]
        _cancel(stack, started)


def test_two_alerts_for_one_plan_start_exactly_one_failover(stack: Stack) -> None:
    for _ in range(TRIALS):
        first, second = _race_alert(), _race_alert()
        responses = _together(
            lambda first=first: stack.post_alert(first), lambda second=second: stack.post_alert(second)
        )
        started = [r for r in responses if r.status_code == 202]
        refused = [r for r in responses if r.status_code == 200]
        assert len(started) == 1 and len(refused) == 1, [r.text for r in responses]
        run_id = started[0].json()["id"]
        assert refused[0].json()["ignored"] == f"plan 'race': failover already in progress: {run_id}"
        assert refused[0].json()["id"] == run_id
        assert _active_failovers(stack) == [run_id]
        _cancel(stack, run_id)  # cancel releases the plan: the next trial starts one again


def test_an_operator_failover_racing_an_alert_starts_exactly_one(stack: Stack) -> None:
    body = {"plan": "race", "mode": "failover", "reason": "race"}
    for _ in range(TRIALS):
        document = _race_alert()
        operator, by_alert = _together(
            lambda: stack.call("POST", "/api/recoveries", json=body),
            lambda document=document: stack.post_alert(document),
        )
        assert sorted([operator.status_code, by_alert.status_code]) in ([200, 202], [202, 409]), (
            operator.text,
            by_alert.text,
        )
        if operator.status_code == 202:
            run_id = operator.json()["id"]
            assert by_alert.json()["ignored"] == f"plan 'race': failover already in progress: {run_id}"
        else:
            run_id = by_alert.json()["id"]
            assert operator.json()["error"]["holder"] == run_id
            assert run_id in operator.json()["error"]["message"]
        assert _active_failovers(stack) == [run_id]
        _cancel(stack, run_id)


def test_drills_are_not_blocked_by_a_failover(stack: Stack) -> None:
    failover = stack.post_alert(_race_alert())
    assert failover.status_code == 202, failover.text
    drills = _together(*[lambda: stack.call("POST", "/api/recoveries", json={"plan": "race", "reason": "d"})] * 3)
    assert [d.status_code for d in drills] == [202] * 3
    for drill in drills:
        _cancel(stack, drill.json()["id"])
    _cancel(stack, failover.json()["id"])


def test_a_lock_left_by_a_run_that_is_no_longer_active_is_freed(stack: Stack) -> None:
    # The holder was terminated behind the app's back (not through cancel, which releases).
    first = stack.post_alert(_race_alert())
    assert first.status_code == 202, first.text
    stack.host.engine.terminate(first.json()["id"], "gone")
    second = stack.post_alert(_race_alert())
    assert second.status_code == 202, second.text
    _cancel(stack, second.json()["id"])
