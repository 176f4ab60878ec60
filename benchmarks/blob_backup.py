"""Benchmark of the blob_backup step against Azurite, next to the ways one could do without it.

    .venv/bin/python benchmarks/blob_backup.py                 # 2,000 x 1 KiB + 4 x 4 MiB, with and without 20 ms RTT
    .venv/bin/python benchmarks/blob_backup.py --blobs 10000 --skip-naive --rtt-ms 0   # bigger Azurite run
    .venv/bin/python benchmarks/blob_backup.py --engine-only --engine-scale 2000 --engine-scale 1000000

Measured, each into a fresh target container:
- step:   the blob_backup step driven as the sub-orchestration drives it (begin, rounds of work items run in
          ``max_parallel`` threads, poll), in a child process so its peak RSS is its own;
- naive:  what a first example does: list, then for each blob download it and upload it, one after another
          (timed on a sample of the small blobs and given as a rate);
- raw:    an asyncio server-side copier (list, then start_copy_from_url with a SAS) at its best concurrency;
- rerun:  the step again with nothing changed, next to listing both containers;
- engine: the diff and the verification pass alone at 2,000 and 100,000 blobs over generated listings
          (Azurite's per-request cost grows with its store: it cannot hold 100,000 blobs at a usable speed).
``--rtt-ms N`` puts the devstack fault proxy (its own process) in front of Azurite adding N ms per request,
standing in for a cross-region round trip; by default the run measures both without and with 20 ms.
Azurite is started here unless DR_STORAGE_CONNECTION_STRINGS names the accounts primary and secondary.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


@contextlib.contextmanager
def storage() -> Iterator[dict[str, str]]:
    """Connection strings of the accounts primary and secondary: configured, or a fresh Azurite."""
    configured = json.loads(os.environ.get("DR_STORAGE_CONNECTION_STRINGS") or "{}")
    if {"primary", "secondary"} <= set(configured):
        yield {name: configured[name] for name in ("primary", "secondary")}
        return
    from devstack.azurite import Azurite

    with Azurite() as azurite:
        yield azurite.connection_strings()


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
    started = time.perf_counter()
    progress = kind.begin(ctx, step)
    timeline.append(("begin", time.perf_counter() - started))
    with ThreadPoolExecutor(max_workers=progress.max_parallel) as pool:
        while not progress.done:
            ctx = ctx.model_copy(update={"now": datetime.now(UTC)})
            results: list[dict[str, Any]] = []
            if progress.work:
                rounds += 1
                activity_calls += len(progress.work)
                mark = time.perf_counter()
                results = list(pool.map(lambda item, c=ctx: kind.work(c, step, item), progress.work))
                ops = "+".join(sorted({item["op"] for item in progress.work}))
                timeline.append((f"{len(progress.work)} x {ops}", time.perf_counter() - mark))
                largest_payload = max(largest_payload, *(len(json.dumps(r)) for r in results))
            elif progress.poll_after_seconds:
                timers += 1  # a durable timer; Azurite never leaves a copy pending, so never waited here
            activity_calls += 1
            mark = time.perf_counter()
            progress = kind.poll(ctx, step, progress.state, results)
            timeline.append(("poll", time.perf_counter() - mark))
            largest_payload = max(largest_payload, len(progress.model_dump_json()))
    seconds = time.perf_counter() - started
    return {
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


async def raw_copy(strings: dict[str, str], target_container: str, concurrency: int, limit: int | None) -> float:
    """List the source, then copy server-side with a SAS at ``concurrency``; the seconds it took."""
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas
    from azure.storage.blob.aio import BlobServiceClient

    async with (
        BlobServiceClient.from_connection_string(strings["primary"]) as source_service,
        BlobServiceClient.from_connection_string(strings["secondary"]) as target_service,
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
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=concurrency * 4)

        async def lister() -> None:
            count = 0
            async for blob in source.list_blobs(results_per_page=5000):
                await queue.put(blob.name)
                count += 1
                if limit is not None and count >= limit:
                    break
            for _ in range(concurrency):
                await queue.put(None)

        async def copier() -> None:
            while (name := await queue.get()) is not None:
                url = f"{source.get_blob_client(name).url}?{sas}"
                await target.get_blob_client(name).start_copy_from_url(url)

        await asyncio.gather(lister(), *(copier() for _ in range(concurrency)))
        return time.perf_counter() - started


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
    """Delete a target container once measured: Azurite slows down as its store fills (copies into a
    fresh container ran at 143 blobs/s with an empty account, 78/s with 14,000 blobs elsewhere in it)."""
    from azure.storage.blob import BlobServiceClient

    with contextlib.suppress(Exception):
        BlobServiceClient.from_connection_string(strings["secondary"]).delete_container(container)


def timed_raw(strings: dict[str, str], concurrency: int, limit: int | None) -> float:
    container = fresh("raw")
    try:
        return asyncio.run(raw_copy(strings, container, concurrency, limit))
    finally:
        drop(strings, container)


# -- the engine alone at scale (no Azurite) --------------------------------------------------------------


def run_engine(blobs: int, page_size: int) -> dict[str, Any]:
    """The diff and the verification pass of a full sync of ``blobs`` names, over listings generated page by
    page (nothing holds all names) and a state store on disk: the step's own memory and CPU per blob.

    Azurite cannot stand in here: its per-request cost grows with its store (uploads went from 278/s on an
    empty server to 36/s at 25,000 blobs), so seeding 100,000 blobs alone takes hours.
    """
    import tempfile

    from pydantic import BaseModel

    from dr.blobsync.diff import Budget, diff_segment
    from dr.blobsync.model import BlobInfo, ChunkOutcome, CopyResult, Cursor, VerifyCursor
    from dr.blobsync.verifier import VerifyPass, outcome_name, result_name

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

    def pages(count: int, copied: bool) -> Any:
        async def fetch(token: str | None) -> tuple[list[BlobInfo], str | None]:
            start = int(token or 0)
            end = min(count, start + page_size)
            return [blob(i, copied) for i in range(start, end)], (str(end) if end < count else None)

        return fetch

    async def go(store: Any) -> dict[str, Any]:
        started = time.perf_counter()
        cursor: Cursor | None = Cursor()
        batches: list[tuple[str, int]] = []
        calls = 0
        while cursor is not None:
            calls += 1
            outcome = await diff_segment(
                cursor=cursor,
                source_pages=pages(blobs, copied=False),
                target_pages=pages(0, copied=False),
                store=store,
                mirror_deletes=False,
                chunk_size=min(page_size, 1000),
                budget=Budget(max_chunks=4, seconds=20),
            )
            batches.append((outcome.token, len(outcome.chunks)))
            for index in range(len(outcome.chunks)):  # what the copy items leave for the pass
                ref = f"chunk-{outcome.token}-{index:04d}.json"
                await store.write(outcome_name(ref), ChunkOutcome())
                await store.write(result_name(ref), CopyResult(verify_method="deferred"))
            cursor = outcome.cursor
        diff_seconds = time.perf_counter() - started
        started = time.perf_counter()
        verify: VerifyCursor | None = VerifyCursor(batches=batches)
        verified = 0
        while verify is not None:
            verifier = VerifyPass(store, pages(blobs, copied=True))
            verify = await verifier.run(verify, 20)
            verified += verifier.counts.verified
        verify_seconds = time.perf_counter() - started
        assert verified == blobs
        return {
            "blobs": blobs,
            "diff_calls": calls,
            "diff_us_per_blob": round(diff_seconds / blobs * 1e6, 1),
            "verify_us_per_blob": round(verify_seconds / blobs * 1e6, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }

    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(go(DiskStore(folder)))


def engine_in_child(blobs: int, page_size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", "engine", "--blobs", str(blobs), "--page-size", str(page_size)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"engine run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def engine_scale(sizes: list[int], page_size: int) -> dict[str, Any]:
    note(f"engine alone at {', '.join(map(str, sizes))} blobs")
    # Best of three per size: a run of 2,000 blobs lasts a tenth of a second, easily upset on a shared machine.
    runs = [
        min(
            (engine_in_child(size, page_size) for _ in range(3)),
            key=lambda r: r["diff_us_per_blob"] + r["verify_us_per_blob"],
        )
        for size in sizes
    ]
    out: dict[str, Any] = {"engine_scale": runs}
    if len(runs) >= 2:
        small, large = runs[0], runs[-1]

        def per_blob(run: dict[str, Any]) -> float:
            return float(run["diff_us_per_blob"] + run["verify_us_per_blob"])

        out["engine_peak_rss_ratio"] = round(large["peak_rss_mb"] / small["peak_rss_mb"], 2)
        out["engine_time_per_blob_ratio"] = round(per_blob(large) / per_blob(small), 2)
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    total = args.blobs + LARGE_COUNT
    out: dict[str, Any] = {
        "blobs": total,
        "small_blobs": args.blobs,
        "small_bytes": SMALL,
        "large_blobs": LARGE_COUNT,
        "large_bytes": LARGE,
        "cpus": os.cpu_count(),
    }
    with storage() as strings:
        started = time.perf_counter()
        asyncio.run(seed(strings["primary"], "bench-src", args.blobs))
        out["seed_seconds"] = round(time.perf_counter() - started, 1)

        scan: dict[int, float] = (
            {} if args.skip_raw else raw_concurrency_scan(strings, min(args.blobs, RAW_SCAN_SAMPLE))
        )
        best_c = min(scan, key=lambda c: scan[c]) if scan else 8
        # The step's total concurrency matches the raw copier's best (plan knobs: copy_concurrency per item).
        copy_concurrency = args.copy_concurrency or max(2, best_c // 4)
        knobs = {"page_size": args.page_size, "max_parallel_pages": 4, "copy_concurrency": copy_concurrency}
        out["step_knobs"] = knobs

        steps, raws, target = alternating_step_and_raw_runs(args, strings, knobs, best_c)
        step = min(steps, key=lambda run: run["seconds"])
        out["step"] = _step_summary(step, total) | {"all_seconds": [round(run["seconds"], 2) for run in steps]}
        raw_best = _raw_summary(raws, best_c, scan, min(args.blobs, RAW_SCAN_SAMPLE), total) if raws else None
        if raw_best:
            out["raw"] = raw_best
        out |= rerun_against_listing(args, strings, target, knobs, total)
        out["peak_rss_mb"] = round(step["peak_rss_mb"], 1)
        out["history_events_per_1000_blobs"] = round(step["history_events"] * 1000 / total, 2)
        out["seconds_per_1000_blobs"] = round(step["seconds"] * 1000 / total, 3)
        if raw_best:
            out["step_vs_raw"] = round(raw_best["seconds"] / step["seconds"], 2)
        if not args.skip_naive:
            note("naive copy")
            out["naive"], out["step_vs_naive"] = naive_against_step(
                strings, strings, "naive", min(args.blobs, args.naive_sample), step, total
            )

        for rtt in args.rtt_ms:
            if rtt > 0:
                out |= step_with_round_trip(args, strings, knobs, rtt, total)
    return out


def raw_concurrency_scan(strings: dict[str, str], sample: int) -> dict[int, float]:
    """Seconds of the raw copier on ``sample`` blobs at each concurrency tried."""
    note(f"raw copier: concurrency scan on {sample} blobs")
    return {c: timed_raw(strings, c, sample) for c in (4, 8, 16, 32, 64)}


def alternating_step_and_raw_runs(
    args: argparse.Namespace, strings: dict[str, str], knobs: dict[str, int], raw_concurrency: int
) -> tuple[list[dict[str, Any]], list[float], str]:
    """``--repeat`` step runs (and raw runs unless skipped), and the last step's target container.

    The machine may be shared: step and raw runs alternate, and the caller keeps the best of each.
    """
    steps: list[dict[str, Any]] = []
    raws: list[float] = []
    target = ""
    for attempt in range(args.repeat):
        # Each run starts from the same store (Azurite slows as it fills): nothing measured stays behind
        # but the last step's target, which the re-run needs.
        if target:
            drop(strings, target)
        if not args.skip_raw:
            note(f"raw run {attempt + 1}/{args.repeat} (concurrency {raw_concurrency})")
            raws.append(timed_raw(strings, raw_concurrency, None))
        target = fresh("step")
        note(f"step run {attempt + 1}/{args.repeat}")
        steps.append(step_in_child(strings, target, **knobs))
    return steps, raws, target


def _raw_summary(
    raws: list[float], concurrency: int, scan: dict[int, float], scan_sample: int, total: int
) -> dict[str, Any]:
    seconds = min(raws)
    return {
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "all_seconds": [round(s, 2) for s in raws],
        "blobs_per_second": round(total / seconds, 1),
        "scan_blobs_per_second": {str(c): round(scan_sample / s, 1) for c, s in scan.items()},
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
    rerun = min(reruns, key=lambda run: run["seconds"])
    listing = {key: min(entry[key] for entry in listings) for key in listings[0]}
    drop(strings, target)
    return {
        "rerun": _step_summary(rerun, total),
        "listing_both_sides_seconds": {k: round(v, 3) for k, v in listing.items()},
        "rerun_copies": rerun["detail"]["copied"],
        # Against the SDK listing both sides (what a diff written with list_blobs costs), and against the
        # same listing with the step's own page parser (the floor).
        "rerun_vs_listing": round(rerun["seconds"] / listing["concurrent"], 2),
        "rerun_vs_listing_sequential": round(rerun["seconds"] / listing["sequential"], 2),
        "rerun_vs_listing_same_parser": round(rerun["seconds"] / listing["concurrent_fast_parser"], 2),
    }


def naive_against_step(
    routed: dict[str, str], strings: dict[str, str], container: str, sample: int, step: dict[str, Any], total: int
) -> tuple[dict[str, Any], float]:
    """The naive copy's rates through ``routed`` (rounded), and the step's speed-up over it."""
    target = fresh(container)
    naive = naive_rate(routed, target, sample)
    drop(strings, target)
    speedup = round((total / step["seconds"]) / naive["blobs_per_second"], 2)
    return {k: round(v, 2) for k, v in naive.items()}, speedup


def step_with_round_trip(
    args: argparse.Namespace, strings: dict[str, str], knobs: dict[str, int], rtt: float, total: int
) -> dict[str, Any]:
    """The step (and the naive copy unless skipped) through the delay proxy adding ``rtt`` ms per request."""
    with delay_proxy(_endpoint_of(strings["primary"]), rtt) as proxy:
        routed = {name: _reroute(value, proxy) for name, value in strings.items()}
        rtt_knobs = dict(knobs, copy_concurrency=max(knobs["copy_concurrency"], 16))
        runs = []
        for attempt in range(args.repeat):
            note(f"step with {rtt:g} ms per request, run {attempt + 1}/{args.repeat}")
            rtt_target = fresh("step-rtt")
            runs.append(step_in_child(routed, rtt_target, **rtt_knobs))
            drop(strings, rtt_target)
        step_rtt = min(runs, key=lambda run: run["seconds"])
        key = f"rtt{rtt:g}"
        out: dict[str, Any] = {
            f"step_{key}": _step_summary(step_rtt, total)
            | {"knobs": rtt_knobs, "all_seconds": [round(run["seconds"], 2) for run in runs]}
        }
        if not args.skip_naive:
            note(f"naive copy with {rtt:g} ms per request")
            sample = min(args.blobs, max(50, args.naive_sample // 4))
            out[f"naive_{key}"], out[f"step_vs_naive_{key}"] = naive_against_step(
                routed, strings, "naive-rtt", sample, step_rtt, total
            )
    return out


def _step_summary(run: dict[str, Any], total: int) -> dict[str, Any]:
    detail = run["detail"]
    return {
        "seconds": round(run["seconds"], 2),
        "blobs_per_second": round(total / run["seconds"], 1),
        "copied": detail["copied"],
        "skipped": detail["skipped"],
        "failed": detail["failed"],
        "verified": detail["verified"],
        "copy_method": detail["copy_method"],
        "verify_method": detail["verify_method"],
        "activity_calls": run["activity_calls"],
        "rounds": run["rounds"],
        "timers": run["timers"],
        "largest_payload_bytes": run["largest_payload_bytes"],
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "cpu_seconds": round(run["cpu_seconds"], 1),
        "timeline": run["timeline"]
        if len(run["timeline"]) <= 12
        else [*run["timeline"][:6], ("...", 0), *run["timeline"][-5:]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blobs", type=int, default=2000, help="small (1 KiB) blobs; 4 x 4 MiB are added")
    parser.add_argument("--rtt-ms", type=float, action="append", help="repeatable; default: 0 and 20")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--copy-concurrency", type=int, default=0, help="per work item; 0: from the raw scan")
    parser.add_argument("--naive-sample", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=0, help="runs of step and raw (best kept); 0: 3, 1 at scale")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-raw", action="store_true")
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
    args.repeat = args.repeat or (3 if args.blobs <= 20000 else 1)
    out = {} if args.engine_only else measure(args)
    out |= engine_scale(args.engine_scale or [2000, 100000], args.page_size)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
