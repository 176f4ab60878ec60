"""The verification pass: after the copies, check them against one listing of the target in name order.

Chunks whose copies were dense (most names in their stretch were copied) leave their checking here: a
listing reads a thousand names for the price of a few requests, where a HEAD per blob would cost one
request each. The pass walks the chunks in name order and the target listing alongside, so every target
page is read about once; it jumps ahead with a chunk's own continuation token when the chunk is further on
than the page in hand. Copies that do not check out are written into a recopy chunk. Resumable: a call
stops after its time budget and saves where it stands.
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


@dataclass
class _Page:
    token: str | None
    blobs: list[BlobInfo]
    next_token: str | None
    index: int = 0


@dataclass
class VerifyPass:
    store: StateStore
    target_pages: PageFetcher
    counts: CopyCounts = field(default_factory=CopyCounts)
    failures: list[str] = field(default_factory=list)
    recopy: list[Op] = field(default_factory=list)
    page: _Page | None = None
    pages_read: int = 0

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
            return  # nothing copied, or checked one by one when it was copied
        chunk = await self.store.read(ref, Chunk)
        if chunk is None:
            return
        outcome = await self.store.read(outcome_name(ref), ChunkOutcome) or ChunkOutcome()
        skip = set(outcome.not_copied)
        expected = [
            outcome.refreshed.get(index, op.blob)
            for index, op in enumerate(chunk.ops)
            if op.op == "copy" and index not in skip
        ]
        if not expected:
            return
        await self._position(chunk, cursor)
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
        if self.page is not None:
            cursor.started = True
            cursor.page_token = self.page.token
            cursor.page_first = self.page.blobs[0].name if self.page.blobs else cursor.page_first

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
