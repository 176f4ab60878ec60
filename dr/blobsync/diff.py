"""The diff: a merge-join of the source and target listings (both come back in name order), resumable.

A call lists a bounded number of pages (a time budget and a chunk budget), writes the blobs that need an
action as manifest chunks of at most ``chunk_size`` operations, and saves where both listings stand (the
unconsumed rest of each side's current page and its next continuation token) in a cursor file. Memory is
one page per side plus one chunk, however many blobs the containers hold; the history only ever sees file
names and counts.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .listing import PageFetcher
from .model import (
    BlobInfo,
    Chunk,
    Cursor,
    ListingStats,
    OnConflict,
    Op,
    SideCursor,
    is_newer,
    keep_samples,
    max_iso,
)

if TYPE_CHECKING:
    from .store import StateStore

# keep_newer / overwrite: a conflict (the target differs and is newer), left alone / copied over.
Decision = Literal["copy", "skip", "delete", "extra", "keep_newer", "overwrite"]


def is_current(source: BlobInfo, target: BlobInfo) -> bool:
    """True when both hold one version: either is a copy of the other (the target recorded the source's ETag
    when a sync wrote it, or the source recorded the target's: copying back after a failover, the secondary's
    blob is a copy of the primary's), the sizes agree, the MD5s agree where both are known, and no copy into
    the target is unfinished or failed."""
    return (
        (target.synced_etag == source.etag or (source.synced_etag is not None and source.synced_etag == target.etag))
        and target.size == source.size
        and (source.md5 is None or target.md5 is None or source.md5 == target.md5)
        and target.copy_status in (None, "success")
    )


def decide(
    source: BlobInfo | None, target: BlobInfo | None, *, mirror_deletes: bool, on_conflict: OnConflict = "overwrite"
) -> Decision:
    if source is None and target is None:
        raise ValueError("nothing to decide")
    if target is None:
        return "copy"
    if source is None:
        return "delete" if mirror_deletes else "extra"
    if is_current(source, target):
        return "skip"
    # A source at least as new as the target is copied: Last-Modified has whole seconds, a tie is no conflict.
    return on_conflict if is_newer(target, source) else "copy"


class _Side:
    def __init__(self, cursor: SideCursor, fetch: PageFetcher) -> None:
        self.cursor = cursor
        self.fetch = fetch
        self.index = 0  # into cursor.buffer
        # The next page, asked for while this one is merged: (its token, the fetch under way).
        self._ahead: tuple[str | None, asyncio.Task[tuple[list[BlobInfo], str | None]]] | None = None

    @property
    def remaining(self) -> int:
        return len(self.cursor.buffer) - self.index

    @property
    def needs_page(self) -> bool:
        return self.index >= len(self.cursor.buffer) and not self.cursor.exhausted

    def peek(self) -> BlobInfo | None:
        return self.cursor.buffer[self.index] if self.index < len(self.cursor.buffer) else None

    def pop(self) -> BlobInfo:
        blob = self.cursor.buffer[self.index]
        self.index += 1
        self.cursor.page_consumed += 1
        return blob

    def fetch_ahead(self) -> None:
        """Ask for the page after the current one now: the round trip and the service's time run while this
        page is merged and its chunks are written, instead of after."""
        cursor = self.cursor
        if self._ahead is None and cursor.started and not cursor.exhausted:
            self._ahead = (cursor.next_token, asyncio.ensure_future(self.fetch(cursor.next_token)))

    async def load_next_page(self) -> None:
        cursor = self.cursor
        token = cursor.next_token if cursor.started else None
        if self._ahead is not None and self._ahead[0] == token:
            ahead, self._ahead = self._ahead[1], None
            blobs, next_token = await ahead
        else:
            await self.close()
            blobs, next_token = await self.fetch(token)
        self.index = 0
        cursor.buffer, cursor.page_token, cursor.next_token = blobs, token, next_token
        cursor.page_after = cursor.page_last  # the name this page's token resumes after
        if blobs:  # an empty page (possible with a token) moves no name bound
            cursor.page_last = blobs[-1].name
        cursor.started, cursor.page_consumed = True, 0
        cursor.exhausted = next_token is None

    async def close(self) -> None:
        """A page asked for ahead and not needed (the budget ended the call first) is dropped, its error too."""
        ahead, self._ahead = self._ahead, None
        await _cancel([ahead[1]] if ahead else [])

    def saved(self) -> SideCursor:
        rest = self.cursor.model_copy()
        rest.buffer = self.cursor.buffer[self.index :]
        return rest


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    """Stop tasks no longer wanted and wait until they have ended; their results and errors are dropped."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class Budget:
    """When a diff call stops: enough chunks for one round of work items, or enough time spent."""

    max_chunks: int
    seconds: float
    started: float = field(default_factory=time.monotonic)

    def spent(self, chunks: int) -> bool:
        return chunks >= self.max_chunks or time.monotonic() - self.started >= self.seconds


@dataclass
class DiffOutcome:
    token: str
    chunks: list[str]
    cursor: Cursor | None  # None: both listings finished
    stats: ListingStats
    last_chunk: Chunk | None = None  # the last chunk written (``chunks[-1]``)


class ChunkWriter:
    """Collects operations into chunks and writes each full chunk to the store, in the background: the
    listing goes on meanwhile, and ``drain`` waits for every write before the call answers."""

    def __init__(self, store: StateStore, chunk_size: int) -> None:
        self.store = store
        self.chunk_size = chunk_size
        self.token = secrets.token_hex(4)
        self.names: list[str] = []
        self.ops: list[Op] = []
        self.verify_from: str | None = None
        self.verify_after: str | None = None
        self.first_position = 0
        self.last_position = 0
        self._writes: list[asyncio.Task[None]] = []
        self.last: Chunk | None = None

    def add(self, op: Op, target: _Side, position: int) -> None:
        if not self.ops:
            # Where a verification listing of this chunk can start: the target page being read now.
            self.verify_from, self.verify_after = target.cursor.page_token, target.cursor.page_after
            self.first_position = position
        self.last_position = position
        self.ops.append(op)

    @property
    def full(self) -> bool:
        return len(self.ops) >= self.chunk_size

    def flush(self) -> None:
        if not self.ops:
            return
        chunk = Chunk(
            ops=self.ops,
            verify_from=self.verify_from,
            verify_after=self.verify_after,
            verify_span=self.last_position - self.first_position + 1,
        )
        name = f"chunk-{self.token}-{len(self.names):04d}.json"
        self.last = chunk
        self._writes.append(asyncio.ensure_future(self.store.write(name, chunk)))
        self.names.append(name)
        self.ops = []

    async def drain(self) -> None:
        """Every chunk written; the first failure raised once all have ended (none is left running)."""
        writes, self._writes = self._writes, []
        failures = [r for r in await asyncio.gather(*writes, return_exceptions=True) if isinstance(r, BaseException)]
        if failures:
            raise failures[0]

    async def abandon(self) -> None:
        writes, self._writes = self._writes, []
        await _cancel(writes)


async def diff_segment(
    *,
    cursor: Cursor,
    source_pages: PageFetcher,
    target_pages: PageFetcher,
    store: StateStore,
    mirror_deletes: bool,
    chunk_size: int,
    budget: Budget,
    on_conflict: OnConflict = "overwrite",
) -> DiffOutcome:
    """Advance the merge-join from ``cursor`` until both listings end or the budget is spent."""
    source, target = _Side(cursor.source, source_pages), _Side(cursor.target, target_pages)
    writer = ChunkWriter(store, chunk_size)
    stats = ListingStats()
    position = 0  # names passed in this call, both sides merged
    finished = False
    try:
        while True:
            hungry = [side for side in (source, target) if side.needs_page]
            if hungry:
                if budget.spent(len(writer.names)):
                    break
                # Both sides usually run out together (same names): fetch their pages concurrently.
                await asyncio.gather(*(side.load_next_page() for side in hungry))
                stats.pages += len(hungry)
                room = (budget.max_chunks - len(writer.names)) * chunk_size - len(writer.ops)
                ahead = [
                    side
                    for side, other in ((source, target), (target, source))
                    if _sure_to_need_next_page(side, other, room)
                ]
                for side in ahead:
                    side.fetch_ahead()
                if ahead:
                    await asyncio.sleep(0)  # the requests go out now; the merge below runs while they travel
                continue
            if source.peek() is None and target.peek() is None:
                finished = True
                break
            position += 1
            op = _merge_next(source, target, stats, mirror_deletes, on_conflict)
            if op is not None:
                writer.add(op, target, position)
                if writer.full:
                    writer.flush()
                    if budget.spent(len(writer.names)):
                        break
        writer.flush()
        await writer.drain()
    except BaseException:
        await writer.abandon()
        raise
    finally:
        await asyncio.gather(source.close(), target.close())
    next_cursor = None if finished else Cursor(source=source.saved(), target=target.saved())
    return DiffOutcome(token=writer.token, chunks=writer.names, cursor=next_cursor, stats=stats, last_chunk=writer.last)


def _sure_to_need_next_page(side: _Side, other: _Side, room: int) -> bool:
    """Whether this call will read ``side``'s next page: the merge passes its last buffered name before the
    other side can need a page of its own, and the names buffered on both sides make fewer operations than the
    ``room`` left in the chunk budget. Never a page read for nothing (the time budget aside)."""
    if side.cursor.exhausted or side.remaining == 0:
        return False
    last = side.cursor.buffer[-1].name
    if not other.cursor.exhausted and (other.remaining == 0 or other.cursor.buffer[-1].name < last):
        return False
    return side.remaining + other.remaining < room


def _merge_next(
    source: _Side, target: _Side, stats: ListingStats, mirror_deletes: bool, on_conflict: OnConflict
) -> Op | None:
    """Take the next name of the merge-join (from one side, or both when they hold it) and decide on it."""
    s, t = source.peek(), target.peek()
    if t is None or (s is not None and s.name < t.name):
        return _account(stats, source.pop(), None, mirror_deletes, on_conflict)
    if s is None or t.name < s.name:
        return _account(stats, None, target.pop(), mirror_deletes, on_conflict)
    return _account(stats, source.pop(), target.pop(), mirror_deletes, on_conflict)


def _account(
    stats: ListingStats, s: BlobInfo | None, t: BlobInfo | None, mirror_deletes: bool, on_conflict: OnConflict
) -> Op | None:
    if s is not None:
        stats.listed_source += 1
        stats.newest_source_change = max_iso(stats.newest_source_change, s.last_modified)
    if t is not None:
        stats.listed_target += 1
    decision = decide(s, t, mirror_deletes=mirror_deletes, on_conflict=on_conflict)
    if decision == "skip":
        stats.skipped += 1
        return None
    if decision in ("keep_newer", "overwrite"):
        assert s is not None
        stats.conflicts += 1
        keep_samples(stats.conflict_samples, [s.name])
        if decision == "keep_newer":
            return None  # neither unchanged (skipped) nor copied: reported as a conflict kept
        stats.conflicts_overwritten += 1
    if decision == "extra":
        stats.extra_in_target += 1
        return None
    if decision == "delete":
        assert t is not None
        stats.to_delete += 1
        return Op(op="delete", blob=t, target_etag=t.etag)
    assert s is not None
    stats.to_copy += 1
    stats.bytes_to_copy += s.size
    return Op(op="copy", blob=s, target_etag=t.etag if t is not None else None)
