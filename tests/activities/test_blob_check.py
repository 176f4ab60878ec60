"""blob_backup's pre-flight ``check``: read-only facts about both accounts, the standing sync and the plan,
against real Azurite (behind the fault proxy where an account must go silent)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from devstack.faultproxy import FaultProxy, Rule
from dr.plan import BlobBackupStep, load_plan_file
from dr.steps.base import Check
from tests.activities.conftest import BLOB, PLAN, BlobWorld


def by_name(checks: list[Check]) -> dict[str, Check]:
    names = [check.name for check in checks]
    assert len(names) == len(set(names)), names
    return {check.name: check for check in checks}


def run_check(world: BlobWorld, step: BlobBackupStep, mode: str = "failover") -> dict[str, Check]:
    return by_name(BLOB.check(world.context(step, mode=mode), step))


def own_step(world: BlobWorld, **overrides: Any) -> BlobBackupStep:
    """A step id of its own: sync records are per (plan, step), and other tests leave theirs in Azurite."""
    return world.step(id=f"blobs-{uuid.uuid4().hex[:8]}", **overrides)


def test_same_source_and_target_fails(blob_world: BlobWorld) -> None:
    """Plan validation refuses such a step today; check still says so for one that got past it (a plan
    snapshot older than the rule): the same container, written differently (a trailing slash)."""
    valid = blob_world.step()
    source = valid.source
    same = source.model_copy(update={"account_url": source.account_url + "/"})
    step = valid.model_copy(update={"target": same})  # model_copy does not validate

    checks = by_name(BLOB.check(blob_world.context(valid), step))

    assert checks["distinct_locations"].status == "failed"
    assert "same container" in checks["distinct_locations"].message


def test_healthy_step_passes_with_the_last_sync_as_facts_and_changes_nothing(blob_world: BlobWorld) -> None:
    blob_world.put("a.txt", b"a")
    step = own_step(blob_world)

    before = run_check(blob_world, step)

    # Nothing recorded yet, and the target container is missing: begin makes it, check must not.
    assert before["target_container"].status == "passed"
    assert before["target_container"].facts["exists"] is False
    assert "begin creates it" in before["target_container"].message
    assert not blob_world.target.exists()
    assert before["last_standing_sync"].status == "warning"
    assert before["last_standing_sync"].facts["rpo_estimate_seconds"] is None
    assert before["last_standing_sync"].facts["rpo_basis"] == "unknown: no standing sync recorded"

    synced_at = blob_world.run(step, mode="sync").detail["last_sync_at"]
    after = run_check(blob_world, step)

    assert {name: check.status for name, check in after.items()} == {
        "distinct_locations": "passed",
        "source_reachable": "passed",
        "target_container": "passed",
        "last_standing_sync": "passed",
    }
    assert after["source_reachable"].facts["probe"]["reachable"] is True
    assert after["target_container"].facts["exists"] is True
    facts = after["last_standing_sync"].facts
    assert facts["last_sync_at"] == synced_at
    assert 0 <= facts["last_sync_age_seconds"] < 60
    assert facts["rpo_basis"].startswith(f"source unreachable; last standing sync {synced_at}: ")
    assert synced_at in after["last_standing_sync"].message


@pytest.mark.parametrize(("policy", "status"), [("continue", "warning"), ("fail", "failed")])
def test_unreachable_primary_is_a_warning_or_a_failure_per_the_plan(
    proxied_world: BlobWorld, fault_proxy: FaultProxy, policy: str, status: str
) -> None:
    proxied_world.put("a.txt", b"a")
    step = own_step(proxied_world, on_source_unavailable=policy, source_probe_timeout=1)
    synced_at = proxied_world.run(step, mode="sync").detail["last_sync_at"]
    silence = fault_proxy.add_rule(Rule("blackhole", account="primary"))

    started = time.monotonic()
    checks = run_check(proxied_world, step)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0 + 1.0  # every request of a check is bounded by the probe's deadline
    assert silence.hits == 1
    source = checks["source_reachable"]
    assert source.status == status
    assert source.message.startswith("primary unreachable (no answer within 1 s)")
    assert f"the last standing sync from {synced_at} (RPO ≈ " in source.message
    assert source.facts["rpo_estimate_seconds"] is not None
    assert checks["target_container"].status == "passed"  # the secondary still answers


def test_unreachable_primary_without_a_record_says_the_rpo_is_unknown(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    step = own_step(proxied_world, source_probe_timeout=0.5)
    fault_proxy.add_rule(Rule("blackhole", account="primary"))

    checks = run_check(proxied_world, step)

    source = checks["source_reachable"]
    assert source.status == "warning"
    assert "RPO unknown" in source.message
    assert source.facts["rpo_estimate_seconds"] is None


def test_unreachable_primary_fails_a_standing_sync_check(proxied_world: BlobWorld, fault_proxy: FaultProxy) -> None:
    """Only a failover can do without the source."""
    step = own_step(proxied_world, source_probe_timeout=0.5)
    fault_proxy.add_rule(Rule("blackhole", account="primary"))

    checks = run_check(proxied_world, step, mode="sync")

    assert checks["source_reachable"].status == "failed"


def test_unreachable_secondary_fails_within_the_bound(proxied_world: BlobWorld, fault_proxy: FaultProxy) -> None:
    step = own_step(proxied_world, source_probe_timeout=1)
    fault_proxy.add_rule(Rule("blackhole", account="secondary"))

    started = time.monotonic()
    checks = run_check(proxied_world, step)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0 + 1.0
    assert checks["target_container"].status == "failed"
    assert "did not answer" in checks["target_container"].message
    assert checks["source_reachable"].status == "passed"
    standing = checks["last_standing_sync"]
    assert standing.status == "warning"
    assert standing.facts["unknown"].startswith("unknown: the standing sync record could not be read")


def test_missing_source_container_fails(blob_world: BlobWorld) -> None:
    step = own_step(blob_world, source={"container": "no-such-container"})

    checks = run_check(blob_world, step)

    assert checks["source_reachable"].status == "failed"
    assert "does not exist" in checks["source_reachable"].message


def test_drill_into_the_production_target_fails_and_its_own_container_passes(blob_world: BlobWorld) -> None:
    production = blob_world.step()
    blob_world.write_plan(production)  # drill overrides forgot the target

    same = run_check(blob_world, production, mode="drill")

    assert same["drill_target_differs"].status == "failed"
    assert "drill.overrides.blobs.target.container" in same["drill_target_differs"].message

    target = {"account_url": production.target.account_url, "container": f"drill-{blob_world.target_container}"}
    blob_world.write_plan(production, drill_overrides={"target": target})
    drill_step = load_plan_file(blob_world.plans_dir / f"{PLAN}.yaml").for_mode("drill").step(production.id)
    assert isinstance(drill_step, BlobBackupStep)

    own = run_check(blob_world, drill_step, mode="drill")

    assert own["drill_target_differs"].status == "passed"
    assert own["drill_target_differs"].facts["failover_target"] == f"secondary/{blob_world.target_container}"


def test_drill_into_an_existing_container_not_made_by_a_drill_fails(blob_world: BlobWorld) -> None:
    blob_world.service("secondary").create_container(blob_world.target_container)
    step = blob_world.step()

    checks = run_check(blob_world, step, mode="drill")  # no plan file: where a failover writes is unknown

    assert checks["drill_target_differs"].status == "warning"
    assert checks["target_container"].status == "failed"
    assert "not made by a drill" in checks["target_container"].message


def test_check_runs_through_the_dispatcher_as_json(blob_world: BlobWorld) -> None:
    """What the step_check activity returns: every check, facts included, as plain JSON."""
    from dr import dispatch

    step = own_step(blob_world)
    ctx = blob_world.context(step)

    answer = dispatch.check({"context": ctx.model_dump(mode="json")})

    assert json.loads(json.dumps(answer)) == answer
    assert [item["name"] for item in answer] == [
        "distinct_locations",
        "source_reachable",
        "target_container",
        "last_standing_sync",
    ]
    assert answer[1]["facts"]["probe"]["reachable"] is True
