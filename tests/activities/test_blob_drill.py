"""blob_backup in a drill: copies go to the drill's own container, which teardown deletes; production is
never written."""

from __future__ import annotations

import pytest

from dr.errors import PreconditionError
from dr.plan import BlobBackupStep, load_plan_file
from dr.steps.blob import last_sync
from tests.activities.conftest import PLAN, BlobWorld, Drive


def drill_step(world: BlobWorld, production: BlobBackupStep, container: str) -> BlobBackupStep:
    """The step as a drill run gets it: the plan file's drill overrides applied by Plan.for_mode."""
    target = {"account_url": production.target.account_url, "container": container}
    world.write_plan(production, drill_overrides={"target": target})
    plan = load_plan_file(world.plans_dir / f"{PLAN}.yaml").for_mode("drill")
    step = plan.step(production.id)
    assert isinstance(step, BlobBackupStep)
    return step


def test_drill_copies_into_its_own_container_and_teardown_deletes_it(blob_world: BlobWorld) -> None:
    for i in range(5):
        blob_world.put(f"a/{i}.txt", b"x" * i)
    production = blob_world.step()
    drill_container = f"drill-{blob_world.target_container}"
    step = drill_step(blob_world, production, drill_container)

    drive = blob_world.run(step, mode="drill", run_id="drill-run-1")

    assert drive.detail["copied"] == 5
    assert drive.detail["mode"] == "drill"
    drill = blob_world.service("secondary").get_container_client(drill_container)
    assert sorted(b.name for b in drill.list_blobs()) == [f"a/{i}.txt" for i in range(5)]
    assert drill.get_container_properties().metadata["dr_drill_run"] == "drill-run-1"
    assert not blob_world.target.exists()  # production target untouched
    assert last_sync(PLAN, production) is None  # a drill is not a sync

    assert blob_world.teardown(step, drive, run_id="drill-run-1") == {
        "teardown": f"deleted drill container secondary/{drill_container}"
    }
    assert not drill.exists()
    again = blob_world.teardown(step, drive, run_id="drill-run-1")
    assert "already gone" in again["teardown"]


def test_drill_into_the_production_target_is_refused(blob_world: BlobWorld) -> None:
    blob_world.put("a.txt", b"a")
    production = blob_world.step()
    blob_world.write_plan(production)  # a drill section that forgot to override the target

    with pytest.raises(PreconditionError) as refusal:
        blob_world.run(production, mode="drill")

    assert refusal.value.code == "DrillTargetIsProduction"
    assert "drill.overrides.blobs.target.container" in str(refusal.value)
    assert not blob_world.target.exists()


def test_drill_into_a_container_it_did_not_make_is_refused(blob_world: BlobWorld) -> None:
    """Even when the plans folder cannot tell (plan gone or renamed), a drill never writes into a
    container that exists without a drill's mark, and its teardown never deletes one."""
    blob_world.put("a.txt", b"a")
    blob_world.service("secondary").create_container(blob_world.target_container)
    blob_world.target.upload_blob("precious.txt", b"production data")
    step = blob_world.step()

    with pytest.raises(PreconditionError) as refusal:
        blob_world.run(step, mode="drill")

    assert refusal.value.code == "DrillTargetNotOwned"
    result = blob_world.teardown(step, Drive(), run_id="some-drill")
    assert result["teardown"].startswith("kept")
    assert blob_world.target_names() == ["precious.txt"]


def test_failover_teardown_keeps_the_copies(blob_world: BlobWorld) -> None:
    blob_world.put("a.txt", b"a")
    step = blob_world.step()
    drive = blob_world.run(step)

    result = blob_world.teardown(step, drive, run_id=blob_world.run_ids[-1], mode="failover")

    assert "nothing to undo" in result["teardown"]
    assert blob_world.target_names() == ["a.txt"]
