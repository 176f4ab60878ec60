"""A failback run: the primary-health gate before anything, the approval a failback always waits for, and the
plan's state recorded at the end (the step activities are the scripted fakes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from devstack.host import DurableEngine
from dr.failback import FailoverToUndo, failback_plan
from dr.plan import parse_plan
from dr.run import RunInput

from .conftest import SQL, FakeSteps, data_step, step, traffic_step


def _awaiting(custom: Any) -> bool:
    return isinstance(custom, dict) and custom.get("phase") == "awaiting_approval"


def failback_input(**primary_health: Any) -> dict[str, Any]:
    plan = parse_plan(
        {
            "name": "shop",
            "steps": [
                data_step("db"),
                traffic_step("traffic", after=["db"]),
                step("verify", after=["traffic"]),
            ],
            "failback": {
                "primary_health": {"probes": 3, "over": "PT2M", "give_up_after": "PT30M", **primary_health},
                "overrides": {"traffic": {"health_url": "http://127.0.0.1:9/eastus/health"}},
            },
        }
    )
    failover = FailoverToUndo.from_report(
        {
            "instance_id": "shop--failover--op-20261130T030000-abcdef",
            "steps": [
                {
                    "id": "db",
                    "kind": "sql_failover_group",
                    "status": "succeeded",
                    "detail": {"partners": [{"id": f"{SQL}/eus-db"}]},
                },
                {"id": "traffic", "kind": "traffic_manager_failover", "status": "succeeded"},
                {"id": "verify", "kind": "health_check", "status": "succeeded"},
            ],
        }
    )
    derived = failback_plan(plan, failover)
    return RunInput(
        plan=derived.plan,
        mode="failback",
        trigger={"source": "operator"},
        requested_at=datetime.now(UTC),
        requested_by="tester",
        reason="going home",
        failback_of=failover.run_id,
        failback_left_out=derived.left_out,
        min_poll_seconds=1,
    ).model_dump(mode="json")


def test_nothing_is_read_or_changed_until_the_primary_is_healthy_in_a_row_then_an_approver_decides(
    engine: DurableEngine, fake: FakeSteps
) -> None:
    fake.primary_rounds = [True, False, True, True, True]  # the miss starts the streak again
    iid = engine.start("recovery", failback_input(), instance_id="fb1")
    status = engine.wait_for_custom_status(iid, _awaiting)
    assert fake.primary_probes == 5
    assert fake.changes() == []  # a failback always waits for approval, whatever the plan's approval says
    assert status.custom_status["primary_health"].startswith("healthy: 3 probes in a row")
    engine.raise_event(iid, "approval", {"approved": True, "by": "ana", "reason": "eastus is back"})
    report = engine.wait(iid).output
    assert report["status"] == "Succeeded" and report["mode"] == "failback"
    gate = report["failback"]["primary_health"]
    assert gate["rounds"] == 5 and gate["streak"] == 3 and gate["interval_seconds"] == 60.0
    assert report["failback"]["of"] == "shop--failover--op-20261130T030000-abcdef"
    # The plan's state is recorded for the sync, the alerts and the API: the traffic step moved the service.
    (recorded,) = fake.plan_states
    assert (recorded["mode"], recorded["status"], recorded["traffic_statuses"]) == (
        "failback",
        "Succeeded",
        ["succeeded"],
    )
    assert report["estate_after"]["run_id"] == iid


def test_a_primary_never_healthy_long_enough_ends_the_failback_without_a_change(
    engine: DurableEngine, fake: FakeSteps
) -> None:
    fake.primary_rounds = [True, True, False] * 100
    iid = engine.start("recovery", failback_input(give_up_after="PT10M"), instance_id="fb2")
    report = engine.wait(iid).output  # the virtual clock skips the probe intervals
    assert report["status"] == "Failed"
    assert fake.changes() == [] and fake.primary_probes == 11  # one round a minute for ten minutes, and the first
    assert {s["status"] for s in report["steps"]} == {"skipped"}
    assert "not healthy 3 probes in a row within PT10M" in report["steps"][0]["detail"]["summary"]
    assert report["failback"]["primary_health"]["verdict"].startswith("gave up")
    assert report.get("approval") is None or report["approval"]["decision"] == "pending"
    assert fake.plan_states[0]["traffic_statuses"] == ["skipped"]  # nothing moved: the state says where it was


def test_a_cancel_during_the_health_gate_stops_it(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.primary_rounds = [False] * 1000
    iid = engine.start("recovery", failback_input(), instance_id="fb3")
    engine.wait_for_custom_status(iid, lambda c: isinstance(c, dict) and c.get("phase") == "primary_health")
    engine.raise_event(iid, "cancel", {"by": "bo", "reason": "not tonight"})
    report = engine.wait(iid).output
    assert report["status"] == "Canceled" and report["canceled"]["by"] == "bo"
    assert fake.changes() == []


def test_a_cancel_that_arrives_during_a_probe_is_not_lost(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.primary_rounds = [False, True, True, True]
    iid = "fb4"

    def cancel_during(round_number: int) -> None:
        if round_number == 2:  # while the second probe runs: no waiter of this round exists yet
            engine.raise_event(iid, "cancel", {"by": "cy", "reason": "wrong plan"})

    fake.on_primary_probe = cancel_during
    engine.start("recovery", failback_input(), instance_id=iid)
    report = engine.wait(iid).output
    assert report["status"] == "Canceled" and report["canceled"]["by"] == "cy"
    assert fake.changes() == [] and fake.primary_probes == 2
