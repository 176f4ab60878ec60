"""The plans the app reads are valid: CI refuses a plan that would fail at the worst moment.

The check is scripts/check-plans.py (`make check-plans`, part of `make test`): every plan file in
DR_PLANS_DIR, the folder the app reads (default plans/), as a failover and as a drill.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dr.plan import load_plans, plan_files
from dr.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check-plans.py"


def run_check(plans_dir: str | None, *, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DR_")}
    if plans_dir is not None:
        env["DR_PLANS_DIR"] = plans_dir
    return subprocess.run(
        [sys.executable, str(CHECK)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_check_passes_every_plan_of_the_default_folder() -> None:
    """Every file of plans/ is checked, whatever it is called (no list of sample plans)."""
    result = run_check(None)
    assert result.returncode == 0, result.stderr
    names = sorted(yaml.safe_load(path.read_text())["name"] for path in plan_files(ROOT / "plans"))
    assert names, "plans/ holds no plan"
    assert result.stdout.strip().endswith(f"valid as failover and drill: {', '.join(names)}"), result.stdout
    assert str(ROOT / "plans") in result.stdout


def _copy_of_the_shipped_plans(folder: Path) -> Path:
    folder.mkdir()
    for path in plan_files(ROOT / "plans"):
        shutil.copy(path, folder / path.name)
    return folder


def test_a_broken_plan_in_dr_plans_dir_fails_the_check_with_file_step_and_key(tmp_path: Path) -> None:
    folder = _copy_of_the_shipped_plans(tmp_path / "plans")
    plan = yaml.safe_load((ROOT / "plans" / "shop-eastus-to-westus.yaml").read_text())
    plan["name"] = "typo"
    plan["steps"][1]["target_databse"] = plan["steps"][1].pop("target_database")  # a misspelled key
    broken = folder / "typo.yml"
    broken.write_text(yaml.safe_dump(plan))

    result = run_check(str(folder))
    assert result.returncode == 1, result.stdout
    assert (
        f"check-plans: FAIL {broken}: step 'db', field 'target_databse': Extra inputs are not permitted "
        "(did you mean 'target_database'?)" in result.stderr
    )
    assert "1 problem(s)" in result.stderr


def test_a_broken_drill_override_fails_the_check(tmp_path: Path) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    plan = yaml.safe_load((ROOT / "plans" / "shop-eastus-to-westus.yaml").read_text())
    plan["drill"]["overrides"]["db"] = {"target_databse": "shop-drill"}
    (folder / "shop.yaml").write_text(yaml.safe_dump(plan))
    result = run_check(str(folder))
    assert result.returncode == 1
    assert f"{folder / 'shop.yaml'}: drill.overrides.db.target_databse: Extra inputs" in result.stderr


def test_the_check_reads_a_relative_dr_plans_dir_from_the_app_root(tmp_path: Path) -> None:
    """As the app does: `DR_PLANS_DIR=plans` is the app root's plans/ whatever the working directory."""
    result = run_check("plans", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(ROOT / "plans") in result.stdout


@pytest.mark.parametrize("make_folder", [False, True], ids=["missing", "empty"])
def test_a_folder_without_plans_fails_the_check(tmp_path: Path, make_folder: bool) -> None:
    """A DR_PLANS_DIR that names the wrong folder must not pass by checking nothing."""
    folder = tmp_path / "nothing-here"
    if make_folder:
        folder.mkdir()
    result = run_check(str(folder))
    assert result.returncode == 1
    assert str(folder) in result.stderr and "DR_PLANS_DIR" in result.stderr


def test_make_test_runs_the_check() -> None:
    """CI runs `make test` (.ci/run): the check is one of its prerequisites."""
    makefile = (ROOT / "Makefile").read_text()
    assert "\ncheck-plans: $(STAMP)\n\t$(PY) scripts/check-plans.py\n" in makefile
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "check-plans" in test_rule.split()


def test_relative_plans_dir_is_resolved_from_the_app_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`DR_PLANS_DIR=plans` (what the deployment sets) names the folder next to function_app.py, whatever
    the working directory of the process: the Functions host does not promise it is the app folder."""
    assert (ROOT / "function_app.py").is_file()
    shipped = set(load_plans(ROOT / "plans"))
    monkeypatch.chdir(tmp_path)  # a working directory without a plans/ folder
    for value in ("plans", "plans/", "./plans"):
        monkeypatch.setenv("DR_PLANS_DIR", value)
        settings = Settings()
        assert settings.plans_dir == ROOT / "plans"
        assert set(load_plans(settings.plans_dir)) == shipped
    monkeypatch.delenv("DR_PLANS_DIR")
    assert Settings().plans_dir == ROOT / "plans"  # the default too
    monkeypatch.setenv("DR_PLANS_DIR", str(tmp_path / "elsewhere"))
    assert Settings().plans_dir == tmp_path / "elsewhere"  # an absolute path is kept as given
