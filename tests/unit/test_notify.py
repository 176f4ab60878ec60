"""Run notifications (dr.notify): the plan's field, the message, and delivery to a real local HTTP webhook."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dr.errors import PlanError
from dr.notify import (
    ATTEMPTS,
    Notification,
    NotifyRequest,
    approval_wait,
    event_of,
    outcome,
    request_for,
    send,
    with_links,
)
from dr.plan import NotifyPolicy, parse_plan
from dr.preview import preview
from dr.run import ApprovalRecord, RunInput, RunReport
from dr.settings import Settings
from tests.webhook_receiver import SECRET_PATH, Receiver, closed_port_url, webhook_receiver

SETTING = "DR_NOTIFY_WEBHOOK_OPS"
RUN_ID = "shop--failover--op-20260301T120000-abcdef"
STEPS = [
    {
        "id": "verify",
        "kind": "health_check",
        "url": "https://shop-wus.example.com/health",
        "expect_body_contains": "westus",
    }
]


def plan_with(notify: Any) -> dict[str, Any]:
    return {"name": "shop", "steps": STEPS, "notify": notify}


# -- the plan field ------------------------------------------------------------------------------------------


def test_a_plan_names_the_setting_and_the_events() -> None:
    plan = parse_plan(plan_with({"webhook_url_setting": SETTING}))
    assert plan.notify == NotifyPolicy(webhook_url_setting=SETTING, on=["approval_wait", "finished", "failed"])
    assert parse_plan(plan_with({"webhook_url_setting": SETTING, "on": ["failed"]})).notify.on == ["failed"]  # type: ignore[union-attr]
    assert parse_plan({"name": "shop", "steps": STEPS}).notify is None
    assert parse_plan(plan_with({"webhook_url_setting": SETTING})).for_mode("drill").notify is not None


@pytest.mark.parametrize(
    "notify",
    [
        {"webhook_url_setting": "https://hooks.slack.com" + SECRET_PATH},  # the URL itself: refused, never echoed
        {"webhook_url_setting": "AzureWebJobsStorage"},  # another setting (a connection string): not a notify one
        {"webhook_url_setting": "dr_notify_ops"},
        {"webhook_url_setting": SETTING, "on": []},
        {"webhook_url_setting": SETTING, "on": ["started"]},
        {"webhook_url": "https://x"},
    ],
)
def test_a_bad_notify_is_a_plan_error_that_never_quotes_a_url(notify: dict[str, Any]) -> None:
    with pytest.raises(PlanError) as raised:
        parse_plan(plan_with(notify))
    assert "notify" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


# -- the message ---------------------------------------------------------------------------------------------


def _run(**fields: Any) -> RunInput:
    plan = parse_plan(plan_with({"webhook_url_setting": SETTING}))
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    defaults: dict[str, Any] = {"trigger": {"source": "operator"}, "requested_by": "ana", "reason": "region down"}
    return RunInput(plan=plan, mode="failover", requested_at=now, **{**defaults, **fields})


def _report(status: str, **fields: Any) -> RunReport:
    values: dict[str, Any] = {
        "instance_id": RUN_ID,
        "plan": "shop",
        "mode": "failover",
        "status": status,
        "trigger": {"source": "alert"},
        "started_at": "2026-03-01T12:00:00Z",
        "finished_at": "2026-03-01T12:02:05Z",
        "rto_seconds": 130.0,
        "rpo_estimate_seconds": 4.5,
        "steps": [{"id": "verify", "kind": "health_check", "status": "succeeded", "detail": {}}],
    }
    return RunReport.model_validate({**values, **fields})


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("Succeeded", "finished"),
        ("PartiallySucceeded", "finished"),
        ("Failed", "failed"),
        ("Canceled", "failed"),
        ("Rejected", "failed"),
    ],
)
def test_the_event_of_each_outcome(status: str, event: str) -> None:
    assert event_of(status) == event  # type: ignore[arg-type]


def test_only_the_events_the_plan_asks_for_are_sent() -> None:
    message = outcome(_report("Succeeded"), datetime.now(UTC))
    assert request_for(None, message) is None
    assert request_for(NotifyPolicy(webhook_url_setting=SETTING, on=["failed"]), message) is None
    request = request_for(NotifyPolicy(webhook_url_setting=SETTING), message)
    assert request is not None and request.setting == SETTING


def test_the_approval_message_says_what_the_run_will_do() -> None:
    run = _run()
    deadline = datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    approval = ApprovalRecord(required=True, deadline=deadline, preflight_failed=["verify: no answer"])
    message = approval_wait(RUN_ID, run, approval, preview(run.plan, "failover"), datetime.now(UTC))
    sent = with_links(message, "https://dr.example.com/")
    assert sent.event == "approval_wait" and sent.status == "awaiting_approval" and sent.plan == "shop"
    assert sent.approval_deadline == "2026-03-01T12:15:00Z" and sent.reason == "region down"
    assert sent.will_do is not None and sent.will_do[0].action == (
        "check https://shop-wus.example.com/health answers 200 containing 'westus'"
    )
    assert sent.links is not None and sent.links.status == f"https://dr.example.com/api/recoveries/{RUN_ID}"
    assert sent.links.approve == sent.links.status + "/approve"
    for part in (
        RUN_ID,
        "waiting for approval until 2026-03-01T12:15:00Z",
        "1. verify: check https://",
        "Pre-flight FAILED",
    ):
        assert part in sent.text
    assert "Approve: POST https://dr.example.com/api/recoveries/" in sent.text
    assert with_links(message, None).links is None  # the app's URL unknown: no links, never a made-up one


def test_the_outcome_message_carries_rto_rpo_and_what_failed() -> None:
    finished = with_links(outcome(_report("Succeeded"), datetime.now(UTC)), None)
    assert (finished.event, finished.rto_seconds, finished.rpo_estimate_seconds) == ("finished", 130.0, 4.5)
    assert finished.duration_seconds == 125.0
    assert "ended **Succeeded**" in finished.text and "RTO 130 s, RPO 4 s, duration 125 s" in finished.text
    failed_steps = [
        {"id": "verify", "kind": "health_check", "status": "failed", "detail": {"summary": "HTTP 503"}},
        {"id": "after", "kind": "health_check", "status": "skipped", "detail": {}},
    ]
    report = _report("Failed", rto_seconds=None, rpo_estimate_seconds=None, steps=failed_steps)
    failed = with_links(outcome(report, datetime.now(UTC)), "https://dr.example.com")
    assert failed.event == "failed" and failed.rto_seconds is None and failed.rpo_estimate_seconds is None
    assert failed.failed_steps == ["verify (failed): HTTP 503", "after (skipped)"]
    assert "RTO unknown, RPO unknown" in failed.text and failed.links is not None and failed.links.approve is None
    canceled = outcome(
        _report("Canceled", canceled={"by": "dee", "reason": "wrong region", "at": "x"}), datetime.now(UTC)
    )
    assert (canceled.event, canceled.decided_by, canceled.decision_reason) == ("failed", "dee", "wrong region")


# -- delivery ------------------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as server:
        yield server


def _settings(monkeypatch: pytest.MonkeyPatch, url: str | None, **env: str) -> Settings:
    if url is None:
        monkeypatch.delenv(SETTING, raising=False)
    else:
        monkeypatch.setenv(SETTING, url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def _request() -> NotifyRequest:
    return NotifyRequest(setting=SETTING, notification=outcome(_report("Succeeded"), datetime.now(UTC)))


def _no_sleep(seconds: float) -> None:
    pass


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert "s3cr3t" not in text and SECRET_PATH not in text


def test_delivered_as_json_with_text_and_fields(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, receiver.url, DR_PUBLIC_URL="https://dr.example.com")
    result = send(_request(), settings, sleep=_no_sleep)
    assert result.delivered and result.attempts == 1 and result.http_status == 200 and result.warning is None
    assert result.host == "127.0.0.1"
    (body,) = receiver.received
    assert receiver.paths == [SECRET_PATH]
    assert body["text"].startswith("DR failover of plan **shop** ended **Succeeded**")
    assert body["event"] == "finished" and body["run_id"] == RUN_ID and body["rto_seconds"] == 130.0
    assert body["links"]["status"] == f"https://dr.example.com/api/recoveries/{RUN_ID}"
    _assert_no_secret(result.model_dump_json())


def test_the_app_url_defaults_to_the_app_service_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DR_PUBLIC_URL", raising=False)
    monkeypatch.setenv("WEBSITE_HOSTNAME", "dr-app.azurewebsites.net")
    assert Settings().app_base_url == "https://dr-app.azurewebsites.net"
    monkeypatch.setenv("DR_PUBLIC_URL", "https://dr.contoso.com/")
    assert Settings().app_base_url == "https://dr.contoso.com"


def test_5xx_and_429_are_retried_then_delivered(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver.answers = [503, 429]
    receiver.retry_after = "1"
    waits: list[float] = []
    result = send(_request(), _settings(monkeypatch, receiver.url), sleep=waits.append)
    assert result.delivered and result.attempts == 3 and len(receiver.received) == 1
    assert waits == [0.5, 1.0]  # backoff; the 429's Retry-After (1 s) within the cap


@pytest.mark.parametrize(("answers", "attempts"), [([500] * 5, ATTEMPTS), ([404], 1), ([400], 1)])
def test_a_webhook_that_refuses_is_a_warning_naming_setting_and_host_only(
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    answers: list[int],
    attempts: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.answers = list(answers)
    result = send(_request(), _settings(monkeypatch, receiver.url), sleep=_no_sleep)
    assert not result.delivered and result.attempts == attempts and result.http_status == answers[0]
    assert result.warning is not None
    assert result.warning.startswith(f"notification 'finished' not delivered (setting {SETTING}, host 127.0.0.1)")
    assert f"HTTP {answers[0]}" in result.warning
    assert result.warning in caplog.text
    _assert_no_secret(result.model_dump_json(), caplog.text)


def test_connection_refused_is_retried_then_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = send(_request(), _settings(monkeypatch, closed_port_url()), sleep=_no_sleep)
    assert not result.delivered and result.attempts == ATTEMPTS and result.http_status is None
    assert result.warning is not None and "connection refused" in result.warning
    _assert_no_secret(result.model_dump_json(), caplog.text)


def test_a_budget_bounds_the_retries(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver.answers = [500] * 5
    ticks = iter([0.0, 11.9, 30.0, 30.0])  # the first retry would start past the 12 s budget
    result = send(_request(), _settings(monkeypatch, receiver.url), sleep=_no_sleep, clock=lambda: next(ticks))
    assert not result.delivered and result.attempts == 1


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, f"app setting {SETTING} is not set"),
        ("", f"app setting {SETTING} is not set"),
        ("not a url s3cr3t", f"app setting {SETTING} does not hold an http(s) URL"),
        ("ftp://host/s3cr3t", f"app setting {SETTING} does not hold an http(s) URL"),
    ],
)
def test_a_missing_or_broken_setting_is_a_warning_without_its_value(
    monkeypatch: pytest.MonkeyPatch, value: str | None, why: str
) -> None:
    result = send(_request(), _settings(monkeypatch, value), sleep=_no_sleep)
    assert not result.delivered and result.attempts == 0
    assert result.warning == f"notification 'finished' not delivered (setting {SETTING}): {why}"


def test_only_notify_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "https://account.example.com/?sig=secret")
    assert Settings().notify_webhook_url("AzureWebJobsStorage") is None
    monkeypatch.setenv(SETTING, " https://hooks.example.com/x ")
    secret = Settings().notify_webhook_url(SETTING)
    assert secret is not None and secret.get_secret_value() == "https://hooks.example.com/x"
    assert "hooks.example.com" not in repr(secret)


def test_the_message_is_small_even_for_a_large_plan() -> None:
    steps = [
        {**STEPS[0], "id": f"verify-{i}", "url": f"https://shop-wus.example.com/{'x' * 80}/{i}"} for i in range(200)
    ]
    plan = parse_plan({"name": "shop", "steps": steps})
    run = RunInput(plan=plan, mode="failover", trigger={}, requested_at=datetime.now(UTC))
    approval = ApprovalRecord(required=True, deadline=datetime.now(UTC) + timedelta(minutes=15))
    message = with_links(approval_wait(RUN_ID, run, approval, preview(plan, "failover"), datetime.now(UTC)), None)
    assert message.will_do_total == 200 and message.will_do is not None and len(message.will_do) == 30
    assert "... and 170 more steps" in message.text
    assert len(json.dumps(message.model_dump(mode="json"))) < 25 * 1024  # Teams' limit is about 28 KB


def test_notification_round_trips_as_the_activity_payload() -> None:
    request = _request()
    assert NotifyRequest.model_validate(json.loads(request.model_dump_json())) == request
    assert Notification.model_validate(request.notification.model_dump(mode="json")) == request.notification
