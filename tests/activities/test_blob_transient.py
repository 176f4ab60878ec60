"""blob_backup under transient copy failures (issue 15, item 6): Azurite behind the devstack fault proxy.

A copy that fails transiently (429, 5xx) after the SDK's own retries is tried again inside its work item,
then in a retry chunk on a later poll (the step's retry policy); only a blob that fails on every attempt
fails the step, and the step's detail names it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devstack.faultproxy import FaultProxy, Rule
from dr.errors import PermanentError
from dr.steps import get_kind
from tests.activities.conftest import BlobWorld, Drive

# Short waits: the fixture's driver does not wait durable timers, it polls until a retry is due.
FAST_RETRY = {"attempts": 3, "first_interval": 0.05, "max_interval": 0.2}
# Requests one attempt of a copy makes when every one fails: the first and the plan's two SDK retries, three
# tries in a work item.
REQUESTS_PER_ATTEMPT = 3 * 3


def seed(world: BlobWorld, count: int) -> None:
    for i in range(count):
        world.put(f"doc/{i:03d}.txt", f"document {i}".encode())


def drive_to_failure(world: BlobWorld, step_overrides: dict[str, object]) -> tuple[Drive, PermanentError]:
    """Run the step until it fails; the drive keeps every progress the step returned before it raised."""
    step = world.step(**step_overrides)
    ctx = world.context(step)
    progress = get_kind("blob_backup").begin(ctx, step)
    drive = Drive(progresses=[progress])
    with pytest.raises(PermanentError) as failure:
        world.go_on(ctx, step, progress, drive)
    return drive, failure.value


def test_transient_copy_failures_are_retried_across_polls_and_every_blob_arrives(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    seed(proxied_world, 20)
    # Three blobs throttled through the whole first attempt (every SDK retry and every try in the item):
    # only a retry chunk on a later poll copies them. Three more fail with 503 and 500 a few times: the
    # tries inside the work item absorb those.
    throttled = [
        fault_proxy.add_rule(
            Rule("status", account="secondary", method="PUT", path=rf"doc/00{i}\.txt$", status=429, times=9)
        )
        for i in range(3)
    ]
    busy = fault_proxy.add_rule(
        Rule("status", account="secondary", method="PUT", path=r"doc/00[34]\.txt$", status=503, times=6)
    )
    failing = fault_proxy.add_rule(
        Rule("status", account="secondary", method="PUT", path=r"doc/005\.txt$", status=500, times=4)
    )

    drive = proxied_world.run(proxied_world.step(retry=FAST_RETRY))

    assert [rule.hits for rule in throttled] == [REQUESTS_PER_ATTEMPT] * 3
    assert (busy.hits, failing.hits) == (6, 4)
    assert drive.final.done
    assert drive.detail["failed"] == 0
    assert drive.detail["failed_blobs"] == []
    assert drive.detail["copied"] == 20
    assert drive.detail["retried"] == 3
    assert any(".retry-2" in (item.get("ref") or "") for item in drive.work_items)
    assert proxied_world.target_names() == [f"doc/{i:03d}.txt" for i in range(20)]
    for i in range(20):
        data = proxied_world.target.get_blob_client(f"doc/{i:03d}.txt").download_blob().readall()
        assert data == f"document {i}".encode()


def test_retries_wait_for_the_step_retry_policy(proxied_world: BlobWorld, fault_proxy: FaultProxy) -> None:
    """The retry chunk is not handed out before its backoff: the poll asks for a timer instead."""
    seed(proxied_world, 3)
    fault_proxy.add_rule(Rule("status", account="secondary", method="PUT", path=r"doc/001\.txt$", status=429, times=9))
    step = proxied_world.step(retry={"attempts": 3, "first_interval": 60})
    blob = get_kind("blob_backup")
    ctx = proxied_world.context(step)
    progress = blob.begin(ctx, step)
    results = [blob.work(ctx, step, item) for item in progress.work]
    assert sum(result["counts"]["retried"] for result in results) == 1

    later = blob.poll(ctx, step, progress.state, results)

    assert not later.done
    assert later.work == []
    assert 55 <= later.poll_after_seconds <= 60
    assert "1 to retry" in later.summary
    # Once due, the retry chunk goes out and copies the blob.
    due = ctx.model_copy(update={"now": datetime.now(UTC) + timedelta(minutes=2)})
    final = blob.poll(due, step, later.state, [])
    assert [item["ref"].rsplit(".", 2)[-2] for item in final.work] == ["retry-2"]
    drive = proxied_world.go_on(due, step, final)
    assert drive.final.done
    assert drive.detail["failed"] == 0
    assert drive.detail["copied"] == 3
    assert proxied_world.target_names() == ["doc/000.txt", "doc/001.txt", "doc/002.txt"]


def test_a_blob_failing_on_every_attempt_is_named_in_the_step_detail(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    seed(proxied_world, 6)
    broken = fault_proxy.add_rule(Rule("status", account="secondary", method="PUT", path=r"doc/004\.txt$", status=429))

    drive, failure = drive_to_failure(proxied_world, {"retry": FAST_RETRY})

    assert broken.hits == REQUESTS_PER_ATTEMPT * 3  # every attempt of the policy
    assert failure.code == "BlobCopyFailed"
    reason = "doc/004.txt: TooManyRequests (HTTP 429), still failing after 3 attempt(s)"
    assert reason in str(failure)
    # The last progress before the failure carries the report's detail: the blob by name, and the counts.
    detail = drive.final.detail
    assert detail["failed"] == 1
    assert detail["failed_blobs"] == [reason]
    assert detail["copied"] == 5
    assert detail["retried"] == 2
    assert proxied_world.target_names() == [f"doc/{i:03d}.txt" for i in range(6) if i != 4]


def test_many_failing_blobs_are_listed_bounded_with_their_count(
    proxied_world: BlobWorld, fault_proxy: FaultProxy
) -> None:
    seed(proxied_world, 15)
    fault_proxy.add_rule(Rule("status", account="secondary", method="PUT", path=r"doc/01\d\.txt$", status=503))
    fault_proxy.add_rule(Rule("status", account="secondary", method="PUT", path=r"doc/00[89]\.txt$", status=503))

    drive, failure = drive_to_failure(proxied_world, {"retry": {**FAST_RETRY, "attempts": 2}, "retry_attempts": 0})

    detail = drive.final.detail
    assert detail["failed"] == 7
    assert len(detail["failed_blobs"]) == 7
    assert all("ServerBusy (HTTP 503), still failing after 2 attempt(s)" in line for line in detail["failed_blobs"])
    assert "7 blob(s) could not be copied" in str(failure)
    assert "(+2 more)" in str(failure)  # the message names five, the detail up to ten
    assert "sig=" not in str(failure) and "sig=" not in str(detail)
    assert detail["copied"] == 8
