"""webhook through the step activities' dispatch (check, begin, poll, teardown) against a real local endpoint
that starts jobs as a Logic App (202 + Location) or an Automation webhook (202 + JobIds) does: the run's
context goes out, the job is followed to its end, failures land in the right category, and the URL's token
shows up nowhere but in the request itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dr import dispatch
from dr.errors import PermanentError, PreconditionError, TransientError
from tests.async_endpoint import TOKEN, AsyncEndpoint, async_endpoint
from tests.webhook_receiver import closed_port_url

SETTING = "DR_WEBHOOK_STANDBY"
DRILL_SETTING = "DR_WEBHOOK_STANDBY_DRILL"
AUTOMATION_STATUS = {"field": "properties.status", "done": ["Completed"], "failed": ["Failed", "Stopped"]}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[AsyncEndpoint]:
    with async_endpoint() as running:
        yield running


@pytest.fixture(autouse=True)
def _wired(endpoint: AsyncEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint.reset()
    monkeypatch.setenv(SETTING, endpoint.url())
    monkeypatch.setenv(DRILL_SETTING, endpoint.url("standby-drill"))


def _context(mode: str = "failover", **step: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "run_id": "shop--failover--op-20261130T120000-abc123",
        "plan_name": "shop",
        "mode": mode,
        "step": {"id": "standby", "kind": "webhook", "url_setting": SETTING, **step},
        "started_at": now,
        "now": now,
        "reason": "East US is down",
    }


def _follow(context: dict[str, Any], progress: dict[str, Any], limit: int = 10) -> dict[str, Any]:
    """Poll as the step's sub-orchestration does (without the timers) until done."""
    for _ in range(limit):
        if progress["done"]:
            return progress
        progress = dispatch.poll({"context": context, "state": progress["state"], "work_results": []})
    raise AssertionError(f"not done after {limit} polls: {progress}")


def _no_token(*documents: Any) -> None:
    for document in documents:
        assert TOKEN not in json.dumps(document, default=str)


def test_the_async_pattern_is_followed_until_the_location_answers_done(endpoint: AsyncEndpoint) -> None:
    context = _context(payload={"tier": "web"})
    progress = dispatch.begin({"context": context})
    assert progress["done"] is False
    assert progress["poll_after_seconds"] == 1  # the 202's Retry-After
    assert progress["detail"]["followed"] == "location" and progress["detail"]["host"] == "127.0.0.1"
    (call,) = endpoint.posts()
    assert call.body == {
        "source": "dr-orchestrator",
        "plan": "shop",
        "run_id": context["run_id"],
        "mode": "failover",
        "step": "standby",
        "reason": "East US is down",
        "at": call.body["at"],
        "idempotency_key": f"{context['run_id']}:standby",
        "data": {"tier": "web"},
    }
    assert call.headers["idempotency-key"] == f"{context['run_id']}:standby"
    done = _follow(context, progress)
    assert done["detail"]["polls"] == 3 and done["detail"]["last_status"] == 200
    assert "done: HTTP 200" in done["summary"]
    assert done["state"] == {}  # the signed Location is not kept once the job is done
    assert len(endpoint.reads()) == 3 and all(TOKEN in read.path for read in endpoint.reads())
    _no_token(progress["detail"], progress["summary"], done)


def test_an_automation_job_is_followed_at_the_plans_status_url(endpoint: AsyncEndpoint) -> None:
    endpoint.reset(style="automation", statuses=["Queued", "Running", "Completed"])
    status = {**AUTOMATION_STATUS, "url": f"{endpoint.base}/status/{{response.JobIds.0}}"}
    context = _context(status=status, poll_interval="PT5S")
    progress = dispatch.begin({"context": context})
    assert progress["done"] is False and progress["poll_after_seconds"] == 5
    assert progress["detail"]["followed"] == "status_url"
    progress = dispatch.poll({"context": context, "state": progress["state"], "work_results": []})
    assert progress["done"] is False and "properties.status = Queued" in progress["summary"]
    done = _follow(context, progress)
    assert done["detail"]["job_status"] == "Completed"
    assert [read.path for read in endpoint.reads()] == ["/status/job-1"] * 3


def test_a_failed_job_fails_the_step_for_good(endpoint: AsyncEndpoint) -> None:
    endpoint.reset(style="automation", statuses=["Running", "Failed"])
    context = _context(status={**AUTOMATION_STATUS, "url": f"{endpoint.base}/status/{{response.JobIds.0}}"})
    progress = dispatch.begin({"context": context})
    progress = dispatch.poll({"context": context, "state": progress["state"], "work_results": []})
    with pytest.raises(PermanentError, match=r"properties.status = Failed") as failed:
        dispatch.poll({"context": context, "state": progress["state"], "work_results": []})
    assert failed.value.code == "WebhookJobFailed"


def test_a_job_that_ends_in_an_error_answer_fails_with_the_endpoints_error(endpoint: AsyncEndpoint) -> None:
    endpoint.reset(polls=0, final_status=409, final_body={"error": {"code": "StandbyBusy", "message": "locked"}})
    context = _context()
    progress = dispatch.begin({"context": context})
    with pytest.raises(PermanentError, match="HTTP 409: StandbyBusy: locked") as failed:
        _follow(context, progress)
    assert failed.value.code == "WebhookHttp409"
    assert TOKEN not in str(failed.value)


@pytest.mark.parametrize(("status", "category"), [(503, TransientError), (429, TransientError), (400, PermanentError)])
def test_failure_categories(endpoint: AsyncEndpoint, status: int, category: type[Exception]) -> None:
    endpoint.reset(post_answers=[status])
    with pytest.raises(category, match=f"HTTP {status}: Scripted{status}: scripted answer") as failed:
        dispatch.begin({"context": _context()})
    assert TOKEN not in str(failed.value) and "host 127.0.0.1" in str(failed.value)
    progress = dispatch.begin({"context": _context()})  # the retry the step's policy makes
    assert progress["done"] is False


def test_an_expired_token_is_permanent_and_says_what_to_renew(
    endpoint: AsyncEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SETTING, endpoint.url().replace(TOKEN, "expired-token"))
    with pytest.raises(PermanentError, match=f"HTTP 401.*renew the URL in {SETTING}") as failed:
        dispatch.begin({"context": _context()})
    assert "expired-token" not in str(failed.value)


def test_no_connection_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, closed_port_url())
    with pytest.raises(TransientError, match="connection refused") as failed:
        dispatch.begin({"context": _context()})
    assert failed.value.code == "WebhookUnreachable"


def test_an_unset_setting_is_a_precondition_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTING)
    with pytest.raises(PreconditionError, match=f"app setting {SETTING} is not set"):
        dispatch.begin({"context": _context()})


def test_a_plain_2xx_is_done_at_once(endpoint: AsyncEndpoint) -> None:
    endpoint.reset(style="sync")
    progress = dispatch.begin({"context": _context()})
    assert progress["done"] is True and progress["detail"]["followed"] == "none"
    assert progress["warnings"] == []


def test_an_accepted_call_without_a_location_is_done_with_a_warning(endpoint: AsyncEndpoint) -> None:
    endpoint.reset(style="automation")
    progress = dispatch.begin({"context": _context()})
    assert progress["done"] is True
    assert "without a Location" in progress["warnings"][0]


def test_a_repeated_begin_carries_the_same_idempotency_key(endpoint: AsyncEndpoint) -> None:
    context = _context()
    dispatch.begin({"context": context})
    dispatch.begin({"context": context})
    keys = {call.body["idempotency_key"] for call in endpoint.posts()}
    assert keys == {f"{context['run_id']}:standby"}


def test_a_drill_calls_nothing_by_default(endpoint: AsyncEndpoint) -> None:
    progress = dispatch.begin({"context": _context("drill")})
    assert progress["done"] is True and progress["detail"]["called"] is False
    assert SETTING in progress["summary"] and endpoint.posts() == []


def test_a_drill_calls_its_own_endpoint_and_says_so(endpoint: AsyncEndpoint) -> None:
    context = _context("drill", drill_url_setting=DRILL_SETTING)
    done = _follow(context, dispatch.begin({"context": context}))
    (call,) = endpoint.posts()
    assert call.path.startswith("/hooks/standby-drill/") and call.body["mode"] == "drill"
    assert done["detail"]["setting"] == DRILL_SETTING and done["done"] is True
    result = dispatch.teardown({"context": context, "state": done["state"]})
    assert "nothing to undo" in result["teardown"]


def test_pre_flight_reads_the_setting_and_the_host_without_calling(
    endpoint: AsyncEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = {check["name"]: check for check in dispatch.check({"context": _context()})}
    assert checks["webhook_reachable"]["status"] == "passed"
    assert "nothing was sent" in checks["webhook_reachable"]["message"]
    assert endpoint.calls == []
    _no_token(checks)

    drill = {check["name"]: check for check in dispatch.check({"context": _context("drill")})}
    assert drill["drill_skips"]["status"] == "passed"

    monkeypatch.delenv(SETTING)
    failed = {check["name"]: check for check in dispatch.check({"context": _context()})}
    assert failed["webhook_url"]["status"] == "failed"
    assert f"app setting {SETTING} is not set" in failed["webhook_url"]["message"]

    monkeypatch.setenv(SETTING, closed_port_url())
    refused = {check["name"]: check for check in dispatch.check({"context": _context()})}
    assert refused["webhook_reachable"]["status"] == "warning"
    assert "does not accept connections" in refused["webhook_reachable"]["message"]
