"""The shipped plans are valid: CI refuses a plan that would fail at the worst moment."""

from __future__ import annotations

from pathlib import Path

import pytest

from dr.plan import load_plans
from dr.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_plan_validates_in_both_modes() -> None:
    plans = load_plans(ROOT / "plans")
    assert "shop-eastus-to-westus" in plans
    for plan in plans.values():
        drill = plan.for_mode("drill")
        assert {s.id for s in drill.steps} <= {s.id for s in plan.steps}


def test_relative_plans_dir_is_resolved_from_the_app_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`DR_PLANS_DIR=plans` (what the deployment sets) names the folder next to function_app.py, whatever
    the working directory of the process: the Functions host does not promise it is the app folder."""
    assert (ROOT / "function_app.py").is_file()
    monkeypatch.chdir(tmp_path)  # a working directory without a plans/ folder
    for value in ("plans", "plans/", "./plans"):
        monkeypatch.setenv("DR_PLANS_DIR", value)
        settings = Settings()
        assert settings.plans_dir == ROOT / "plans"
        assert "shop-eastus-to-westus" in load_plans(settings.plans_dir)
    monkeypatch.delenv("DR_PLANS_DIR")
    assert Settings().plans_dir == ROOT / "plans"  # the default too
    monkeypatch.setenv("DR_PLANS_DIR", str(tmp_path / "elsewhere"))
    assert Settings().plans_dir == tmp_path / "elsewhere"  # an absolute path is kept as given
