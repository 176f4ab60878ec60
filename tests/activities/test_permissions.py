"""Pre-flight permission checks (dr/permissions.py, appended by dr.dispatch.check to every step's checks):
what each kind needs per scope, Azure RBAC's evaluation (wildcards, notActions that subtract within their
own role), and the checks as the app makes them through the real azure-mgmt-authorization client against
the devstack ARM emulator's Permissions API."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devstack.arm import EXAMPLE_ESTATE, ArmEmulator
from dr import dispatch
from dr.clients import reset_for_tests
from dr.permissions import (
    NEEDS,
    ROLE_HINTS,
    SQL_FAILOVER_ACTIONS,
    Granted,
    allows,
    matches,
    needs,
    permission_checks,
)
from dr.steps import REGISTRY, spec_of
from dr.steps.base import Check, StepContext
from dr.whatif import run_checks

SUB = "00000000-0000-0000-0000-000000000001"
EUS_GROUP = f"/subscriptions/{SUB}/resourceGroups/shop-eus"
WUS_GROUP = f"/subscriptions/{SUB}/resourceGroups/shop-wus"
EUS = f"{EUS_GROUP}/providers/Microsoft.Sql/servers/shop-eus"
WUS = f"{WUS_GROUP}/providers/Microsoft.Sql/servers/shop-wus"
FOG = f"{WUS}/failoverGroups/shop-fog"
GLOBAL = f"/subscriptions/{SUB}/resourceGroups/shop-global/providers/Microsoft.Network/trafficManagerProfiles"
PROFILE, DRILL_PROFILE = f"{GLOBAL}/shop", f"{GLOBAL}/shop-drill"
FAILOVER = "Microsoft.Sql/servers/failoverGroups/failover/action"
FOG_READ = "Microsoft.Sql/servers/failoverGroups/read"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ROLES_TSV = Path(__file__).resolve().parents[2] / "scripts" / "azure-built-in-roles.tsv"


@pytest.fixture(scope="module")
def _emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArmEmulator]:
    with ArmEmulator(state_dir=tmp_path_factory.mktemp("arm")) as arm:
        yield arm


@pytest.fixture
def arm(_emulator: ArmEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmEmulator]:
    """The shop estate plus a drill test profile; the app's settings point at the emulator."""
    _emulator.reset()
    _emulator.seed(EXAMPLE_ESTATE)
    _emulator.seed(
        {
            "subscription_id": SUB,
            "traffic_manager": {"profiles": [{"name": "shop-drill", "resource_group": "shop-global"}]},
        }
    )
    monkeypatch.setenv("DR_ARM_ENDPOINT", _emulator.url)
    monkeypatch.setenv("DR_ARM_CA_BUNDLE", str(_emulator.ca_path))
    monkeypatch.setenv("DR_ARM_TOKEN", "devstack-arm-token")
    reset_for_tests()
    yield _emulator
    reset_for_tests()


def fog_step(mode: str = "planned") -> dict[str, Any]:
    return {"id": "db", "kind": "sql_failover_group", "failover_group_id": FOG, "failover_mode": mode}


def restore_step(**fields: Any) -> dict[str, Any]:
    return {
        "id": "restore",
        "kind": "sql_geo_restore",
        "source_database_id": f"{EUS}/databases/shop",
        "target_server_id": WUS,
        "target_database": "shop-restored",
        **fields,
    }


def traffic_step(**fields: Any) -> dict[str, Any]:
    return {
        "id": "traffic",
        "kind": "traffic_manager_failover",
        "profile_id": PROFILE,
        "from_endpoints": ["shop-eus"],
        "to_endpoints": ["shop-wus"],
        **fields,
    }


def context(step: dict[str, Any], mode: str = "failover") -> StepContext:
    return StepContext(run_id="run-1", plan_name="shop", mode=mode, step=step, started_at=NOW, now=NOW)  # type: ignore[arg-type]


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def grant_only(arm: ArmEmulator, scope: str, *permissions: dict[str, Any]) -> None:
    """Take the default `*` away and grant exactly these role permissions at scope."""
    arm.set_permissions("/", [])
    arm.set_permissions(scope, list(permissions))


# -- through the emulator's Permissions API -------------------------------------------------------------------


def test_the_default_owner_passes_every_scope_of_every_kind(arm: ArmEmulator) -> None:
    fog = by_name(permission_checks(context(fog_step())))
    restore = by_name(permission_checks(context(restore_step())))
    traffic = by_name(permission_checks(context(traffic_step())))

    assert fog["permissions_failover_group"].status == "passed"
    assert fog["permissions_failover_group"].message == f"the app's identity holds the 2 actions it needs on {FOG}"
    assert fog["permissions_failover_group"].facts == {"scope": FOG, "actions": [FOG_READ, FAILOVER]}
    assert {name: c.status for name, c in restore.items()} == {
        "permissions_source_server": "passed",
        "permissions_target_server": "passed",
    }
    assert restore["permissions_target_server"].message == f"the app's identity holds the 3 actions it needs on {WUS}"
    assert {name: c.status for name, c in traffic.items()} == {"permissions_profile": "passed"}
    reads = [r.path for r in arm.requests() if r.path.endswith("/providers/Microsoft.Authorization/permissions")]
    assert len(reads) == 4 and all(r.status == 200 for r in arm.requests())


def test_a_scope_without_the_failover_action_fails_naming_the_action_the_scope_and_a_role(arm: ArmEmulator) -> None:
    others = [a for mode, a in SQL_FAILOVER_ACTIONS.items() if mode != "planned"]
    grant_only(arm, FOG, {"actions": [FOG_READ, *others]})

    planned = by_name(permission_checks(context(fog_step("planned"))))["permissions_failover_group"]
    forced = by_name(permission_checks(context(fog_step("forced"))))["permissions_failover_group"]

    assert planned.status == "failed"
    assert planned.message == (
        f"the app's identity lacks {FAILOVER} on {FOG}: assign SQL Server Contributor or the plan's custom role"
    )
    assert planned.facts["missing"] == [FAILOVER]
    assert forced.status == "passed"  # forced needs forceFailoverAllowDataLoss/action, which it holds


def test_not_actions_remove_an_action_granted_by_a_wildcard_in_that_role_only(arm: ArmEmulator) -> None:
    grant_only(arm, FOG, {"actions": ["*"], "notActions": ["Microsoft.Sql/servers/failoverGroups/*/action"]})

    subtracted = by_name(permission_checks(context(fog_step())))["permissions_failover_group"]
    arm.set_permissions(WUS_GROUP, [{"actions": ["Microsoft.Sql/servers/failoverGroups/failover/action"]}])
    granted_by_another_role = by_name(permission_checks(context(fog_step())))["permissions_failover_group"]

    assert subtracted.status == "failed"
    assert subtracted.facts["missing"] == [FAILOVER]  # read is still granted by the `*`
    assert granted_by_another_role.status == "passed"  # notActions are not a deny


def test_a_resource_inherits_what_its_resource_group_grants(arm: ArmEmulator) -> None:
    grant_only(arm, EUS_GROUP, {"actions": ["Microsoft.Sql/servers/failoverGroups/*"]})
    elsewhere = by_name(permission_checks(context(fog_step())))["permissions_failover_group"]
    grant_only(arm, WUS_GROUP, {"actions": ["microsoft.sql/servers/failovergroups/*"]})
    inherited = by_name(permission_checks(context(fog_step())))["permissions_failover_group"]

    assert elsewhere.status == "failed"  # granted on the other server's group: not this scope
    assert elsewhere.facts["missing"] == [FOG_READ, FAILOVER]
    assert inherited.status == "passed"  # from the group of the server, case-insensitively


def test_a_drill_fails_on_what_it_needs_and_warns_on_what_only_a_failover_needs(arm: ArmEmulator) -> None:
    read, write = "Microsoft.Network/trafficManagerProfiles/read", "Microsoft.Network/trafficManagerProfiles/write"
    arm.set_permissions("/", [])
    arm.set_permissions(PROFILE, [{"actions": [read]}])
    arm.set_permissions(DRILL_PROFILE, [{"actions": [read, write]}])
    step = traffic_step(drill_profile_id=DRILL_PROFILE)

    drill = by_name(permission_checks(context(step, mode="drill")))
    failover = by_name(permission_checks(context(step)))

    assert drill["permissions_drill_profile"].status == "passed"
    assert drill["permissions_profile"].status == "warning"
    assert drill["permissions_profile"].message == (
        f"a failover of this plan would fail: the app's identity lacks {write} on {PROFILE} (this drill does not "
        "need it): assign Traffic Manager Contributor or the plan's custom role"
    )
    assert failover["permissions_profile"].status == "failed"
    assert set(failover) == {"permissions_profile"}


def test_permissions_that_cannot_be_read_are_a_warning_with_the_cause(arm: ArmEmulator) -> None:
    arm.inject_fault("*/Microsoft.Authorization/permissions", status=503, code="ServiceUnavailable", count=5)

    unreadable = by_name(permission_checks(context(fog_step())))["permissions_failover_group"]
    arm.clear_faults()
    nowhere = f"/subscriptions/{SUB}/resourceGroups/nowhere/providers/Microsoft.Sql/servers/x/failoverGroups/no"
    missing = by_name(permission_checks(context(fog_step() | {"failover_group_id": nowhere})))

    assert unreadable.status == "warning"
    assert unreadable.message.startswith(f"could not read the app's identity's permissions on {FOG} (")
    assert "ServiceUnavailable" in unreadable.message
    assert unreadable.message.endswith("the 2 ARM actions the step needs there are not verified")
    assert missing["permissions_failover_group"].status == "warning"
    assert "ResourceGroupNotFound" in missing["permissions_failover_group"].message


def test_a_resource_is_read_on_its_own_only_when_its_group_does_not_grant_everything(arm: ArmEmulator) -> None:
    def permission_reads() -> list[str]:
        return [r.path.lower() for r in arm.requests() if r.path.endswith("/Microsoft.Authorization/permissions")]

    granted_at_group = by_name(permission_checks(context(fog_step())))["permissions_failover_group"]
    at_group = permission_reads()
    arm.clear_requests()
    grant_only(arm, FOG, {"actions": [FOG_READ, FAILOVER]})
    granted_on_the_group_itself = by_name(permission_checks(context(fog_step())))["permissions_failover_group"]
    then_at_resource = permission_reads()

    assert granted_at_group.status == granted_on_the_group_itself.status == "passed"
    assert granted_at_group.facts["scope"] == FOG  # the check still names the resource
    assert at_group == [f"{WUS_GROUP}/providers/Microsoft.Authorization/permissions".lower()]
    assert len(then_at_resource) == 2
    assert then_at_resource[0] == f"{WUS_GROUP}/providers/Microsoft.Authorization/permissions".lower()
    assert then_at_resource[1].endswith("/failovergroups/shop-fog/providers/microsoft.authorization/permissions")


def test_the_steps_of_one_pre_flight_read_each_scope_once(arm: ArmEmulator) -> None:
    payloads = {
        step_id: {"context": context(step).model_dump(mode="json")}
        for step_id, step in {
            "restore-a": restore_step(),
            "restore-b": restore_step(id="restore-b", target_database="shop-other"),
            "fog": fog_step(),
        }.items()
    }
    arm.clear_requests()

    results = run_checks(payloads)

    reads = [r.path.lower() for r in arm.requests() if r.path.endswith("/Microsoft.Authorization/permissions")]
    assert all(c.status == "passed" for checks in results.values() for c in checks if c.name.startswith("perm"))
    assert sorted(reads) == sorted(
        f"{group}/providers/Microsoft.Authorization/permissions".lower() for group in (EUS_GROUP, WUS_GROUP)
    )


# -- dispatch.check ------------------------------------------------------------------------------------------


def test_dispatch_appends_the_permission_checks_after_the_kinds_own(arm: ArmEmulator) -> None:
    grant_only(arm, WUS_GROUP, {"actions": [FOG_READ]})

    answer = dispatch.check({"context": context(fog_step()).model_dump(mode="json")})

    assert answer[-1]["name"] == "permissions_failover_group"
    assert answer[-1]["status"] == "failed"
    assert FAILOVER in answer[-1]["message"]
    assert all(not check["name"].startswith("permissions") for check in answer[:-1])


def test_dispatch_never_raises_when_the_permission_checks_do(arm: ArmEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: StepContext) -> list[Check]:
        raise RuntimeError("authorization client could not be built")

    monkeypatch.setattr(dispatch, "permission_checks", broken)

    answer = dispatch.check({"context": context(fog_step()).model_dump(mode="json")})

    assert answer[-1]["name"] == "permissions"
    assert answer[-1]["status"] == "warning"
    assert "authorization client could not be built" in answer[-1]["message"]


def test_blob_and_health_steps_need_no_arm_permission(arm: ArmEmulator) -> None:
    health = {"id": "health", "kind": "health_check", "url": "http://127.0.0.1:9/health"}
    blob = {
        "id": "blobs",
        "kind": "blob_backup",
        "source": {"account_url": "https://a.blob.core.windows.net", "container": "src"},
        "target": {"account_url": "https://b.blob.core.windows.net", "container": "dst"},
    }
    arm.clear_requests()

    assert permission_checks(context(health)) == []
    assert permission_checks(context(blob)) == []
    assert arm.requests() == []


# -- what each kind needs, and RBAC's rules (no ARM) -----------------------------------------------------------


def test_every_registered_kind_says_what_it_needs() -> None:
    assert set(NEEDS) == set(REGISTRY)


@pytest.mark.parametrize(
    ("mode", "action"),
    [
        ("planned", "Microsoft.Sql/servers/failoverGroups/failover/action"),
        ("forced", "Microsoft.Sql/servers/failoverGroups/forceFailoverAllowDataLoss/action"),
        ("planned_then_forced", "Microsoft.Sql/servers/failoverGroups/tryPlannedBeforeForcedFailover/action"),
    ],
)
def test_a_failover_group_needs_the_failover_action_of_its_mode_and_a_drill_only_reads(mode: str, action: str) -> None:
    step = spec_of("sql_failover_group").params.model_validate(fog_step(mode))

    assert [(n.scope, n.actions) for n in needs(step, "failover")] == [(FOG, (FOG_READ, action))]
    assert [(n.scope, n.actions) for n in needs(step, "drill")] == [(FOG, (FOG_READ,))]


def test_a_geo_restore_reads_the_source_geo_backup_and_writes_the_target_server() -> None:
    step = spec_of("sql_geo_restore").params.model_validate(restore_step())
    databases = "Microsoft.Sql/servers/databases"

    assert [(n.label, n.scope, n.actions) for n in needs(step, "failover")] == [
        ("source_server", EUS, ("Microsoft.Sql/servers/recoverableDatabases/read",)),
        ("target_server", WUS, ("Microsoft.Sql/servers/read", f"{databases}/read", f"{databases}/write")),
    ]
    assert needs(step, "drill")[1].actions[-1] == f"{databases}/delete"  # the drill's copy is deleted at teardown


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("*", FAILOVER, True),
        ("Microsoft.Sql/*", FAILOVER, True),
        ("microsoft.sql/servers/FAILOVERGROUPS/failover/action", FAILOVER, True),
        ("*/read", FOG_READ, True),
        ("*/read", FAILOVER, False),
        ("Microsoft.Sql/servers/failoverGroups/*/action", FAILOVER, True),
        ("Microsoft.Sql/servers/failoverGroups/failover", FAILOVER, False),
        ("Microsoft.Network/*", FAILOVER, False),
        ("Microsoft.Sql/servers/failoverGroups/failover/action.", FAILOVER, False),
    ],
)
def test_action_patterns_match_as_azure_rbac_does(pattern: str, action: str, expected: bool) -> None:
    assert matches(pattern, action) is expected


def test_not_actions_subtract_within_their_own_permission_only() -> None:
    owner_but_failover = Granted(actions=("*",), not_actions=(FAILOVER,))

    assert not allows([owner_but_failover], FAILOVER)
    assert allows([owner_but_failover], FOG_READ)
    assert allows([owner_but_failover, Granted(actions=("Microsoft.Sql/*",))], FAILOVER)
    assert not allows([], FOG_READ)


def test_every_suggested_role_is_a_built_in_role_the_repository_lists() -> None:
    lines = [line for line in ROLES_TSV.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    listed = {row[0] for row in csv.reader(lines, delimiter="\t")}

    assert {role for _, role in ROLE_HINTS} <= listed
