"""storage_account_failover and app_scale without Azure: plan validation, what an approver reads, the ARM actions
each needs, the what-if models, and the storage rules' decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dr.errors import PlanError
from dr.permissions import needs
from dr.plan import StepBase, parse_plan
from dr.preview import describe_step
from dr.steps.base import Check
from dr.steps.storage_account.model import AccountView, GeoStats
from dr.steps.storage_account.rules import assess, choose, data_at_risk
from dr.whatif import predict

RG = "/subscriptions/s/resourceGroups"
ACCOUNT = f"{RG}/shop-eus/providers/Microsoft.Storage/storageAccounts/shopdata"
PLAN = f"{RG}/shop-wus/providers/Microsoft.Web/serverfarms/shop-wus-plan"
DRILL_PLAN = f"{RG}/shop-wus/providers/Microsoft.Web/serverfarms/shop-drill-plan"
SITE = f"{RG}/shop-wus/providers/Microsoft.Web/sites/shop-wus-app"
DRILL_SITE = f"{RG}/shop-wus/providers/Microsoft.Web/sites/shop-drill-app"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def storage(**fields: Any) -> dict[str, Any]:
    return {
        "id": "data",
        "kind": "storage_account_failover",
        "account_id": ACCOUNT,
        "target_location": "westus",
        **fields,
    }


def scale(**fields: Any) -> dict[str, Any]:
    return {"id": "compute", "kind": "app_scale", "plan_id": PLAN, "instance_count": 3, **fields}


def one(raw: dict[str, Any]) -> StepBase:
    return parse_plan({"name": "p", "steps": [raw]}).steps[0]


# -- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (storage(account_id=PLAN), "expected a Microsoft.Storage/storageAccounts id"),
        (storage(target_location="west/us"), "target_location"),
        (storage(failover_type="forced"), "failover_type"),
        (scale(plan_id=SITE), "expected a Microsoft.Web/serverfarms id"),
        (scale(instance_count=None), "give plan_id and instance_count together"),
        (scale(plan_id=None, instance_count=None), "nothing to do"),
        (scale(site_ids=[SITE, SITE.upper()]), "names an app twice"),
        (scale(drill_plan_id=PLAN), "must name a test plan"),
        (scale(site_ids=[SITE], drill_site_ids=[SITE]), "must name test apps"),
        (scale(drill_site_ids=[DRILL_SITE]), "give site_ids too"),
        (scale(instance_count=0), "instance_count"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        one(raw)


def test_defaults() -> None:
    data, compute = one(storage()), one(scale())

    assert data.model_dump(include={"failover_type", "timeout"}) == {
        "failover_type": "unplanned",
        "timeout": "PT2H",
    }
    assert compute.model_dump(include={"scale", "site_state"}) == {"scale": "at_least", "site_state": "Running"}


# -- what an approver reads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "mode", "expected"),
    [
        (
            storage(),
            "failover",
            "unplanned failover of storage account shopdata to westus (loses the writes after its Last Sync Time; "
            "the account becomes LRS)",
        ),
        (
            storage(failover_type="planned"),
            "failover",
            "planned failover (no data loss) of storage account shopdata to westus, which stays geo-redundant",
        ),
        (
            storage(failover_type="planned_if_available"),
            "drill",
            "read storage account shopdata's failover readiness and Last Sync Time and report what a planned failover "
            "of storage account shopdata to westus, unplanned if the primary does not answer (then it loses the writes "
            "after its Last Sync Time and becomes LRS) would lose (drill: nothing fails over)",
        ),
        (
            scale(site_ids=[SITE]),
            "failover",
            "scale App Service plan shop-wus-plan to at least 3 instance(s) and start app shop-wus-app",
        ),
        (
            scale(scale="exactly", site_ids=[SITE], site_state="Stopped"),
            "failover",
            "scale App Service plan shop-wus-plan to 3 instance(s) and stop app shop-wus-app",
        ),
        (
            scale(),
            "drill",
            "check and report, without changing: scale App Service plan shop-wus-plan to at least 3 instance(s) "
            "(drill: read only)",
        ),
        (
            scale(drill_plan_id=DRILL_PLAN),
            "drill",
            "scale App Service plan shop-drill-plan to at least 3 instance(s) (drill: test resources, put back at "
            "teardown; production only read)",
        ),
    ],
)
def test_each_kind_in_each_mode(raw: dict[str, Any], mode: str, expected: str) -> None:
    assert describe_step(one(raw), mode) == expected  # type: ignore[arg-type]


# -- permissions -----------------------------------------------------------------------------------------------


def test_a_storage_failover_needs_the_failover_action_and_a_drill_only_reads() -> None:
    step = one(storage())

    assert [(n.scope, n.actions) for n in needs(step, "failover")] == [
        (
            ACCOUNT,
            (
                "Microsoft.Storage/storageAccounts/read",
                "Microsoft.Storage/storageAccounts/write",
                "Microsoft.Storage/storageAccounts/failover/action",
            ),
        )
    ]
    assert [n.actions for n in needs(step, "drill")] == [("Microsoft.Storage/storageAccounts/read",)]


def test_app_scale_writes_the_plan_and_starts_apps_and_a_drill_writes_only_its_test_resources() -> None:
    step = one(scale(site_ids=[SITE], drill_plan_id=DRILL_PLAN))

    failover = {n.label: n.actions for n in needs(step, "failover")}
    drill = {n.label: n.actions for n in needs(step, "drill")}

    assert failover == {
        "plan": ("Microsoft.Web/serverfarms/read", "Microsoft.Web/serverfarms/write"),
        "app_1": ("Microsoft.Web/sites/read", "Microsoft.Web/sites/start/action"),
    }
    assert drill == {
        "plan": ("Microsoft.Web/serverfarms/read",),
        "drill_plan": ("Microsoft.Web/serverfarms/read", "Microsoft.Web/serverfarms/write"),
        "app_1": ("Microsoft.Web/sites/read",),
    }


# -- the storage rules -----------------------------------------------------------------------------------------


def view(**fields: Any) -> AccountView:
    values: dict[str, Any] = {
        "name": "shopdata",
        "sku": "Standard_RAGRS",
        "primary_location": "eastus",
        "secondary_location": "westus",
        "status_of_primary": "available",
        "status_of_secondary": "available",
        "geo": GeoStats(
            status="Live", last_sync_time=NOW - timedelta(seconds=42), can_failover=True, can_planned_failover=True
        ),
        **fields,
    }
    return AccountView(**values)


def test_planned_if_available_chooses_by_the_primary() -> None:
    assert choose("planned_if_available", view())[0] == "planned"
    assert choose("planned_if_available", view(status_of_primary="unavailable"))[0] == "unplanned"
    assert choose("unplanned", view())[0] == "unplanned"


def test_the_loss_is_never_zero_for_unknown() -> None:
    assert data_at_risk("unplanned", view(), NOW)[0] == 42.0
    assert data_at_risk("planned", view(), NOW)[0] == 0.0
    seconds, basis = data_at_risk("unplanned", view(geo=None, geo_unreadable="InvalidAccountType"), NOW)
    assert seconds is None and basis.startswith("unknown") and "InvalidAccountType" in basis


def test_a_failover_running_is_refused_unless_this_run_started_it() -> None:
    running = view(failover_in_progress=True)
    theirs = assess(running, target_location="westus", requested="unplanned", step_id="data", now=NOW)
    ours = assess(
        running, target_location="westus", requested="unplanned", step_id="data", now=NOW, running_is_ours=True
    )

    assert theirs.refusal is not None and theirs.refusal.name == "no_failover_running"
    assert ours.refusal is None


def test_a_target_written_as_a_display_name_matches() -> None:
    found = assess(view(), target_location="West US", requested="unplanned", step_id="data", now=NOW)

    assert found.refusal is None and not found.already_done


# -- what-if ---------------------------------------------------------------------------------------------------


def test_what_if_predicts_the_storage_loss_from_its_checks_and_no_time_for_an_unmeasured_scale() -> None:
    plan = parse_plan({"name": "p", "steps": [storage(), scale(after=["data"])]})
    data_checks = assess(view(), target_location="westus", requested="unplanned", step_id="data", now=NOW).checks
    scale_checks = [Check.passed("changes", "a run would scale", changes=["scale ..."])]

    evaluation = predict(plan, {"data": data_checks, "compute": scale_checks}, now=NOW)

    (store,) = evaluation.stores
    assert store.step == "data" and store.seconds == 42.0 and "lastSyncTime" in store.basis
    steps = {s.step: s for s in evaluation.steps}
    assert steps["data"].seconds == 3600.0 and "less than one hour" in steps["data"].basis
    assert steps["compute"].seconds is None and steps["compute"].basis.startswith("unknown")
    assert evaluation.predicted_rpo_seconds == 42.0


def test_what_if_of_nothing_to_do() -> None:
    plan = parse_plan({"name": "p", "steps": [storage(), scale()]})
    done = assess(
        view(primary_location="westus", secondary_location="eastus"),
        target_location="westus",
        requested="unplanned",
        step_id="data",
        now=NOW,
    ).checks
    nothing = [Check.passed("changes", "nothing to change", changes=[])]

    evaluation = predict(plan, {"data": done, "compute": nothing}, now=NOW)

    assert {s.step: s.seconds for s in evaluation.steps} == {"data": 1.0, "compute": 1.0}
    assert evaluation.predicted_rpo_seconds == 0.0
