"""Benchmark of the blob_backup step against Azurite, next to the ways one could do without it.

    .venv/bin/python benchmarks/blob_backup.py                 # 2,000 x 1 KiB + 4 x 4 MiB, with and without 20 ms RTT
    .venv/bin/python benchmarks/blob_backup.py --blobs 10000 --skip-naive --rtt-ms 0   # bigger Azurite run
    .venv/bin/python benchmarks/blob_backup.py --engine-only --engine-scale 2000 --engine-scale 1000000
    # 100,000 blobs end to end on one in-memory Azurite (seeding takes ~10 minutes, the copy ~25 on 2 cores)
    .venv/bin/python benchmarks/blob_backup.py --blobs 100000 --repeat 1 --skip-raw --skip-naive --skip-rerun \\
        --rtt-ms 0 --engine-scale 2000

Measured, each into a fresh target container, ``--repeat`` times (default 5; every figure is given as its
median, range and spread, ratios pair by pair, since the machine may be shared):
- step:   the blob_backup step driven as the sub-orchestration drives it (begin, rounds of work items side by
          side on one event loop, as the worker runs the async ``step_work`` activity, poll), in a child
          process so its peak RSS is its own; where its time went
          (``breakdown``: begin, copy rounds, listing-only and verification rounds, polls, the rest);
- raw:    an asyncio server-side copier (list, then start_copy_from_url with a SAS) at its best concurrency,
          alternating with the step runs; where its time went (waiting for listing pages, first copy, tail);
- naive:  what a first example does: list, then for each blob download it and upload it, one after another
          (timed on a sample of the small blobs and given as a rate);
- rerun:  the step again with nothing changed, next to listing both containers;
- engine: the diff and the verification alone at 2,000 and 100,000 blobs over generated listings (the step's
          own CPU and memory per blob, no server in the way).
With Azurite started here, every raw and step run also carries the CPU seconds Azurite spent on it
(``azurite_cpu_seconds``, ``azurite_busy`` = that over the run's seconds, and ``step_vs_raw_azurite_cpu``: the
raw copier's Azurite CPU over the step's, pair by pair). Azurite serves on one thread and is the limit here,
so a ratio of wall times is read next to the ratio of the work each run asked of Azurite.
``--rtt-ms N`` puts the devstack fault proxy (its own process) in front of Azurite adding N ms per request,
standing in for a cross-region round trip; by default the run measures both without and with 20 ms, the
raw copier too (``raw_rtt20``, its concurrency scanned again through the proxy).
Azurite is started here (in memory) unless DR_STORAGE_CONNECTION_STRINGS names the accounts primary and
secondary. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SMALL = 1024
LARGE = 4 * 1024 * 1024
LARGE_COUNT = 4
RAW_SCAN_SAMPLE = 600  # blobs per run of the raw copier's concurrency scan


# -- where Azurite is ------------------------------------------------------------------------------------


def _endpoint_of(connection_string: str) -> str:
    match = re.search(r"BlobEndpoint=(https?://[^/;]+)", connection_string)
    if not match:
        raise SystemExit("connection strings need a BlobEndpoint=")
    return match.group(1)


def _reroute(connection_string: str, endpoint: str) -> str:
    return re.sub(r"BlobEndpoint=https?://[^/;]+", f"BlobEndpoint={endpoint}", connection_string)


@dataclass
class BlobServer:
    """The accounts primary and secondary, and the blob server's process when it runs here (Azurite)."""

    strings: dict[str, str]
    pid: int | None = None

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server's process has used so far; None when it is not a process of this machine."""
        if self.pid is None:
            return None
        import psutil

        try:
            times = psutil.Process(self.pid).cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)


@contextlib.contextmanager
def storage() -> Iterator[BlobServer]:
    """The accounts primary and secondary: configured, or a fresh Azurite (in memory)."""
    configured = json.loads(os.environ.get("DR_STORAGE_CONNECTION_STRINGS") or "{}")
    if {"primary", "secondary"} <= set(configured):
        yield BlobServer({name: configured[name] for name in ("primary", "secondary")})
        return
    from devstack.azurite import Azurite

    with Azurite() as azurite:
        yield BlobServer(azurite.connection_strings(), azurite.pid)


def on_server(server: BlobServer, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run``'s result with the CPU seconds the blob server spent meanwhile (``azurite_cpu_seconds``). Azurite
    serves on one thread and is the limit here: a run's wall time follows the work it asks of Azurite, so
    this figure tells a run that asked for more from one that met a slower Azurite."""
    before = server.cpu_seconds()
    result = run()
    after = server.cpu_seconds()
    if before is not None and after is not None:
        result["azurite_cpu_seconds"] = after - before
    return result


@contextlib.contextmanager
def delay_proxy(upstream: str, rtt_ms: float) -> Iterator[str]:
    """The fault proxy as its own process (it must not share the measured process's GIL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.faultproxy", "--upstream", upstream, "--delay-ms", str(rtt_ms)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://[\d.]+:\d+)", line)
        if not match:
            raise SystemExit(f"the delay proxy did not start: {line!r}")
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(10)


# -- data ------------------------------------------------------------------------------------------------


def small_name(i: int) -> str:
    return f"small/{i:07d}.bin"


async def seed(connection_string: str, container: str, blobs: int, *, concurrency: int = 32) -> None:
    from azure.storage.blob import ContentSettings
    from azure.storage.blob.aio import BlobServiceClient

    async with BlobServiceClient.from_connection_string(connection_string) as service:
        client = service.get_container_client(container)
        with contextlib.suppress(Exception):
            await client.create_container()
        semaphore = asyncio.Semaphore(concurrency)
        payload = os.urandom(SMALL)

        async def put(name: str, data: bytes) -> None:
            async with semaphore:
                await client.upload_blob(
                    name,
                    data,
                    overwrite=True,
                    metadata={"origin": "bench"},
                    content_settings=ContentSettings(content_type="application/octet-stream"),
                )

        batch = 2000  # bounded memory of pending tasks at 100,000 blobs
        for start in range(0, blobs, batch):
            await asyncio.gather(*(put(small_name(i), payload) for i in range(start, min(blobs, start + batch))))
        await asyncio.gather(*(put(f"large/{i}.bin", os.urandom(LARGE)) for i in range(LARGE_COUNT)))


# -- the step, driven as the orchestrator drives it (child process) --------------------------------------


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: on Linux an exec'd child inherits the high-water mark of
    the parent it was forked from, so a child would report the benchmark's own size. VmHWM starts afresh."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_step(args: argparse.Namespace) -> dict[str, Any]:
    from dr.plan import BlobBackupStep
    from dr.steps import get_kind
    from dr.steps.base import StepContext

    step = BlobBackupStep.model_validate(
        {
            "id": "bench",
            "kind": "blob_backup",
            "source": {"account_url": args.source_url, "container": args.source_container},
            "target": {"account_url": args.target_url, "container": args.target_container},
            "page_size": args.page_size,
            "max_parallel_pages": args.max_parallel_pages,
            "copy_concurrency": args.copy_concurrency,
        }
    )
    kind = get_kind("blob_backup")
    now = datetime.now(UTC)
    ctx = StepContext(
        run_id=f"bench-{uuid.uuid4().hex[:8]}",
        plan_name="bench",
        mode="failover",
        step=step.model_dump(mode="json"),
        started_at=now,
        now=now,
    )
    activity_calls, timers, rounds = 1, 0, 0
    largest_payload = 0
    timeline: list[tuple[str, float]] = []
    # Where the time goes (seconds): begin (set-up and the first listing), rounds by what they hold, polls,
    # and the list items' own time inside copy rounds (overlapped with the copies, so not added up).
    breakdown = dict.fromkeys(("begin", "copy_rounds", "listing_rounds", "verify_rounds", "polls"), 0.0)
    breakdown["list_items_in_copy_rounds"] = 0.0

    async def timed_work(c: StepContext, item: dict[str, Any]) -> tuple[dict[str, Any], float]:
        mark = time.perf_counter()
        return await kind.work_async(c, step, item), time.perf_counter() - mark

    async def round_of(c: StepContext, items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], float]]:
        # As the worker runs the async step_work activity: the round's items side by side on one event loop.
        return list(await asyncio.gather(*(timed_work(c, item) for item in items)))

    started = time.perf_counter()
    progress = kind.begin(ctx, step)
    timeline.append(("begin", time.perf_counter() - started))
    breakdown["begin"] = timeline[-1][1]
    while not progress.done:
        ctx = ctx.model_copy(update={"now": datetime.now(UTC)})
        results: list[dict[str, Any]] = []
        if progress.work:
            rounds += 1
            activity_calls += len(progress.work)
            mark = time.perf_counter()
            timed = asyncio.run(round_of(ctx, progress.work))
            results = [result for result, _ in timed]
            wall = time.perf_counter() - mark
            ops = {item["op"] for item in progress.work}
            timeline.append((f"{len(progress.work)} x {'+'.join(sorted(ops))}", wall))
            kind_of_round = "copy" if ops & {"copy", "pending"} else "verify" if "verify" in ops else "listing"
            breakdown[f"{kind_of_round}_rounds"] += wall
            if kind_of_round == "copy":
                breakdown["list_items_in_copy_rounds"] += sum(
                    seconds for item, (_, seconds) in zip(progress.work, timed, strict=True) if item["op"] == "list"
                )
            largest_payload = max(largest_payload, *(len(json.dumps(r)) for r in results))
        elif progress.poll_after_seconds:
            timers += 1  # a durable timer; Azurite never leaves a copy pending, so never waited here
        activity_calls += 1
        mark = time.perf_counter()
        progress = kind.poll(ctx, step, progress.state, results)
        timeline.append(("poll", time.perf_counter() - mark))
        breakdown["polls"] += timeline[-1][1]
        largest_payload = max(largest_payload, len(progress.model_dump_json()))
    seconds = time.perf_counter() - started
    breakdown["orchestration_other"] = seconds - sum(
        v for k, v in breakdown.items() if k != "list_items_in_copy_rounds"
    )
    return {
        "breakdown": breakdown,
        "seconds": seconds,
        "activity_calls": activity_calls,
        "timers": timers,
        "rounds": rounds,
        "history_events": activity_calls * 2 + timers,
        "largest_payload_bytes": largest_payload,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "timeline": [(what, round(seconds, 2)) for what, seconds in timeline],
        "detail": progress.detail,
    }


def step_in_child(
    strings: dict[str, str], target_container: str, *, page_size: int, max_parallel_pages: int, copy_concurrency: int
) -> dict[str, Any]:
    env = dict(os.environ, DR_STORAGE_CONNECTION_STRINGS=json.dumps(strings))
    command = [
        sys.executable,
        __file__,
        "--phase",
        "step",
        "--source-url",
        _endpoint_of(strings["primary"]) + "/primary",
        "--target-url",
        _endpoint_of(strings["secondary"]) + "/secondary",
        "--source-container",
        "bench-src",
        "--target-container",
        target_container,
        "--page-size",
        str(page_size),
        "--max-parallel-pages",
        str(max_parallel_pages),
        "--copy-concurrency",
        str(copy_concurrency),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"step run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


# -- the alternatives ------------------------------------------------------------------------------------


def naive_rate(strings: dict[str, str], target_container: str, sample: int) -> dict[str, Any]:
    """List, then download and upload each blob, one after another (small blobs only; a rate)."""
    from azure.storage.blob import BlobServiceClient

    source = BlobServiceClient.from_connection_string(strings["primary"]).get_container_client("bench-src")
    target = BlobServiceClient.from_connection_string(strings["secondary"]).get_container_client(target_container)
    with contextlib.suppress(Exception):
        target.create_container()
    started = time.perf_counter()
    copied = 0
    for blob in source.list_blobs(name_starts_with="small/", include=["metadata"], results_per_page=sample):
        data = source.get_blob_client(blob.name).download_blob().readall()
        target.get_blob_client(blob.name).upload_blob(
            data, overwrite=True, metadata=blob.metadata, content_settings=blob.content_settings
        )
        copied += 1
        if copied >= sample:
            break
    seconds = time.perf_counter() - started
    return {"sample_blobs": copied, "seconds": seconds, "blobs_per_second": copied / seconds}


async def raw_copy(
    strings: dict[str, str], target_container: str, concurrency: int, limit: int | None
) -> dict[str, float]:
    """List the source, then copy server-side with a SAS at ``concurrency``. Where its time went: ``listing``
    (waiting for listing pages, overlapped with the copies), ``first_copy_at`` (nothing copies before the
    first page), ``after_listing`` (the copies still running once every name was listed), ``seconds`` (all)."""
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas
    from azure.storage.blob.aio import BlobServiceClient

    from dr.clients import transport_kwargs

    # The transport options the step's clients get (no per-request proxy and netrc lookups when there are
    # none): the yardstick must not carry a cost the step does not.
    options = transport_kwargs(sync=False)
    async with (
        BlobServiceClient.from_connection_string(strings["primary"], **options) as source_service,
        BlobServiceClient.from_connection_string(strings["secondary"], **options) as target_service,
    ):
        source = source_service.get_container_client("bench-src")
        target = target_service.get_container_client(target_container)
        with contextlib.suppress(Exception):
            await target.create_container()
        credential: Any = source_service.credential
        sas = generate_container_sas(
            credential.account_name,
            "bench-src",
            account_key=credential.account_key,
            permission=ContainerSasPermissions(read=True),
            expiry=datetime.now(UTC) + timedelta(hours=2),
        )
        started = time.perf_counter()
        times = {"listing": 0.0, "first_copy_at": 0.0, "listed_at": 0.0}
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=concurrency * 4)

        async def lister() -> None:
            count = 0
            pages = source.list_blobs(results_per_page=5000).by_page()
            while limit is None or count < limit:
                mark = time.perf_counter()
                try:
                    page = await pages.__anext__()
                    names = [blob.name async for blob in page]
                except StopAsyncIteration:
                    break
                finally:
                    times["listing"] += time.perf_counter() - mark
                for name in names[: None if limit is None else limit - count]:
                    await queue.put(name)
                    count += 1
            times["listed_at"] = time.perf_counter() - started
            for _ in range(concurrency):
                await queue.put(None)

        async def copier() -> None:
            while (name := await queue.get()) is not None:
                if not times["first_copy_at"]:
                    times["first_copy_at"] = time.perf_counter() - started
                url = f"{source.get_blob_client(name).url}?{sas}"
                await target.get_blob_client(name).start_copy_from_url(url)

        await asyncio.gather(lister(), *(copier() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "listing": times["listing"],
            "first_copy_at": times["first_copy_at"],
            "after_listing": seconds - times["listed_at"],
        }


def listing_seconds(strings: dict[str, str], target_container: str, page_size: int) -> dict[str, float]:
    from azure.storage.blob import BlobServiceClient

    source = BlobServiceClient.from_connection_string(strings["primary"]).get_container_client("bench-src")
    target = BlobServiceClient.from_connection_string(strings["secondary"]).get_container_client(target_container)

    def count(container: Any, include: list[str]) -> int:
        return sum(1 for _ in container.list_blobs(include=include, results_per_page=page_size))

    started = time.perf_counter()
    count(source, ["metadata"])
    count(target, ["metadata", "copy"])
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda pair: count(*pair), [(source, ["metadata"]), (target, ["metadata", "copy"])]))
    concurrent = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(_fast_listing(strings, target_container, page_size))
    fast = time.perf_counter() - started
    return {"sequential": sequential, "concurrent": concurrent, "concurrent_fast_parser": fast}


async def _fast_listing(strings: dict[str, str], target_container: str, page_size: int) -> None:
    """Both sides listed concurrently with the step's own page parser: the floor for an unchanged re-run."""
    from azure.storage.blob.aio import BlobServiceClient

    from dr.blobsync.listing import container_pages

    async def drain(connection_string: str, container: str, include: list[str]) -> None:
        async with BlobServiceClient.from_connection_string(connection_string) as service:
            fetch = container_pages(
                service.get_container_client(container), prefix="", include=include, page_size=page_size
            )
            _, token = await fetch(None)
            while token is not None:
                _, token = await fetch(token)

    await asyncio.gather(
        drain(strings["primary"], "bench-src", ["metadata"]),
        drain(strings["secondary"], target_container, ["metadata", "copy"]),
    )


# -- the run ---------------------------------------------------------------------------------------------


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fresh(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def drop(strings: dict[str, str], container: str) -> None:
    """Delete a target container once measured, so every run meets the same store: Azurite's listings filter and
    sort the account's blobs on every page (and Azurite before 3.36 scanned them on every request)."""
    from azure.storage.blob import BlobServiceClient

    with contextlib.suppress(Exception):
        BlobServiceClient.from_connection_string(strings["secondary"]).delete_container(container)


def timed_raw(
    strings: dict[str, str], concurrency: int, limit: int | None, server: BlobServer | None = None
) -> dict[str, float]:
    """One run of the raw copier into a fresh container, dropped afterwards (the drop is not measured)."""
    container = fresh("raw")

    def copy() -> dict[str, Any]:
        return asyncio.run(raw_copy(strings, container, concurrency, limit))

    try:
        return on_server(server, copy) if server is not None else copy()
    finally:
        drop(strings, container)


# -- the engine alone at scale (no Azurite) --------------------------------------------------------------


ENGINE_NAMES_PER_CHILD = 100_000  # a small size is synced again until about this many names were timed


def run_engine(blobs: int, page_size: int) -> dict[str, Any]:
    """The diff and the verification of a full sync of ``blobs`` names, over listings generated page by page
    (nothing holds all names) and a state store on disk: the step's own memory and CPU per blob, without a
    server's cost in the way. Each chunk is checked as its copy item checks it: the target listed from the
    chunk's first name on.

    A sync of 2,000 names takes a few tens of milliseconds, where the first calls' costs (building models'
    validators, the allocator's first pages) weigh as much as the work, and one such sync says little about
    the engine: a size below ``ENGINE_NAMES_PER_CHILD`` is synced again, each time into a fresh store, until
    about that many names went through, and its time per blob is the total over every sync but the first.
    Both sizes are then timed over about as many names, warm.
    """
    import tempfile

    from pydantic import BaseModel

    from dr.blobsync.diff import Budget, diff_segment
    from dr.blobsync.model import BlobInfo, Chunk, ChunkOutcome, Cursor
    from dr.blobsync.verifier import ListingCheck, copies_made

    class DiskStore:
        def __init__(self, folder: str) -> None:
            self.folder = Path(folder)

        async def write(self, name: str, model: BaseModel) -> None:
            (self.folder / name).write_text(model.model_dump_json(exclude_defaults=True))

        async def read(self, name: str, model: type[BaseModel]) -> Any:
            path = self.folder / name
            return model.model_validate_json(path.read_text()) if path.exists() else None

    def blob(index: int, copied: bool) -> BlobInfo:
        name = small_name(index)
        return BlobInfo.model_construct(
            name=name,
            size=SMALL,
            etag=f"0x{index:08X}",
            last_modified="2026-01-01T00:00:00Z",
            md5=None,
            blob_type="BlockBlob",
            content_encoding=None,
            metadata={"origin": "bench"},
            copy_status="success" if copied else None,
            synced_etag=f"0x{index:08X}" if copied else None,
        )

    def pages(count: int, copied: bool, first: int = 0) -> Any:
        async def fetch(token: str | None) -> tuple[list[BlobInfo], str | None]:
            start = int(token or first)
            end = min(count, start + page_size)
            return [blob(i, copied) for i in range(start, end)], (str(end) if end < count else None)

        return fetch

    async def go(store: Any) -> dict[str, Any]:
        diff_seconds = verify_seconds = 0.0
        cursor: Cursor | None = Cursor()
        calls = verified = 0
        while cursor is not None:
            calls += 1
            started = time.perf_counter()
            outcome = await diff_segment(
                cursor=cursor,
                source_pages=pages(blobs, copied=False),
                target_pages=pages(0, copied=False),
                store=store,
                mirror_deletes=False,
                chunk_size=min(page_size, 1000),
                budget=Budget(max_chunks=4, seconds=20),
            )
            diff_seconds += time.perf_counter() - started
            started = time.perf_counter()
            for ref in outcome.chunks:  # each copy item's own check, once its copies are done
                chunk = await store.read(ref, Chunk)
                expected = copies_made(chunk, ChunkOutcome())
                check = ListingCheck(pages(blobs, copied=True, first=int(expected[0].name[6:13])))
                check.counts.copied = len(expected)
                await check.check_stretch(expected)
                verified += check.counts.verified
            verify_seconds += time.perf_counter() - started
            cursor = outcome.cursor
        assert verified == blobs
        return {
            "blobs": blobs,
            "diff_calls": calls,
            "diff_us_per_blob": round(diff_seconds / blobs * 1e6, 1),
            "verify_us_per_blob": round(verify_seconds / blobs * 1e6, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }

    warm_up = 1 if blobs < ENGINE_NAMES_PER_CHILD else 0  # one long sync needs none
    syncs = []
    for _ in range(warm_up + max(1, ENGINE_NAMES_PER_CHILD // blobs)):
        with tempfile.TemporaryDirectory() as folder:
            syncs.append(asyncio.run(go(DiskStore(folder))))
    timed = syncs[warm_up:]

    def per_blob(key: str) -> float:
        return round(sum(sync[key] for sync in timed) / len(timed), 1)  # every sync is of ``blobs`` names

    return {
        **syncs[-1],
        "syncs": len(timed),
        "diff_us_per_blob": per_blob("diff_us_per_blob"),
        "verify_us_per_blob": per_blob("verify_us_per_blob"),
    }


def engine_in_child(blobs: int, page_size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", "engine", "--blobs", str(blobs), "--page-size", str(page_size)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"engine run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


# -- medians and spread ----------------------------------------------------------------------------------


def figure(values: list[float], digits: int = 2) -> dict[str, Any]:
    """One figure of N runs: the median, the range, and the spread (max - min) relative to the median. The
    machine may be shared: a best-of-N would hide how often a target is missed."""
    middle = statistics.median(values)
    return {
        "median": round(middle, digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "spread_pct": round((max(values) - min(values)) / middle * 100, 1) if middle else 0.0,
        "runs": [round(v, digits) for v in values],
    }


def figures(runs: list[dict[str, float]], digits: int = 2) -> dict[str, Any]:
    """:func:`figure` of every key the runs share."""
    return {key: figure([run[key] for run in runs], digits) for key in runs[0]}


def pair_ratios(raws: list[dict[str, float]], steps: list[dict[str, Any]], key: str = "") -> dict[str, Any]:
    """The step's speed over the raw copier's, run pair by pair (each pair ran back to back):
    ``step_vs_raw{key}``; and, when Azurite's CPU was measured, the work each asked of Azurite the same way
    (``step_vs_raw{key}_azurite_cpu``: the raw copier's Azurite CPU seconds over the step's)."""
    pairs = list(zip(raws, steps, strict=True))
    out = {f"step_vs_raw{key}": figure([raw["seconds"] / step["seconds"] for raw, step in pairs])}
    if all("azurite_cpu_seconds" in run for pair in pairs for run in pair):
        cpu = [raw["azurite_cpu_seconds"] / step["azurite_cpu_seconds"] for raw, step in pairs]
        out[f"step_vs_raw{key}_azurite_cpu"] = figure(cpu)
    return out


def engine_scale(sizes: list[int], page_size: int, repeat: int) -> dict[str, Any]:
    """The engine at each size, ``repeat`` runs each. The sizes take turns (this machine's speed drifts over
    minutes), and the time-per-blob ratio of the largest to the smallest is taken turn by turn."""
    note(f"engine alone at {', '.join(map(str, sizes))} blobs, {repeat} runs each, sizes in turn")
    by_size: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
    for _ in range(repeat):
        for size in sizes:
            by_size[size].append(engine_in_child(size, page_size))

    def per_blob(run: dict[str, Any]) -> float:
        return float(run["diff_us_per_blob"] + run["verify_us_per_blob"])

    out: dict[str, Any] = {
        "engine_scale": [
            {"blobs": size, "diff_calls": runs[0]["diff_calls"], "syncs_per_run": runs[0]["syncs"]}
            | figures([{k: run[k] for k in ("diff_us_per_blob", "verify_us_per_blob", "peak_rss_mb")} for run in runs])
            for size, runs in by_size.items()
        ]
    }
    if len(sizes) >= 2:
        small, large = by_size[sizes[0]], by_size[sizes[-1]]
        median_rss = [statistics.median(run["peak_rss_mb"] for run in runs) for runs in (small, large)]
        out["engine_peak_rss_ratio"] = round(median_rss[1] / median_rss[0], 2)
        turns = figure([per_blob(big) / per_blob(little) for little, big in zip(small, large, strict=True)])
        out["engine_time_per_blob_ratio"] = turns["median"]
        out["engine_time_per_blob_ratio_turns"] = turns
    return out


# -- the run ---------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    total = args.blobs + LARGE_COUNT
    out: dict[str, Any] = {
        "blobs": total,
        "small_blobs": args.blobs,
        "small_bytes": SMALL,
        "large_blobs": LARGE_COUNT,
        "large_bytes": LARGE,
        "cpus": os.cpu_count(),
        "runs_per_figure": args.repeat,
    }
    with storage() as server:
        strings = server.strings
        started = time.perf_counter()
        asyncio.run(seed(strings["primary"], "bench-src", args.blobs))
        out["seed_seconds"] = round(time.perf_counter() - started, 1)

        scan_sample = min(args.blobs, RAW_SCAN_SAMPLE)
        scan = {} if args.skip_raw else raw_concurrency_scan(strings, scan_sample, (4, 8, 16, 32, 64))
        best_c = min(scan, key=lambda c: scan[c]) if scan else 8
        # The step's total concurrency matches the raw copier's best (plan knobs: copy_concurrency per item).
        copy_concurrency = args.copy_concurrency or max(2, best_c // 4)
        knobs = {"page_size": args.page_size, "max_parallel_pages": 4, "copy_concurrency": copy_concurrency}
        out["step_knobs"] = knobs

        steps, raws, target = alternating_step_and_raw_runs(args, strings, server, knobs, best_c)
        out["step"] = _step_figures(steps, total)
        if raws:
            out["raw"] = _raw_figures(raws, best_c, scan, scan_sample, total)
            out |= pair_ratios(raws, steps)
        if args.skip_rerun:
            drop(strings, target)
        else:
            out |= rerun_against_listing(args, strings, target, knobs, total)
        out["peak_rss_mb"] = out["step"]["peak_rss_mb"]
        median_step = statistics.median(run["seconds"] for run in steps)
        out["history_events_per_1000_blobs"] = round(steps[0]["history_events"] * 1000 / total, 2)
        out["seconds_per_1000_blobs"] = round(median_step * 1000 / total, 3)
        if not args.skip_naive:
            note("naive copy")
            out["naive"], out["step_vs_naive"] = naive_against_step(
                args, strings, strings, min(args.blobs, args.naive_sample), median_step, total
            )

        for rtt in args.rtt_ms:
            if rtt > 0:
                out |= with_round_trip(args, server, knobs, rtt, total)
    return out


def raw_concurrency_scan(strings: dict[str, str], sample: int, levels: tuple[int, ...]) -> dict[int, float]:
    """Seconds of the raw copier on ``sample`` blobs at each concurrency tried."""
    note(f"raw copier: concurrency scan on {sample} blobs")
    return {c: timed_raw(strings, c, sample)["seconds"] for c in levels}


def alternating_step_and_raw_runs(
    args: argparse.Namespace,
    routed: dict[str, str],
    server: BlobServer,
    knobs: dict[str, int],
    raw_concurrency: int,
    label: str = "",
) -> tuple[list[dict[str, Any]], list[dict[str, float]], str]:
    """``--repeat`` step runs and as many raw runs (unless skipped) through ``routed``, and the last step's
    target container. The machine may be shared: step and raw runs alternate, so each pair saw about the same
    load, and the ratio is taken pair by pair. Each run carries the CPU seconds Azurite spent on it."""
    strings = server.strings
    steps: list[dict[str, Any]] = []
    raws: list[dict[str, float]] = []
    target = ""
    for attempt in range(args.repeat):
        # Each run starts from the same store: nothing measured stays behind but the last step's target,
        # which the re-run needs.
        if target:
            drop(strings, target)
        if not args.skip_raw:
            note(f"raw run{label} {attempt + 1}/{args.repeat} (concurrency {raw_concurrency})")
            raws.append(timed_raw(routed, raw_concurrency, None, server))
        target = fresh("step")
        note(f"step run{label} {attempt + 1}/{args.repeat}")
        steps.append(on_server(server, functools.partial(step_in_child, routed, target, **knobs)))
    return steps, raws, target


def _raw_figures(
    raws: list[dict[str, float]], concurrency: int, scan: dict[int, float], scan_sample: int, total: int
) -> dict[str, Any]:
    timings = ("seconds", "azurite_cpu_seconds")
    return {
        "concurrency": concurrency,
        "seconds": figure([raw["seconds"] for raw in raws]),
        "blobs_per_second": figure([total / raw["seconds"] for raw in raws], 1),
        "breakdown": figures([{k: v for k, v in raw.items() if k not in timings} for raw in raws]),
        "scan_blobs_per_second": {str(c): round(scan_sample / s, 1) for c, s in scan.items()},
    } | azurite_figures(raws)


def azurite_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Azurite's CPU seconds per run and their share of the run's wall time (``azurite_busy``: near 1, Azurite's
    one thread was the limit), when measured."""
    if not all("azurite_cpu_seconds" in run for run in runs):
        return {}
    return {
        "azurite_cpu_seconds": figure([run["azurite_cpu_seconds"] for run in runs]),
        "azurite_busy": figure([run["azurite_cpu_seconds"] / run["seconds"] for run in runs]),
    }


def rerun_against_listing(
    args: argparse.Namespace, strings: dict[str, str], target: str, knobs: dict[str, int], total: int
) -> dict[str, Any]:
    """The step again over an unchanged ``target`` (dropped afterwards), next to listing both containers."""
    note("unchanged re-run and listings")
    reruns, listings = [], []
    for _ in range(args.repeat):
        reruns.append(step_in_child(strings, target, **knobs))
        listings.append(listing_seconds(strings, target, args.page_size))
    drop(strings, target)
    seconds = [run["seconds"] for run in reruns]

    def against(listing_kind: str) -> dict[str, Any]:
        return figure([s / listing[listing_kind] for s, listing in zip(seconds, listings, strict=True)])

    return {
        "rerun": _step_figures(reruns, total),
        "listing_both_sides_seconds": figures(listings, 3),
        "rerun_copies": max(run["detail"]["copied"] for run in reruns),
        # Against the SDK listing both sides (what a diff written with list_blobs costs), and against the
        # same listing with the step's own page parser (the floor); pair by pair.
        "rerun_vs_listing": against("concurrent"),
        "rerun_vs_listing_sequential": against("sequential"),
        "rerun_vs_listing_same_parser": against("concurrent_fast_parser"),
    }


def naive_against_step(
    args: argparse.Namespace,
    routed: dict[str, str],
    strings: dict[str, str],
    sample: int,
    step_seconds: float,
    total: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The naive copy's rate through ``routed`` (``--repeat`` runs), and the step's speed-up over each."""
    rates = []
    for _ in range(args.repeat):
        target = fresh("naive")
        rates.append(naive_rate(routed, target, sample)["blobs_per_second"])
        drop(strings, target)
    step_rate = total / step_seconds
    return (
        {"sample_blobs": sample, "blobs_per_second": figure(rates)},
        figure([step_rate / rate for rate in rates]),
    )


def with_round_trip(
    args: argparse.Namespace, server: BlobServer, knobs: dict[str, int], rtt: float, total: int
) -> dict[str, Any]:
    """The raw copier, the step and the naive copy (unless skipped) through the delay proxy adding ``rtt`` ms
    per request. Latency wants more requests in flight: the raw copier scans again through the proxy."""
    key = f"rtt{rtt:g}"
    strings = server.strings
    with delay_proxy(_endpoint_of(strings["primary"]), rtt) as proxy:
        routed = {name: _reroute(value, proxy) for name, value in strings.items()}
        rtt_knobs = dict(knobs, copy_concurrency=max(knobs["copy_concurrency"], 16))
        sample = min(args.blobs, RAW_SCAN_SAMPLE)
        scan = {} if args.skip_raw else raw_concurrency_scan(routed, sample, (16, 32, 64, 128))
        best_c = min(scan, key=lambda c: scan[c]) if scan else 64
        steps, raws, target = alternating_step_and_raw_runs(
            args, routed, server, rtt_knobs, best_c, label=f" with {rtt:g} ms per request"
        )
        drop(strings, target)
        out: dict[str, Any] = {f"step_{key}": _step_figures(steps, total) | {"knobs": rtt_knobs}}
        if raws:
            out[f"raw_{key}"] = _raw_figures(raws, best_c, scan, sample, total)
            out |= pair_ratios(raws, steps, f"_{key}")
        if not args.skip_naive:
            note(f"naive copy with {rtt:g} ms per request")
            median_step = statistics.median(run["seconds"] for run in steps)
            naive_sample = min(args.blobs, max(50, args.naive_sample // 4))
            out[f"naive_{key}"], out[f"step_vs_naive_{key}"] = naive_against_step(
                args, routed, strings, naive_sample, median_step, total
            )
    return out


def _step_figures(runs: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """Medians and spread of the step's runs; counts and the timeline of the median run."""
    ordered = sorted(runs, key=lambda run: run["seconds"])
    middle = ordered[(len(ordered) - 1) // 2]
    detail = middle["detail"]
    timeline = middle["timeline"]
    return {
        "seconds": figure([run["seconds"] for run in runs]),
        "blobs_per_second": figure([total / run["seconds"] for run in runs], 1),
        "breakdown": figures([run["breakdown"] for run in runs]),
        "copied": detail["copied"],
        "skipped": detail["skipped"],
        "failed": detail["failed"],
        "verified": detail["verified"],
        "copy_method": detail["copy_method"],
        "verify_method": detail["verify_method"],
        "activity_calls": middle["activity_calls"],
        "rounds": middle["rounds"],
        "timers": middle["timers"],
        "largest_payload_bytes": max(run["largest_payload_bytes"] for run in runs),
        "peak_rss_mb": figure([run["peak_rss_mb"] for run in runs], 1),
        "cpu_seconds": figure([run["cpu_seconds"] for run in runs], 1),
        "timeline_of_median_run": timeline if len(timeline) <= 12 else [*timeline[:6], ("...", 0), *timeline[-5:]],
    } | azurite_figures(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blobs", type=int, default=2000, help="small (1 KiB) blobs; 4 x 4 MiB are added")
    parser.add_argument("--rtt-ms", type=float, action="append", help="repeatable; default: 0 and 20")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--copy-concurrency", type=int, default=0, help="per work item; 0: from the raw scan")
    parser.add_argument("--naive-sample", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5, help="runs behind every figure (median and spread)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-raw", action="store_true")
    # At 100,000 blobs Azurite filters and sorts the whole account on every listing page: the listings the
    # re-run is compared with take many minutes, and Azurite stops accepting connections meanwhile.
    parser.add_argument("--skip-rerun", action="store_true", help="no unchanged re-run, no listing comparison")
    # Internal: one step run in this (child) process.
    parser.add_argument("--engine-scale", type=int, action="append", help="engine-only sizes; default 2000, 100000")
    parser.add_argument("--engine-only", action="store_true", help="only the engine-at-scale measurement")
    parser.add_argument("--phase", choices=["all", "step", "engine"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--source-url", help=argparse.SUPPRESS)
    parser.add_argument("--target-url", help=argparse.SUPPRESS)
    parser.add_argument("--source-container", help=argparse.SUPPRESS)
    parser.add_argument("--target-container", help=argparse.SUPPRESS)
    parser.add_argument("--max-parallel-pages", type=int, default=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "step":
        print(json.dumps(run_step(args)))
        return 0
    if args.phase == "engine":
        print(json.dumps(run_engine(args.blobs, args.page_size)))
        return 0
    args.rtt_ms = args.rtt_ms if args.rtt_ms is not None else [0.0, 20.0]
    out = {} if args.engine_only else measure(args)
    out |= engine_scale(args.engine_scale or [2000, 100000], args.page_size, args.repeat)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
