from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dr.errors import NotFoundError, PlanError
from dr.plan import find_plan, load_catalog, load_plan_file, load_plans, parse_plan

SUB = "/subscriptions/s1/resourceGroups/rg/providers"


def base_plan(**changes: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "name": "shop",
        "description": "test plan",
        "trigger": {"alert_rules": ["shop-down"]},
        "steps": [
            {"id": "probe-a", "kind": "health_check", "url": "http://127.0.0.1:1/a"},
            {"id": "probe-b", "kind": "health_check", "url": "http://127.0.0.1:1/b", "after": ["probe-a"]},
            {"id": "probe-c", "kind": "health_check", "url": "http://127.0.0.1:1/c"},
        ],
    }
    plan.update(changes)
    return plan


def test_contract_keys_parse_with_defaults() -> None:
    plan = parse_plan(
        base_plan(approval={"required": True, "timeout": "PT15M", "on_timeout": "proceed"}),
    )
    assert plan.approval.required and plan.approval.timeout == timedelta(minutes=15)
    assert plan.approval.on_timeout == "proceed"
    assert plan.step("probe-b").after == ["probe-a"]


def test_unknown_after_names_the_step_and_the_missing_id() -> None:
    data = base_plan()
    data["steps"][1]["after"] = ["nope"]
    with pytest.raises(PlanError, match=r"step 'probe-b': 'after' names unknown step\(s\): nope"):
        parse_plan(data, source="plans/shop.yaml")


def test_cycle_is_reported_as_a_path() -> None:
    data = base_plan()
    data["steps"][0]["after"] = ["probe-b"]
    with pytest.raises(PlanError, match=r"cycle: probe-a -> probe-b -> probe-a|cycle: probe-b -> probe-a -> probe-b"):
        parse_plan(data)


def test_field_error_names_file_step_and_field() -> None:
    data = base_plan()
    data["steps"][2]["timeout"] = "15 minutes"
    with pytest.raises(PlanError) as excinfo:
        parse_plan(data, source="plans/shop.yaml")
    message = str(excinfo.value)
    assert "plans/shop.yaml" in message
    assert "step 'probe-c'" in message
    assert "field 'timeout'" in message
    assert "ISO 8601" in message


def test_unknown_kind_and_unknown_key_are_refused() -> None:
    data = base_plan()
    data["steps"][0]["kind"] = "dns_flip"
    with pytest.raises(PlanError, match="probe-a"):
        parse_plan(data)
    data = base_plan()
    data["steps"][0]["expect_stauts"] = 200
    with pytest.raises(PlanError, match="expect_stauts"):
        parse_plan(data)


def test_duplicate_ids_and_negative_durations_are_refused() -> None:
    data = base_plan()
    data["steps"][2]["id"] = "probe-a"
    with pytest.raises(PlanError, match="duplicate step ids: probe-a"):
        parse_plan(data)
    data = base_plan(approval={"required": True, "timeout": "-PT5M"})
    with pytest.raises(PlanError, match="approval.timeout"):
        parse_plan(data)


def test_retry_policy_backs_off_and_caps() -> None:
    data = base_plan()
    data["steps"][0]["retry"] = {
        "attempts": 5,
        "first_interval": "PT10S",
        "backoff": 3,
        "max_interval": "PT60S",
    }
    retry = parse_plan(data).step("probe-a").retry
    assert [retry.delay_before(n).total_seconds() for n in (2, 3, 4)] == [10, 30, 60]


def test_drill_applies_overrides_skips_and_drops_dangling_after() -> None:
    data = base_plan(
        approval={"required": True},
        drill={"overrides": {"probe-c": {"url": "http://127.0.0.1:1/drill"}}, "skip_steps": ["probe-a"]},
    )
    plan = parse_plan(data)
    drill = plan.for_mode("drill")
    assert [s.id for s in drill.steps] == ["probe-b", "probe-c"]
    assert drill.step("probe-b").after == []
    assert drill.step("probe-c").url == "http://127.0.0.1:1/drill"  # type: ignore[attr-defined]
    assert drill.approval.required is False
    assert plan.for_mode("failover") == plan


def test_drill_snapshot_keeps_the_failover_values_its_overrides_replaced() -> None:
    """What a drill's steps check against (never write where a failover would), without the plans folder."""
    data = base_plan(drill={"overrides": {"probe-c": {"url": "http://127.0.0.1:1/drill"}}, "skip_steps": ["probe-a"]})
    drill = parse_plan(data).for_mode("drill")
    assert drill.drill.failover_values == {"probe-c": {"url": "http://127.0.0.1:1/c"}}
    assert drill.drill.overrides == {} and drill.drill.skip_steps == []


def test_drill_overrides_are_validated_like_the_step() -> None:
    data = base_plan(drill={"overrides": {"probe-c": {"expect_status": "lots"}}})
    plan = parse_plan(data)
    with pytest.raises(PlanError, match=r"drill overrides: step .probe-c., field .expect_status."):
        plan.for_mode("drill")
    with pytest.raises(PlanError, match="drill.skip_steps names unknown step"):
        parse_plan(base_plan(drill={"skip_steps": ["ghost"]}))


def _write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_catalog_keeps_good_plans_when_one_file_is_broken(tmp_path: Path) -> None:
    _write(tmp_path, "good.yaml", base_plan())
    _write(tmp_path, "broken.yaml", "name: [unclosed")
    other = base_plan(name="other")
    other["steps"][0]["url"] = "not a url"
    _write(tmp_path, "other.yml", other)
    catalog = load_catalog(tmp_path)
    assert list(catalog.plans) == ["shop"]
    assert len(catalog.errors) == 2
    assert any("broken.yaml: not valid YAML" in e for e in catalog.errors)
    assert any("other.yml" in e and "step 'probe-a'" in e and "field 'url'" in e for e in catalog.errors)
    with pytest.raises(PlanError, match="broken.yaml"):
        load_plans(tmp_path)


def test_duplicate_plan_names_across_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", base_plan())
    _write(tmp_path, "b.yaml", base_plan())
    catalog = load_catalog(tmp_path)
    assert catalog.errors and "already used by" in catalog.errors[0]


def test_find_plan_reads_the_folder_each_time(tmp_path: Path) -> None:
    path = _write(tmp_path, "shop.yaml", base_plan())
    assert find_plan(tmp_path, "shop").description == "test plan"
    edited = copy.deepcopy(base_plan(description="edited"))
    path.write_text(yaml.safe_dump(edited))
    assert find_plan(tmp_path, "shop").description == "edited"
    with pytest.raises(NotFoundError, match=r"no plan named 'ghost'.*plans: shop"):
        find_plan(tmp_path, "ghost")


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="DR_PLANS_DIR"):
        load_catalog(tmp_path / "nowhere")


def test_plan_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "list.yaml", "- a\n- b\n")
    with pytest.raises(PlanError, match="list.yaml: a plan is a mapping"):
        load_plan_file(path)
