"""Failback: the reversed plan derived from a plan and the failover it undoes, the plan's state after runs,
and the anti-flap rule alerts meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dr.errors import PlanError
from dr.failback import FailoverToUndo, PrimaryHealthRecord, PrimaryProbe, failback_plan, reprotect_step
from dr.plan import BlobBackupStep, Plan, parse_plan
from dr.plan_state import PlanState, after_run, alert_refusal_by_state, anti_flap, side_after

ROOT = Path(__file__).resolve().parents[2]
SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups"
APPS = "http://127.0.0.1:9"
T0 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def demo_plan() -> Plan:
    text = (ROOT / "devstack/demo/plan.yaml").read_text().replace("${APPS}", APPS)
    return parse_plan(yaml.safe_load(text))


def failover_report(plan: Plan, **statuses: str) -> dict[str, Any]:
    """A failover report as the orchestrator writes it: every step succeeded unless ``statuses`` says."""
    steps = []
    for step in plan.steps:
        detail: dict[str, Any] = {}
        if step.kind == "sql_failover_group":
            detail["partners"] = [{"id": f"{SUB}/shop-eus/providers/Microsoft.Sql/servers/shop-eus"}]
        steps.append({"id": step.id, "kind": step.kind, "status": statuses.get(step.id, "succeeded"), "detail": detail})
    return {"instance_id": "shop-demo--failover--alert-0123456789abcdef0123", "finished_at": "x", "steps": steps}


def test_every_step_points_home_in_the_same_order() -> None:
    plan = demo_plan()
    derived = failback_plan(plan, FailoverToUndo.from_report(failover_report(plan)))
    steps = {step.id: step for step in derived.plan.steps}
    assert [s.id for s in derived.plan.steps] == [s.id for s in plan.steps]  # same ids, same 'after' order
    assert steps["traffic"].after == ["orders-db", "shop-db"] and steps["verify"].after == ["traffic"]

    images = steps["images"]
    assert isinstance(images, BlobBackupStep)
    assert images.source.account_url == "https://shopwus.blob.core.windows.net"
    assert images.target.account_url == "https://shopeus.blob.core.windows.net"
    # Never deletes in the primary (the failover's invoices step mirrors deletes), keeps newer primary blobs.
    assert steps["invoices"].mirror_deletes is False  # type: ignore[union-attr]
    assert images.on_conflict == "keep_newer" and images.on_source_unavailable == "fail"

    fog = steps["shop-db"]
    assert fog.failover_group_id == f"{SUB}/shop-eus/providers/Microsoft.Sql/servers/shop-eus/failoverGroups/shop-fog"  # type: ignore[union-attr]
    assert fog.failover_mode == "planned"  # type: ignore[union-attr]

    orders = steps["orders-db"]
    assert orders.source_database_id == f"{SUB}/shop-wus/providers/Microsoft.Sql/servers/shop-wus/databases/orders"  # type: ignore[union-attr]
    assert orders.target_server_id == f"{SUB}/shop-eus/providers/Microsoft.Sql/servers/shop-eus"  # type: ignore[union-attr]
    assert orders.target_database == "orders-returned"  # the plan's failback override

    traffic = steps["traffic"]
    assert traffic.from_endpoints == ["shop-wus"] and traffic.to_endpoints == ["shop-eus"]  # type: ignore[union-attr]
    assert traffic.health_url == f"{APPS}/eastus/health"  # type: ignore[union-attr]
    assert steps["verify"].expect_body_contains == "eastus"  # type: ignore[union-attr]

    assert derived.plan.approval.required and derived.plan.approval.on_timeout == "abort"
    assert derived.left_out == {}


def test_a_step_the_failover_did_not_complete_is_left_out_and_said_so() -> None:
    plan = demo_plan()
    derived = failback_plan(plan, FailoverToUndo.from_report(failover_report(plan, **{"orders-db": "failed"})))
    assert "orders-db" not in [step.id for step in derived.plan.steps]
    assert "did not complete it (failed)" in derived.left_out["orders-db"]
    assert derived.plan.step("traffic").after == ["shop-db"]


def test_a_failover_group_without_its_partner_in_the_report_asks_for_an_override() -> None:
    plan = demo_plan()
    report = failover_report(plan)
    next(s for s in report["steps"] if s["id"] == "shop-db")["detail"] = {}
    with pytest.raises(PlanError, match=r"failback.overrides.shop-db.failover_group_id"):
        failback_plan(plan, FailoverToUndo.from_report(report))


def test_a_failback_needs_a_way_to_tell_the_primary_healthy() -> None:
    document = yaml.safe_load((ROOT / "devstack/demo/plan.yaml").read_text().replace("${APPS}", APPS))
    del document["failback"]["overrides"]["traffic"]
    plan = parse_plan(document)
    with pytest.raises(PlanError, match="failback.primary_health.urls"):
        failback_plan(plan, FailoverToUndo.from_report(failover_report(plan)))


@pytest.mark.parametrize(
    ("failback", "message"),
    [
        ({"overrides": {"nope": {"url": "http://x/"}}}, "failback.overrides names unknown step"),
        ({"skip_steps": ["nope"]}, "failback.skip_steps names unknown step"),
        ({"overrides": {"verify": {"kind": "blob_backup"}}}, "cannot change a step's kind"),
        ({"primary_health": {"probes": 0}}, "greater than or equal to 1"),
    ],
)
def test_a_broken_failback_section_fails_when_the_plan_loads(failback: dict[str, Any], message: str) -> None:
    document = {"name": "p", "steps": [{"id": "verify", "kind": "health_check", "url": "http://x/"}]}
    with pytest.raises(PlanError, match=message):
        parse_plan({**document, "failback": failback})


def test_the_standing_sync_reverses_a_failed_over_plans_blob_steps() -> None:
    plan = demo_plan()
    forward = plan.step("invoices")
    assert isinstance(forward, BlobBackupStep)
    back = reprotect_step(forward, plan.failback)
    assert (back.source, back.target) == (forward.target, forward.source)
    assert back.mirror_deletes is False and back.on_conflict == "keep_newer"


def test_the_primary_must_be_healthy_so_many_rounds_in_a_row() -> None:
    record = PrimaryHealthRecord.start(demo_plan().failback.primary_health)
    assert record.required_probes == 3 and record.interval_seconds == 3.0  # 3 probes over PT6S
    for ok in (True, True, False, True, True):
        record.add(PrimaryProbe(ok=ok, urls=[]), T0)
        assert not record.healthy
    record.add(PrimaryProbe(ok=True, urls=[]), T0)
    assert record.healthy and record.rounds == 6 and record.verdict.startswith("healthy")


# -- the plan's state ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "traffic", "before", "after"),
    [
        ("failover", ["succeeded"], "primary", "secondary"),
        ("failback", ["succeeded"], "secondary", "primary"),
        ("failover", ["failed"], "primary", "primary"),  # refused or failed before switching
        ("failover", ["skipped"], "primary", "primary"),
        ("failover", [], "primary", "primary"),  # a plan without traffic steps moves no service
        ("failover", ["succeeded", "failed"], "primary", "split"),
    ],
)
def test_which_side_serves_follows_the_traffic_steps(mode: str, traffic: list[str], before: str, after: str) -> None:
    assert side_after(mode, traffic, before) == after  # type: ignore[arg-type]


def test_a_failover_then_a_failback_and_what_alerts_meet_meanwhile() -> None:
    plan = demo_plan()  # cooldown PT30S
    state = PlanState.initial(plan)
    assert (state.active, state.protection_direction) == ("primary", "eastus → westus")
    assert alert_refusal_by_state(plan, "failover", state, T0) is None
    assert "no failover to undo" in alert_refusal_by_state(plan, "failback", state, T0)[0]  # type: ignore[index]

    state = after_run(
        state, plan.regions, run_id="fo", mode="failover", status="Succeeded", traffic_statuses=["succeeded"], at=T0
    )
    assert (state.active, state.active_region, state.failover_run_id) == ("secondary", "westus", "fo")
    assert state.protection == "secondary_to_primary" and state.protection_direction == "westus → eastus"

    # Within the cool-down nothing starts from an alert, and the refusal says until when.
    reason, until = alert_refusal_by_state(plan, "failback", state, T0 + timedelta(seconds=10))  # type: ignore[misc]
    assert until == T0 + timedelta(seconds=30) and "cool-down" in reason and "2026-11-30T03:00:30Z" in reason
    # After it: another primary alert is not a second failover; a secondary alert may start the failback.
    later = T0 + timedelta(minutes=5)
    assert "already failed over" in alert_refusal_by_state(plan, "failover", state, later)[0]  # type: ignore[index]
    assert alert_refusal_by_state(plan, "failback", state, later) is None

    back = after_run(
        state, plan.regions, run_id="fb", mode="failback", status="Succeeded", traffic_statuses=["succeeded"], at=later
    )
    assert (back.active, back.failover_run_id, back.last_switch_run) == ("primary", None, "fb")
    assert [switch.run_id for switch in back.history] == ["fo", "fb"]
    assert anti_flap(back, plan, later + timedelta(seconds=29)) is not None
    assert anti_flap(back, plan, later + timedelta(seconds=30)) is None


def test_a_failed_failover_moves_nothing_and_starts_no_cool_down() -> None:
    plan = demo_plan()
    state = after_run(
        PlanState.initial(plan),
        plan.regions,
        run_id="fo",
        mode="failover",
        status="Failed",
        traffic_statuses=["failed"],
        at=T0,
    )
    assert state.active == "primary" and state.last_switch_at is None and state.failover_run_id is None
    assert anti_flap(state, plan, T0) is None
    assert state.history[-1].status == "Failed"
