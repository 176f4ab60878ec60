"""The standing sync orchestrator, replayed through the SDK by the devstack engine: every target the
list_sync_targets activity names runs as a step sub-orchestration in sync mode, and the output lists each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from devstack.host import DurableEngine, IndexedApp, RuntimeStatus
from dr.errors import PermanentError
from dr.plan import parse_plan
from dr.run import StepRunInput

from .conftest import FakeSteps, step


def _targets(now: datetime) -> list[dict[str, Any]]:
    plan = parse_plan({"name": "shop", "steps": [step("a"), step("b")]})
    return [
        StepRunInput.start(
            run_id="standing-sync-test",
            plan_name=plan.name,
            mode="sync",
            step=plan_step,
            started_at=now,
            now=now,
            min_poll_seconds=1,
        ).model_dump(mode="json")
        for plan_step in plan.steps
    ]


def test_every_target_runs_in_sync_mode_and_failures_are_listed(
    app: IndexedApp, engine: DurableEngine, fake: FakeSteps
) -> None:
    def broken(op: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise PermanentError("source container is gone", code="NotFound")

    fake.script["b"] = broken
    asked: list[dict[str, Any]] = []

    def list_sync_targets(payload: dict[str, Any]) -> list[dict[str, Any]]:
        asked.append(payload)
        return _targets(datetime.now(UTC))

    overrides = {**fake.overrides(), "list_sync_targets": list_sync_targets}
    with DurableEngine.running(app, state_dir=None, clock=engine.clock, activity_overrides=overrides) as other:
        status = other.wait(other.start("standing_sync", {}, instance_id="standing-sync"), timeout=20)
    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output
    assert asked and asked[0]["now"]
    assert {payload["context"]["mode"] for _, _, payload in fake.calls} == {"sync"}
    output = status.output
    assert output["failed"] == 1
    assert output["steps"] == [
        {"plan": "shop", "step": "a", "status": "succeeded", "summary": "a done"},
        {
            "plan": "shop",
            "step": "b",
            "status": "failed",
            "summary": "source container is gone",
            "error": "source container is gone",
        },
    ]
