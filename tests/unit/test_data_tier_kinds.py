"""cosmos_failover and postgresql_promote without Azure: plan errors located by step and field, the approver's
sentence per mode, the ARM actions each mode needs, the failback derivation, and what-if's data model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dr.errors import PlanError
from dr.failback import FailoverStep, _cosmos
from dr.permissions import needs
from dr.plan import FailbackPolicy, parse_plan
from dr.preview import describe_step
from dr.steps.base import Check
from dr.steps.cosmos.planning import AccountView, RegionView, forced_rpo, new_priorities
from dr.whatif import predict

SUB = "/subscriptions/s/resourceGroups/g/providers"
ACCOUNT = f"{SUB}/Microsoft.DocumentDB/databaseAccounts/shop"
REPLICA = f"{SUB}/Microsoft.DBforPostgreSQL/flexibleServers/pg-wus"


def cosmos(**extra: Any) -> dict[str, Any]:
    return {"id": "cosmos", "kind": "cosmos_failover", "account_id": ACCOUNT, "target_region": "West US", **extra}


def postgresql(**extra: Any) -> dict[str, Any]:
    return {"id": "pg", "kind": "postgresql_promote", "replica_server_id": REPLICA, **extra}


def step(raw: dict[str, Any]) -> Any:
    return parse_plan({"name": "p", "steps": [raw]}).steps[0]


def test_a_wrong_id_is_refused_naming_the_step_and_field() -> None:
    with pytest.raises(PlanError, match=r"step 'cosmos', field 'account_id': expected a Microsoft.DocumentDB"):
        step(cosmos(account_id=REPLICA))
    with pytest.raises(PlanError, match="field 'target_region'"):
        step(cosmos(target_region="west/us"))


@pytest.mark.parametrize(
    ("raw", "mode", "expected"),
    [
        (
            cosmos(),
            "failover",
            "planned failover (no data loss) of Cosmos DB account shop: West US becomes its write region",
        ),
        (cosmos(failover_mode="forced"), "failover", "forced failover of Cosmos DB account shop: its write region"),
        (cosmos(), "drill", "read Cosmos DB account shop and report what a planned failover to West US would do"),
        (postgresql(), "failover", "promote PostgreSQL read replica pg-wus to a standalone server (planned: no data"),
        (postgresql(), "drill", "read PostgreSQL replica pg-wus and report what a planned promotion would do"),
    ],
)
def test_each_mode_is_one_sentence_for_the_approver(raw: dict[str, Any], mode: str, expected: str) -> None:
    assert describe_step(step(raw), mode).startswith(expected)  # type: ignore[arg-type]


def test_a_geo_restore_drill_names_the_server_it_creates() -> None:
    raw = postgresql(
        method="geo_restore",
        replica_server_id=None,
        source_server_id=f"{SUB}/Microsoft.DBforPostgreSQL/flexibleServers/pg-eus",
        target_server_id=f"{SUB}/Microsoft.DBforPostgreSQL/flexibleServers/pg-restored",
        target_location="westus",
    )
    assert "as pg-restored-drill (drill: a copy under its own name, deleted at teardown)" in describe_step(
        step(raw), "drill"
    )


def test_each_mode_needs_only_its_actions() -> None:
    (drill,) = needs(step(cosmos()), "drill")
    assert drill.actions == ("Microsoft.DocumentDB/databaseAccounts/read",)
    (forced,) = needs(step(cosmos(failover_mode="forced")), "failover")
    assert "Microsoft.DocumentDB/databaseAccounts/offlineRegion/action" in forced.actions
    assert "Microsoft.DocumentDB/databaseAccounts/failoverPriorityChange/action" not in forced.actions
    (promote,) = needs(step(postgresql()), "failover")
    assert promote.actions == (
        "Microsoft.DBforPostgreSQL/flexibleServers/read",
        "Microsoft.Insights/metrics/read",
        "Microsoft.DBforPostgreSQL/flexibleServers/write",
    )


def test_a_cosmos_failback_without_the_original_region_asks_for_an_override() -> None:
    with pytest.raises(PlanError, match="failback.overrides.cosmos.target_region"):
        _cosmos(cosmos(), FailoverStep(id="cosmos", kind="cosmos_failover", status="succeeded"), FailbackPolicy())


def test_priorities_put_the_target_first_and_keep_the_others_in_order() -> None:
    view = AccountView(
        id=ACCOUNT,
        name="shop",
        regions=(
            RegionView(name="East US", failover_priority=0),
            RegionView(name="North Europe", failover_priority=1),
            RegionView(name="West US", failover_priority=2),
        ),
        write_regions=("East US",),
    )
    assert new_priorities(view, "westus") == [("West US", 0), ("East US", 1), ("North Europe", 2)]
    assert forced_rpo(view.model_copy(update={"consistency": "Eventual"}))[0] == 900.0
    assert forced_rpo(view.model_copy(update={"consistency": "BoundedStaleness"}))[0] is None


def test_what_if_takes_each_stores_loss_from_its_checks() -> None:
    plan = parse_plan({"name": "p", "steps": [cosmos(), postgresql(id="pg")]})
    checks = {
        "cosmos": [Check.passed("failover_mode", "x", rpo_estimate_seconds=0.0, rpo_basis="planned")],
        "pg": [Check.passed("promote_option", "y", rpo_estimate_seconds=None, rpo_basis="unknown: primary down")],
    }
    evaluation = predict(plan, checks, now=datetime.now(UTC))
    stores = {store.step: store for store in evaluation.stores}
    assert stores["cosmos"].seconds == 0.0
    assert stores["pg"].seconds is None and stores["pg"].basis == "unknown: primary down"
    assert evaluation.predicted_rpo_seconds is None and evaluation.rpo_bound_by == "pg"
