"""Verification alone, copies simulated on an in-memory target, some of them spoiled: a copy item's check of
its own chunk, and the end-of-run pass over chunks from a real diff. Each must confirm exactly the good
copies and send exactly the bad ones to recopy; the pass reads the target about once (not once per
chunk), however the calls are cut; the item's check reads about its own stretch."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dr.blobsync.diff import Budget, diff_segment
from dr.blobsync.model import BlobInfo, Chunk, ChunkOutcome, CopyResult, Cursor, VerifyCursor
from dr.blobsync.verifier import ListingCheck, VerifyPass, outcome_name, result_name
from tests.unit.test_blob_diff import MemoryStore, pages_of, source_blob, target_blob


def copied_version(source: BlobInfo) -> BlobInfo:
    return target_blob(source.name, int(source.etag[2:]), source.size)


@settings(max_examples=80, deadline=None)
@given(
    source_names=st.sets(st.integers(0, 400), min_size=1, max_size=120),
    existing=st.sets(st.integers(0, 400), max_size=80),
    spoiled=st.sets(st.integers(0, 400), max_size=10),
    page=st.integers(2, 25),
    chunk_size=st.integers(1, 30),
    one_chunk_per_call=st.booleans(),
)
def test_verification_confirms_good_copies_and_recopies_bad_ones(
    source_names: set[int], existing: set[int], spoiled: set[int], page: int, chunk_size: int, one_chunk_per_call: bool
) -> None:
    name = "b{:04d}".format
    source = [source_blob(name(i), 2) for i in sorted(source_names)]
    before = [target_blob(name(i), 1, 20) for i in sorted(existing)]  # older versions: all get copied
    store = MemoryStore()
    # The diff, in as many calls as its budget makes it.
    cursor: Cursor | None = Cursor()
    batches: list[tuple[str, int]] = []
    while cursor is not None:
        outcome = asyncio.run(
            diff_segment(
                cursor=cursor,
                source_pages=pages_of(source, page, []),
                target_pages=pages_of(before, page, []),
                store=store,  # type: ignore[arg-type]
                mirror_deletes=False,
                chunk_size=chunk_size,
                budget=Budget(max_chunks=2, seconds=60),
            )
        )
        if outcome.chunks:
            batches.append((outcome.token, len(outcome.chunks)))
        cursor = outcome.cursor
    # The copy items: every copy lands, except the spoiled ones (wrong bytes, or missing altogether).
    after = {blob.name: blob for blob in before}
    for token, count in batches:
        for index in range(count):
            ref = f"chunk-{token}-{index:04d}.json"
            chunk = Chunk.model_validate_json(store.files[ref])
            for op in chunk.ops:
                number = int(op.blob.name[1:])
                if number in spoiled and number % 2:
                    after.pop(op.blob.name, None)
                elif number in spoiled:
                    after[op.blob.name] = copied_version(op.blob).model_copy(update={"size": 999})
                else:
                    after[op.blob.name] = copied_version(op.blob)
            asyncio.run(store.write(outcome_name(ref), ChunkOutcome()))
            asyncio.run(store.write(result_name(ref), CopyResult(verify_method="deferred")))
    target_after = [after[key] for key in sorted(after)]

    # The pass in one call, or one chunk per call (a zero budget) with the cursor saved and read back.
    reads: list[str] = []
    verify: VerifyCursor | None = VerifyCursor(batches=batches)
    verified, recopy = 0, []
    calls = 0
    while verify is not None:
        calls += 1
        run = VerifyPass(store, pages_of(target_after, page, reads))  # type: ignore[arg-type]
        verify = asyncio.run(run.run(verify, 0 if one_chunk_per_call else 60))
        verified += run.counts.verified
        recopy += [op.blob.name for op in run.recopy]
        if verify is not None:
            verify = VerifyCursor.model_validate_json(verify.model_dump_json())

    bad = sorted(name(i) for i in source_names & spoiled)
    assert recopy == bad
    assert verified == len(source) - len(bad)
    chunks = sum(count for _, count in batches)
    assert len(reads) <= len(target_after) // page + 2 * chunks + 2
    if not one_chunk_per_call:
        assert calls == 1
        assert len(reads) <= len(target_after) // page + chunks + 1  # about one pass over the target


def listing_from(blobs: list[BlobInfo], size: int, start_from: str | None, reads: list[str]) -> Any:
    """The target listed as List Blobs with ``startFrom`` does it (None: a service that ignores it)."""
    return pages_of([blob for blob in blobs if start_from is None or blob.name >= start_from], size, reads)


@settings(max_examples=80, deadline=None)
@given(
    names=st.sets(st.integers(0, 300), min_size=1, max_size=120),
    stretch=st.tuples(st.integers(0, 119), st.integers(1, 40)),
    spoiled=st.sets(st.integers(0, 300), max_size=10),
    page=st.integers(2, 25),
    honours_start_from=st.booleans(),
)
def test_a_copy_item_checks_its_own_stretch_wherever_it_lies(
    names: set[int],
    stretch: tuple[int, int],
    spoiled: set[int],
    page: int,
    honours_start_from: bool,
) -> None:
    """A copy item's check lists the target from its chunk's first name: it confirms exactly the good copies
    and recopies exactly the bad ones, reads only about its own stretch where the service honours startFrom,
    and is still right where the service ignores it (then it reads from the first name)."""
    name = "b{:04d}".format
    ordered = sorted(names)
    first, count = stretch
    chunk_numbers = ordered[first : first + count]
    if not chunk_numbers:
        return
    expected = [source_blob(name(i), 2) for i in chunk_numbers]
    target = {name(i): copied_version(source_blob(name(i), 2)) for i in ordered}  # the rest: other chunks' copies
    for i in set(chunk_numbers) & spoiled:
        if i % 2:
            target.pop(name(i))
        else:
            target[name(i)] = target[name(i)].model_copy(update={"size": 999})
    listed = [target[key] for key in sorted(target)]
    reads: list[str] = []
    start = expected[0].name if honours_start_from else None
    check = ListingCheck(listing_from(listed, page, start, reads))
    check.counts.copied = len(expected)  # the copier counted them when they were copied

    asyncio.run(check.check_stretch(expected))

    bad = sorted(name(i) for i in set(chunk_numbers) & spoiled)
    assert [op.blob.name for op in check.recopy] == bad
    assert all(op.op == "copy" for op in check.recopy)
    assert check.counts.verified == len(expected) - len(bad)
    assert check.counts.copied == len(expected) - len(bad)
    if honours_start_from:
        assert len(reads) <= len(expected) // page + 2
