"""Checking copies against a listing of the target in name order, instead of a HEAD per blob.

A listing reads a thousand names for the price of a few requests, where a HEAD per blob would cost one
request each. :class:`ListingCheck` reads the target from where a chunk's stretch of names starts and seeks
each copied name in order; copies that do not check out are taken back and handed out again as a recopy
chunk.

A copy item checks its own dense chunk this way as soon as its copies are done, listing the target from the
chunk's first name (``startFrom``), while the other items of its round are still copying: the check
overlaps the copies and needs no round of its own.
:class:`VerifyPass` is the older end-of-run pass over every chunk that left its checking to later
(``deferred``): kept so that a run whose copy items were written by an earlier version still finishes.
It walks the chunks in name order and the target listing alongside, so every target page is read about
once, and is resumable: a call stops after its time budget and saves where it stands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .copier import MAX_FAILURE_NAMES, mismatch
from .listing import PageFetcher
from .model import BlobInfo, Chunk, ChunkOutcome, CopyCounts, CopyResult, Op, VerifyCursor
from .store import StateStore


def chunk_name(token: str, index: int) -> str:
    return f"chunk-{token}-{index:04d}.json"


def result_name(chunk_ref: str) -> str:
    return chunk_ref.removesuffix(".json") + ".result.json"


def outcome_name(chunk_ref: str) -> str:
    return chunk_ref.removesuffix(".json") + ".outcome.json"


def copies_made(chunk: Chunk, outcome: ChunkOutcome) -> list[BlobInfo]:
    """The source versions a copy item put on the target, in name order (what its check expects to find)."""
    skip = set(outcome.not_copied)
    return [
        outcome.refreshed.get(index, op.blob)
        for index, op in enumerate(chunk.ops)
        if op.op == "copy" and index not in skip
    ]


@dataclass
class _Page:
    token: str | None
    blobs: list[BlobInfo]
    next_token: str | None
    index: int = 0


@dataclass
class ListingCheck:
    """Copies checked against the target listing, read on in name order from where the check stands."""

    target_pages: PageFetcher
    counts: CopyCounts = field(default_factory=CopyCounts)
    failures: list[str] = field(default_factory=list)
    recopy: list[Op] = field(default_factory=list)
    page: _Page | None = None
    pages_read: int = 0

    async def check(self, chunk: Chunk, expected: list[BlobInfo], cursor: VerifyCursor) -> None:
        """Check ``expected`` (the chunk's copies, in name order; each counted as copied already): confirmed
        ones count as verified, the others are taken back and go to ``recopy``. ``cursor`` says where an
        earlier check left the listing (a fresh one: start at the chunk's own token) and is moved on."""
        await self._position(chunk, cursor)
        await self._confirm(expected)
        if self.page is not None:
            cursor.started = True
            cursor.page_token = self.page.token
            cursor.page_first = self.page.blobs[0].name if self.page.blobs else cursor.page_first

    async def check_stretch(self, expected: list[BlobInfo]) -> None:
        """Like :meth:`check`, with ``target_pages`` listing from the first expected name on (``start_from``):
        a copy item checking its own chunk reads about its own stretch of the target, wherever that lies."""
        await self._load(None)
        await self._confirm(expected)

    async def _confirm(self, expected: list[BlobInfo]) -> None:
        for blob in expected:
            actual = await self._seek(blob.name)
            problem = mismatch(blob, actual)
            if problem is None:
                self.counts.verified += 1
                continue
            # Take the copy back until the recopy proves it.
            self.counts.copied -= 1
            self.counts.bytes_copied -= blob.size
            self.recopy.append(Op(op="copy", blob=blob))
            if len(self.failures) < MAX_FAILURE_NAMES:
                self.failures.append(f"{blob.name}: {problem} (copied again)")

    async def _position(self, chunk: Chunk, cursor: VerifyCursor) -> None:
        """Go on from the page in hand, or jump to the chunk's own token when that starts further on."""
        after = chunk.verify_after
        if self.page is None:
            if not cursor.started or (after is not None and after > (cursor.page_first or "")):
                await self._load(chunk.verify_from)
            else:
                await self._load(cursor.page_token)  # where the previous call stopped
            return
        page = self.page
        if after is not None and page.next_token is not None and page.blobs and after >= page.blobs[-1].name:
            await self._load(chunk.verify_from)  # nothing of this page is needed any more

    async def _load(self, token: str | None) -> None:
        blobs, next_token = await self.target_pages(token)
        self.pages_read += 1
        self.page = _Page(token, blobs, next_token)

    async def _seek(self, name: str) -> BlobInfo | None:
        """The target blob called ``name``, reading on from where the listing is; None if it is absent."""
        while True:
            page = self.page
            assert page is not None
            while page.index < len(page.blobs) and page.blobs[page.index].name < name:
                page.index += 1
            if page.index < len(page.blobs):
                found = page.blobs[page.index]
                return found if found.name == name else None
            if page.next_token is None:
                return None
            await self._load(page.next_token)


@dataclass
class VerifyPass:
    """The end-of-run pass over the chunks whose copy items left their checking to it (``deferred``)."""

    store: StateStore
    target_pages: PageFetcher
    listing: ListingCheck = field(init=False)

    def __post_init__(self) -> None:
        self.listing = ListingCheck(self.target_pages)

    @property
    def counts(self) -> CopyCounts:
        return self.listing.counts

    @property
    def recopy(self) -> list[Op]:
        return self.listing.recopy

    @property
    def pages_read(self) -> int:
        return self.listing.pages_read

    async def run(self, cursor: VerifyCursor, seconds: float) -> VerifyCursor | None:
        """Verify chunks from ``cursor`` on; the cursor to go on from, or None when every chunk is done."""
        started = time.monotonic()
        while cursor.batch < len(cursor.batches):
            token, count = cursor.batches[cursor.batch]
            if cursor.index >= count:
                cursor.batch, cursor.index = cursor.batch + 1, 0
                continue
            await self._chunk(chunk_name(token, cursor.index), cursor)
            cursor.index += 1
            if time.monotonic() - started >= seconds:  # after one chunk at least: every call progresses
                return cursor
        return None

    async def _chunk(self, ref: str, cursor: VerifyCursor) -> None:
        result = await self.store.read(result_name(ref), CopyResult)
        if result is None or result.verify_method != "deferred":
            return  # nothing copied, or checked when it was copied
        chunk = await self.store.read(ref, Chunk)
        if chunk is None:
            return
        outcome = await self.store.read(outcome_name(ref), ChunkOutcome) or ChunkOutcome()
        expected = copies_made(chunk, outcome)
        if expected:
            await self.listing.check(chunk, expected, cursor)
