"""What the approval request says each step will do (dr.preview): every kind, in a failover and in a drill."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dr.plan import StepBase, parse_plan
from dr.preview import describe_step, preview
from dr.run import RunInput, RunOverrides, RunState
from dr.steps import REGISTRY
from dr.steps.base import StepContext
from dr.steps.sql.planning import restore_target_name

SUB = "/subscriptions/s/resourceGroups"
FOG = f"{SUB}/contoso-wus/providers/Microsoft.Sql/servers/contoso-sql-wus/failoverGroups/contoso-fog"
SOURCE_DB = f"{SUB}/shop-eus/providers/Microsoft.Sql/servers/shop-eus/databases/orders"
TARGET_SERVER = f"{SUB}/shop-wus/providers/Microsoft.Sql/servers/shop-wus"
PROFILE = f"{SUB}/g/providers/Microsoft.Network/trafficManagerProfiles/shop"
TEST_PROFILE = f"{SUB}/g/providers/Microsoft.Network/trafficManagerProfiles/shop-drill"


def blob(**fields: Any) -> dict[str, Any]:
    return {
        "id": "blobs",
        "kind": "blob_backup",
        "source": {"account_url": "https://shopeus.blob.core.windows.net", "container": "images"},
        "target": {"account_url": "https://shopwus.blob.core.windows.net", "container": "images"},
        **fields,
    }


def geo(**fields: Any) -> dict[str, Any]:
    return {
        "id": "db",
        "kind": "sql_geo_restore",
        "source_database_id": SOURCE_DB,
        "target_server_id": TARGET_SERVER,
        **fields,
    }


def fog(**fields: Any) -> dict[str, Any]:
    return {"id": "fog", "kind": "sql_failover_group", "failover_group_id": FOG, **fields}


def traffic(**fields: Any) -> dict[str, Any]:
    return {
        "id": "traffic",
        "kind": "traffic_manager_failover",
        "profile_id": PROFILE,
        "from_endpoints": ["shop-eus"],
        "to_endpoints": ["shop-wus"],
        **fields,
    }


def health(**fields: Any) -> dict[str, Any]:
    return {"id": "verify", "kind": "health_check", "url": "https://shop-wus.example.com/health", **fields}


def manual(**fields: Any) -> dict[str, Any]:
    return {"id": "call-bank", "kind": "manual", "instructions": "Call the bank's DR desk", **fields}


def webhook(**fields: Any) -> dict[str, Any]:
    return {"id": "runbook", "kind": "webhook", "url_setting": "DR_WEBHOOK_STANDBY", **fields}


STORAGE_FAILOVER_SAMPLE = {
    "id": "data",
    "kind": "storage_account_failover",
    "account_id": f"{SUB}/shop-eus/providers/Microsoft.Storage/storageAccounts/shopdata",
    "target_location": "westus",
}
APP_SCALE_SAMPLE = {
    "id": "compute",
    "kind": "app_scale",
    "plan_id": f"{SUB}/shop-wus/providers/Microsoft.Web/serverfarms/shop-wus-plan",
    "instance_count": 3,
}


def one(raw: dict[str, Any]) -> StepBase:
    return parse_plan({"name": "p", "steps": [raw]}).steps[0]


@pytest.mark.parametrize(
    ("raw", "mode", "expected"),
    [
        (blob(), "failover", "copy new and changed blobs from shopeus/images to shopwus/images"),
        (
            blob(prefix="2026/", mirror_deletes=True),
            "failover",
            "copy new and changed blobs from shopeus/images to shopwus/images (names starting with '2026/'), "
            "and delete target blobs the source no longer has",
        ),
        (
            blob(target={"account_url": "http://127.0.0.1:10000/secondary", "container": "images-drill"}),
            "drill",
            "copy new and changed blobs from shopeus/images to secondary/images-drill (drill: into images-drill)",
        ),
        (geo(), "failover", "geo-restore database orders from shop-eus to shop-wus as orders"),
        (
            geo(target_database="orders2", sku="S0"),
            "failover",
            "geo-restore database orders from shop-eus to shop-wus as orders2 (S0)",
        ),
        (
            geo(elastic_pool_id=f"{TARGET_SERVER}/elasticPools/pool1"),
            "failover",
            "geo-restore database orders from shop-eus to shop-wus as orders in elastic pool pool1",
        ),
        (
            geo(),
            "drill",
            "geo-restore database orders from shop-eus to shop-wus as orders-drill "
            "(drill: a copy under its own name, production databases untouched)",
        ),
        (
            fog(),
            "failover",
            "planned failover (no data loss) of failover group contoso-fog to server contoso-sql-wus",
        ),
        (
            fog(failover_mode="forced"),
            "failover",
            "forced failover of failover group contoso-fog to server contoso-sql-wus (may lose data; cannot be undone)",
        ),
        (
            fog(allow_data_loss=True),  # the deprecated spelling of forced
            "failover",
            "forced failover of failover group contoso-fog to server contoso-sql-wus (may lose data; cannot be undone)",
        ),
        (
            fog(failover_mode="planned_then_forced"),
            "failover",
            "planned failover of failover group contoso-fog to server contoso-sql-wus, forced if the primary does "
            "not answer (then it may lose data)",
        ),
        (
            fog(failover_mode="forced"),
            "drill",
            "read failover group contoso-fog and report what a forced failover to server contoso-sql-wus would do "
            "(drill: nothing fails over)",
        ),
        (traffic(), "failover", "disable endpoint shop-eus and enable shop-wus in Traffic Manager profile shop"),
        (
            traffic(from_endpoints=["a", "b"], to_endpoints=["c"]),
            "failover",
            "disable endpoints a and b and enable c in Traffic Manager profile shop",
        ),
        (
            traffic(switch="swap_priorities"),
            "failover",
            "give endpoint shop-wus the top priority (shop-eus stays enabled behind) in Traffic Manager profile shop",
        ),
        (
            traffic(switch="shift_weight", to_weight=900),
            "failover",
            "shift weight to shop-wus (900; shop-eus keeps weight 1) in Traffic Manager profile shop",
        ),
        (
            traffic(drill_profile_id=TEST_PROFILE),
            "drill",
            "disable endpoint shop-eus and enable shop-wus in test profile shop-drill (drill: profile shop untouched)",
        ),
        (
            traffic(),
            "drill",
            "check and report, without switching: disable endpoint shop-eus and enable shop-wus in Traffic Manager "
            "profile shop (drill: read only)",
        ),
        (
            health(expect_body_contains="westus"),
            "failover",
            "check https://shop-wus.example.com/health answers 200 containing 'westus'",
        ),
        (health(expect_status=204), "drill", "check https://shop-wus.example.com/health answers 204"),
    ],
)
def test_each_kind_in_each_mode(raw: dict[str, Any], mode: str, expected: str) -> None:
    assert describe_step(one(raw), mode) == expected  # type: ignore[arg-type]


COSMOS_SAMPLE = {
    "id": "cosmos",
    "kind": "cosmos_failover",
    "account_id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.DocumentDB/databaseAccounts/shop",
    "target_region": "West US",
}
POSTGRESQL_SAMPLE = {
    "id": "pg",
    "kind": "postgresql_promote",
    "replica_server_id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-wus",
}

FRONT_DOOR_SAMPLE = {
    "id": "origins",
    "kind": "front_door_origins",
    "origin_group_id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Cdn/profiles/shop-fd/originGroups/web",
    "from_origins": ["shop-eus"],
    "to_origins": ["shop-wus"],
}
DNS_SAMPLE = {
    "id": "bypass",
    "kind": "dns_record_switch",
    "zone_id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/dnsZones/shop.example.com",
    "record": "www",
    "from_target": "shop-abc.z01.azurefd.net",
    "to_target": "shop.trafficmanager.net",
}


@pytest.mark.parametrize(
    ("raw", "mode", "expected"),
    [
        (
            FRONT_DOOR_SAMPLE,
            "failover",
            "disable origin shop-eus and enable shop-wus in Front Door origin group web of profile shop-fd",
        ),
        (
            {**FRONT_DOOR_SAMPLE, "switch": "priority"},
            "failover",
            "give shop-wus priority 1 (shop-eus drops to priority 2, still enabled) in Front Door origin group web of "
            "profile shop-fd",
        ),
        (
            FRONT_DOOR_SAMPLE,
            "drill",
            "check and report, without switching: disable origin shop-eus and enable shop-wus in Front Door origin "
            "group web of profile shop-fd (drill: read only)",
        ),
        (
            DNS_SAMPLE,
            "failover",
            "point CNAME www.shop.example.com from shop-abc.z01.azurefd.net to shop.trafficmanager.net (clients follow "
            "within the record's TTL)",
        ),
        (
            {**DNS_SAMPLE, "drill_record": "www-drill"},
            "drill",
            "point CNAME www-drill.shop.example.com from shop-abc.z01.azurefd.net to shop.trafficmanager.net (drill: "
            "www.shop.example.com untouched)",
        ),
    ],
)
def test_the_edge_kinds_in_each_mode(raw: dict[str, Any], mode: str, expected: str) -> None:
    assert describe_step(one(raw), mode) == expected  # type: ignore[arg-type]


def test_every_registered_kind_is_described_in_both_modes() -> None:
    samples = {raw["kind"]: raw for raw in (blob(), geo(), fog(), traffic(), health(), manual(), webhook())}
    samples.update({raw["kind"]: raw for raw in (COSMOS_SAMPLE, POSTGRESQL_SAMPLE)})
    samples.update({raw["kind"]: raw for raw in (STORAGE_FAILOVER_SAMPLE, APP_SCALE_SAMPLE)})
    samples.update({raw["kind"]: raw for raw in (FRONT_DOOR_SAMPLE, DNS_SAMPLE)})
    assert set(samples) == set(REGISTRY)
    for raw in samples.values():
        for mode in ("failover", "drill"):
            assert describe_step(one(raw), mode)  # type: ignore[arg-type]


def test_a_query_string_never_shows() -> None:
    text = describe_step(one(health(url="https://shop.example.com/health?code=secret-key")), "failover")
    assert "secret-key" not in text and "https://shop.example.com/health?…" in text


@pytest.mark.parametrize("mode", ["planned", "forced", "planned_then_forced"])
def test_the_run_s_sql_failover_mode_wins_and_says_so(mode: str) -> None:
    text = describe_step(one(fog()), "failover", RunOverrides(sql_failover_mode=mode))  # type: ignore[arg-type]
    assert text.endswith("(sql_failover_mode set for this run)")
    assert text.startswith(
        {"planned": "planned failover (no data", "forced": "forced", "planned_then_forced": "planned failover of"}[mode]
    )
    assert describe_step(one(fog()), "failover", RunOverrides()) == describe_step(one(fog()), "failover")


@pytest.mark.parametrize(
    "fields", [{}, {"target_database": "orders2"}, {"drill_target_database": "x-copy"}, {"target_database": "o-drill"}]
)
def test_the_drill_database_name_is_the_one_the_step_restores_to(fields: dict[str, Any]) -> None:
    step = one(geo(**fields))
    for mode in ("failover", "drill"):
        context = StepContext(
            run_id="r",
            plan_name="p",
            mode=mode,
            step=step,
            started_at=datetime.now(UTC),
            now=datetime.now(UTC),  # type: ignore[arg-type]
        )
        name = restore_target_name(context, step)  # type: ignore[arg-type]
        assert describe_step(step, mode).split(" as ")[1].split(" ")[0] == name  # type: ignore[arg-type]


SHOP = {
    "name": "shop",
    "steps": [blob(), geo(), traffic(after=["db"]), health(after=["traffic"])],
    "drill": {
        "overrides": {
            "blobs": {"target": {"account_url": "https://shopwus.blob.core.windows.net", "container": "images-drill"}}
        },
        "skip_steps": ["verify"],
    },
}


def test_preview_of_a_plan_file_applies_the_drill_overrides_and_skips() -> None:
    plan = parse_plan(SHOP)
    drill = preview(plan, "drill")
    assert [item.step for item in drill] == ["blobs", "db", "traffic"]
    assert drill[0].action.endswith("to shopwus/images-drill (drill: into images-drill)")
    assert drill == preview(plan.for_mode("drill"), "drill")  # a run's snapshot: already applied
    failover = preview(plan, "failover")
    assert [(item.step, item.kind, item.after) for item in failover] == [
        ("blobs", "blob_backup", []),
        ("db", "sql_geo_restore", []),
        ("traffic", "traffic_manager_failover", ["db"]),
        ("verify", "health_check", ["traffic"]),
    ]


def _state(steps: list[dict[str, Any]]) -> RunState:
    plan = parse_plan({"name": "shop", "steps": steps})
    now = datetime.now(UTC)
    run = RunInput(plan=plan, mode="failover", trigger={"source": "operator"}, requested_at=now)
    return RunState("shop--failover--op-20260101T000000-abcdef", run, plan, now)


def test_the_status_shows_will_do_only_while_awaiting_approval() -> None:
    state = _state([fog(failover_mode="forced"), traffic(after=["fog"])])
    now = datetime.now(UTC)
    assert state.custom_status(now).will_do is None
    state.phase = "awaiting_approval"
    shown = state.custom_status(now).model_dump(mode="json")["will_do"]
    assert [item["action"] for item in shown] == [
        "forced failover of failover group contoso-fog to server contoso-sql-wus (may lose data; cannot be undone)",
        "disable endpoint shop-eus and enable shop-wus in Traffic Manager profile shop",
    ]
    state.phase = "running"
    assert state.custom_status(now).will_do is None


def test_a_large_plan_s_preview_stays_within_the_custom_status_limit() -> None:
    steps = [traffic(id=f"traffic-{i:03d}", profile_id=f"{PROFILE}-{'x' * 60}-{i}") for i in range(80)]
    state = _state(steps)
    state.phase = "awaiting_approval"
    status = state.custom_status(datetime.now(UTC))
    assert status.will_do is not None and 10 < len(status.will_do) < 80  # the first steps, as many as fit
    assert [item.step for item in status.will_do] == [f"traffic-{i:03d}" for i in range(len(status.will_do))]
    assert len(status.model_dump_json()) < 16 * 1024
