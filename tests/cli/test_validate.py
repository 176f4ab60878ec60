"""`drctl plans validate`: the app's own validation, offline, each problem with its file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from drctl.main import app

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "plans" / "shop-eastus-to-westus.yaml"


def validate(*args: str) -> Result:
    # No stack and an unreachable URL: validation must not need the app.
    result = CliRunner().invoke(app, ["--url", "http://127.0.0.1:9", "--key", "k", "plans", "validate", *args])
    assert "Traceback" not in result.output
    return result


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_the_repository_plans_are_valid() -> None:
    result = validate(str(ROOT / "plans"))
    assert result.exit_code == 0, result.output
    assert "valid as failover and drill" in result.stdout and "shop-eastus-to-westus" in result.stdout


def test_a_misspelled_key_is_reported_with_its_file_line_and_key(tmp_path: Path) -> None:
    plan = tmp_path / "shop.yaml"
    plan.write_text(GOOD.read_text().replace("    mirror_deletes:", "    mirror_delete:", 1))
    result = validate(str(plan))
    assert result.exit_code == 1
    line = _line_of(plan, "mirror_delete:")
    problem = next(out for out in result.stdout.splitlines() if "mirror_delete" in out)
    assert problem.startswith(f"{plan}:{line}: steps.blobs.mirror_delete: ")
    assert "did you mean 'mirror_deletes'" in problem


def test_a_bad_value_deep_in_a_step_points_at_its_line(tmp_path: Path) -> None:
    plan = tmp_path / "shop.yaml"
    text = GOOD.read_text()
    assert "expect_status: 200" in text
    plan.write_text(text.replace("expect_status: 200", "expect_status: lots"))
    result = validate(str(plan))
    assert result.exit_code == 1
    line = _line_of(plan, "expect_status: lots")
    assert f"{plan}:{line}: steps.verify.expect_status: " in result.stdout


def test_a_missing_field_points_at_its_step(tmp_path: Path) -> None:
    plan = tmp_path / "p.yaml"
    plan.write_text(
        "name: p\n"
        "steps:\n"
        "  - id: ok\n"
        "    kind: health_check\n"
        "    url: https://example.com/health\n"
        "  - id: web\n"  # line 6
        "    kind: health_check\n"
    )
    result = validate(str(plan))
    assert result.exit_code == 1
    assert f"{plan}:6: steps.web.url: Field required" in result.stdout


def test_yaml_syntax_errors_and_unknown_kinds_in_a_folder(tmp_path: Path) -> None:
    shutil.copy(GOOD, tmp_path / "good.yaml")
    (tmp_path / "broken.yaml").write_text("name: broken\nsteps:\n  - id: a\n    kind: health_check\n    url: [1\n")
    (tmp_path / "kind.yaml").write_text("name: kind\nsteps:\n  - id: a\n    kind: blob_bakup\n")
    result = validate(str(tmp_path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{tmp_path / 'broken.yaml'}:6: not valid YAML") for line in lines), lines
    kind = next(line for line in lines if "kind.yaml" in line)
    assert kind.startswith(f"{tmp_path / 'kind.yaml'}:3: steps.a: ") and "did you mean 'blob_backup'" in kind
    assert lines[-1] == f"2 problem(s) in {tmp_path}"


def test_two_files_naming_one_plan(tmp_path: Path) -> None:
    shutil.copy(GOOD, tmp_path / "a.yaml")
    shutil.copy(GOOD, tmp_path / "b.yaml")
    result = validate(str(tmp_path))
    assert result.exit_code == 1
    line = _line_of(tmp_path / "b.yaml", "name:")
    assert f"{tmp_path / 'b.yaml'}:{line}: name: plan name 'shop-eastus-to-westus' is already used by a.yaml" in (
        result.stdout
    )


@pytest.mark.parametrize("where", ["missing.yaml", "no-such-folder"])
def test_a_path_that_is_not_there_is_bad_input(tmp_path: Path, where: str) -> None:
    result = validate(str(tmp_path / where))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"drctl: {tmp_path / where}: no such file or folder"


def test_an_empty_folder_has_no_plan(tmp_path: Path) -> None:
    result = validate(str(tmp_path))
    assert result.exit_code == 1
    assert "no plan file here" in result.stdout
