"""The blob check's backlog facts (dr.whatif's blob model and data at risk) against real Azurite: what changed
at the source since the last standing sync, counted read-only and bounded."""

from __future__ import annotations

import time
import uuid

from dr.blobsync.transport import run_async
from dr.clients import get_clients
from dr.steps.blob import count_backlog
from tests.activities.conftest import BLOB, BlobWorld


def test_backlog_counts_the_blobs_changed_since_the_last_sync(blob_world: BlobWorld) -> None:
    for n in range(5):
        blob_world.put(f"old-{n}.bin", b"x" * 100)
    step = blob_world.step(id=f"blobs-{uuid.uuid4().hex[:8]}")
    time.sleep(1.1)  # a blob of the sync's own second counts as changed (Last-Modified: one-second resolution)
    blob_world.run(step, mode="sync")
    time.sleep(1.1)  # Last-Modified has one-second resolution
    blob_world.put("old-0.bin", b"y" * 300)  # changed
    blob_world.put("new.bin", b"z" * 50)  # added

    checks = {check.name: check for check in BLOB.check(blob_world.context(step), step)}

    backlog = checks["last_standing_sync"].facts["backlog"]
    assert backlog["blobs"] == 2
    assert backlog["bytes"] == 350
    assert backlog["listed"] == 6
    assert backlog["complete"] is True
    assert backlog["text"] == "2 blob(s), 350 bytes"
    assert "changed at the source since: 2 blob(s)" in checks["last_standing_sync"].message


def test_backlog_is_a_lower_bound_when_the_listing_is_capped(blob_world: BlobWorld) -> None:
    for n in range(25):
        blob_world.put(f"b-{n:02d}.bin", b"x" * 10)
    step = blob_world.step(page_size=10)
    since = blob_world.source.get_blob_client("b-00.bin").get_blob_properties().last_modified

    async def count() -> dict:
        async with get_clients().async_session() as azure:
            return await count_backlog(azure, step, since, max_pages=2)

    backlog = run_async(count)
    assert backlog["pages"] == 2
    assert backlog["listed"] == 20
    assert backlog["complete"] is False
    assert backlog["text"].startswith("≥ ")


def test_no_backlog_without_a_standing_sync(blob_world: BlobWorld) -> None:
    blob_world.put("a.bin", b"a")
    step = blob_world.step(id=f"blobs-{uuid.uuid4().hex[:8]}")
    checks = {check.name: check for check in BLOB.check(blob_world.context(step), step)}
    assert "backlog" not in checks["last_standing_sync"].facts
