"""Copying back after a failover: the blob step with source and target swapped (secondary → primary), against
a real Azurite. Blobs written in the secondary during the outage go back; a primary blob changed after them is
a conflict, kept or overwritten as the plan says, and reported by name; neither direction copies again what
the other one wrote."""

from __future__ import annotations

import time

import pytest

from dr.plan import BlobBackupStep
from tests.activities.conftest import BLOB, BlobWorld, Drive

NEW_IN_SECONDARY = ["img/new-1.bin", "img/new-2.bin"]
CHANGED_IN_SECONDARY = ["img/0001.bin", "img/0002.bin", "img/0003.bin"]
NEWER_IN_PRIMARY = "img/0004.bin"
SEEDED = 10


def copy_back(world: BlobWorld, **overrides: object) -> BlobBackupStep:
    """The reversed step: the secondary's container is the source, the primary's the target."""
    return world.step(
        id="blobs-back",
        source={"account_url": world.azurite.url_for("secondary"), "container": world.target_container},
        target={"account_url": world.azurite.url_for("primary"), "container": world.source_container},
        **overrides,
    )


def content(world: BlobWorld, side: str, name: str) -> bytes:
    container = world.source if side == "primary" else world.target
    return container.get_blob_client(name).download_blob().readall()


def sync(world: BlobWorld, step: BlobBackupStep) -> Drive:
    return world.run(step, mode="sync")


def forward_sync(world: BlobWorld) -> Drive:
    for i in range(SEEDED):
        world.put(f"img/{i:04d}.bin", f"blob {i}".encode() * 10)
    return sync(world, world.step())


def outage(world: BlobWorld) -> None:
    """After a forward sync: the application writes in the secondary, then the primary changes one of those
    blobs again, later (Last-Modified has whole seconds: the wait makes it strictly newer)."""
    forward_sync(world)
    for name in NEW_IN_SECONDARY:
        world.target.upload_blob(name, b"written during the outage")
    for name in CHANGED_IN_SECONDARY[:2]:
        world.target.upload_blob(name, b"changed in the secondary", overwrite=True)
    # An application that keeps a blob's metadata (the sync's record included) while rewriting it.
    kept = CHANGED_IN_SECONDARY[2]
    metadata = world.target.get_blob_client(kept).get_blob_properties().metadata
    world.target.upload_blob(kept, b"rewritten, metadata kept", overwrite=True, metadata=metadata)
    world.target.upload_blob(NEWER_IN_PRIMARY, b"changed in the secondary first", overwrite=True)
    time.sleep(1.1)
    world.source.upload_blob(NEWER_IN_PRIMARY, b"changed in the primary later", overwrite=True)


def test_copy_back_after_a_plain_forward_sync_copies_nothing(blob_world: BlobWorld) -> None:
    forward_sync(blob_world)

    back = sync(blob_world, copy_back(blob_world, on_conflict="keep_newer"))

    assert back.calls == ["begin"]
    assert back.detail["copied"] == 0
    assert back.detail["skipped"] == SEEDED
    assert back.detail["conflicts"] == 0
    assert back.final.warnings == []


def test_keep_newer_copies_back_the_secondarys_writes_and_keeps_the_newer_primary_blob(
    blob_world: BlobWorld,
) -> None:
    outage(blob_world)

    back = sync(blob_world, copy_back(blob_world, on_conflict="keep_newer"))

    detail = back.detail
    assert detail["copied"] == len(NEW_IN_SECONDARY) + len(CHANGED_IN_SECONDARY)
    assert detail["skipped"] == SEEDED - len(CHANGED_IN_SECONDARY) - 1
    assert detail["on_conflict"] == "keep_newer"
    assert (detail["conflicts"], detail["conflicts_kept"], detail["conflicts_overwritten"]) == (1, 1, 0)
    assert detail["conflict_samples"] == [NEWER_IN_PRIMARY]
    assert back.final.warnings == [
        "1 blobs in the target are newer than the source and were kept (on_conflict: keep_newer)"
    ]
    assert "1 newer in the target kept" in back.final.summary
    assert content(blob_world, "primary", NEWER_IN_PRIMARY) == b"changed in the primary later"
    for name in NEW_IN_SECONDARY:
        assert content(blob_world, "primary", name) == b"written during the outage"
    assert content(blob_world, "primary", "img/0001.bin") == b"changed in the secondary"
    assert content(blob_world, "primary", CHANGED_IN_SECONDARY[2]) == b"rewritten, metadata kept"

    # Forward again: only the primary's newer blob goes out; what came back is not sent back again.
    forward = sync(blob_world, blob_world.step())
    assert forward.detail["copied"] == 1
    assert forward.detail["conflicts"] == 0
    assert content(blob_world, "secondary", NEWER_IN_PRIMARY) == b"changed in the primary later"
    assert sync(blob_world, blob_world.step()).detail["copied"] == 0
    again = sync(blob_world, copy_back(blob_world, on_conflict="keep_newer"))
    assert (again.detail["copied"], again.detail["conflicts"]) == (0, 0)


def test_overwrite_copies_over_the_newer_primary_blob_and_reports_it(blob_world: BlobWorld) -> None:
    outage(blob_world)

    back = sync(blob_world, copy_back(blob_world))  # on_conflict: overwrite, the default

    detail = back.detail
    assert detail["copied"] == len(NEW_IN_SECONDARY) + len(CHANGED_IN_SECONDARY) + 1
    assert (detail["conflicts"], detail["conflicts_kept"], detail["conflicts_overwritten"]) == (1, 0, 1)
    assert detail["conflict_samples"] == [NEWER_IN_PRIMARY]
    assert back.final.warnings == [
        "1 blobs in the target were newer than the source and were overwritten (on_conflict: overwrite)"
    ]
    assert content(blob_world, "primary", NEWER_IN_PRIMARY) == b"changed in the secondary first"

    forward = sync(blob_world, blob_world.step())
    assert forward.detail["copied"] == 0
    assert forward.detail["skipped"] == SEEDED + len(NEW_IN_SECONDARY)


@pytest.mark.parametrize("on_conflict", ["keep_newer", "overwrite"])
def test_a_target_blob_rewritten_after_the_listing_is_kept_only_with_keep_newer(
    blob_world: BlobWorld, on_conflict: str
) -> None:
    """The copy is conditional on the target the diff saw; when that fails because the primary was written
    since, keep_newer leaves the newer blob (counted as a conflict), overwrite copies as before."""
    forward_sync(blob_world)
    name = CHANGED_IN_SECONDARY[0]
    blob_world.target.upload_blob(name, b"changed in the secondary", overwrite=True)
    step = copy_back(blob_world, on_conflict=on_conflict)
    ctx = blob_world.context(step, mode="sync")
    progress = BLOB.begin(ctx, step)  # listed: the copy is decided, not done
    assert progress.work
    time.sleep(1.1)
    blob_world.source.upload_blob(name, b"written in the primary meanwhile", overwrite=True)

    drive = blob_world.go_on(ctx, step, progress)

    kept = on_conflict == "keep_newer"
    assert drive.detail["copied"] == (0 if kept else 1)
    assert drive.detail["failed"] == 0
    assert drive.detail["conflicts_kept"] == (1 if kept else 0)
    assert drive.detail["conflict_samples"] == ([name] if kept else [])
    expected = b"written in the primary meanwhile" if kept else b"changed in the secondary"
    assert content(blob_world, "primary", name) == expected
