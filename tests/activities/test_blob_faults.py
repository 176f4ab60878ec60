"""blob_backup when the network or the primary region misbehaves: Azurite behind the devstack fault proxy."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from devstack.faultproxy import FaultProxy, Rule
from dr.blobsync import copier
from dr.errors import PermanentError, TransientError
from tests.activities.conftest import BlobWorld, seconds_between

# The step's retry policy, with waits short enough for a test (the fixture's driver does not wait timers).
FAST_RETRY = {"attempts": 3, "first_interval": 0.05, "max_interval": 0.2}


def seed(world: BlobWorld, count: int) -> None:
    for i in range(count):
        world.put(f"doc/{i:03d}.txt", f"document {i}".encode())


def test_throttling_and_server_errors_are_retried(proxied_world: BlobWorld, fault_proxy: FaultProxy) -> None:
    seed(proxied_world, 10)
    # The first listing of the source answers 503, and the target throttles a few copies (429) and fails
    # others once (500): the SDK's retry policy absorbs all of it.
    listing = fault_proxy.add_rule(Rule("status", account="primary", method="GET", status=503, times=1))
    throttled = fault_proxy.add_rule(
        Rule("status", account="secondary", method="PUT", path=r"doc/00[0-3]\.txt$", status=429, times=4)
    )
    failed_once = fault_proxy.add_rule(
        Rule("status", account="secondary", method="PUT", path=r"doc/00[4-6]\.txt$", status=500, times=3)
    )

    drive = proxied_world.run(proxied_world.step())

    assert (listing.hits, throttled.hits, failed_once.hits) == (1, 4, 3)
    assert drive.detail["copied"] == 10
    assert drive.detail["failed"] == 0
    assert proxied_world.target_names() == [f"doc/{i:03d}.txt" for i in range(10)]


def test_a_blob_that_keeps_failing_is_named_after_the_rest_is_copied(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    seed(proxied_world, 8)
    broken = fault_proxy.add_rule(Rule("status", account="secondary", method="PUT", path=r"doc/005\.txt$", status=500))

    with pytest.raises(PermanentError) as failure:
        proxied_world.run(proxied_world.step(retry=FAST_RETRY))

    # Each try is the first request and the plan's two SDK retries; three tries in a work item; the step's
    # retry policy makes three attempts (the first chunk, then two retry chunks on later polls).
    assert broken.hits == 3 * 3 * 3
    assert "doc/005.txt: InternalError (HTTP 500), still failing after 3 attempt(s)" in str(failure.value)
    assert "7 copied" in str(failure.value)
    assert proxied_world.target_names() == [f"doc/{i:03d}.txt" for i in range(8) if i != 5]


def test_unreachable_source_at_failover_continues_with_last_sync_as_rpo(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    seed(proxied_world, 5)
    step = proxied_world.step()
    first = proxied_world.run(step)
    synced_at = first.detail["last_sync_at"]
    proxied_world.put("doc/late.txt", b"written after the last sync")
    fault_proxy.add_rule(Rule("refuse", account="primary"))  # the primary region is gone

    started = time.monotonic()
    drive = proxied_world.run(step)

    assert time.monotonic() - started < 10  # the failover is not held hostage
    final = drive.final
    assert final.done
    assert drive.calls == ["begin"]
    assert final.detail["rpo_watermark"] == synced_at
    assert final.detail["last_sync_at"] == synced_at
    assert final.detail["copied"] == 0
    assert "primary/" in final.warnings[0]
    assert f"last sync at {synced_at}" in final.warnings[0]
    assert final.rpo_estimate_seconds == pytest.approx(seconds_between(synced_at, datetime.now(UTC)), abs=5)
    assert "doc/late.txt" not in proxied_world.target_names()


def test_unreachable_source_fails_the_step_when_the_plan_says_so(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    seed(proxied_world, 2)
    fault_proxy.add_rule(Rule("refuse", account="primary"))

    with pytest.raises(TransientError) as failure:
        proxied_world.run(proxied_world.step(on_source_unavailable="fail"))

    assert failure.value.code == "SourceUnavailable"
    assert "sig=" not in str(failure.value)


def test_silent_source_times_out_and_failover_goes_on_without_a_record(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    """A black-holed primary (no answer at all) and no earlier sync: the RPO is reported as unknown."""
    seed(proxied_world, 2)
    fault_proxy.add_rule(Rule("blackhole", account="primary"))

    started = time.monotonic()
    drive = proxied_world.run(proxied_world.step(request_timeout=0.5, retry_attempts=1))

    assert time.monotonic() - started < 8
    assert drive.final.done
    assert drive.final.rpo_estimate_seconds is None
    assert drive.detail["rpo_watermark"] is None
    assert "RPO unknown" in drive.final.warnings[0]


def test_source_lost_in_the_middle_of_copying_stops_the_sync_with_a_warning(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    """The listing worked, then the primary went away: copies fail to read the source, the step sees the
    source is down (not the blobs), and at failover ends with what it copied and a warning."""
    seed(proxied_world, 6)
    step = proxied_world.step()
    proxied_world.run(step)
    for i in range(6):
        proxied_world.put(f"doc/{i:03d}.txt", f"second version {i}".encode())
    ctx = proxied_world.context(step)
    from dr.steps import get_kind

    blob = get_kind("blob_backup")
    progress = blob.begin(ctx, step)
    fault_proxy.add_rule(Rule("refuse", account="primary"))

    results = [blob.work(ctx, step, item) for item in progress.work]
    final = blob.poll(ctx, step, progress.state, results)

    assert results[0]["counts"]["source_unavailable"] == 6
    assert results[0]["counts"]["failed"] == 0
    assert final.done
    assert final.warnings
    assert final.detail["source_unavailable"].startswith("source account did not answer")
    # Every target blob is still a complete earlier copy.
    for i in range(6):
        assert proxied_world.target.get_blob_client(f"doc/{i:03d}.txt").download_blob().readall() == (
            f"document {i}".encode()
        )


def test_sync_over_a_slow_link_still_finishes(proxied_world: BlobWorld, fault_proxy: FaultProxy) -> None:
    """20 ms per request on every call (a cross-region round trip): concurrency hides it."""
    seed(proxied_world, 30)
    fault_proxy.add_rule(Rule("delay", delay_ms=20))

    drive = proxied_world.run(proxied_world.step())

    assert drive.detail["copied"] == 30


def test_standing_sync_with_the_source_down_fails_and_keeps_the_last_record(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    """Between disasters (mode sync) an unreachable primary is a failed sync, retried by the next one;
    the record of the last good sync, which a failover would report, stays as it was."""
    from dr.steps.blob import last_sync

    seed(proxied_world, 3)
    step = proxied_world.step()
    proxied_world.run(step, mode="sync")
    recorded = last_sync("shop-blobs", step)
    assert recorded is not None
    fault_proxy.add_rule(Rule("refuse", account="primary"))

    with pytest.raises(TransientError) as failure:
        proxied_world.run(step, mode="sync")

    assert failure.value.code == "SourceUnavailable"
    fault_proxy.clear_rules()
    assert last_sync("shop-blobs", step) == recorded


def test_a_copy_changed_on_the_target_before_its_check_is_copied_again(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    """A copy item checks its copies against the target listing while other items still copy. A target blob
    rewritten by someone else between its copy and that check does not pass: it is copied again, and the
    backup ends holding the source's bytes."""
    for i in range(6):
        proxied_world.put(f"img/{i:04d}.bin", f"blob {i}".encode() * 10)
    step = proxied_world.step()
    # The target's listings take a while: long enough for the writer below to get in before the check reads.
    fault_proxy.add_rule(
        Rule("delay", account="secondary", method="GET", path=rf"^{proxied_world.target_container}$", delay_ms=1500)
    )
    tampered = proxied_world.target.get_blob_client("img/0003.bin")

    def rewrite_once_copied() -> None:
        deadline = time.monotonic() + 30
        while not tampered.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        tampered.upload_blob(b"someone else's bytes", overwrite=True)

    writer = threading.Thread(target=rewrite_once_copied)
    writer.start()
    try:
        drive = proxied_world.run(step)
    finally:
        writer.join()

    assert (drive.detail["copied"], drive.detail["verified"], drive.detail["failed"]) == (6, 6, 0)
    assert "listing" in drive.detail["verify_method"]
    assert any(item["op"] == "copy" and item["ref"].startswith("recopy-") for item in drive.work_items)
    assert not any(item["op"] == "verify" for item in drive.work_items)  # checked inside the copy item
    assert tampered.download_blob().readall() == b"blob 3" * 10


def test_an_endpoint_without_put_blob_from_url_is_asked_once_not_by_every_copy_slot(
    proxied_world: BlobWorld, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Azurite answers 501 to Put Blob From URL. Nothing is known of the proxy's endpoint yet: the first copy
    # asks, the 15 others that start with it wait for that answer and use Copy Blob.
    monkeypatch.setattr(copier, "PUT_FROM_URL", copier.PutFromUrlSupport())
    seed(proxied_world, 40)
    copy_requests = fault_proxy.add_rule(Rule("delay", account="secondary", method="PUT", path=r"/doc/"))

    drive = proxied_world.run(proxied_world.step(copy_concurrency=16))

    assert drive.detail["copied"] == 40
    assert drive.detail["copy_method"] == "copy_blob"
    assert copy_requests.hits == 41  # 40 copies and the one refused Put Blob From URL
    assert proxied_world.target_names() == [f"doc/{i:03d}.txt" for i in range(40)]
