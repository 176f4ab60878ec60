"""Carry out one manifest chunk: server-side copies and deletes with bounded concurrency, then verification.

The bytes never pass through this process: the target service reads the source through a short-lived
read-only SAS. Every copy is conditional twice over: on the source (If-Match its listed ETag, so the
metadata we record describes the bytes copied) and on the target (If-Match the blob the diff saw, or
If-None-Match * for a new one), so a repeated work item or a concurrent writer is noticed, never clobbered
blindly. A blob that keeps failing is recorded by name and the rest of the chunk carries on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from ..errors import TransientError, from_azure_error, token_request_failed
from .listing import blob_info
from .model import (
    SOURCE_ETAG_KEY,
    SOURCE_MODIFIED_KEY,
    BlobInfo,
    Chunk,
    ChunkOutcome,
    CopyCounts,
    CopyResult,
    Op,
    PendingCopy,
    is_newer,
    keep_samples,
)
from .transport import ASYNC_SAS_LIFETIME, SYNC_SAS_LIFETIME, SourceAuthorizer, redact

if TYPE_CHECKING:
    from azure.storage.blob.aio import BlobClient, ContainerClient

SYNC_COPY_LIMIT = 256 * 1024 * 1024  # larger blobs take the asynchronous Copy Blob path
# A synchronous copy answers when the bytes are written: give its response time by size (a pessimistic
# 8 MiB/s cross-region) on top of the plan's request timeout.
SYNC_COPY_BYTES_PER_SECOND = 8 * 1024 * 1024
MAX_FAILURE_NAMES = 5  # failed blobs an error message names
MAX_FAILURES_LISTED = 10  # failed blobs a result (and the step's detail) lists by name; the count is exact
_SOURCE_DOWN_STATUS = {408, 500, 502, 503, 504}
# A copy that failed with one of these (after the SDK's own retries) is worth another try later: throttling
# (429, e.g. CannotVerifyCopySource when the source throttled the target's read), timeouts, server errors.
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
MAX_ITEM_BACKOFF = 10.0  # cap on a wait between tries of one copy inside a work item
# A condition of ours failed (not, say, a lease on the target): an earlier attempt did the copy, or the
# source or the target changed since the listing.
_CONDITION_CODES = {"ConditionNotMet", "SourceConditionNotMet", "TargetConditionNotMet", "BlobAlreadyExists"}


class PutFromUrlSupport:
    """Which target endpoints take Put Blob From URL: Azure's do, Azurite answers 501 (those get Copy Blob).

    Learned from the first answer an endpoint gives. Until then one copy per event loop asks and the others
    wait for its answer: else every copy of the first burst asks, and into Azurite that is a wasted request
    per copy slot (64 of a 2,004-blob run at 64 in flight, 3% of its requests)."""

    def __init__(self) -> None:
        self._known: dict[str, bool] = {}
        self._asking: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Event] = {}

    def known(self, endpoint: str) -> bool | None:
        return self._known.get(endpoint)

    async def ask_or_wait(self, endpoint: str) -> bool | None:
        """Whether ``endpoint`` takes it; None: not known yet and this caller asks, then calls ``learned``."""
        loop = asyncio.get_running_loop()
        while (known := self._known.get(endpoint)) is None:
            asking = self._asking.get((loop, endpoint))
            if asking is None:
                self._asking[(loop, endpoint)] = asyncio.Event()
                return None
            await asking.wait()
        return known

    def learned(self, endpoint: str, supported: bool | None) -> None:
        """The asker's answer; None: its request failed before the service judged it (the next copy asks)."""
        if supported is not None:
            self._known[endpoint] = supported
        asking = self._asking.pop((asyncio.get_running_loop(), endpoint), None)
        if asking is not None:
            asking.set()


PUT_FROM_URL = PutFromUrlSupport()

CopyStatus = Literal["success", "pending"]


@dataclass
class CopySlots:
    """The copies in flight of one step's work items that run on one event loop (a worker process).

    Each item brings ``per_item`` slots, up to ``max_items`` items' worth, and an item that finishes leaves its
    slots behind: the items of a round end at different times (one finished 2.6 s before the last of a
    13 s round of four in benchmarks/blob_backup.py), and the ones still copying take over the slots of the
    ones done instead of the round's tail running at a fraction of its concurrency. Never more in flight
    than the items would have had each on its own (``per_item`` times the items that joined), so an item
    alone on an instance keeps to ``per_item``.
    """

    per_item: int
    max_items: int
    semaphore: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))
    joined: int = 0
    running: int = 0

    def join(self) -> None:
        self.running += 1
        if self.joined < self.max_items:
            self.joined += 1
            for _ in range(self.per_item):
                self.semaphore.release()


_SLOTS: dict[tuple[int, str], CopySlots] = {}


@contextlib.contextmanager
def copy_slots(step_run: str, *, per_item: int, max_items: int) -> Iterator[CopySlots]:
    """The slots this item's copies share with the items of ``step_run`` running on this event loop now; the
    pool goes when the last of them is done (the next round starts a new one)."""
    key = (id(asyncio.get_running_loop()), step_run)
    slots = _SLOTS.setdefault(key, CopySlots(per_item=per_item, max_items=max_items))
    slots.join()
    try:
        yield slots
    finally:
        slots.running -= 1
        if not slots.running:
            del _SLOTS[key]


class SourceUnavailable(Exception):
    """The source account does not answer (connection errors, timeouts, 5xx after the SDK's retries)."""


def source_is_down(exc: BaseException) -> bool:
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    return isinstance(exc, HttpResponseError) and (exc.status_code or 0) in _SOURCE_DOWN_STATUS


def is_transient(exc: BaseException) -> bool:
    """A failed copy that another try may well fix (throttled, a 5xx, a timeout, a lost response)."""
    if isinstance(exc, ServiceResponseError):
        return True
    return isinstance(exc, HttpResponseError) and (exc.status_code or 0) in _TRANSIENT_STATUS


def error_code(exc: HttpResponseError) -> str:
    raw = getattr(exc, "error_code", None) or getattr(getattr(exc, "error", None), "code", None)
    return str(getattr(raw, "value", raw) or f"Http{exc.status_code}")


def describe(exc: BaseException) -> str:
    """A short, secret-free reason for a report: the service's error code and status."""
    if isinstance(exc, HttpResponseError):
        return f"{error_code(exc)} (HTTP {exc.status_code})"
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return f"connection failed ({type(exc).__name__})"
    return redact(f"{type(exc).__name__}: {exc}")[:200]


async def server_side_copy(
    dest: BlobClient,
    source: ContainerClient,
    authorizer: SourceAuthorizer,
    blob: BlobInfo,
    *,
    metadata: dict[str, str],
    target_etag: str | None,
    unconditional: bool = False,
    request_timeout: float = 30.0,
) -> tuple[CopyStatus, str | None, str]:
    """Copy ``blob`` from the source onto ``dest`` inside the storage service: (status, copy id, method).

    In Azure, block blobs up to 256 MiB use Put Blob From URL: synchronous, content settings copied from
    the source, and the service checks the bytes against the source's MD5. Larger blobs and page/append
    blobs use Copy Blob, which Azure may leave ``pending`` (the caller polls it).

    AZURITE FALLBACKS (only for an endpoint that answered 501 to Put Blob From URL, i.e. the emulator):
    1. Put Blob From URL is not implemented there: such an endpoint is remembered (``PUT_FROM_URL``) and gets
       Copy Blob from then on. Azurite finishes a Copy Blob before it answers (never ``pending``), so the
       pending path is only reached in Azure.
    2. Azurite fails (500) any copy whose source has Content-Encoding gzip or deflate: checking the source,
       it inflates an empty body. Those blobs are copied through this process instead (download, upload
       with the same settings); in Azure the service copies them like any other.
    """
    conditions: dict[str, Any] = {}
    if target_etag and not unconditional:
        conditions = {"etag": f'"{target_etag}"', "match_condition": MatchConditions.IfNotModified}
    elif not unconditional:
        conditions = {"match_condition": MatchConditions.IfMissing}
    source_conditions: dict[str, Any] = {
        "source_etag": f'"{blob.etag}"',
        "source_match_condition": MatchConditions.IfNotModified,
    }
    endpoint = dest.primary_endpoint.split(f"/{dest.container_name}/", 1)[0]
    read_timeout = request_timeout + blob.size / SYNC_COPY_BYTES_PER_SECOND
    synchronous = blob.blob_type == "BlockBlob" and blob.size <= SYNC_COPY_LIMIT
    supported = await PUT_FROM_URL.ask_or_wait(endpoint) if synchronous else False  # None: this copy asks
    if supported is not False:
        answer: bool | None = None
        try:
            await dest.upload_blob_from_url(
                await authorizer.url_for(blob.name, lifetime=SYNC_SAS_LIFETIME),
                overwrite=True,
                include_source_blob_properties=True,
                metadata=metadata,
                source_content_md5=bytearray(base64.b64decode(blob.md5)) if blob.md5 else None,
                read_timeout=read_timeout,
                **source_conditions,
                **conditions,
            )
            answer = True
            return "success", None, "put_blob_from_url"
        except HttpResponseError as exc:
            answer = exc.status_code != 501  # any other answer: the service took the request and judged it
            if answer:
                raise
        finally:
            if supported is None:
                PUT_FROM_URL.learned(endpoint, answer)
    if PUT_FROM_URL.known(endpoint) is False and (blob.content_encoding or "").lower() in ("gzip", "deflate"):
        await _emulator_client_copy(dest, source, blob, metadata=metadata, conditions=conditions)
        return "success", None, "client_copy"
    result = await dest.start_copy_from_url(
        await authorizer.url_for(blob.name, lifetime=ASYNC_SAS_LIFETIME),
        metadata=metadata,
        read_timeout=read_timeout,  # Azurite copies before it answers
        **source_conditions,
        **conditions,
    )
    status = str(result.get("copy_status") or "success")
    if status not in ("success", "pending"):
        raise HttpResponseError(message=f"copy ended {status}")
    return status, result.get("copy_id"), "copy_blob"  # type: ignore[return-value]


async def _emulator_client_copy(
    dest: BlobClient, source: ContainerClient, blob: BlobInfo, *, metadata: dict[str, str], conditions: dict[str, Any]
) -> None:
    """Azurite only (see :func:`server_side_copy`): the bytes go through this process."""
    downloader = await source.get_blob_client(blob.name).download_blob(
        etag=f'"{blob.etag}"', match_condition=MatchConditions.IfNotModified, decompress=False
    )
    data = await downloader.readall()
    await dest.upload_blob(
        data, overwrite=True, metadata=metadata, content_settings=downloader.properties.content_settings, **conditions
    )


def copy_metadata(blob: BlobInfo) -> dict[str, str]:
    """The source's metadata plus what the sync records about the version it copied."""
    return {**blob.metadata, SOURCE_ETAG_KEY: blob.etag, SOURCE_MODIFIED_KEY: blob.last_modified}


def mismatch(expected: BlobInfo, actual: BlobInfo | None) -> str | None:
    """Why the target does not hold the copied version, or None when it does."""
    if actual is None:
        return "missing on the target after the copy"
    if actual.copy_status not in (None, "success"):
        return f"copy {actual.copy_status}"
    if actual.size != expected.size:
        return f"size {actual.size} on the target, {expected.size} at the source"
    if expected.md5 and actual.md5 and expected.md5 != actual.md5:
        return "MD5 differs from the source"
    if actual.synced_etag != expected.etag:
        return "the target holds another version"
    return None


@dataclass
class _Attempt:
    """One blob's copy in progress: what to copy, on what condition, and how it went so far."""

    blob: BlobInfo
    target_etag: str | None
    unconditional: bool
    tries: int = 0
    conflicts: int = 0


@dataclass
class ChunkCopier:
    """Copies, deletes and verifies the operations of one chunk against one source and target container."""

    source: ContainerClient
    target: ContainerClient
    authorizer: SourceAuthorizer
    concurrency: int
    page_size: int
    request_timeout: float = 30.0
    counts: CopyCounts = field(default_factory=CopyCounts)
    failures: list[str] = field(default_factory=list)
    pending: list[PendingCopy] = field(default_factory=list)
    methods: set[str] = field(default_factory=set)
    source_down: str | None = None
    # Transient failures: tries of one copy inside this item, the first backoff between them, which attempt
    # of the step's retry policy this chunk is and whether it is the last (then nothing goes to ``retry``).
    tries_per_item: int = 3
    first_backoff: float = 1.0
    attempt: int = 1
    final_attempt: bool = False
    retry: list[Op] = field(default_factory=list)
    # on_conflict keep_newer: a target rewritten after the listing and newer than the source now is left alone.
    keep_newer: bool = False
    conflict_samples: list[str] = field(default_factory=list)
    # Shared with the step's other items on this loop (see CopySlots); None: ``concurrency`` of its own.
    slots: CopySlots | None = None
    _probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # -- the chunk -----------------------------------------------------------------------------------
    async def run(self, chunk: Chunk) -> tuple[CopyResult, ChunkOutcome]:
        """Copy and delete; check the copies now (HEAD each) when they are few for their stretch of names or
        are recopies, else leave them ``deferred`` to a check against the target listing of their stretch
        (:class:`dr.blobsync.verifier.ListingCheck`, which the caller runs), with the outcome it needs."""
        semaphore = self.slots.semaphore if self.slots is not None else asyncio.Semaphore(self.concurrency)

        async def bounded(op: Op) -> BlobInfo | None:
            async with semaphore:
                if op.op == "copy":
                    return await self._copy(op, unconditional=chunk.recopy)
                await self._delete(op)
                return None

        done = await asyncio.gather(*(bounded(op) for op in chunk.ops))
        outcome = ChunkOutcome()
        copied: list[BlobInfo] = []
        for index, (op, blob) in enumerate(zip(chunk.ops, done, strict=True)):
            if op.op != "copy":
                continue
            if blob is None:
                outcome.not_copied.append(index)
                continue
            copied.append(blob)
            if blob.etag != op.blob.etag:
                outcome.refreshed[index] = blob
        copies = sum(1 for op in chunk.ops if op.op == "copy")
        dense = chunk.verify_span <= 4 * copies + self.page_size
        if not copied:
            method = "none"
        elif dense and not chunk.recopy and chunk.attempt == 1:
            method = "deferred"
            for blob in copied:  # counted as copied now; the verification pass confirms or takes back
                self._count_copied(blob, verified=False)
        else:
            method = "head"
            await self._verify_each(copied, semaphore)
        result = CopyResult(
            counts=self.counts,
            failures=self.failures[:MAX_FAILURES_LISTED],
            conflict_samples=self.conflict_samples,
            verify_method=method,
            copy_method=",".join(sorted(self.methods)) or None,
            source_unavailable=self.source_down,
        )
        return result, outcome

    def _fail(self, name: str, reason: str) -> None:
        self.counts.failed += 1
        if len(self.failures) < MAX_FAILURES_LISTED:
            self.failures.append(f"{name}: {reason}")

    # -- copies --------------------------------------------------------------------------------------
    async def _copy(self, op: Op, *, unconditional: bool = False) -> BlobInfo | None:
        """Copy one blob; the source version copied when it is on the target now, else None (counted).

        A transient failure (throttling, a 5xx, a lost response: the SDK's own retries already spent) is
        tried again here after a backoff, ``tries_per_item`` times in all; what still fails is handed to a
        retry chunk for a later poll (``retry``), or, on the policy's last attempt, fails by name."""
        copy = _Attempt(op.blob, op.target_etag, unconditional or op.unconditional)
        dest = self.target.get_blob_client(copy.blob.name)
        while not self.source_down:
            copy.tries += 1
            try:
                status, copy_id, method = await server_side_copy(
                    dest,
                    self.source,
                    self.authorizer,
                    copy.blob,
                    metadata=copy_metadata(copy.blob),
                    target_etag=copy.target_etag,
                    unconditional=copy.unconditional,
                    request_timeout=self.request_timeout,
                )
            except ServiceRequestError as exc:
                # The request never reached the target account: nothing here can go on.
                raise TransientError(
                    f"copy into {self.target.container_name}: target unreachable ({type(exc).__name__})",
                    code="TargetUnreachable",
                ) from exc
            except Exception as exc:
                outcome = await self._copy_failed(copy, exc)
                if outcome == "again":
                    continue
                return outcome
            return self._count_started_copy(copy.blob, status, copy_id, method)
        self.counts.source_unavailable += 1
        return None

    async def _copy_failed(self, copy: _Attempt, exc: Exception) -> Literal["again"] | BlobInfo | None:
        """What a failed try means: try ``again``, the blob (found copied after all), or None (counted)."""
        if isinstance(exc, HttpResponseError) and token_request_failed(exc):
            # No token for the managed identity (its endpoint not ready at a cold start): no copy of this
            # chunk can go on, and none is the blob's fault. The item is retried.
            raise from_azure_error(exc, what=f"copy into {self.target.container_name}") from exc
        if isinstance(exc, HttpResponseError) and error_code(exc) in _CONDITION_CODES:
            return await self._after_conflict(copy)
        if is_transient(exc):
            return "again" if await self._after_transient(copy, exc) else None
        await self._count_failed_copy(copy.blob, exc)  # one odd blob: it does not stop the chunk
        return None

    async def _after_conflict(self, copy: _Attempt) -> Literal["again"] | BlobInfo | None:
        copy.tries -= 1  # a condition that failed is not a failed try
        copy.conflicts += 1
        if copy.conflicts >= 3:
            self._fail(copy.blob.name, "changed on every attempt")
            return None
        resolved = await self._resolve_conflict(copy.blob)
        if resolved == "done":
            self.counts.unchanged_on_retry += 1
            return copy.blob
        if isinstance(resolved, BlobInfo):  # the source changed: copy its new version
            copy.blob = resolved
        current = await self._head(self.target, copy.blob.name)
        if self.keep_newer and current is not None and is_newer(current, copy.blob):
            self.counts.conflicts += 1
            keep_samples(self.conflict_samples, [copy.blob.name])
            return None
        copy.target_etag = current.etag if current is not None else None
        return "again"

    async def _after_transient(self, copy: _Attempt, exc: Exception) -> bool:
        """A copy failed transiently: True to try again now (after a backoff), False when it is counted
        (the source account is down, handed to a retry chunk, or failed for good on the last attempt)."""
        if source_is_down(exc) and await self._source_unreachable():
            self.counts.source_unavailable += 1
            return False
        if copy.tries < self.tries_per_item:
            await asyncio.sleep(self._backoff(copy.tries))
            return True
        reason = describe(exc)
        if self.final_attempt:
            self._fail(copy.blob.name, f"{reason}, still failing after {self.attempt} attempt(s)")
            return False
        self.counts.retried += 1
        self.retry.append(
            Op(
                op="copy",
                blob=copy.blob,
                target_etag=copy.target_etag,
                unconditional=copy.unconditional,
                last_error=reason,
            )
        )
        return False

    def _backoff(self, tries: int) -> float:
        """Wait before try ``tries + 1`` of a copy inside this item: doubling, jittered, capped."""
        seconds = min(MAX_ITEM_BACKOFF, self.first_backoff * 2 ** (tries - 1))
        return seconds * random.uniform(0.8, 1.2)

    def _count_started_copy(
        self, blob: BlobInfo, status: CopyStatus, copy_id: str | None, method: str
    ) -> BlobInfo | None:
        """The copy was accepted: the blob once copied, None while an asynchronous copy is pending."""
        self.methods.add(method)
        if status == "pending":
            self.counts.pending += 1
            self.pending.append(PendingCopy(blob=blob, copy_id=copy_id))
            return None
        return blob

    async def _count_failed_copy(self, blob: BlobInfo, exc: Exception) -> None:
        """A copy that failed for good (not transiently): the source blob is gone, the source account does not
        answer, or it is this blob's own failure (reported by name)."""
        if isinstance(exc, HttpResponseError) and exc.status_code == 404 and await self._source_gone(blob.name):
            self.counts.vanished += 1
        elif source_is_down(exc) and await self._source_unreachable():
            self.counts.source_unavailable += 1
        else:
            self._fail(blob.name, describe(exc))

    async def _resolve_conflict(self, blob: BlobInfo) -> Literal["done", "target_changed"] | BlobInfo:
        """A condition failed: an earlier attempt already copied it, the source changed, or the target did."""
        current = await self._head(self.target, blob.name)
        if current is not None and mismatch(blob, current) is None:
            return "done"
        fresh = await self._head(self.source, blob.name)
        if fresh is not None and fresh.etag != blob.etag:
            return fresh
        return "target_changed"

    async def _head(self, container: ContainerClient, name: str) -> BlobInfo | None:
        try:
            return blob_info(await container.get_blob_client(name).get_blob_properties())
        except ResourceNotFoundError:
            return None

    async def _source_gone(self, name: str) -> bool:
        try:
            return await self._head(self.source, name) is None
        except Exception:
            return False

    async def _source_unreachable(self) -> bool:
        """After a copy failed with a 5xx or a timeout: is it the source that does not answer? (Asked once.)"""
        async with self._probe_lock:
            if self.source_down:
                return True
            try:
                await self.source.get_container_properties()
            except Exception as exc:
                if source_is_down(exc):
                    self.source_down = f"source account did not answer: {describe(exc)}"
                    return True
            return False

    # -- deletes -------------------------------------------------------------------------------------
    async def _delete(self, op: Op) -> None:
        try:
            await self.target.delete_blob(
                op.blob.name, etag=f'"{op.target_etag}"', match_condition=MatchConditions.IfNotModified
            )
        except ResourceNotFoundError:
            pass  # already gone (an earlier attempt, or someone else)
        except HttpResponseError as exc:
            if exc.status_code == 412:
                self.counts.delete_skipped += 1  # rewritten since the listing: not ours to delete now
                return
            self._fail(op.blob.name, f"delete: {describe(exc)}")
            return
        self.counts.deleted += 1

    # -- verification --------------------------------------------------------------------------------
    async def _verify_each(self, copied: list[BlobInfo], semaphore: asyncio.Semaphore) -> None:
        async def one(blob: BlobInfo) -> None:
            async with semaphore:
                if mismatch(blob, await self._head(self.target, blob.name)) is None:
                    self._count_copied(blob)
                    return
                await self._recopy(blob)

        await asyncio.gather(*(one(blob) for blob in copied))

    async def _recopy(self, blob: BlobInfo) -> None:
        """A copy that did not verify gets one more, unconditional try, checked by a HEAD."""
        again = await self._copy(Op(op="copy", blob=blob), unconditional=True)
        if again is None:
            return  # counted by _copy (failed, vanished, pending, source down)
        problem = mismatch(again, await self._head(self.target, again.name))
        if problem is not None:
            self._fail(blob.name, f"verification failed: {problem}")
            return
        self.counts.recopied += 1
        self._count_copied(again)

    def _count_copied(self, blob: BlobInfo, *, verified: bool = True) -> None:
        self.counts.verified += int(verified)
        self.counts.copied += 1
        self.counts.bytes_copied += blob.size


async def check_pending(
    target: ContainerClient, copies: list[PendingCopy], concurrency: int
) -> tuple[CopyCounts, list[str], list[PendingCopy]]:
    """Look at asynchronous copies that were still running: (counts, failures, still pending)."""
    counts, failures, still = CopyCounts(), list[str](), list[PendingCopy]()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(entry: PendingCopy) -> None:
        async with semaphore:
            try:
                actual: BlobInfo | None = blob_info(await target.get_blob_client(entry.blob.name).get_blob_properties())
            except ResourceNotFoundError:
                actual = None
            except Exception as exc:
                raise from_azure_error(exc, what=f"check copy of {entry.blob.name}") from exc
        if actual is not None and actual.copy_status == "pending":
            counts.pending += 1
            still.append(entry)
            return
        problem = mismatch(entry.blob, actual)
        if problem is None:
            counts.copied += 1
            counts.verified += 1
            counts.bytes_copied += entry.blob.size
        else:
            counts.failed += 1
            if len(failures) < MAX_FAILURE_NAMES:
                failures.append(f"{entry.blob.name}: {problem}")

    await asyncio.gather(*(one(entry) for entry in copies))
    return counts, failures, still
