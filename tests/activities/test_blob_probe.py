"""blob_backup at failover decides "source unreachable" with one bounded probe, not the SDK's retries of every
request, and says what its RPO estimate rests on. Real Azurite behind the devstack fault proxy."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from devstack.faultproxy import FaultProxy, Rule
from dr.errors import PlanError, TransientError
from dr.plan import parse_plan
from dr.steps.blob import last_sync, record_sync
from tests.activities.conftest import PLAN, BlobWorld, seconds_between


def seed(world: BlobWorld, count: int) -> None:
    for i in range(count):
        world.put(f"doc/{i:03d}.txt", f"document {i}".encode())


def primary_requests(proxy: FaultProxy) -> int:
    """Requests the code under test sent to the primary account so far (the test's own clients bypass the proxy)."""
    return sum(count for (_method, account), count in proxy.requests.items() if account == "primary")


def test_black_holed_primary_at_failover_costs_one_bounded_probe(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    """The plan's transport (5 s timeout, 2 SDK retries) would wait 15 s and more on a silent primary; the
    probe (default 3 s) decides alone, with one request, and the failover goes on with the last sync."""
    seed(proxied_world, 4)
    step = proxied_world.step()
    assert step.source_probe_timeout.total_seconds() == 3.0  # the plan default
    synced_at = proxied_world.run(step, mode="sync").detail["last_sync_at"]
    proxied_world.put("doc/late.txt", b"written after the last sync")
    silence = fault_proxy.add_rule(Rule("blackhole", account="primary"))
    before = primary_requests(fault_proxy)

    started = time.monotonic()
    drive = proxied_world.run(step)
    elapsed = time.monotonic() - started

    assert elapsed < 3.0 + 1.0  # the verdict's bound: the probe's deadline, and little else
    assert silence.hits == 1  # one request to the primary, not retried
    assert primary_requests(fault_proxy) - before == 1
    assert drive.calls == ["begin"]
    final = drive.final
    assert final.done
    probe = final.detail["source_probe"]
    assert probe["reachable"] is False
    assert 2.9 <= probe["seconds"] < 4.0
    assert probe["cause"] == "no answer within 3 s"
    assert final.detail["source_unavailable"] == "one probe request: no answer within 3 s"
    assert final.detail["last_sync_at"] == synced_at
    assert final.detail["standing_sync"]["last_sync_at"] == synced_at
    assert final.detail["rpo_basis"].startswith(f"source unreachable; last standing sync {synced_at}: ")
    assert final.rpo_estimate_seconds == pytest.approx(seconds_between(synced_at, datetime.now(UTC)), abs=5)
    assert f"last sync at {synced_at}" in final.warnings[0]
    assert "doc/late.txt" not in proxied_world.target_names()


def test_unreachable_primary_fails_the_step_fast_when_the_plan_says_so(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    seed(proxied_world, 2)
    silence = fault_proxy.add_rule(Rule("blackhole", account="primary"))
    step = proxied_world.step(on_source_unavailable="fail", source_probe_timeout=1)

    started = time.monotonic()
    with pytest.raises(TransientError) as failure:
        proxied_world.run(step)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0 + 1.0
    assert silence.hits == 1
    assert failure.value.code == "SourceUnavailable"
    assert "one probe request: no answer within 1 s" in str(failure.value)


def test_refused_connection_is_a_verdict_too_without_retries(proxied_world: BlobWorld, fault_proxy: FaultProxy) -> None:
    """A primary that cuts connections (RST) answers nothing: the probe says so at once, with the cause."""
    seed(proxied_world, 2)
    refused = fault_proxy.add_rule(Rule("refuse", account="primary"))

    started = time.monotonic()
    drive = proxied_world.run(proxied_world.step(source_probe_timeout=2))
    elapsed = time.monotonic() - started

    assert elapsed < 2.0 + 1.0
    # No SDK retry; aiohttp itself sends an idempotent request once more when its connection is reset.
    assert refused.hits <= 2
    probe = drive.detail["source_probe"]
    assert probe["reachable"] is False
    assert probe["seconds"] < 2.0  # decided by the refusal, not by the deadline
    assert "connection failed" in probe["cause"]


def test_a_primary_that_answers_is_still_copied_with_retries(proxied_world: BlobWorld, fault_proxy: FaultProxy) -> None:
    """An error status is an answer: the probe passes the source on to the usual clients, whose retries ride
    out the 503s, and everything is copied; the RPO rests on the listing."""
    seed(proxied_world, 6)
    busy = fault_proxy.add_rule(Rule("status", account="primary", method="GET", status=503, times=2))

    drive = proxied_world.run(proxied_world.step())

    assert busy.hits == 2  # the probe's request and the listing's first try
    probe = drive.detail["source_probe"]
    assert probe["reachable"] is True
    assert probe["status"] == 503
    assert probe["answer"] == "ServerBusy (HTTP 503)"
    assert drive.detail["copied"] == 6
    assert proxied_world.target_names() == [f"doc/{i:03d}.txt" for i in range(6)]
    assert drive.detail["rpo_basis"].startswith(f"copied every blob listed at {drive.detail['last_sync_at']}: ")
    assert drive.final.rpo_estimate_seconds is not None


def test_failover_says_when_the_standing_sync_already_found_the_primary_down(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    """The standing sync notes an attempt that found the source unreachable; the failover's detail says so
    (the probe still decides). A later clean sync makes the note stale."""
    seed(proxied_world, 3)
    step = proxied_world.step(request_timeout=0.5, retry_attempts=0, source_probe_timeout=0.5)
    synced_at = proxied_world.run(step, mode="sync").detail["last_sync_at"]
    fault_proxy.add_rule(Rule("blackhole", account="primary"))
    with pytest.raises(TransientError):
        proxied_world.run(step, mode="sync")  # the standing sync meets the dead primary

    drive = proxied_world.run(step)

    standing = drive.detail["standing_sync"]
    assert standing["last_sync_at"] == synced_at
    assert standing["last_attempt"]["mode"] == "sync"
    assert standing["last_attempt"]["outcome"] == "source_unreachable"
    assert "also found the source unreachable" in standing["note"]
    assert drive.detail["source_probe"]["reachable"] is False

    fault_proxy.clear_rules()
    proxied_world.run(step, mode="sync")
    healthy = proxied_world.run(step)
    assert "last_attempt" not in healthy.detail["standing_sync"]  # a clean sync came after the failed attempt


def test_rpo_is_unknown_not_zero_without_a_standing_sync(proxied_world: BlobWorld, fault_proxy: FaultProxy) -> None:
    seed(proxied_world, 2)
    fault_proxy.add_rule(Rule("blackhole", account="primary"))
    # A step id of its own: sync records are per (plan, step), and other tests leave theirs in Azurite.
    step = proxied_world.step(id=f"blobs-{uuid.uuid4().hex[:8]}", source_probe_timeout=0.5)

    drive = proxied_world.run(step)

    assert drive.final.rpo_estimate_seconds is None
    assert drive.detail["rpo_basis"] == "unknown: no standing sync recorded"
    assert drive.detail["standing_sync"]["last_sync_at"] is None


def test_rpo_is_unknown_when_the_only_record_is_of_other_containers(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    """The plan's target changed since the last sync: that record says nothing about this copy."""
    seed(proxied_world, 2)
    step = proxied_world.step(id=f"blobs-{uuid.uuid4().hex[:8]}", source_probe_timeout=0.5)
    earlier = step.model_copy(update={"target": step.target.model_copy(update={"container": "old-target"})})
    now = datetime.now(UTC)
    record_sync(PLAN, earlier, synced_through=now, finished_at=now)
    assert last_sync(PLAN, earlier) is not None
    fault_proxy.add_rule(Rule("blackhole", account="primary"))

    drive = proxied_world.run(step)

    assert drive.final.rpo_estimate_seconds is None
    assert drive.detail["rpo_basis"].startswith("unknown: the last standing sync recorded was of primary/")
    assert "old-target" in drive.detail["rpo_basis"]


@pytest.mark.parametrize("seconds", [0.4, 61])
def test_probe_timeout_out_of_range_is_refused(blob_world: BlobWorld, seconds: float) -> None:
    step = blob_world.step().model_dump(mode="json") | {"source_probe_timeout": seconds}

    with pytest.raises(PlanError) as refusal:
        parse_plan({"name": "p", "steps": [step]})

    assert "source_probe_timeout must be between 0.5 s and 60 s" in str(refusal.value)


def test_begin_takes_a_fresh_preflight_verdict_instead_of_probing_the_dead_primary_again(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    """Pre-flight already spent the probe's bound finding the primary dead; begin, seconds later, does not
    spend it again (RTO). An older verdict (after an approval wait) is not trusted: begin probes."""
    from dr.steps import get_kind

    seed(proxied_world, 2)
    step = proxied_world.step(source_probe_timeout=2)
    proxied_world.run(step, mode="sync")
    fault_proxy.add_rule(Rule("blackhole", account="primary"))
    ctx = proxied_world.context(step)
    checks = get_kind("blob_backup").check(ctx, step)
    assert next(c for c in checks if c.name == "source_reachable").status == "warning"
    before = primary_requests(fault_proxy)

    fresh = ctx.model_copy(update={"preflight": checks, "preflight_at": datetime.now(UTC)})
    started = time.monotonic()
    progress = get_kind("blob_backup").begin(fresh, step)
    assert time.monotonic() - started < 1.0
    assert primary_requests(fault_proxy) == before  # not one request to the dead primary
    assert progress.done and "pre-flight" in progress.detail["source_probe"]["cause"]

    stale = fresh.model_copy(update={"preflight_at": datetime.now(UTC) - timedelta(minutes=5)})
    get_kind("blob_backup").begin(stale, step)
    assert primary_requests(fault_proxy) == before + 1
