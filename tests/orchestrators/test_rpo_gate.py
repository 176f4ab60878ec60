"""The data-loss gate: an alert-started failover whose predicted RPO (dr.whatif.predict over its pre-flight
checks) exceeds the plan's rpo_budget waits for an approver who sees the loss per store, or is refused."""

from __future__ import annotations

from typing import Any

from devstack.host import DurableEngine

from .conftest import FakeSteps, data_step, run_input


def _lagging(seconds: float | None) -> list[dict[str, Any]]:
    """A failover group's pre-flight facts as its check reports them (dr.steps.sql.failover_group)."""
    facts = {"rpo_estimate_seconds": seconds, "rpo_basis": f"replication lag read on the primary: {seconds} s"}
    return [{"name": "failover_mode", "status": "passed", "message": "forced failover", "facts": facts}]


def _alert_run(**plan_fields: Any) -> dict[str, Any]:
    started = run_input([data_step("db", failover_mode="forced")], **plan_fields)
    return {**started, "trigger": {"source": "alert", "alert_rule": "shop-down"}}


def _awaiting(custom: Any) -> bool:
    return isinstance(custom, dict) and custom.get("phase") == "awaiting_approval"


def test_a_predicted_loss_over_budget_waits_for_an_approver_who_sees_it(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.checks["db"] = _lagging(120.0)
    iid = engine.start("recovery", _alert_run(rpo_budget="PT1M"))  # the plan itself needs no approval
    status = engine.wait_for_custom_status(iid, _awaiting, skip_time=False)
    approval = status.custom_status["approval"]
    assert approval["rpo_budget_seconds"] == 60.0
    assert [(s["step"], s["seconds"]) for s in approval["data_at_risk"]] == [("db", 120.0)]
    assert fake.changes() == []
    engine.raise_event(iid, "approval", {"approved": True, "by": "ana", "reason": "accept the loss"})
    report = engine.wait(iid).output
    assert report["status"] == "Succeeded"
    assert report["predicted"]["rpo_seconds"] == 120.0 and report["predicted"]["rpo_bound_by"] == "db"


def test_an_unknown_loss_counts_as_over_budget(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.checks["db"] = _lagging(None)
    iid = engine.start("recovery", _alert_run(rpo_budget="PT5M"))
    status = engine.wait_for_custom_status(iid, _awaiting, skip_time=False)
    assert status.custom_status["approval"]["data_at_risk"][0]["seconds"] is None


def test_the_plan_may_refuse_a_failover_over_budget_outright(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.checks["db"] = _lagging(120.0)
    report = engine.wait(engine.start("recovery", _alert_run(rpo_budget="PT1M", rpo_budget_exceeded="abort"))).output
    assert report["status"] == "Rejected"
    assert report["approval"]["decision"] == "refused_over_rpo_budget"
    assert "120 s exceeds the plan's rpo_budget of 60 s" in report["approval"]["reason"]
    assert fake.changes() == []


def test_within_budget_or_started_by_an_operator_no_gate(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.checks["db"] = _lagging(30.0)
    report = engine.wait(engine.start("recovery", _alert_run(rpo_budget="PT1M"))).output
    assert report["status"] == "Succeeded" and report["approval"] is None
    fake.checks["db"] = _lagging(600.0)
    operator = run_input([data_step("db", failover_mode="forced")], rpo_budget="PT1M")  # trigger: operator
    report = engine.wait(engine.start("recovery", operator)).output
    assert report["status"] == "Succeeded" and report["predicted"]["rpo_seconds"] == 600.0
