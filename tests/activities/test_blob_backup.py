"""blob_backup against a real Azurite with two accounts: what a user of the backup sees on the target."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

import pytest

from dr.errors import PermanentError
from dr.steps import get_kind
from dr.steps.blob import last_sync
from tests.activities.conftest import BlobWorld

BLOB = get_kind("blob_backup")


def seed(world: BlobWorld, count: int, prefix: str = "img/") -> None:
    for i in range(count):
        world.put(f"{prefix}{i:04d}.bin", f"blob {i}".encode() * 10)


def target_etags(world: BlobWorld) -> dict[str, str]:
    return {blob.name: blob.etag for blob in world.target.list_blobs()}


def test_first_sync_copies_content_settings_metadata_and_verifies(blob_world: BlobWorld) -> None:
    blob_world.put(
        "site/index.html",
        b"<h1>shop</h1>",
        content_type="text/html",
        metadata={"owner": "web", "Build": "42"},
        cache_control="max-age=60",
        content_language="en",
        content_disposition="inline",
    )
    script = gzip.compress(b"console.log('shop')" * 20)
    blob_world.put("site/app.js", script, content_type="text/javascript", content_encoding="gzip")
    # A blob committed from a block list has no Content-MD5 (as in Azure): size is what verifies it.
    blocks = blob_world.source.get_blob_client("big/parts.bin")
    blocks.stage_block("b1", b"a" * 3000)
    blocks.stage_block("b2", b"b" * 5000)
    blocks.commit_block_list(["b1", "b2"])

    drive = blob_world.run(blob_world.step())

    detail = drive.detail
    assert detail["copied"] == 3
    assert detail["verified"] == 3
    assert detail["failed"] == 0
    assert detail["bytes_copied"] == len(b"<h1>shop</h1>") + len(script) + 8000
    page = blob_world.target.get_blob_client("site/index.html").get_blob_properties()
    assert page.content_settings.content_type == "text/html"
    assert page.content_settings.cache_control == "max-age=60"
    assert page.content_settings.content_language == "en"
    assert page.content_settings.content_disposition == "inline"
    assert bytes(page.content_settings.content_md5) == hashlib.md5(b"<h1>shop</h1>").digest()
    assert page.metadata["owner"] == "web"
    assert page.metadata["Build"] == "42"
    source = blob_world.source.get_blob_client("site/index.html").get_blob_properties()
    assert page.metadata["dr_source_etag"] == source.etag.strip('"')
    gz = blob_world.target.get_blob_client("site/app.js")
    assert gz.get_blob_properties().content_settings.content_encoding == "gzip"
    assert gz.download_blob(decompress=False).readall() == script
    assert blob_world.target.get_blob_client("big/parts.bin").download_blob().readall() == b"a" * 3000 + b"b" * 5000
    newest = max(blob.last_modified for blob in blob_world.source.list_blobs())
    assert detail["rpo_watermark"] == newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Azurite: Copy Blob stands in for Put Blob From URL; gzip-encoded blobs go through the process.
    assert detail["copy_method"] == "client_copy,copy_blob"
    assert drive.final.rpo_estimate_seconds is not None


def test_unchanged_rerun_copies_nothing_in_one_call(blob_world: BlobWorld) -> None:
    seed(blob_world, 40)
    step = blob_world.step()
    blob_world.run(step)
    before = target_etags(blob_world)

    again = blob_world.run(step)

    assert again.calls == ["begin"]  # one listing of each side, no work items
    assert again.detail["copied"] == 0
    assert again.detail["skipped"] == 40
    assert target_etags(blob_world) == before


def test_only_new_and_changed_blobs_are_copied(blob_world: BlobWorld) -> None:
    seed(blob_world, 20)
    step = blob_world.step()
    blob_world.run(step)
    before = target_etags(blob_world)
    blob_world.put("img/0003.bin", b"new content")
    blob_world.put("img/0007.bin", b"blob 7" * 10)  # same bytes, rewritten: a new version all the same
    blob_world.source.get_blob_client("img/0009.bin").set_blob_metadata({"tag": "hero"})
    blob_world.put("img/new.bin", b"fresh")

    drive = blob_world.run(step)

    assert drive.detail["copied"] == 4
    assert drive.detail["skipped"] == 17
    after = target_etags(blob_world)
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert changed == ["img/0003.bin", "img/0007.bin", "img/0009.bin", "img/new.bin"]
    assert blob_world.target.get_blob_client("img/0003.bin").download_blob().readall() == b"new content"
    assert blob_world.target.get_blob_client("img/0009.bin").get_blob_properties().metadata["tag"] == "hero"


def test_deletes_are_mirrored_only_when_asked(blob_world: BlobWorld) -> None:
    seed(blob_world, 10)
    blob_world.run(blob_world.step())
    blob_world.source.delete_blob("img/0002.bin")
    blob_world.source.delete_blob("img/0005.bin")

    kept = blob_world.run(blob_world.step())
    assert kept.detail["deleted"] == 0
    assert kept.detail["extra_in_target"] == 2
    assert "img/0002.bin" in blob_world.target_names()

    mirrored = blob_world.run(blob_world.step(mirror_deletes=True))
    assert mirrored.detail["deleted"] == 2
    assert blob_world.target_names() == sorted(blob.name for blob in blob_world.source.list_blobs())


def test_prefix_limits_copies_and_deletes(blob_world: BlobWorld) -> None:
    seed(blob_world, 5, prefix="img/")
    seed(blob_world, 5, prefix="docs/")
    blob_world.run(blob_world.step(prefix="img/"))
    assert blob_world.target_names() == [f"img/{i:04d}.bin" for i in range(5)]

    blob_world.target.upload_blob("docs/only-on-target.txt", b"keep me")
    drive = blob_world.run(blob_world.step(prefix="img/", mirror_deletes=True))
    assert drive.detail["deleted"] == 0  # outside the prefix: not this step's business
    assert "docs/only-on-target.txt" in blob_world.target_names()


def test_many_pages_many_work_items_small_payloads(blob_world: BlobWorld) -> None:
    seed(blob_world, 125)
    step = blob_world.step(page_size=10, max_parallel_pages=3, copy_concurrency=4)

    drive = blob_world.run(step)

    assert drive.detail["copied"] == 125
    assert drive.detail["verified"] == 125
    assert blob_world.target_names() == sorted(blob.name for blob in blob_world.source.list_blobs())
    copy_items = [item for item in drive.work_items if item["op"] == "copy"]
    list_items = [item for item in drive.work_items if item["op"] == "list"]
    assert len(copy_items) == 13  # one per chunk of page_size operations
    assert len(list_items) >= 4  # the diff went on in work items, next to the copies
    # Each copy item checked its own chunk against the target listing: no verification round at the end.
    assert drive.detail["verify_method"] == "listing"
    assert not [item for item in drive.work_items if item["op"] == "verify"]
    # Nothing that travels through the orchestration history grows with the number of blobs.
    payloads = [p.model_dump(mode="json") for p in drive.progresses] + drive.work_items + drive.work_results
    assert max(len(json.dumps(p)) for p in payloads) < 4000
    assert not any("img/0" in json.dumps(p) for p in payloads)

    blob_world.put("img/0100.bin", b"changed")
    blob_world.source.delete_blob("img/0120.bin")
    rerun = blob_world.run(step.model_copy(update={"mirror_deletes": True}))
    assert (rerun.detail["copied"], rerun.detail["deleted"], rerun.detail["skipped"]) == (1, 1, 123)


def test_work_item_run_twice_does_the_work_once(blob_world: BlobWorld) -> None:
    seed(blob_world, 12)
    step = blob_world.step()
    ctx = blob_world.context(step)
    progress = BLOB.begin(ctx, step)
    [item] = progress.work

    first = BLOB.work(ctx, step, item)
    etags = target_etags(blob_world)
    second = BLOB.work(ctx, step, item)

    assert second["replayed"] is True
    assert second["counts"] == first["counts"]
    assert target_etags(blob_world) == etags
    rest = blob_world.go_on(ctx, step, BLOB.poll(ctx, step, progress.state, [second]))
    assert rest.detail["copied"] == 12
    assert rest.detail["verified"] == 12


def test_interrupted_work_item_rerun_finds_copies_done(blob_world: BlobWorld) -> None:
    """An attempt that copied and died before recording its result: the next attempt's conditional copies
    notice the blobs are there (If-None-Match) and leave them be."""
    seed(blob_world, 8)
    step = blob_world.step()
    ctx = blob_world.context(step)
    progress = BLOB.begin(ctx, step)
    [item] = progress.work
    BLOB.work(ctx, step, item)
    etags = target_etags(blob_world)
    results = blob_world.service("secondary").get_container_client("dr-state")
    [result_file] = [b.name for b in results.list_blobs() if b.name.endswith(".result.json") and ctx.run_id in b.name]
    results.delete_blob(result_file)  # as if the first attempt died before writing it

    again = BLOB.work(ctx, step, item)

    assert again["replayed"] is False
    assert again["counts"]["unchanged_on_retry"] == 8
    assert again["counts"]["copied"] == 8
    assert target_etags(blob_world) == etags


def test_source_changed_after_listing_copies_the_new_version(blob_world: BlobWorld) -> None:
    seed(blob_world, 3)
    step = blob_world.step()
    ctx = blob_world.context(step)
    progress = BLOB.begin(ctx, step)
    blob_world.put("img/0001.bin", b"written after the listing")

    results = [BLOB.work(ctx, step, item) for item in progress.work]
    done = blob_world.go_on(ctx, step, BLOB.poll(ctx, step, progress.state, results))

    assert done.detail["copied"] == 3
    assert done.detail["verified"] == 3
    copy = blob_world.target.get_blob_client("img/0001.bin")
    assert copy.download_blob().readall() == b"written after the listing"
    source_etag = blob_world.source.get_blob_client("img/0001.bin").get_blob_properties().etag.strip('"')
    assert copy.get_blob_properties().metadata["dr_source_etag"] == source_etag


def test_a_blob_the_target_refuses_is_named_and_the_rest_is_copied(blob_world: BlobWorld) -> None:
    seed(blob_world, 6)
    step = blob_world.step()
    blob_world.run(step)
    for i in range(6):
        blob_world.put(f"img/{i:04d}.bin", f"version 2 of {i}".encode())
    blob_world.target.get_blob_client("img/0004.bin").acquire_lease()  # someone holds the copy

    with pytest.raises(PermanentError) as failure:
        blob_world.run(step)

    assert "img/0004.bin" in str(failure.value)
    assert "LeaseIdMissing" in str(failure.value)
    assert "1 blob(s) could not be copied" in str(failure.value)
    for i in (0, 1, 2, 3, 5):
        assert blob_world.target.get_blob_client(f"img/{i:04d}.bin").download_blob().readall() == (
            f"version 2 of {i}".encode()
        )
    # The refused blob still holds its earlier, complete copy.
    assert blob_world.target.get_blob_client("img/0004.bin").download_blob().readall() == b"blob 4" * 10


def test_sync_record_is_written_on_success_and_read_back(blob_world: BlobWorld) -> None:
    seed(blob_world, 3)
    step = blob_world.step()
    assert last_sync("shop-blobs", step) is None

    drive = blob_world.run(step)

    record = last_sync("shop-blobs", step)
    assert record is not None
    assert record.copied == 3
    assert record.rpo_watermark == drive.detail["rpo_watermark"]
    assert record.run_id == blob_world.run_ids[-1]
    # The run's working files (cursor, chunks, results) are gone; only the record stays.
    state = blob_world.service("secondary").get_container_client("dr-state")
    assert state.get_blob_client("blob-backup/shop-blobs/blobs/last-sync.json").exists()
    run_files = state.list_blobs(name_starts_with=f"blob-backup/shop-blobs/blobs/runs/{blob_world.run_ids[-1]}/")
    assert list(run_files) == []


def test_md5_mismatch_on_the_target_is_copied_again(blob_world: BlobWorld) -> None:
    """A target that claims the current version but holds other bytes (a bad earlier copy) is copied again."""
    seed(blob_world, 2)
    step = blob_world.step()
    blob_world.run(step)
    damaged = blob_world.target.get_blob_client("img/0000.bin")
    metadata = damaged.get_blob_properties().metadata
    damaged.upload_blob(b"x" * 60, overwrite=True, metadata=metadata)  # same size and marker, other bytes
    assert base64.b64encode(damaged.get_blob_properties().content_settings.content_md5)

    drive = blob_world.run(step)

    assert drive.detail["copied"] == 1
    assert damaged.download_blob().readall() == b"blob 0" * 10


@pytest.mark.parametrize(("blobs", "rounds"), [(23, 1), (25, 2)])
def test_a_small_last_chunk_is_copied_by_the_listing_that_finds_it(
    blob_world: BlobWorld, blobs: int, rounds: int
) -> None:
    # Pages of 10, two chunks a call: the begin hands out 2 chunks and a listing item, which finds the last
    # 3 (or 5) names. Up to one wave of copies (copy_concurrency 4) it copies them itself: no round of their own.
    seed(blob_world, blobs)
    step = blob_world.step(page_size=10, max_parallel_pages=2, copy_concurrency=4)

    drive = blob_world.run(step)

    assert (drive.detail["copied"], drive.detail["verified"], drive.detail["failed"]) == (blobs, blobs, 0)
    assert blob_world.target_names() == sorted(blob.name for blob in blob_world.source.list_blobs())
    assert drive.calls.count("poll") == rounds
    copy_items = [item for item in drive.work_items if item["op"] == "copy"]
    assert len(copy_items) == (2 if rounds == 1 else 3)
    tails = [result for result in drive.work_results if result.get("op") == "list" and result.get("tail")]
    assert [t["tail"]["counts"]["copied"] for t in tails] == ([3] if rounds == 1 else [])
