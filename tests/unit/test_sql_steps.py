"""SQL step parameters and naming rules, without Azure: what a plan author sees when a plan is loaded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from azure.mgmt.sql.models import FailoverGroup, ReplicationLink

from dr.azure_lro import OperationRef, check_operation
from dr.errors import PermanentError, PlanError
from dr.plan import SqlGeoRestoreStep, parse_plan
from dr.steps import get_kind
from dr.steps.base import StepContext
from dr.steps.sql.arm import failover_group_facts
from dr.steps.sql.model import SqlRef
from dr.steps.sql.planning import restore_target_name

SERVER = "/subscriptions/sub-1/resourceGroups/shop-eus/providers/Microsoft.Sql/servers/shop-eus"
TARGET = "/subscriptions/sub-1/resourceGroups/shop-wus/providers/Microsoft.Sql/servers/shop-wus"


def restore_step(**extra: Any) -> dict[str, Any]:
    return {
        "id": "db",
        "kind": "sql_geo_restore",
        "source_database_id": f"{SERVER}/databases/shop",
        "target_server_id": TARGET,
        **extra,
    }


def plan_with(*steps: dict[str, Any], drill: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": "shop", "steps": list(steps), "drill": drill or {}}


def name_in(mode: str, step: dict[str, Any]) -> str:
    return restore_target_name(context(mode, step), SqlGeoRestoreStep.model_validate(step))


def context(mode: str, step: dict[str, Any]) -> StepContext:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return StepContext(run_id="run-1", plan_name="shop", mode=mode, step=step, started_at=now, now=now)  # type: ignore[arg-type]


def test_design_example_ids_validate_including_lower_case_provider_names() -> None:
    plan = parse_plan(
        plan_with(
            restore_step(target_database="shop", timeout="PT2H"),
            {
                "id": "fog",
                "kind": "sql_failover_group",
                "failover_group_id": TARGET.lower() + "/failoverGroups/shop",
            },
        )
    )
    assert [step.kind for step in plan.steps] == ["sql_geo_restore", "sql_failover_group"]


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"target_server_id": TARGET + "/databases/x"}, "target_server_id"),
        ({"source_database_id": SERVER}, "source_database_id"),
        ({"target_database": "bad/name"}, "target_database"),
        ({"target_database": "trailing."}, "target_database"),
        ({"sku": "S0", "elastic_pool_id": f"{TARGET}/elasticPools/pool"}, "not both"),
        ({"drill_target_database": "SHOP"}, "must differ from the production target name"),
    ],
)
def test_bad_sql_parameters_name_the_step_and_field(extra: dict[str, Any], complaint: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(plan_with(restore_step(**extra)))
    assert "step 'db'" in caught.value.message
    assert complaint in caught.value.message


def test_failover_restores_under_the_production_name() -> None:
    step = restore_step()
    assert name_in("failover", step) == "shop"
    named = restore_step(target_database="shop-restored")
    assert name_in("failover", named) == "shop-restored"


def test_drill_never_uses_the_production_name() -> None:
    plain = restore_step(target_database="shop")
    assert name_in("drill", plain) == "shop-drill"
    # A drill override that already names a drill database is used as is.
    overrides = {"overrides": {"db": {"target_database": "shop-drill"}}}
    plan = parse_plan(plan_with(restore_step(), drill=overrides))
    drilled = plan.for_mode("drill").steps[0].model_dump(mode="json")
    assert name_in("drill", drilled) == "shop-drill"
    # Any other override still gets the suffix, so no override can point a drill at production.
    other = restore_step(target_database="shop-test")
    assert name_in("drill", other) == "shop-test-drill"
    exact = restore_step(drill_target_database="dr-check")
    assert name_in("drill", exact) == "dr-check"


def test_both_kinds_are_registered() -> None:
    assert get_kind("sql_geo_restore").kind == "sql_geo_restore"
    assert get_kind("sql_failover_group").kind == "sql_failover_group"


def test_an_operation_arm_finished_at_once_needs_no_request() -> None:
    class NoNetwork:
        def send_request(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("no request expected")

    done = OperationRef(initial_status_code=200, provisioning_state="Succeeded")
    assert done.completed_at_once
    assert check_operation(NoNetwork(), done, endpoint="https://management.azure.com").status == "Succeeded"
    running = OperationRef(initial_status_code=201, provisioning_state="Creating")
    assert not running.completed_at_once
    assert check_operation(NoNetwork(), running, endpoint="https://management.azure.com").status == "Unknown"


def test_the_token_is_never_sent_to_a_status_url_off_the_arm_endpoint() -> None:
    class NoNetwork:
        def send_request(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the request must not be sent")

    ref = OperationRef(initial_status_code=202, status_url="https://evil.example.com/operations/1")
    with pytest.raises(PermanentError) as caught:
        check_operation(NoNetwork(), ref, endpoint="https://management.azure.com")
    assert caught.value.code == "ForeignStatusUrl"


# -- what a forced failover may lose ----------------------------------------------------------------------


class LinksOnly:
    """Just the replication_links.list_by_database a facts read makes, answering with wire JSON."""

    def __init__(self, links: dict[str, list[dict[str, Any]]]) -> None:
        self.replication_links = self
        self._links = links

    def list_by_database(self, resource_group: str, server: str, database: str, **kwargs: Any) -> list[Any]:
        return [ReplicationLink(link) for link in self._links.get(database, [])]


def group(read_write: dict[str, Any], databases: list[str]) -> FailoverGroup:
    return FailoverGroup(
        {
            "id": f"{TARGET}/failoverGroups/fog",
            "properties": {
                "readWriteEndpoint": read_write,
                "replicationRole": "Secondary",
                "partnerServers": [{"id": SERVER, "replicationRole": "Primary"}],
                "databases": [f"{TARGET}/databases/{name}" for name in databases],
            },
        }
    )


def test_a_reported_replication_lag_wins_over_the_grace_period() -> None:
    links = {
        "a": [{"properties": {"replicationState": "CATCH_UP", "replicationLagSeconds": 4}}],
        "b": [{"properties": {"replicationState": "SEEDING", "replicationLagSeconds": 9}}],
    }
    facts, warnings = failover_group_facts(
        LinksOnly(links),  # type: ignore[arg-type]
        SqlRef.parse(f"{TARGET}/failoverGroups/fog"),
        group({"failoverPolicy": "Automatic", "failoverWithDataLossGracePeriodMinutes": 60}, ["a", "b"]),
    )
    assert facts["data_at_risk_seconds"] == 9.0
    assert "replication lag" in facts["rpo_basis"]
    assert facts["replication_links"] == {"a": "CATCH_UP", "b": "SEEDING"}
    assert warnings == ["database(s) b still seeding: the secondary does not hold all data yet"]


def test_the_older_apis_grace_period_in_hours_is_understood() -> None:
    facts, _ = failover_group_facts(
        LinksOnly({}),  # type: ignore[arg-type]
        SqlRef.parse(f"{TARGET}/failoverGroups/fog"),
        group({"failoverPolicy": "Automatic", "gracePeriodWithDataLossHours": 2}, ["a"]),
    )
    # The grace period is how long Azure waits before its own forced failover, not a bound on data loss.
    assert facts["grace_period_minutes"] == 120
    assert facts.get("data_at_risk_seconds") is None
