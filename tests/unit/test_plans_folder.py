"""The shipped plans are valid: CI refuses a plan that would fail at the worst moment."""

from __future__ import annotations

from pathlib import Path

from dr.plan import load_plans

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_plan_validates_in_both_modes() -> None:
    plans = load_plans(ROOT / "plans")
    assert "shop-eastus-to-westus" in plans
    for plan in plans.values():
        drill = plan.for_mode("drill")
        assert {s.id for s in drill.steps} <= {s.id for s in plan.steps}
