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


def test_drill_overrides_are_validated_like_the_step_when_the_plan_loads() -> None:
    """Not when a drill starts (for_mode): a bad override fails the plan file itself, in CI."""
    data = base_plan(drill={"overrides": {"probe-c": {"expect_status": "lots"}}})
    with pytest.raises(PlanError, match=r"plans/shop.yaml: drill.overrides.probe-c.expect_status: Input should be"):
        parse_plan(data, source="plans/shop.yaml")
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


# -- resource ids name their provider and type ------------------------------------------------------------

SQL_SERVER = f"{SUB}/Microsoft.Sql/servers/shop-eus"
SQL_DATABASE = f"{SQL_SERVER}/databases/shop"
TM_PROFILE = "/subscriptions/s1/resourceGroups/global/providers/Microsoft.Network/trafficManagerProfiles/shop"


def traffic_step(**changes: Any) -> dict[str, Any]:
    step = {
        "id": "traffic",
        "kind": "traffic_manager_failover",
        "profile_id": TM_PROFILE,
        "from_endpoints": ["eus"],
        "to_endpoints": ["wus"],
    }
    return step | changes


def geo_restore_step(**changes: Any) -> dict[str, Any]:
    step = {
        "id": "db",
        "kind": "sql_geo_restore",
        "source_database_id": SQL_DATABASE,
        "target_server_id": f"{SUB}/Microsoft.Sql/servers/shop-wus",
    }
    return step | changes


def blob_step(source: tuple[str, str], target: tuple[str, str]) -> dict[str, Any]:
    return {
        "id": "blobs",
        "kind": "blob_backup",
        "source": {"account_url": source[0], "container": source[1]},
        "target": {"account_url": target[0], "container": target[1]},
    }


def plan_with(*steps: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return base_plan(steps=list(steps), **changes)


@pytest.mark.parametrize(
    ("step", "field", "expected", "given"),
    [
        # The case: a Traffic Manager profile id under Microsoft.Sql passed the old pattern.
        (
            traffic_step(profile_id=TM_PROFILE.replace("Microsoft.Network", "Microsoft.Sql")),
            "profile_id",
            "Microsoft.Network/trafficManagerProfiles",
            "a Microsoft.Sql/trafficManagerProfiles id",
        ),
        (
            traffic_step(drill_profile_id=f"{SUB}/Microsoft.Network/dnszones/shop-drill"),
            "drill_profile_id",
            "Microsoft.Network/trafficManagerProfiles",
            "a Microsoft.Network/dnszones id",
        ),
        (
            geo_restore_step(target_server_id=SQL_DATABASE),
            "target_server_id",
            "Microsoft.Sql/servers",
            "a Microsoft.Sql/servers/databases id",
        ),
        (
            geo_restore_step(source_database_id=SQL_SERVER),
            "source_database_id",
            "Microsoft.Sql/servers/databases",
            "a Microsoft.Sql/servers id",
        ),
        (
            geo_restore_step(elastic_pool_id=f"{SUB}/Microsoft.Storage/storageAccounts/pool"),
            "elastic_pool_id",
            "Microsoft.Sql/servers/elasticPools",
            "a Microsoft.Storage/storageAccounts id",
        ),
        (geo_restore_step(target_server_id="shop-wus"), "target_server_id", "Microsoft.Sql/servers", "no ARM"),
    ],
)
def test_resource_ids_must_name_the_kinds_provider_and_type(
    step: dict[str, Any], field: str, expected: str, given: str
) -> None:
    with pytest.raises(PlanError) as excinfo:
        parse_plan(plan_with(step), source="plans/shop.yaml")
    message = str(excinfo.value)
    assert f"step {step['id']!r}, field {field!r}: expected a {expected} id (/subscriptions/<id>/" in message
    assert f"got {given}" in message
    assert repr(step[field]) in message  # what was given, as given


def test_resource_ids_compare_case_insensitively_as_arm_does() -> None:
    plan = parse_plan(
        plan_with(
            traffic_step(
                profile_id=TM_PROFILE.replace(
                    "Microsoft.Network/trafficManagerProfiles", "microsoft.network/TRAFFICMANAGERPROFILES"
                )
            ),
            geo_restore_step(
                source_database_id=SQL_DATABASE.replace(
                    "/providers/Microsoft.Sql/servers/", "/PROVIDERS/microsoft.sql/Servers/"
                ),
                elastic_pool_id="/SUBSCRIPTIONS/s1/resourcegroups/rg/PROVIDERS/Microsoft.Sql/servers/shop-wus/ElasticPools/p",
            ),
        )
    )
    assert plan.step("traffic").profile_id.endswith("TRAFFICMANAGERPROFILES/shop")  # type: ignore[attr-defined]


# -- a failover never writes onto its own source -----------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        ("https://shopeus.blob.core.windows.net", "images"),
        ("https://ShopEUS.Blob.Core.Windows.NET/", "images"),  # host case and a trailing slash
        ("https://shopeus.blob.core.windows.net:443", "images"),  # the default port
        ("http://shopeus.blob.core.windows.net", "images"),  # the same account over http
    ],
)
def test_blob_step_refuses_its_source_as_target(target: tuple[str, str]) -> None:
    data = plan_with(blob_step(("https://shopeus.blob.core.windows.net", "images"), target))
    with pytest.raises(PlanError, match=r"step 'blobs': source and target are the same container \('images'"):
        parse_plan(data)


def test_blob_step_to_another_account_or_container_or_azurite_account_is_fine() -> None:
    source = ("http://127.0.0.1:10000/primary", "images")
    for target in (
        ("http://127.0.0.1:10000/secondary", "images"),  # Azurite: the account is the path
        ("http://127.0.0.1:10000/primary", "images-copy"),
        ("http://127.0.0.1:10001/primary", "images"),
    ):
        parse_plan(plan_with(blob_step(source, target)))
    with pytest.raises(PlanError, match="same container"):
        parse_plan(plan_with(blob_step(source, ("http://127.0.0.1:10000/Primary/", "images"))))


@pytest.mark.parametrize(
    "changes",
    [
        {"target_server_id": SQL_SERVER},  # same server, the target name defaults to the source's
        {"target_server_id": SQL_SERVER.upper(), "target_database": "SHOP"},  # ARM ids and names: any case
        {"target_server_id": SQL_SERVER, "target_database": "shop-restored", "drill_target_database": "shop"},
    ],
)
def test_geo_restore_refuses_to_restore_onto_its_source_database(changes: dict[str, Any]) -> None:
    with pytest.raises(PlanError, match=r"step 'db': target_server_id is the source database's own server"):
        parse_plan(plan_with(geo_restore_step(**changes)))


def test_geo_restore_to_its_own_server_under_another_name_is_fine() -> None:
    parse_plan(plan_with(geo_restore_step(target_server_id=SQL_SERVER, target_database="shop-restored")))
    parse_plan(plan_with(geo_restore_step(target_database="shop")))  # another server, the same name


# -- drill overrides are checked when the plan loads, by the code a drill applies them with -----------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"probe-c": {"expect_stauts": 503}},
            "drill.overrides.probe-c.expect_stauts: Extra inputs are not permitted (did you mean 'expect_status'?)",
        ),
        ({"probe-c": {"url": "ftp://drill"}}, "drill.overrides.probe-c.url: String should match pattern"),
        ({"probe-c": {"kind": "blob_backup"}}, "drill.overrides.probe-c.kind: a drill cannot change a step's kind"),
        ({"probe-c": {"after": ["ghost"]}}, "drill: step 'probe-c': 'after' names unknown step(s): ghost"),
    ],
)
def test_bad_drill_override_fails_the_plan_naming_the_override(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(PlanError) as excinfo:
        parse_plan(base_plan(drill={"overrides": overrides}), source="plans/shop.yaml")
    assert excinfo.value.message.startswith(f"plans/shop.yaml: {expected}"), excinfo.value.message


def test_drill_override_onto_the_source_is_refused_at_load() -> None:
    """The step's own checks run on the overridden step: a drill target that is the source is refused."""
    source = ("https://shopeus.blob.core.windows.net", "images")
    data = plan_with(
        blob_step(source, ("https://shopwus.blob.core.windows.net", "images")),
        drill={"overrides": {"blobs": {"target": {"account_url": source[0] + "/", "container": "images"}}}},
    )
    with pytest.raises(PlanError, match=r"drill.overrides.blobs: source and target are the same container"):
        parse_plan(data)


def test_drill_that_skips_every_step_is_refused_at_load() -> None:
    with pytest.raises(PlanError, match=r"drill: field 'steps': List should have at least 1 item"):
        parse_plan(base_plan(drill={"skip_steps": ["probe-a", "probe-b", "probe-c"]}))


def test_loaded_plan_and_its_drill_agree() -> None:
    """What load validated is what for_mode runs: the overridden values, validated once more as a plan."""
    data = plan_with(
        geo_restore_step(),
        traffic_step(after=["db"], drill_profile_id=TM_PROFILE + "-drill"),
        drill={"overrides": {"db": {"target_database": "shop-drill"}}, "skip_steps": ["traffic"]},
    )
    drill = parse_plan(data).for_mode("drill")
    assert [s.id for s in drill.steps] == ["db"]
    assert drill.step("db").target_database == "shop-drill"  # type: ignore[attr-defined]
    assert drill.drill.failover_values == {"db": {"target_database": None}}


# -- did you mean -------------------------------------------------------------------------------------------


def test_misspelled_kind_gets_a_suggestion() -> None:
    data = plan_with(
        blob_step(("https://a.blob.core.windows.net", "images"), ("https://b.blob.core.windows.net", "images"))
    )
    data["steps"][0]["kind"] = "blob_bakup"
    with pytest.raises(PlanError, match=r"step 'blobs': .*'blob_bakup'.*\(did you mean 'blob_backup'\?\)"):
        parse_plan(data)
    data["steps"][0]["kind"] = "dns_flip"  # nothing close: no suggestion
    with pytest.raises(PlanError) as excinfo:
        parse_plan(data)
    assert "did you mean" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("step", "key", "suggestion", "where"),
    [
        (geo_restore_step(), "target_databse", "target_database", "step 'db', field 'target_databse'"),
        (traffic_step(), "from_endpoint", "from_endpoints", "step 'traffic', field 'from_endpoint'"),
        (
            blob_step(("https://a.blob.core.windows.net", "i1"), ("https://b.blob.core.windows.net", "i1")),
            "source.acount_url",
            "account_url",
            "step 'blobs', field 'source.acount_url'",
        ),
    ],
)
def test_misspelled_key_gets_a_suggestion_from_the_kinds_fields(
    step: dict[str, Any], key: str, suggestion: str, where: str
) -> None:
    *parents, last = key.split(".")
    holder = step
    for parent in parents:
        holder = holder[parent]
    holder[last] = holder.get(suggestion, "x")
    with pytest.raises(PlanError) as excinfo:
        parse_plan(plan_with(step))
    assert f"{where}: Extra inputs are not permitted (did you mean {suggestion!r}?)" in str(excinfo.value)


def test_misspelled_plan_key_gets_a_suggestion() -> None:
    with pytest.raises(PlanError, match=r"field 'approval.requird': .*\(did you mean 'required'\?\)"):
        parse_plan(base_plan(approval={"requird": True}))
