"""The blob sync's diff alone: the resumable merge-join of two paged listings, and its decision rule.

Listings are served from in-memory lists split into pages (a continuation token is the last name of the
page before, as Azurite's are); the state store keeps files in a dict. The diff is run call after call
from its saved cursor (JSON round trip included) until it says both listings are done, with random page
sizes, chunk sizes and budgets.
"""

from __future__ import annotations

import asyncio
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from dr.blobsync.diff import Budget, decide, diff_segment, is_current
from dr.blobsync.model import MAX_CONFLICT_SAMPLES, BlobInfo, Chunk, Cursor, ListingStats, OnConflict
from dr.blobsync.store import safe_segment
from dr.blobsync.transport import DoublingRetry, redact


class MemoryStore:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    async def write(self, name: str, model: BaseModel) -> None:
        self.files[name] = model.model_dump_json()

    async def read(self, name: str, model: type[BaseModel]) -> Any:
        return model.model_validate_json(self.files[name]) if name in self.files else None


def pages_of(blobs: list[BlobInfo], size: int, reads: list[str]) -> Any:
    async def fetch(token: str | None) -> tuple[list[BlobInfo], str | None]:
        reads.append(token or "")
        rest = [blob for blob in blobs if token is None or blob.name > token]
        page = rest[:size]
        return page, (page[-1].name if len(rest) > size else None)

    return fetch


def source_blob(name: str, version: int) -> BlobInfo:
    return BlobInfo(name=name, size=version * 10, etag=f"0x{version}", last_modified=f"2026-01-01T00:00:{version:02d}Z")


def target_blob(
    name: str, synced_version: int | None, size: int, last_modified: str = "2026-01-01T00:00:00Z"
) -> BlobInfo:
    return BlobInfo(
        name=name,
        size=size,
        etag=f"t{name}",
        last_modified=last_modified,
        synced_etag=f"0x{synced_version}" if synced_version is not None else None,
    )


names = st.text(alphabet="abcxyz/-._0189", min_size=1, max_size=6)


@st.composite
def containers(draw: st.DrawFn) -> tuple[list[BlobInfo], list[BlobInfo]]:
    source_names = sorted(draw(st.sets(names, max_size=60)))
    target_only = sorted(draw(st.sets(names, max_size=25)) - set(source_names))
    source = [source_blob(name, draw(st.integers(1, 3))) for name in source_names]
    target = []
    for index, blob in enumerate(source):
        state = draw(st.sampled_from(["absent", "current", "stale", "foreign", "newer", "copied_back", "tie"]))
        version = int(blob.etag[2:])
        if state == "current":
            target.append(target_blob(blob.name, version, blob.size))
        elif state == "stale":
            target.append(target_blob(blob.name, version + 1, blob.size))
        elif state == "foreign":  # a blob not written by a sync
            target.append(target_blob(blob.name, None, blob.size))
        elif state == "newer":  # changed after the source: a conflict
            target.append(target_blob(blob.name, None, blob.size, last_modified="2026-01-01T00:01:00Z"))
        elif state == "tie":  # changed in the source's second: not newer
            target.append(target_blob(blob.name, None, blob.size, last_modified=blob.last_modified))
        elif state == "copied_back":  # the source is a sync's copy of this target blob (a copy-back)
            copied = target_blob(blob.name, None, blob.size, last_modified="2026-01-01T00:01:00Z")
            target.append(copied)
            source[index] = blob.model_copy(update={"synced_etag": copied.etag})
    target += [target_blob(name, 1, 10) for name in target_only]
    target.sort(key=lambda blob: blob.name)
    return source, target


@settings(max_examples=150, deadline=None)
@given(
    world=containers(),
    source_page=st.integers(1, 7),
    target_page=st.integers(1, 7),
    chunk_size=st.integers(1, 9),
    max_chunks=st.integers(1, 3),
    mirror_deletes=st.booleans(),
    on_conflict=st.sampled_from(["overwrite", "keep_newer"]),
)
def test_diff_in_any_number_of_calls_finds_exactly_the_changes(
    world: tuple[list[BlobInfo], list[BlobInfo]],
    source_page: int,
    target_page: int,
    chunk_size: int,
    max_chunks: int,
    mirror_deletes: bool,
    on_conflict: OnConflict,
) -> None:
    source, target = world
    store = MemoryStore()
    source_reads: list[str] = []
    target_reads: list[str] = []
    cursor: Cursor | None = Cursor()
    chunk_names: list[str] = []
    totals = ListingStats()
    calls = 0
    while cursor is not None:
        calls += 1
        assert calls < 500
        outcome = asyncio.run(
            diff_segment(
                cursor=cursor,
                source_pages=pages_of(source, source_page, source_reads),
                target_pages=pages_of(target, target_page, target_reads),
                store=store,  # type: ignore[arg-type]
                mirror_deletes=mirror_deletes,
                chunk_size=chunk_size,
                budget=Budget(max_chunks=max_chunks, seconds=60),
                on_conflict=on_conflict,
            )
        )
        assert len(outcome.chunks) <= max_chunks + max(source_page, target_page)
        chunk_names += outcome.chunks
        totals.add(outcome.stats)
        # What a call leaves behind is at most the rest of one page per side.
        if outcome.cursor is not None:
            assert len(outcome.cursor.source.buffer) <= source_page
            assert len(outcome.cursor.target.buffer) <= target_page
            cursor = Cursor.model_validate_json(outcome.cursor.model_dump_json())
        else:
            cursor = None

    chunks = [Chunk.model_validate_json(store.files[name]) for name in chunk_names]
    ops = [op for chunk in chunks for op in chunk.ops]
    target_by_name = {blob.name: blob for blob in target}
    source_names = {blob.name for blob in source}
    decisions = {
        blob.name: decide(blob, target_by_name.get(blob.name), mirror_deletes=False, on_conflict=on_conflict)
        for blob in source
    }
    expected_copies = [name for name, decision in decisions.items() if decision in ("copy", "overwrite")]
    conflicts = [name for name, decision in decisions.items() if decision in ("keep_newer", "overwrite")]
    expected_deletes = [blob.name for blob in target if blob.name not in source_names] if mirror_deletes else []
    assert [op.blob.name for op in ops if op.op == "copy"] == expected_copies
    assert [op.blob.name for op in ops if op.op == "delete"] == expected_deletes
    assert [op.blob.name for op in ops] == sorted(op.blob.name for op in ops)  # name order, across chunks
    assert all(1 <= len(chunk.ops) <= chunk_size for chunk in chunks)
    for op in ops:
        if op.op == "copy" and op.blob.name in target_by_name:
            assert op.target_etag == target_by_name[op.blob.name].etag  # the copy is conditional on it
    assert totals.listed_source == len(source)
    assert totals.listed_target == len(target)
    assert totals.skipped == sum(decision == "skip" for decision in decisions.values())
    assert_conflicts(totals, conflicts, on_conflict, len(source))
    assert totals.to_copy == len(expected_copies)
    assert totals.bytes_to_copy == sum(blob.size for blob in source if blob.name in set(expected_copies))
    assert totals.newest_source_change == max((blob.last_modified for blob in source), default=None)
    # Every page is read once, however the calls were cut.
    assert sorted(source_reads) == sorted(set(source_reads))
    assert sorted(target_reads) == sorted(set(target_reads))
    # A verification listing from a chunk's token returns everything after verify_after, which is before
    # the chunk's first name; verify_span counts the names (both sides) from its first to its last op.
    union = sorted({blob.name for blob in source} | {blob.name for blob in target})
    for chunk in chunks:
        assert chunk.verify_after == chunk.verify_from  # here a token is the name it resumes after
        assert chunk.verify_after is None or chunk.verify_after < chunk.ops[0].blob.name
        first, last = chunk.ops[0].blob.name, chunk.ops[-1].blob.name
        assert chunk.verify_span == sum(1 for name in union if first <= name <= last)


def assert_conflicts(totals: ListingStats, conflicts: list[str], on_conflict: OnConflict, listed: int) -> None:
    """Every source blob is unchanged, copied or a conflict kept; the counts and first names add up over calls."""
    assert totals.skipped + totals.to_copy + totals.conflicts - totals.conflicts_overwritten == listed
    assert totals.conflicts == len(conflicts)
    assert totals.conflicts_overwritten == (len(conflicts) if on_conflict == "overwrite" else 0)
    assert totals.conflict_samples == conflicts[:MAX_CONFLICT_SAMPLES]


def test_unchanged_containers_produce_no_chunks_and_one_pass_of_reads() -> None:
    source = [source_blob(f"n{i:03d}", 1) for i in range(100)]
    target = [target_blob(f"n{i:03d}", 1, 10) for i in range(100)]
    store = MemoryStore()
    reads: list[str] = []
    outcome = asyncio.run(
        diff_segment(
            cursor=Cursor(),
            source_pages=pages_of(source, 10, reads),
            target_pages=pages_of(target, 10, reads),
            store=store,  # type: ignore[arg-type]
            mirror_deletes=True,
            chunk_size=5,
            budget=Budget(max_chunks=1, seconds=60),
        )
    )
    assert outcome.cursor is None
    assert outcome.chunks == []
    assert store.files == {}
    assert outcome.stats.skipped == 100
    assert len(reads) == 20


def test_current_means_same_source_version_size_md5_and_a_finished_copy() -> None:
    source = BlobInfo(name="a", size=5, etag="0x1", last_modified="2026-01-01T00:00:00Z", md5="AAAA")
    good = BlobInfo(name="a", size=5, etag="t", last_modified="x", md5="AAAA", synced_etag="0x1")
    assert is_current(source, good)
    assert not is_current(source, good.model_copy(update={"synced_etag": "0x0"}))
    assert not is_current(source, good.model_copy(update={"size": 6}))
    assert not is_current(source, good.model_copy(update={"md5": "BBBB"}))
    assert not is_current(source, good.model_copy(update={"copy_status": "pending"}))
    assert is_current(source, good.model_copy(update={"md5": None}))  # block-list blobs have no MD5
    assert decide(None, good, mirror_deletes=False) == "extra"
    assert decide(None, good, mirror_deletes=True) == "delete"
    assert decide(source, None, mirror_deletes=True) == "copy"


def test_a_copy_either_way_is_current() -> None:
    """Copying back, the source (the secondary's blob) is the sync's copy of the target (the primary's)."""
    primary = BlobInfo(name="a", size=5, etag="0xP", last_modified="2026-01-01T00:00:00Z", md5="AAAA")
    secondary = BlobInfo(name="a", size=5, etag="0xS", last_modified="2026-01-01T00:00:09Z", synced_etag="0xP")
    assert is_current(primary, secondary)  # forward
    assert is_current(secondary, primary)  # back
    assert not is_current(secondary.model_copy(update={"size": 6}), primary)
    assert not is_current(secondary.model_copy(update={"md5": "BBBB"}), primary)
    assert not is_current(secondary, primary.model_copy(update={"copy_status": "failed"}))
    assert not is_current(secondary, primary.model_copy(update={"etag": "0xP2"}))  # the primary changed since
    assert not is_current(secondary.model_copy(update={"synced_etag": None}), primary)
    neither = primary.model_copy(update={"etag": "x"}), primary.model_copy(update={"etag": "y"})
    assert not is_current(*neither)  # no sync wrote either: whatever their sizes, not known to be one version


@pytest.mark.parametrize("policy", get_args(OnConflict))
def test_decide_every_branch(policy: OnConflict) -> None:
    source = BlobInfo(name="a", size=5, etag="0x1", last_modified="2026-01-01T00:00:10Z")
    older = BlobInfo(name="a", size=7, etag="t0", last_modified="2026-01-01T00:00:09Z")
    newer = older.model_copy(update={"last_modified": "2026-01-01T00:00:11Z"})
    copy = newer.model_copy(update={"size": 5, "synced_etag": "0x1"})  # written by the sync after the source
    copied_back = source.model_copy(update={"synced_etag": "t0", "size": 7})

    def decided(s: BlobInfo | None, t: BlobInfo | None, mirror_deletes: bool = False) -> str:
        return decide(s, t, mirror_deletes=mirror_deletes, on_conflict=policy)

    with pytest.raises(ValueError, match="nothing to decide"):
        decided(None, None)
    assert decided(source, None) == "copy"
    assert decided(None, newer) == "extra"
    assert decided(None, newer, mirror_deletes=True) == "delete"  # deletes ignore the policy
    assert decided(source, copy) == "skip"  # newer, but the same version: current wins
    assert decided(copied_back, older) == "skip"
    assert decided(source, older) == "copy"
    assert decided(source, older.model_copy(update={"last_modified": source.last_modified})) == "copy"  # a tie
    assert decided(source, newer) == policy  # a conflict
    assert decided(source.model_copy(update={"last_modified": ""}), newer) == "copy"  # no time: no conflict
    assert decide(source, newer, mirror_deletes=False) == "overwrite"  # the default, as before


@pytest.mark.parametrize("policy", get_args(OnConflict))
def test_conflicts_are_counted_over_calls_and_their_names_bounded(policy: OnConflict) -> None:
    source = [source_blob(f"n{i:03d}", 1) for i in range(50)]
    target = [target_blob(f"n{i:03d}", None, 10, last_modified="2026-01-01T00:05:00Z") for i in range(50)]
    store = MemoryStore()
    cursor: Cursor | None = Cursor()
    totals = ListingStats()
    ops = []
    while cursor is not None:
        outcome = asyncio.run(
            diff_segment(
                cursor=cursor,
                source_pages=pages_of(source, 7, []),
                target_pages=pages_of(target, 7, []),
                store=store,  # type: ignore[arg-type]
                mirror_deletes=False,
                chunk_size=3,
                budget=Budget(max_chunks=1, seconds=60),
                on_conflict=policy,
            )
        )
        totals.add(ListingStats.model_validate_json(outcome.stats.model_dump_json()))  # as the history has it
        ops += [op for name in outcome.chunks for op in Chunk.model_validate_json(store.files[name]).ops]
        cursor = outcome.cursor
    assert totals.conflicts == 50
    assert totals.conflict_samples == [f"n{i:03d}" for i in range(MAX_CONFLICT_SAMPLES)]
    if policy == "keep_newer":
        assert (totals.skipped, totals.to_copy, totals.conflicts_overwritten, ops) == (0, 0, 0, [])
    else:
        assert totals.to_copy == totals.conflicts_overwritten == len(ops) == 50
        assert all(op.target_etag == f"t{op.blob.name}" for op in ops)  # still conditional on what was seen


def test_retry_backoff_doubles_from_the_plans_first_interval() -> None:
    policy = DoublingRetry(first_backoff=1.0, attempts=5, max_backoff=5.0)
    waits = [policy.get_backoff_time({"count": n}) for n in (1, 2, 3, 4)]
    assert 0.8 <= waits[0] <= 1.2
    assert 1.6 <= waits[1] <= 2.4
    assert 3.2 <= waits[2] <= 4.8
    assert waits[3] <= 6.0  # capped


def test_sas_fields_never_reach_a_message() -> None:
    url = "copy of https://a.blob.core.windows.net/c/b.txt?sv=2024&se=2026&sp=r&sig=AbC%2Bsecret"
    cleaned = redact(url)
    assert "secret" not in cleaned
    assert "sig=***" in cleaned


def test_state_paths_are_safe_and_distinct() -> None:
    assert safe_segment("run-1") == "run-1"
    odd = safe_segment("run:1/2")
    assert "/" not in odd and ":" not in odd
    assert safe_segment("run:1/2") != safe_segment("run_1_2")


def test_the_next_page_is_asked_for_before_the_current_one_is_merged() -> None:
    """A listing page's round trip and the service's time overlap the merge of the page before (and the chunk
    writes), and the page that would come after the call's last chunk is not asked for."""
    source = [source_blob(f"n{i:02d}", 1) for i in range(20)]
    events: list[str] = []

    class RecordingStore(MemoryStore):
        def write(self, name: str, model: BaseModel) -> Any:  # called when the diff hands a chunk over
            events.append(f"chunk {name.rsplit('-', 1)[-1].removesuffix('.json')}")
            return super().write(name, model)

    def recorded(fetch: Any, side: str) -> Any:
        async def fetch_recorded(token: str | None) -> tuple[list[BlobInfo], str | None]:
            events.append(f"{side} page after {token or '-'}")
            await asyncio.sleep(0.01)  # the round trip
            return await fetch(token)

        return fetch_recorded

    outcome = asyncio.run(
        diff_segment(
            cursor=Cursor(),
            source_pages=recorded(pages_of(source, 5, []), "source"),
            target_pages=recorded(pages_of([], 5, []), "target"),
            store=RecordingStore(),  # type: ignore[arg-type]
            mirror_deletes=False,
            chunk_size=5,
            budget=Budget(max_chunks=3, seconds=60),
        )
    )

    assert len(outcome.chunks) == 3
    assert events == [
        "source page after -",
        "target page after -",
        "source page after n04",  # before page 1's chunk
        "chunk 0000",
        "source page after n09",
        "chunk 0001",
        "chunk 0002",  # and no page after n14: the third chunk spends the budget
    ]


def test_a_failed_page_fails_the_call_and_leaves_nothing_running() -> None:
    source = [source_blob(f"n{i:02d}", 1) for i in range(20)]
    store = MemoryStore()

    async def failing_after_first(token: str | None) -> tuple[list[BlobInfo], str | None]:
        if token is not None:
            raise RuntimeError("the service went away")
        return source[:5], source[4].name

    async def run() -> set[asyncio.Task[Any]]:
        with pytest.raises(RuntimeError, match="went away"):
            await diff_segment(
                cursor=Cursor(),
                source_pages=failing_after_first,
                target_pages=pages_of([], 5, []),
                store=store,  # type: ignore[arg-type]
                mirror_deletes=False,
                chunk_size=5,
                budget=Budget(max_chunks=3, seconds=60),
            )
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    assert asyncio.run(run()) == set()
