"""The ``blob_backup`` step: an incremental, verified, server-side copy of a container to another account.

How a run goes (every call is an activity, runs at least once, and returns small payloads):

- ``begin`` checks the plan (drill containers, state container), makes the target container, reads the last
  sync record, and lists the first stretch of both containers (the diff, see :mod:`dr.blobsync.diff`).
- Work items then run in rounds: ``copy`` items carry out one manifest chunk each (server-side copies and
  deletes; :mod:`dr.blobsync.copier`) while one ``list`` item diffs the next stretch, so listing overlaps
  copying. ``pending`` items look at asynchronous copies Azure had not finished. Copies are verified
  (size, MD5 where known, the source version recorded): a chunk whose copies are few for its stretch of
  names checks each with a HEAD; a dense chunk's item checks its copies against the target listing of its
  own stretch as soon as they are done, while the round's other items still copy
  (:mod:`dr.blobsync.verifier`); what does not check out is copied again. (``verify`` items, an end-of-run
  pass over chunks an earlier version left ``deferred``, only finish runs begun before that change.)
- A copy that fails transiently (429, 5xx, a timeout, a lost response, after the SDK's own retries) is
  tried again inside its work item after a backoff; what still fails goes into a retry chunk that a later
  poll hands out once the step's ``retry`` policy says (``delay_before``), up to ``retry.attempts`` attempts.
- ``poll`` only adds up results and hands out the next round; the last one records the sync time (not in
  a drill), deletes the run's files and reports. A blob that kept failing (for good, or transiently on
  every attempt) fails the step, by name (a bounded list and the count in the step's detail), after
  everything else was done.
- At failover the sync is a best-effort last pass. ``begin`` first sends the source one probe (one request, no
  SDK retries, ``source_probe_timeout`` over connect and read): a source that does not answer gets no other
  request, and the step ends at once with a warning and the last standing sync as the RPO basis
  (``on_source_unavailable: continue``, the default), or fails (``fail``). A source that answers is synced
  with the usual retries; if it goes away later the step ends the same way. Every run's detail says what its
  RPO estimate rests on (``rpo_basis``); the estimate is None when the loss is unknown.
- Either side may be the copy (:func:`dr.blobsync.diff.is_current`): with source and target swapped (copying
  back after a failover) the blobs a sync wrote are not copied again. A target blob newer than a source that
  differs is a conflict: ``on_conflict`` keeps it (``keep_newer``) or copies over it (``overwrite``); both
  are counted, named (a few) and warned about.
- ``check`` is the read-only pre-flight: distinct source and target, the target container, the source (the
  same bounded probe), the last standing sync (the RPO basis), and a drill's own target.
- ``teardown`` (drills) deletes the drill container this run created.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from azure.core.exceptions import ResourceNotFoundError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..blobsync.copier import (
    MAX_FAILURE_NAMES,
    MAX_FAILURES_LISTED,
    ChunkCopier,
    SourceUnavailable,
    check_pending,
    copy_slots,
    describe,
    error_code,
    source_is_down,
)
from ..blobsync.diff import Budget, diff_segment
from ..blobsync.listing import PageFetcher, container_pages
from ..blobsync.model import (
    Chunk,
    ChunkOutcome,
    CopyCounts,
    CopyResult,
    Cursor,
    ListingStats,
    ListResult,
    PendingFile,
    SourceProbe,
    SyncAttempt,
    SyncRecord,
    VerifyCursor,
    WorkItem,
    keep_samples,
)
from ..blobsync.probe import Probed, probe, probe_listing, probe_service, warm_credential
from ..blobsync.store import (
    StateStore,
    read_sync_attempt,
    read_sync_record,
    run_folder,
    safe_segment,
    write_sync_attempt,
    write_sync_record,
)
from ..blobsync.transport import SourceAuthorizer, Transport, ensure_container, redact, run_async
from ..blobsync.verifier import ListingCheck, VerifyPass, copies_made, result_name
from ..clients import account_name_from_url, get_clients
from ..durations import iso
from ..errors import (
    DrError,
    InvalidInputError,
    NotFoundError,
    PermanentError,
    PreconditionError,
    TransientError,
    from_azure_error,
)
from ..plan import BlobBackupStep
from ..settings import get_settings
from .base import Check, StepContext, StepKind, StepProgress, TeardownResult

if TYPE_CHECKING:
    from azure.storage.blob import ContainerProperties
    from azure.storage.blob.aio import BlobServiceClient

    from ..clients import AsyncAzureSession

LIST_SECONDS_PER_CALL = 20.0  # a diff call stops listing after this long (no call runs for minutes)
PENDING_POLL_SECONDS = 15.0
MAX_CHUNK_SIZE = 1000
DRILL_RUN_KEY = "dr_drill_run"
DRILL_PLAN_KEY = "dr_drill_plan"
MAX_FAILURES_KEPT = MAX_FAILURES_LISTED


# What a work item answers (poll gets them back in the items' order), told apart by its ``op``.
WORK_RESULT: TypeAdapter[ListResult | CopyResult] = TypeAdapter(
    Annotated[ListResult | CopyResult, Field(discriminator="op")]
)


class RetryChunk(BaseModel):
    """A chunk of copies that failed transiently, handed out again once ``due`` (the step's retry policy)."""

    model_config = ConfigDict(extra="forbid")

    ref: str
    attempt: int
    due: datetime
    blobs: int


class BlobBackupState(BaseModel):
    """The step's memory between calls (in the orchestration history: counts and file names only)."""

    model_config = ConfigDict(extra="forbid")

    synced_through: datetime  # when the listing began: every older source change is in this sync
    cursor: str | None = None
    listing_done: bool = False
    stats: ListingStats = Field(default_factory=ListingStats)
    counts: CopyCounts = Field(default_factory=CopyCounts)
    pending_now: int = 0
    failures: list[str] = Field(default_factory=list)
    pending_refs: list[str] = Field(default_factory=list)
    pending_wait: bool = False
    source_unavailable: str | None = None
    source_probe: SourceProbe | None = None  # failover: the one bounded request that decided reachability
    last_sync: SyncRecord | None = None
    last_attempt: SyncAttempt | None = None  # newer than last_sync: the latest sync found the source down
    last_sync_unknown: str | None = None  # why there is no usable last_sync (the RPO basis is then unknown)
    copy_methods: list[str] = Field(default_factory=list)
    verify_methods: list[str] = Field(default_factory=list)
    wrote_files: bool = False
    drill_container: str | None = None
    rounds: int = 0
    # The verification pass: which chunks exist (list-call token, count), how many left their checking to
    # the pass, and where the pass stands.
    batches: list[tuple[str, int]] = Field(default_factory=list)
    deferred_chunks: int = 0
    verify_cursor: str | None = None
    verify_done: bool = False
    retries: list[RetryChunk] = Field(default_factory=list)  # waiting for their next attempt
    # Every copy is done and some failed for good: the last progress carried the report's detail (the
    # failed blobs by name); the next poll fails the step.
    failing: bool = False


def location(account_url: str, container: str) -> str:
    return f"{account_name_from_url(account_url)}/{container}"


@dataclass(frozen=True)
class StandingSync:
    """What the standing sync recorded for a step: its last clean sync (the RPO basis), the latest attempt
    after it if that found the source unreachable, and why there is no usable record."""

    record: SyncRecord | None = None
    attempt: SyncAttempt | None = None
    unknown: str | None = None

    def state_fields(self) -> dict[str, Any]:
        return {"last_sync": self.record, "last_attempt": self.attempt, "last_sync_unknown": self.unknown}


class _Session:
    """Clients for one call: source and target containers, the state store of this run."""

    def __init__(self, ctx: StepContext, params: BlobBackupStep) -> None:
        transport = Transport(
            retry_attempts=params.retry_attempts,
            first_backoff=params.retry_backoff.total_seconds(),
            request_timeout=params.request_timeout.total_seconds(),
        )
        self.params = params
        self.step_run = f"{ctx.run_id}/{ctx.step_id}"
        # One credential for both accounts and every request of this call, closed with the session.
        self.azure = get_clients().async_session()
        self.source_service = transport.service(self.azure, params.source.account_url)
        self.target_service = transport.service(self.azure, params.target.account_url)
        self.source = self.source_service.get_container_client(params.source.container)
        self.target = self.target_service.get_container_client(params.target.container)
        state_container = self.target_service.get_container_client(get_settings().state_container)
        self.store = StateStore(state_container, run_folder(ctx.plan_name, ctx.step_id, ctx.run_id))
        self.source_name = location(params.source.account_url, params.source.container)
        self.target_name = location(params.target.account_url, params.target.container)

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.azure.aclose()  # both services, then the credential

    @property
    def chunk_size(self) -> int:
        return min(self.params.page_size, MAX_CHUNK_SIZE)

    async def probe_source(self) -> SourceProbe:
        """One bounded request to the source (see :mod:`dr.blobsync.probe`): does it answer at all."""
        return (await _probe_source(self.azure, self.params)).verdict

    async def warm_credential(self) -> None:
        await warm_credential(self.azure, self.params.source.account_url)

    def source_pages(self) -> PageFetcher:
        fetch = container_pages(
            self.source, prefix=self.params.prefix, include=["metadata"], page_size=self.params.page_size
        )

        async def guarded(token: str | None) -> Any:
            try:
                return await fetch(token)
            except ResourceNotFoundError as exc:
                raise NotFoundError(f"source container {self.source_name} does not exist") from exc
            except Exception as exc:
                if source_is_down(exc):
                    raise SourceUnavailable(f"listing {self.source_name}: {describe(exc)}") from exc
                raise from_azure_error(exc, what=f"list {self.source_name}") from exc

        return guarded

    def target_pages(self, *, start_from: str | None = None) -> PageFetcher:
        fetch = container_pages(
            self.target,
            prefix=self.params.prefix,
            include=["metadata", "copy"],
            page_size=self.params.page_size,
            start_from=start_from,
        )

        async def guarded(token: str | None) -> Any:
            try:
                return await fetch(token)
            except Exception as exc:
                raise from_azure_error(exc, what=f"list {self.target_name}") from exc

        return guarded

    async def list_segment(
        self, cursor_ref: str | None, *, copy_tail: Callable[[str, Chunk], Awaitable[CopyResult]] | None = None
    ) -> ListResult:
        """The next segment of the diff. ``copy_tail``: when this call ends the listing with a last chunk of
        no more copies than one wave (``copy_concurrency``), it copies that chunk itself, instead of a round
        of its own after the next poll (a few changed blobs at the end of a large sync)."""
        cursor = Cursor()
        if cursor_ref is not None:
            saved = await self.store.read(cursor_ref, Cursor)
            if saved is None:
                raise PermanentError(f"listing cursor {cursor_ref} of this run is gone (state deleted by hand?)")
            cursor = saved
        try:
            outcome = await diff_segment(
                cursor=cursor,
                source_pages=self.source_pages(),
                target_pages=self.target_pages(),
                store=self.store,
                mirror_deletes=self.params.mirror_deletes,
                chunk_size=self.chunk_size,
                budget=Budget(max_chunks=self.params.max_parallel_pages, seconds=LIST_SECONDS_PER_CALL),
                on_conflict=self.params.on_conflict,
            )
        except SourceUnavailable as exc:
            return ListResult(cursor=cursor_ref, source_unavailable=str(exc), wrote_files=True)
        next_ref = None
        if outcome.cursor is not None:
            next_ref = f"cursor-{secrets.token_hex(4)}.json"
            await self.store.write(next_ref, outcome.cursor)
        listing = ListResult(
            token=outcome.token,
            chunks=outcome.chunks,
            cursor=next_ref,
            stats=outcome.stats,
            wrote_files=bool(outcome.chunks) or next_ref is not None,
        )
        tail = outcome.last_chunk
        if copy_tail is not None and outcome.cursor is None and tail and len(tail.ops) <= self.params.copy_concurrency:
            listing.copied_tail = outcome.chunks[-1]
            listing.tail = await copy_tail(listing.copied_tail, tail)
        return listing


class BlobBackup(StepKind[BlobBackupStep]):
    # -- begin ---------------------------------------------------------------------------------------
    def begin(self, ctx: StepContext, params: BlobBackupStep) -> StepProgress:
        self._check_plan(ctx, params)
        return run_async(lambda: self._begin(ctx, params))

    def _check_plan(self, ctx: StepContext, params: BlobBackupStep) -> None:
        if params.source.same_container(params.target):
            raise InvalidInputError(f"step {ctx.step_id!r}: source and target are the same container")
        if params.target.container == get_settings().state_container:
            raise InvalidInputError(
                f"step {ctx.step_id!r}: the target container {params.target.container!r} is the state container"
            )
        if ctx.is_drill:
            production = ctx.failover_step()
            if isinstance(production, BlobBackupStep) and production.target.same_container(params.target):
                raise PreconditionError(
                    f"drill of step {ctx.step_id!r} would copy into the production target "
                    f"{location(params.target.account_url, params.target.container)}: give the drill its own "
                    f"container (drill.overrides.{ctx.step_id}.target.container)",
                    code="DrillTargetIsProduction",
                )

    # -- check ---------------------------------------------------------------------------------------
    def check(self, ctx: StepContext, params: BlobBackupStep) -> list[Check]:
        """Pre-flight, read-only (creates nothing, not even the target container), every request bounded by
        ``source_probe_timeout`` with no retries: what the plan says, then both accounts and the standing sync
        looked at together."""
        return [*self._plan_checks(ctx, params), *run_async(lambda: self._live_checks(ctx, params))]

    def _plan_checks(self, ctx: StepContext, params: BlobBackupStep) -> list[Check]:
        source_name = location(params.source.account_url, params.source.container)
        target_name = location(params.target.account_url, params.target.container)
        facts = {
            "source": f"{params.source.account_url.rstrip('/')}/{params.source.container}",
            "target": f"{params.target.account_url.rstrip('/')}/{params.target.container}",
        }
        checks: list[Check] = []
        if params.source.same_container(params.target):
            checks.append(
                Check.failed(
                    "distinct_locations",
                    f"source and target are the same container ({facts['source']}): the step would copy "
                    f"{source_name} onto itself; point target at the secondary account's container",
                    **facts,
                )
            )
        elif params.target.container == get_settings().state_container:
            checks.append(
                Check.failed(
                    "distinct_locations",
                    f"the target container {target_name} is the app's state container: give the step its own "
                    "target container",
                    **facts,
                )
            )
        else:
            checks.append(Check.passed("distinct_locations", f"copies {source_name} to {target_name}", **facts))
        if ctx.is_drill:
            checks.append(self._drill_target_check(ctx, params, target_name))
        return checks

    def _drill_target_check(self, ctx: StepContext, params: BlobBackupStep, target_name: str) -> Check:
        production = ctx.failover_step()
        if not isinstance(production, BlobBackupStep):
            return Check.warning(
                "drill_target_differs",
                f"cannot tell where a failover of step {ctx.step_id!r} writes (the run carries no failover values): "
                f"make sure {target_name} is a drill container (drill.overrides.{ctx.step_id}.target.container)",
                drill_target=target_name,
            )
        production_name = location(production.target.account_url, production.target.container)
        if production.target.same_container(params.target):
            return Check.failed(
                "drill_target_differs",
                f"the drill of step {ctx.step_id!r} would copy into the production target {production_name}: give "
                f"the drill its own container (drill.overrides.{ctx.step_id}.target.container)",
                drill_target=target_name,
                failover_target=production_name,
            )
        return Check.passed(
            "drill_target_differs",
            f"the drill copies into {target_name}, not the failover target {production_name}",
            drill_target=target_name,
            failover_target=production_name,
        )

    async def _live_checks(self, ctx: StepContext, params: BlobBackupStep) -> list[Check]:
        timeout = params.source_probe_timeout.total_seconds()
        # The standing sync a drill's report would lean on is production's: read the records of the step as a
        # failover runs it (its target account holds them), when the run says what that is.
        production = ctx.failover_step() if ctx.is_drill else params
        basis = production if isinstance(production, BlobBackupStep) else params
        async with get_clients().async_session() as azure:
            for account_url in (params.source.account_url, params.target.account_url):
                await warm_credential(azure, account_url)  # the second finds the token cached
            target = probe_service(azure, params.target.account_url, timeout).get_container_client(
                params.target.container
            )
            records = probe_service(azure, basis.target.account_url, timeout)
            source_probed, target_probed, standing = await asyncio.gather(
                _probe_source(azure, params),
                probe(target.get_container_properties, timeout),
                _bounded_standing_sync(records, ctx.plan_name, basis, timeout),
            )
            backlog = None
            if standing.record is not None and source_probed.verdict.reachable and source_probed.error is None:
                backlog = await count_backlog(azure, params, standing.record.synced_through)
        return [
            self._source_check(ctx, params, source_probed, standing),
            self._target_check(ctx, params, target_probed),
            self._standing_check(ctx, basis, standing, backlog),
        ]

    def _source_check(
        self, ctx: StepContext, params: BlobBackupStep, probed: Probed[int], standing: StandingSync
    ) -> Check:
        name = location(params.source.account_url, params.source.container)
        verdict = probed.verdict
        facts: dict[str, Any] = {"source": name, "probe": verdict.model_dump(mode="json")}
        if not verdict.reachable:
            return self._source_unreachable_check(ctx, params, verdict, standing, facts)
        error = probed.error
        if error is None:
            return Check.passed("source_reachable", f"source {name} answered in {verdict.seconds:g} s", **facts)
        if error.status_code == 404:
            return Check.failed(
                "source_reachable",
                f"source container {name} does not exist ({verdict.answer}): the step would fail; check the plan's "
                "source.container",
                **facts,
            )
        if error.status_code in (401, 403):
            return Check.failed(
                "source_reachable",
                f"source {name} refused the listing ({verdict.answer}): grant the app's identity Storage Blob Data "
                "Reader on the source account",
                **facts,
            )
        return Check.warning(
            "source_reachable",
            f"source {name} answered {verdict.answer}: the step retries such answers; if they persist it treats "
            "the source as unreachable",
            **facts,
        )

    def _source_unreachable_check(
        self,
        ctx: StepContext,
        params: BlobBackupStep,
        verdict: SourceProbe,
        standing: StandingSync,
        facts: dict[str, Any],
    ) -> Check:
        """The source did not answer: at failover that is what the step is for (a warning, with the RPO it
        will report) unless the plan says to fail; a drill or a standing sync cannot do without it."""
        name = location(params.source.account_url, params.source.container)
        rpo, basis = rpo_after_outage(ctx.now, standing)
        facts = {**facts, "rpo_basis": basis, "rpo_estimate_seconds": rpo}
        if ctx.mode != "failover":
            return Check.failed(
                "source_reachable",
                f"source {name} did not answer one request ({verdict.cause}): a {ctx.mode} cannot copy from it; "
                "check the primary account's network access and health",
                **facts,
            )
        record = standing.record
        kept = (
            f"the last standing sync from {iso(record.synced_through)} (RPO ≈ {rpo:.0f} s)"
            if record is not None
            else f"no recorded sync: RPO unknown ({standing.unknown})"
        )
        if params.on_source_unavailable == "fail":
            return Check.failed(
                "source_reachable",
                f"primary unreachable ({verdict.cause}): the step will fail (on_source_unavailable: fail); "
                f"with 'continue' it would fail over on {kept}",
                **facts,
            )
        return Check.warning(
            "source_reachable", f"primary unreachable ({verdict.cause}): the step will keep {kept}", **facts
        )

    def _target_check(self, ctx: StepContext, params: BlobBackupStep, probed: Probed[ContainerProperties]) -> Check:
        name = location(params.target.account_url, params.target.container)
        verdict = probed.verdict
        facts: dict[str, Any] = {"target": name, "probe": verdict.model_dump(mode="json")}
        if not verdict.reachable:
            return Check.failed(
                "target_container",
                f"the target account of {name} did not answer one request ({verdict.cause}): the step can neither "
                "copy nor record its sync there; check the secondary account's network access and health",
                **facts,
            )
        error = probed.error
        if error is None:
            metadata = dict((probed.value.metadata if probed.value is not None else None) or {})
            return self._existing_target_check(ctx, name, metadata, facts)
        if error.status_code == 404 and error_code(error) == "ContainerNotFound":
            return Check.passed(
                "target_container",
                f"target container {name} does not exist yet: begin creates it (the app's identity needs Storage "
                "Blob Data Contributor on the target account)",
                exists=False,
                **facts,
            )
        if error.status_code in (401, 403, 404):
            return Check.failed(
                "target_container",
                f"target {name} answered {verdict.answer}: check that the account exists and grant the app's "
                "identity Storage Blob Data Contributor on it",
                **facts,
            )
        return Check.warning(
            "target_container",
            f"target {name} answered {verdict.answer}: the step retries such answers; check the account's health",
            **facts,
        )

    def _existing_target_check(
        self, ctx: StepContext, name: str, metadata: dict[str, str], facts: dict[str, Any]
    ) -> Check:
        """The target container exists: fine for a failover or a sync; a drill writes only into its own."""
        if not ctx.is_drill:
            return Check.passed("target_container", f"target container {name} exists", exists=True, **facts)
        if DRILL_RUN_KEY not in metadata:
            return Check.failed(
                "target_container",
                f"drill target container {name} already exists and was not made by a drill: a drill copies only "
                f"into its own containers (drill.overrides.{ctx.step_id}.target.container)",
                exists=True,
                **facts,
            )
        return Check.passed(
            "target_container",
            f"drill target container {name} exists, left by drill run {metadata[DRILL_RUN_KEY]}: this drill "
            "takes it over",
            exists=True,
            **facts,
        )

    def _standing_check(
        self, ctx: StepContext, basis: BlobBackupStep, standing: StandingSync, backlog: dict[str, Any] | None = None
    ) -> Check:
        pair = (
            f"{location(basis.source.account_url, basis.source.container)} to "
            f"{location(basis.target.account_url, basis.target.container)}"
        )
        rpo, rpo_basis = rpo_after_outage(ctx.now, standing)
        facts = {**standing_sync_facts(ctx.now, standing), "rpo_basis": rpo_basis, "rpo_estimate_seconds": rpo}
        if backlog is not None:
            facts["backlog"] = backlog
        record = standing.record
        if record is None:
            return Check.warning(
                "last_standing_sync",
                f"{standing.unknown or 'no standing sync recorded'} for {pair}: if the primary is unreachable at "
                "failover the data loss is unknown; let the standing sync run (or run this step in sync mode)",
                **facts,
            )
        message = (
            f"last standing sync of {pair} from {iso(record.synced_through)} ({rpo:.0f} s ago): what a failover "
            "keeps if the primary is unreachable"
        )
        if backlog is not None and "unknown" not in backlog:
            message += f"; changed at the source since: {backlog['text']}"
        if standing.attempt is not None:
            return Check.warning("last_standing_sync", f"{message}; {facts['note']}", **facts)
        return Check.passed("last_standing_sync", message, **facts)

    async def _begin(self, ctx: StepContext, params: BlobBackupStep) -> StepProgress:
        async with _Session(ctx, params) as session:
            probed: SourceProbe | None = None
            if ctx.mode == "failover":
                # At failover the primary region may be gone: one bounded request decides that before anything
                # else is asked of it, instead of the SDK's timeouts and retries on every request (tens of
                # seconds). The standing sync's record, the RPO basis either way, is read meanwhile. The token
                # first, alone: not counted against the probe, and fetched once for every client of the call.
                reused = _fresh_unreachable_verdict(ctx, params)
                if reused is not None:  # pre-flight just found it dead: asking again costs the whole bound
                    verdict, standing = reused, await self._standing_sync(session, ctx)
                else:
                    await session.warm_credential()
                    verdict, standing = await asyncio.gather(session.probe_source(), self._standing_sync(session, ctx))
                probed = verdict
                if not verdict.reachable:
                    state = BlobBackupState(
                        synced_through=ctx.now,
                        source_probe=verdict,
                        source_unavailable=f"one probe request: {verdict.cause}",
                        **standing.state_fields(),
                    )
                    return await self._source_unavailable(ctx, params, session, state)
                _, drill_container = await asyncio.gather(session.store.ensure(), self._prepare_target(ctx, session))
            else:
                # Independent requests, at once: they are most of what an unchanged re-run costs beyond listing.
                _, drill_container, standing = await asyncio.gather(
                    session.store.ensure(), self._prepare_target(ctx, session), self._standing_sync(session, ctx)
                )
            state = BlobBackupState(
                synced_through=ctx.now,
                drill_container=drill_container,
                source_probe=probed,
                **standing.state_fields(),
            )
            first = await session.list_segment(None)
            return await self._advance(ctx, params, session, state, [first.model_dump(mode="json")])

    async def _prepare_target(self, ctx: StepContext, session: _Session) -> str | None:
        """Make the target container. A drill writes only into a container marked as a drill's: one it
        creates, or one an earlier drill left behind; never into a container that holds anything else."""
        target = session.target
        try:
            if not ctx.is_drill:
                await ensure_container(target)
                return None
            marker = {DRILL_RUN_KEY: safe_segment(ctx.run_id), DRILL_PLAN_KEY: safe_segment(ctx.plan_name)}
            if await ensure_container(target, metadata=marker):
                return target.container_name
            existing = (await target.get_container_properties()).metadata or {}
        except DrError:
            raise
        except Exception as exc:
            raise from_azure_error(exc, what=f"prepare target container {session.target_name}") from exc
        if DRILL_RUN_KEY not in existing:
            raise PreconditionError(
                f"drill target container {session.target_name} already exists and was not made by a drill: "
                "a drill copies only into its own containers (set drill.overrides for this step)",
                code="DrillTargetNotOwned",
            )
        if existing.get(DRILL_RUN_KEY) != marker[DRILL_RUN_KEY]:
            await target.set_container_metadata(metadata=marker)  # left by an earlier drill: this run owns it now
        return target.container_name

    async def _standing_sync(self, session: _Session, ctx: StepContext) -> StandingSync:
        return await read_standing_sync(
            session.target_service, ctx.plan_name, ctx.step_id, session.source_name, session.target_name
        )

    # -- work ----------------------------------------------------------------------------------------
    def work(self, ctx: StepContext, params: BlobBackupStep, item: dict[str, Any]) -> dict[str, Any]:
        return run_async(lambda: self.work_async(ctx, params, item))

    async def work_async(self, ctx: StepContext, params: BlobBackupStep, item: dict[str, Any]) -> dict[str, Any]:
        return await self._work(ctx, params, WorkItem.model_validate(item))

    async def _work(self, ctx: StepContext, params: BlobBackupStep, item: WorkItem) -> dict[str, Any]:
        async with _Session(ctx, params) as session:
            if item.op == "list":
                tail = functools.partial(self._copy, session)  # a chunk of this call: no earlier result
                return (await session.list_segment(item.ref, copy_tail=tail)).model_dump(mode="json")
            if item.ref is None:
                raise InvalidInputError(f"{item.op} work item without a file reference")
            if item.op == "copy":
                return (await self._copy_chunk(session, item.ref)).model_dump(mode="json")
            if item.op == "verify":
                return (await self._verify(session, item.ref)).model_dump(mode="json")
            return (await self._check_pending(session, item.ref)).model_dump(mode="json")

    async def _copy_chunk(self, session: _Session, ref: str) -> CopyResult:
        # Both at once (one round trip): the result is there only when this item ran before.
        earlier, chunk = await asyncio.gather(
            session.store.read(result_name(ref), CopyResult), session.store.read(ref, Chunk)
        )
        if earlier is not None:  # this item ran before, to the end: say what it did, do nothing twice
            earlier.replayed = True
            return earlier
        if chunk is None:
            raise PermanentError(f"manifest chunk {ref} of this run is gone (state deleted by hand?)")
        return await self._copy(session, ref, chunk)

    async def _copy(self, session: _Session, ref: str, chunk: Chunk) -> CopyResult:
        """Copy the chunk stored as ``ref``, check the copies, and record the result as the item's own."""
        copier = ChunkCopier(
            source=session.source,
            target=session.target,
            authorizer=SourceAuthorizer(session.source_service, session.params.source.container),
            concurrency=session.params.copy_concurrency,
            page_size=session.params.page_size,
            request_timeout=session.params.request_timeout.total_seconds(),
            first_backoff=session.params.retry_backoff.total_seconds(),
            attempt=chunk.attempt,
            final_attempt=chunk.attempt >= session.params.retry.attempts,
            keep_newer=session.params.on_conflict == "keep_newer",
        )
        try:
            with copy_slots(
                session.step_run, per_item=session.params.copy_concurrency, max_items=session.params.max_parallel_pages
            ) as slots:
                copier.slots = slots
                result, outcome = await copier.run(chunk)
        except DrError:
            raise
        except Exception as exc:
            error = from_azure_error(exc, what=f"copy {session.source_name} to {session.target_name}")
            raise _redacted(error) from exc
        if copier.pending:
            result.pending_ref = ref.removesuffix(".json") + ".pending-1.json"
            await session.store.write(result.pending_ref, PendingFile(copies=copier.pending))
        if copier.retry:  # copies that failed transiently: a later poll hands them out again, after a backoff
            stem = ref.removesuffix(".json").split(".retry-", 1)[0]
            result.retry_attempt = chunk.attempt + 1
            result.retry_ref = f"{stem}.retry-{result.retry_attempt}.json"
            await session.store.write(result.retry_ref, Chunk(ops=copier.retry, attempt=result.retry_attempt))
        if result.verify_method == "deferred":
            await self._check_by_listing(session, chunk, outcome, result)
        await session.store.write(result_name(ref), result)  # last: it marks the item as done
        return result

    async def _check_by_listing(
        self, session: _Session, chunk: Chunk, outcome: ChunkOutcome, result: CopyResult
    ) -> None:
        """Check a dense chunk's copies now, against the target listed from the chunk's first name on: a few
        requests where a HEAD per blob would cost one each, made while the round's other items still copy (an
        end-of-run pass left Azurite idle for a round of its own). What does not check out is taken back from
        the counts and copied again (a recopy chunk, checked blob by blob)."""
        expected = copies_made(chunk, outcome)
        check = ListingCheck(session.target_pages(start_from=expected[0].name), counts=result.counts)
        await check.check_stretch(expected)
        result.verify_method = "listing"
        if check.recopy:
            result.recopy_ref = f"recopy-{secrets.token_hex(4)}.json"
            await session.store.write(result.recopy_ref, Chunk(ops=check.recopy, recopy=True))

    async def _verify(self, session: _Session, ref: str) -> CopyResult:
        cursor = await session.store.read(ref, VerifyCursor)
        if cursor is None:
            raise PermanentError(f"verification cursor {ref} of this run is gone (state deleted by hand?)")
        verifier = VerifyPass(session.store, session.target_pages())
        next_cursor = await verifier.run(cursor, LIST_SECONDS_PER_CALL)
        result = CopyResult(op="verify", counts=verifier.counts, verify_method="listing")
        if verifier.recopy:
            result.recopy_ref = f"recopy-{secrets.token_hex(4)}.json"
            await session.store.write(result.recopy_ref, Chunk(ops=verifier.recopy, recopy=True))
        if next_cursor is not None:
            result.cursor = f"verify-{secrets.token_hex(4)}.json"
            await session.store.write(result.cursor, next_cursor)
        return result

    async def _check_pending(self, session: _Session, ref: str) -> CopyResult:
        pending = await session.store.read(ref, PendingFile)
        if pending is None:
            raise PermanentError(f"pending-copy list {ref} of this run is gone (state deleted by hand?)")
        counts, failures, still = await check_pending(session.target, pending.copies, session.params.copy_concurrency)
        counts.pending -= len(pending.copies)  # the change in "pending now": checked ones leave, still ones stay
        result = CopyResult(op="pending", counts=counts, failures=failures, verify_method="head")
        if still:
            stem, _, n = ref.removesuffix(".json").rpartition(".pending-")
            result.pending_ref = f"{stem}.pending-{int(n) + 1}.json"
            await session.store.write(result.pending_ref, PendingFile(copies=still))
        return result

    # -- poll ----------------------------------------------------------------------------------------
    def poll(
        self, ctx: StepContext, params: BlobBackupStep, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        current = BlobBackupState.model_validate(state)
        return run_async(lambda: self._poll(ctx, params, current, work_results))

    async def _poll(
        self, ctx: StepContext, params: BlobBackupStep, state: BlobBackupState, results: list[dict[str, Any]]
    ) -> StepProgress:
        async with _Session(ctx, params) as session:
            return await self._advance(ctx, params, session, state, results)

    async def _advance(
        self,
        ctx: StepContext,
        params: BlobBackupStep,
        session: _Session,
        state: BlobBackupState,
        results: list[dict[str, Any]],
    ) -> StepProgress:
        if state.failing:
            raise self._copy_failed(session, state)
        new_chunks, verifying = self._absorb(state, results, params, ctx.now)
        if state.source_unavailable is not None:
            return await self._source_unavailable(ctx, params, session, state)
        due = [entry for entry in state.retries if entry.due <= ctx.now]
        state.retries = [entry for entry in state.retries if entry.due > ctx.now]
        work = [WorkItem(op="copy", ref=ref) for ref in [*new_chunks, *(entry.ref for entry in due)]]
        if not state.listing_done:
            work.insert(0, WorkItem(op="list", ref=state.cursor))  # first: it feeds the next round
        if verifying and not state.verify_done:
            work.insert(0, WorkItem(op="verify", ref=state.verify_cursor))
        if not work and state.pending_refs:
            if not state.pending_wait:
                state.pending_wait = True
                return self._progress(params, state, poll_after=PENDING_POLL_SECONDS)
            work = [WorkItem(op="pending", ref=ref) for ref in state.pending_refs]
            state.pending_refs, state.pending_wait = [], False
        if not work and state.retries:  # only retries left, not due yet: wait for the first of them
            wait = min(entry.due for entry in state.retries) - ctx.now
            return self._progress(params, state, poll_after=max(0.0, wait.total_seconds()))
        if not work and state.deferred_chunks and state.verify_cursor is None and not state.verify_done:
            # Every copy is done: check the dense ones against one listing of the target.
            state.verify_cursor = "verify-start.json"
            await session.store.write(state.verify_cursor, VerifyCursor(batches=state.batches))
            work = [WorkItem(op="verify", ref=state.verify_cursor)]
        if work:
            state.rounds += 1
            return self._progress(params, state, work=[item.model_dump(mode="json") for item in work])
        return await self._finish(ctx, params, session, state)

    def _absorb(
        self, state: BlobBackupState, results: list[dict[str, Any]], params: BlobBackupStep, now: datetime
    ) -> tuple[list[str], bool]:
        """Add results to the state: the chunks to copy next, and whether the verification pass goes on."""
        new_chunks: list[str] = []
        verifying = False
        for raw in results:
            result = WORK_RESULT.validate_python(raw)
            if isinstance(result, ListResult):
                listing = result
                state.wrote_files |= listing.wrote_files
                if listing.source_unavailable is not None:
                    state.source_unavailable = listing.source_unavailable
                    continue
                state.stats.add(listing.stats)
                state.cursor = listing.cursor
                state.listing_done = listing.cursor is None
                new_chunks.extend(ref for ref in listing.chunks if ref != listing.copied_tail)
                if listing.chunks:
                    state.batches.append((listing.token, len(listing.chunks)))
                if listing.tail is not None:
                    self._absorb_copy(state, listing.tail, params, now, new_chunks)
                continue
            if result.op == "verify":
                state.counts.add(result.counts)  # confirms copies, or takes back those sent to recopy
                state.verify_cursor = result.cursor
                state.verify_done = result.cursor is None
                verifying = result.cursor is not None
                if result.recopy_ref:  # the pass found copies that do not check out
                    new_chunks.append(result.recopy_ref)
                continue
            self._absorb_copy(state, result, params, now, new_chunks)
        return new_chunks, verifying

    def _absorb_copy(
        self,
        state: BlobBackupState,
        copied: CopyResult,
        params: BlobBackupStep,
        now: datetime,
        new_chunks: list[str],
    ) -> None:
        """A copy (or pending-check) result into the state; copies to make again go to ``new_chunks``."""
        if copied.recopy_ref:  # the item's own listing check found copies that do not check out
            new_chunks.append(copied.recopy_ref)
        if copied.verify_method == "deferred":
            state.deferred_chunks += 1
        state.pending_now += copied.counts.pending
        copied.counts.pending = 0
        state.counts.add(copied.counts)
        room = MAX_FAILURES_KEPT - len(state.failures)
        state.failures.extend(copied.failures[: max(0, room)])
        keep_samples(state.stats.conflict_samples, copied.conflict_samples)
        if copied.pending_ref:
            state.pending_refs.append(copied.pending_ref)
        _schedule_retry(state, copied, params, now)
        for method in (copied.copy_method or "").split(","):
            if method and method not in state.copy_methods:
                state.copy_methods.append(method)
        if copied.verify_method != "none" and copied.verify_method not in state.verify_methods:
            state.verify_methods.append(copied.verify_method)
        if copied.source_unavailable and state.source_unavailable is None:
            state.source_unavailable = copied.source_unavailable

    def _progress(
        self,
        params: BlobBackupStep,
        state: BlobBackupState,
        *,
        work: list[dict[str, Any]] | None = None,
        poll_after: float = 0.0,
    ) -> StepProgress:
        stats, counts = state.stats, state.counts
        summary = (
            f"{counts.copied}/{stats.to_copy} copied, {stats.skipped} unchanged, {counts.failed} failed, "
            f"{stats.listed_source} listed"
        )
        conflicts = _Conflicts.of(state)
        if conflicts.kept:
            summary += f", {conflicts.kept} newer in the target kept"
        if conflicts.overwritten:
            summary += f", {conflicts.overwritten} newer in the target overwritten"
        if state.pending_now:
            summary += f", {state.pending_now} copies running"
        retrying = sum(entry.blobs for entry in state.retries)
        if retrying:
            summary += f", {retrying} to retry"
        return StepProgress(
            state=state.model_dump(mode="json"),
            work=work or [],
            max_parallel=min(64, params.max_parallel_pages + 1),
            poll_after_seconds=poll_after,
            summary=summary,
        )

    def _detail(self, ctx: StepContext, session: _Session, state: BlobBackupState) -> dict[str, Any]:
        counts, stats = state.counts, state.stats
        return {
            "source": session.source_name,
            "target": session.target_name,
            "prefix": session.params.prefix,
            "mode": ctx.mode,
            "containers": 1,
            "copied": counts.copied,
            "skipped": stats.skipped,
            "failed": counts.failed,
            "deleted": counts.deleted,
            "bytes_copied": counts.bytes_copied,
            "verified": counts.verified,
            "pending": state.pending_now,
            "listed_source": stats.listed_source,
            "listed_target": stats.listed_target,
            "extra_in_target": stats.extra_in_target,
            "vanished": counts.vanished,
            "delete_skipped": counts.delete_skipped,
            "recopied": counts.recopied,
            **_Conflicts.of(state).detail(session.params),
            "copy_method": ",".join(state.copy_methods) or None,
            "verify_method": ",".join(state.verify_methods) or None,
            "failed_blobs": state.failures[:MAX_FAILURES_KEPT],
            "retried": counts.retried,
            "rounds": state.rounds,
            "source_probe": state.source_probe.model_dump(mode="json") if state.source_probe else None,
            "standing_sync": standing_sync_facts(
                ctx.now, StandingSync(state.last_sync, state.last_attempt, state.last_sync_unknown)
            ),
            # What this drill made, for the report's cost (resource x minutes until teardown removes it).
            "drill_created": [
                {"type": "blob container", "name": session.target_name, "created_at": iso(state.synced_through)}
            ]
            if ctx.is_drill and state.drill_container
            else [],
        }

    async def _finish(
        self, ctx: StepContext, params: BlobBackupStep, session: _Session, state: BlobBackupState
    ) -> StepProgress:
        detail = self._detail(ctx, session, state)
        rpo_watermark = state.stats.newest_source_change
        detail["rpo_watermark"] = rpo_watermark
        detail["last_sync_at"] = iso(state.synced_through)
        writes = [self._clean_up(session, state)]  # independent of the record: both at once
        if state.counts.failed == 0 and not ctx.is_drill:
            writes.append(
                write_sync_record(
                    session.target_service,
                    get_settings().state_container,
                    SyncRecord(
                        plan=ctx.plan_name,
                        step=ctx.step_id,
                        source=session.source_name,
                        target=session.target_name,
                        synced_through=state.synced_through,
                        finished_at=ctx.now,
                        rpo_watermark=rpo_watermark,
                        copied=state.counts.copied,
                        run_id=ctx.run_id,
                    ),
                )
            )
        await asyncio.gather(*writes)
        if state.counts.failed:
            # Two calls: this progress carries the detail (the failed blobs by name) into the step's outcome,
            # the next poll raises (a failing call's own return value never reaches the report).
            state.failing = True
            progress = self._progress(params, state)
            progress.detail = detail
            progress.warnings = _Conflicts.of(state).warnings(params)
            progress.summary = str(self._copy_failed(session, state).message)[:300]
            return progress
        # Every blob the listing saw (it began at synced_through) is on the target; what changed at the source
        # after that instant may not be: the estimate is that window, not zero.
        rpo = max(0.0, (ctx.now - state.synced_through).total_seconds())
        detail["rpo_basis"] = (
            f"copied every blob listed at {iso(state.synced_through)}: {rpo:.0f} s "
            "(changes made at the source since the listing began may be missing)"
        )
        progress = self._progress(params, state)
        progress.done = True
        progress.detail = detail
        progress.warnings = _Conflicts.of(state).warnings(params)
        progress.rpo_estimate_seconds = rpo
        return progress

    def _copy_failed(self, session: _Session, state: BlobBackupState) -> PermanentError:
        shown = "; ".join(state.failures[:MAX_FAILURE_NAMES])
        more = state.counts.failed - min(len(state.failures), MAX_FAILURE_NAMES)
        return PermanentError(
            f"{state.counts.failed} blob(s) could not be copied from {session.source_name} to "
            f"{session.target_name}: {shown}{f' (+{more} more)' if more > 0 else ''}; "
            f"{state.counts.copied} copied, {state.stats.skipped} unchanged, {state.counts.deleted} deleted",
            code="BlobCopyFailed",
        )

    async def _source_unavailable(
        self, ctx: StepContext, params: BlobBackupStep, session: _Session, state: BlobBackupState
    ) -> StepProgress:
        reason = state.source_unavailable or "source unavailable"
        await asyncio.gather(self._clean_up(session, state), self._record_attempt(ctx, params, session, reason))
        if ctx.mode != "failover" or params.on_source_unavailable == "fail":
            raise TransientError(f"source {session.source_name} is unreachable: {reason}", code="SourceUnavailable")
        detail = self._detail(ctx, session, state)
        last = state.last_sync
        detail["source_unavailable"] = reason
        detail["rpo_watermark"] = iso(last.synced_through) if last else None
        detail["last_sync_at"] = iso(last.synced_through) if last else None
        rpo, detail["rpo_basis"] = rpo_after_outage(
            ctx.now, StandingSync(last, state.last_attempt, state.last_sync_unknown)
        )
        warning = f"source {session.source_name} did not answer ({reason}): failing over with the data of the last " + (
            f"sync at {iso(last.synced_through)}" if last else "sync, of which there is no record: RPO unknown"
        )
        progress = self._progress(params, state)
        progress.done = True
        progress.detail = detail
        progress.warnings = [warning, *_Conflicts.of(state).warnings(params)]
        progress.summary = "source unreachable: the secondary holds the sync of " + (
            iso(last.synced_through) if last else "an unknown time (no sync recorded)"
        )
        progress.rpo_estimate_seconds = rpo
        return progress

    async def _record_attempt(self, ctx: StepContext, params: BlobBackupStep, session: _Session, reason: str) -> None:
        """Note in the standing sync's records that this sync found the source unreachable, for the next
        failover's report and pre-flight. A drill's target is not production's: it records nothing. Best effort
        and bounded: the note must neither fail nor hold up a failover."""
        if ctx.is_drill:
            return
        attempt = SyncAttempt(
            plan=ctx.plan_name,
            step=ctx.step_id,
            source=session.source_name,
            target=session.target_name,
            at=ctx.now,
            mode="sync" if ctx.mode == "sync" else "failover",
            reason=reason[:300],
            run_id=ctx.run_id,
        )
        with contextlib.suppress(Exception):
            async with asyncio.timeout(params.source_probe_timeout.total_seconds()):
                await write_sync_attempt(session.target_service, get_settings().state_container, attempt)

    async def _clean_up(self, session: _Session, state: BlobBackupState) -> None:
        if not state.wrote_files and not state.pending_refs:
            return
        # Leftovers would cost a few KB and no later run reads them: a failed cleanup is not a failed step.
        with contextlib.suppress(Exception):
            await session.store.delete_all()

    # -- teardown ------------------------------------------------------------------------------------
    def teardown(
        self, ctx: StepContext, params: BlobBackupStep, state: dict[str, Any], previous: TeardownResult | None = None
    ) -> dict[str, Any]:
        if not ctx.is_drill:
            return {"teardown": "nothing to undo: a failover keeps its copies"}
        return run_async(lambda: self._teardown(ctx, params))

    async def _teardown(self, ctx: StepContext, params: BlobBackupStep) -> dict[str, Any]:
        async with _Session(ctx, params) as session:
            try:
                await session.store.delete_all()
                properties = await session.target.get_container_properties()
            except ResourceNotFoundError:
                return {"teardown": f"drill container {session.target_name} is already gone"}
            except Exception as exc:
                raise from_azure_error(exc, what=f"tear down drill container {session.target_name}") from exc
            if (properties.metadata or {}).get(DRILL_RUN_KEY) != safe_segment(ctx.run_id):
                return {"teardown": f"kept {session.target_name}: this drill did not create it"}
            try:
                await session.target.delete_container()
            except ResourceNotFoundError:
                pass
            except Exception as exc:
                raise from_azure_error(exc, what=f"delete drill container {session.target_name}") from exc
            return {"teardown": f"deleted drill container {session.target_name}"}


@dataclass(frozen=True)
class _Conflicts:
    """Target blobs newer than a source that differs: found by the diff (kept or overwritten, as the plan says)
    or, with keep_newer, by a copy that met a target rewritten since the listing (kept)."""

    kept: int
    overwritten: int
    samples: list[str]

    @classmethod
    def of(cls, state: BlobBackupState) -> _Conflicts:
        stats = state.stats
        kept = stats.conflicts - stats.conflicts_overwritten + state.counts.conflicts
        return cls(kept, stats.conflicts_overwritten, stats.conflict_samples)

    def detail(self, params: BlobBackupStep) -> dict[str, Any]:
        return {
            "on_conflict": params.on_conflict,
            "conflicts": self.kept + self.overwritten,
            "conflicts_kept": self.kept,
            "conflicts_overwritten": self.overwritten,
            "conflict_samples": self.samples,
        }

    def warnings(self, params: BlobBackupStep) -> list[str]:
        lines = []
        if self.kept:
            lines.append(
                f"{self.kept} blobs in the target are newer than the source and were kept "
                f"(on_conflict: {params.on_conflict})"
            )
        if self.overwritten:
            lines.append(
                f"{self.overwritten} blobs in the target were newer than the source and were overwritten "
                f"(on_conflict: {params.on_conflict})"
            )
        return lines


# How old a pre-flight verdict of an unreachable source may be for begin to take it instead of probing again:
# about as long as pre-flight and starting the step take; after an approval wait the step asks again.
REUSED_VERDICT_SECONDS = 60.0


def _fresh_unreachable_verdict(ctx: StepContext, params: BlobBackupStep) -> SourceProbe | None:
    """This run's pre-flight verdict that the source did not answer, if it is fresh (see REUSED_VERDICT_SECONDS)."""
    check = ctx.fresh_check("source_reachable", REUSED_VERDICT_SECONDS)
    probe = check.facts.get("probe") if check is not None else None
    if not isinstance(probe, dict) or probe.get("reachable") is not False:
        return None
    verdict = SourceProbe.model_validate(probe)
    cause = f"{verdict.cause} (pre-flight, {(ctx.now - (ctx.preflight_at or ctx.now)).total_seconds():.0f} s before)"
    return verdict.model_copy(update={"cause": cause})


def _redacted(error: DrError) -> DrError:
    """The error with any SAS fields cut out of its message (an unexpected exception may quote a URL)."""
    error.message = redact(error.message)
    error.args = (error.message,)
    return error


def _schedule_retry(state: BlobBackupState, result: CopyResult, params: BlobBackupStep, now: datetime) -> None:
    """Copies of a chunk that failed transiently go out again once the step's retry policy says."""
    if result.retry_ref is None or any(entry.ref == result.retry_ref for entry in state.retries):
        return
    due = now + params.retry.delay_before(result.retry_attempt)
    state.retries.append(
        RetryChunk(ref=result.retry_ref, attempt=result.retry_attempt, due=due, blobs=result.counts.retried)
    )


def _matching(record: SyncRecord | None, source: str, target: str) -> SyncRecord | None:
    """A record counts only for the containers it was made for (the plan may have been edited since)."""
    if record is None or record.source != source or record.target != target:
        return None
    return record


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _probe_source(azure: AsyncAzureSession, params: BlobBackupStep) -> Probed[int]:
    """The one bounded request that says whether the source answers (see :mod:`dr.blobsync.probe`). Warm the
    credential first (:func:`warm_credential`): its token is not the source's answer."""
    timeout = params.source_probe_timeout.total_seconds()
    service = probe_service(azure, params.source.account_url, timeout)
    return await probe_listing(service.get_container_client(params.source.container), timeout)


async def read_standing_sync(
    service: BlobServiceClient, plan_name: str, step_id: str, source: str, target: str
) -> StandingSync:
    """The standing sync's records of a step, kept only if made for these containers. An unreadable record
    is not a reason to stop a failover: the RPO is then unknown, and says why."""
    container = get_settings().state_container
    record_read, attempt_read = await asyncio.gather(
        read_sync_record(service, container, plan_name, step_id),
        read_sync_attempt(service, container, plan_name, step_id),
        return_exceptions=True,
    )
    for outcome in (record_read, attempt_read):
        if isinstance(outcome, BaseException) and not isinstance(outcome, DrError):
            raise outcome  # a bug or a cancellation, not an unreadable record
    if isinstance(record_read, DrError):
        return StandingSync(
            unknown=f"unknown: the standing sync record could not be read ({record_read.message[:200]})"
        )
    found = record_read if isinstance(record_read, SyncRecord) else None
    # The note of a failed attempt is only a note: unreadable, it is left out.
    attempt = attempt_read if isinstance(attempt_read, SyncAttempt) else None
    if attempt is not None and (attempt.source, attempt.target) != (source, target):
        attempt = None
    record = _matching(found, source, target)
    if attempt is not None and record is not None and _utc(attempt.at) <= _utc(record.finished_at):
        attempt = None  # a clean sync came after it: the source answered since
    if record is not None:
        return StandingSync(record=record, attempt=attempt)
    if found is None:
        return StandingSync(attempt=attempt, unknown="unknown: no standing sync recorded")
    return StandingSync(
        attempt=attempt,
        unknown=f"unknown: the last standing sync recorded was of {found.source} to {found.target}, "
        f"not of {source} to {target} (the plan changed since)",
    )


async def _bounded_standing_sync(
    service: BlobServiceClient, plan_name: str, step: BlobBackupStep, timeout: float
) -> StandingSync:
    """:func:`read_standing_sync` within ``timeout`` (a pre-flight never waits long)."""
    source = location(step.source.account_url, step.source.container)
    target = location(step.target.account_url, step.target.container)
    try:
        async with asyncio.timeout(timeout):
            return await read_standing_sync(service, plan_name, step.id, source, target)
    except TimeoutError:
        return StandingSync(
            unknown=f"unknown: the standing sync record could not be read (no answer within {timeout:g} s)"
        )


# The pre-flight's count of what changed at the source since the last standing sync (the backlog a last pass
# copies, the data an outage now would lose): at most this many listing pages, within this many seconds.
BACKLOG_MAX_PAGES = 20
BACKLOG_SECONDS = 5.0


async def count_backlog(
    azure: AsyncAzureSession,
    params: BlobBackupStep,
    since: datetime,
    *,
    max_pages: int = BACKLOG_MAX_PAGES,
    seconds: float = BACKLOG_SECONDS,
) -> dict[str, Any]:
    """Blobs (and their bytes) of the source modified since ``since``, listed read-only, without metadata, each
    request bounded by
    ``source_probe_timeout`` with no retries, at most ``max_pages`` pages within ``seconds``. Last-Modified has
    one-second resolution: a blob of the sync's own second may or may not be in it, and is counted apart
    (``same_second``; ``blobs`` and ``bytes`` include it, as the data at risk must). A capped count is a lower
    bound: ``complete`` is False and ``text`` says "≥ N". Deleted blobs are not counted (a listing cannot see
    them). Never raises for what the account answers: ``unknown`` says why there is no count."""
    timeout = params.source_probe_timeout.total_seconds()
    container = probe_service(azure, params.source.account_url, timeout).get_container_client(params.source.container)
    fetch = container_pages(container, prefix=params.prefix, include=[], page_size=params.page_size)
    floor = _utc(since).replace(microsecond=0)
    blobs = size = listed = pages = same_second = same_second_bytes = 0
    complete = False
    started = time.monotonic()
    unknown: str | None = None
    try:
        async with asyncio.timeout(seconds):
            token: str | None = None
            while pages < max_pages:
                page, token = await fetch(token)
                pages += 1
                for blob in page:
                    listed += 1
                    modified = blob.last_modified
                    changed = datetime.fromisoformat(modified.replace("Z", "+00:00")) if modified else None
                    if changed is not None and changed >= floor:
                        blobs += 1
                        size += blob.size
                        if changed == floor:
                            same_second += 1
                            same_second_bytes += blob.size
                if token is None:
                    complete = True
                    break
    except TimeoutError:
        pass
    except Exception as exc:  # an answer the count cannot read through: no count, the check still stands
        unknown = f"the source listing failed ({describe(exc)})"
    elapsed = round(time.monotonic() - started, 3)
    facts: dict[str, Any] = {
        "since": iso(since),
        "blobs": blobs,
        "bytes": size,
        "listed": listed,
        "pages": pages,
        "complete": complete and unknown is None,
        "list_seconds": elapsed,
        "same_second": same_second,
        "same_second_bytes": same_second_bytes,
        "text": f"{'' if complete else '≥ '}{blobs} blob(s), {'' if complete else '≥ '}{size} bytes"
        + (f" ({same_second} of them from the sync's own second: perhaps in it)" if same_second else ""),
    }
    if unknown is not None:
        facts["unknown"] = unknown
    return facts


def rpo_after_outage(now: datetime, standing: StandingSync) -> tuple[float | None, str]:
    """The data a failover without a last pass may lose, and what the number rests on: everything the
    source took in since the last standing sync began listing. None: no usable record, the loss is unknown."""
    record = standing.record
    if record is None:
        return None, standing.unknown or "unknown: no standing sync recorded"
    rpo = max(0.0, (_utc(now) - _utc(record.synced_through)).total_seconds())
    return rpo, f"source unreachable; last standing sync {iso(record.synced_through)}: {rpo:.0f} s"


def standing_sync_facts(now: datetime, standing: StandingSync) -> dict[str, Any]:
    """The standing sync's state as report facts: the last clean sync and its age, the latest failed attempt."""
    record, attempt = standing.record, standing.attempt
    facts: dict[str, Any] = {
        "last_sync_at": iso(record.synced_through) if record else None,
        "last_sync_age_seconds": round((_utc(now) - _utc(record.synced_through)).total_seconds(), 1)
        if record
        else None,
        "last_sync_run": record.run_id if record else None,
        "unknown": standing.unknown,
    }
    if attempt is not None:
        age = max(0.0, (_utc(now) - _utc(attempt.at)).total_seconds())
        facts["last_attempt"] = {
            "at": iso(attempt.at),
            "mode": attempt.mode,
            "outcome": attempt.outcome,
            "reason": attempt.reason,
            "age_seconds": round(age, 1),
        }
        facts["note"] = (
            f"the latest sync attempt ({attempt.mode}, {age:.0f} s ago at {iso(attempt.at)}) also found the source "
            f"unreachable: {attempt.reason}"
        )
    return facts


# -- standing sync: the last successful sync of each (plan, step) --------------------------------------


def _transport_for(step: BlobBackupStep) -> Transport:
    return Transport(
        retry_attempts=step.retry_attempts,
        first_backoff=step.retry_backoff.total_seconds(),
        request_timeout=step.request_timeout.total_seconds(),
    )


def last_sync(plan_name: str, step: BlobBackupStep) -> SyncRecord | None:
    """The last successful sync of this step (recorded by the step itself on a clean finish), or None."""

    async def read() -> SyncRecord | None:
        async with get_clients().async_session() as azure:
            service = _transport_for(step).service(azure, step.target.account_url)
            record = await read_sync_record(service, get_settings().state_container, plan_name, step.id)
        return _matching(
            record,
            location(step.source.account_url, step.source.container),
            location(step.target.account_url, step.target.container),
        )

    return run_async(read)


def record_sync(
    plan_name: str,
    step: BlobBackupStep,
    *,
    synced_through: datetime,
    finished_at: datetime,
    rpo_watermark: str | None = None,
    copied: int = 0,
    run_id: str | None = None,
) -> SyncRecord:
    """Record a successful sync (the step does this itself; for callers that sync by other means)."""
    record = SyncRecord(
        plan=plan_name,
        step=step.id,
        source=location(step.source.account_url, step.source.container),
        target=location(step.target.account_url, step.target.container),
        synced_through=synced_through,
        finished_at=finished_at,
        rpo_watermark=rpo_watermark,
        copied=copied,
        run_id=run_id,
    )

    async def write() -> None:
        async with get_clients().async_session() as azure:
            service = _transport_for(step).service(azure, step.target.account_url)
            await write_sync_record(service, get_settings().state_container, record)

    run_async(write)
    return record
