"""Typed payloads of the blob sync: what travels in the orchestration history (items, results, state: all
small) and what lives in the state container (listing cursors, manifest chunks, per-chunk results)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Names of the metadata the sync writes on every copy: what the source looked like when it was copied.
SOURCE_ETAG_KEY = "dr_source_etag"
SOURCE_MODIFIED_KEY = "dr_source_last_modified"
MAX_CONFLICT_SAMPLES = 20  # names of conflicting blobs a run keeps for its report; the counts are exact

# What a sync does with a conflict: a target blob that differs from the source and is newer than it.
OnConflict = Literal["overwrite", "keep_newer"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BlobInfo(_Payload):
    """One listed blob, as much as the diff, the copy and the verification need."""

    name: str
    size: int
    etag: str
    last_modified: str  # ISO 8601 Z
    md5: str | None = None  # base64, as the service reports it
    blob_type: str = "BlockBlob"
    content_encoding: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    copy_status: str | None = None  # target side: status of the last copy into this blob
    # The ETag of the blob the copy that wrote this one came from (None: not written by a sync). Read on both
    # sides: a copy-back's source (the secondary) holds copies of the target's (the primary's) blobs.
    synced_etag: str | None = None


class Op(_Payload):
    """One action of a manifest chunk."""

    op: Literal["copy", "delete"]
    blob: BlobInfo  # copy: the source blob; delete: the target blob
    target_etag: str | None = None  # copy: the target blob it replaces (None: new); delete: the one to delete
    unconditional: bool = False  # copy: a recopy after a failed verification (overwrites whatever is there)
    last_error: str | None = None  # copy, in a retry chunk: why the previous attempt did not copy it


class Chunk(_Payload):
    """A manifest chunk: up to 1,000 operations in name order, plus where a verification listing can start."""

    ops: list[Op]
    # The target page the diff was reading at ops[0]: its continuation token, and the name it comes after
    # (a listing from the token returns every name after it, blobs copied since included).
    verify_from: str | None = None
    verify_after: str | None = None
    verify_span: int = 0  # names (both sides) the diff passed from ops[0] to ops[-1]: dense or sparse
    recopy: bool = False  # copies that failed verification: unconditional, checked one by one
    # 1: a chunk of the listing (or a recopy); n > 1: the n-th attempt at copies that failed transiently
    # (a retry chunk, checked one by one like a recopy).
    attempt: int = Field(1, ge=1)


class ChunkOutcome(_Payload):
    """What a copy item did, for the verification pass: the ops it did not copy, the sources it re-read."""

    not_copied: list[int] = Field(default_factory=list)
    refreshed: dict[int, BlobInfo] = Field(default_factory=dict)


class VerifyCursor(_Payload):
    """Where the verification pass stands: the next chunk, and the target page it was reading."""

    batches: list[tuple[str, int]]  # (list-call token, chunk count), in name order
    batch: int = 0
    index: int = 0
    started: bool = False
    page_token: str | None = None
    page_first: str | None = None


class SideCursor(_Payload):
    """Where one side's listing stands: the unconsumed rest of its current page and the next token."""

    buffer: list[BlobInfo] = Field(default_factory=list)
    page_token: str | None = None  # token that fetched the current page (None: the first page)
    page_after: str | None = None  # last name of the page before it (where the token resumes)
    page_last: str | None = None
    next_token: str | None = None
    exhausted: bool = False
    started: bool = False
    page_consumed: int = 0


class Cursor(_Payload):
    source: SideCursor = Field(default_factory=SideCursor)
    target: SideCursor = Field(default_factory=SideCursor)


class PendingCopy(_Payload):
    blob: BlobInfo
    copy_id: str | None = None


class PendingFile(_Payload):
    copies: list[PendingCopy]


# -- work items and their results (history: keep small) ----------------------------------------------


class WorkItem(_Payload):
    op: Literal["list", "copy", "pending", "verify"]
    ref: str | None = None  # list: cursor (None = start); copy: chunk; pending: pending list; verify: cursor


class ListingStats(_Payload):
    listed_source: int = 0
    listed_target: int = 0
    skipped: int = 0
    to_copy: int = 0
    to_delete: int = 0
    extra_in_target: int = 0
    bytes_to_copy: int = 0
    newest_source_change: str | None = None  # ISO 8601 Z
    pages: int = 0
    # Target blobs newer than a source that differs: all of them (kept unless overwritten), those the plan
    # has overwritten (in to_copy too), and a few names for the report.
    conflicts: int = 0
    conflicts_overwritten: int = 0
    conflict_samples: list[str] = Field(default_factory=list)

    def add(self, other: ListingStats) -> None:
        for name in (
            "listed_source",
            "listed_target",
            "skipped",
            "to_copy",
            "to_delete",
            "extra_in_target",
            "conflicts",
            "conflicts_overwritten",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.bytes_to_copy += other.bytes_to_copy
        self.pages += other.pages
        self.newest_source_change = max_iso(self.newest_source_change, other.newest_source_change)
        keep_samples(self.conflict_samples, other.conflict_samples)


class CopyCounts(_Payload):
    copied: int = 0
    bytes_copied: int = 0
    verified: int = 0
    deleted: int = 0
    failed: int = 0
    pending: int = 0
    vanished: int = 0  # deleted at the source between listing and copy
    unchanged_on_retry: int = 0  # found already copied (an earlier attempt of this run did it)
    delete_skipped: int = 0  # the target blob changed after the listing: not deleted
    source_unavailable: int = 0
    recopied: int = 0  # copied again after a verification mismatch
    # keep_newer: not copied, the target was rewritten after the listing and is newer than the source now
    conflicts: int = 0
    retried: int = 0  # copies that failed transiently and were handed to a later attempt (a retry chunk)

    def add(self, other: CopyCounts) -> None:
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class CopyResult(_Payload):
    op: Literal["copy", "pending", "verify"] = "copy"
    counts: CopyCounts = Field(default_factory=CopyCounts)
    failures: list[str] = Field(default_factory=list)  # "name: reason", a few
    conflict_samples: list[str] = Field(default_factory=list)  # names behind counts.conflicts, a few
    pending_ref: str | None = None
    recopy_ref: str | None = None  # copy, verify: copies that did not check out, to be copied again
    retry_ref: str | None = None  # copy: copies that failed transiently, for a later attempt (after a backoff)
    retry_attempt: int = 0  # copy: which attempt ``retry_ref`` is (2 = the first retry)
    cursor: str | None = None  # verify: where the pass goes on (None: done)
    verify_method: Literal["deferred", "listing", "head", "none"] = "none"
    copy_method: str | None = None
    source_unavailable: str | None = None
    replayed: bool = False  # an earlier attempt had finished this item: its result is returned as is


class ListResult(_Payload):
    op: Literal["list"] = "list"
    token: str = ""  # the chunks are chunk-<token>-<n>.json
    chunks: list[str] = Field(default_factory=list)
    cursor: str | None = None  # None: both listings are finished
    stats: ListingStats = Field(default_factory=ListingStats)
    source_unavailable: str | None = None
    wrote_files: bool = False
    # The listing's last chunk, when small, copied by this call itself (no round of its own): its ref and result.
    copied_tail: str | None = None
    tail: CopyResult | None = None


class SyncRecord(_Payload):
    """The last successful sync of a (plan, step): what a failover that cannot reach the source reports."""

    plan: str
    step: str
    source: str
    target: str
    synced_through: datetime  # every source change before this instant is on the target
    finished_at: datetime
    rpo_watermark: str | None = None  # newest source last-modified seen by that sync
    copied: int = 0
    run_id: str | None = None


class SyncAttempt(_Payload):
    """A sync of a (plan, step) that found the source unreachable (sync or failover; never a drill).

    Kept apart from the SyncRecord, which only a clean sync replaces: the record stays the RPO basis, this
    says what the latest attempt after it met. A later successful sync makes it stale (``at`` is older than
    the record's ``finished_at``) without another write."""

    plan: str
    step: str
    source: str
    target: str
    at: datetime
    mode: Literal["failover", "sync"]
    outcome: Literal["source_unreachable"] = "source_unreachable"
    reason: str = ""
    run_id: str | None = None


class SourceProbe(_Payload):
    """The verdict of one bounded request to an account: did it answer, how long it took, and why not."""

    reachable: bool
    seconds: float
    cause: str | None = None  # unreachable: what happened (a timeout, a refused connection)
    answer: str | None = None  # reachable: what the account said (``listed``, ``ContainerNotFound (HTTP 404)``)
    status: int | None = None  # reachable: the HTTP status of the answer


def iso_seconds(moment: datetime) -> str:
    """Last-Modified as ISO 8601 Z with whole seconds (the service's resolution): comparable as text."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_newer(blob: BlobInfo, than: BlobInfo) -> bool:
    """Last modified strictly later (whole seconds: the same second is not newer)."""
    return bool(than.last_modified) and blob.last_modified > than.last_modified


def keep_samples(into: list[str], names: list[str]) -> None:
    """Add names to a bounded list of samples (MAX_CONFLICT_SAMPLES)."""
    into.extend(names[: max(0, MAX_CONFLICT_SAMPLES - len(into))])


def strip_etag(etag: str | None) -> str | None:
    return etag.strip('"') if etag else etag


def max_iso(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
