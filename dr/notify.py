"""Run notifications: a message to the webhook a plan names (``notify``) when a run waits for approval, finishes
or fails, readable in a Teams or Slack channel (``text``) and structured for automation (the other fields).

Invariants:

- The webhook URL is a secret (whoever holds it posts to the channel): it lives in an app setting the plan
  names (dr.plan.NotifyPolicy), is read when a message goes out, and is in no log line, status, report or
  warning: those name the setting and the URL's host only.
- A notification never fails a run: :func:`send` retries a little (5xx, 429, no connection) within a short
  budget and then returns a warning; it does not raise for anything the webhook does.
- The message is built from what the orchestrator knows (pure builders, deterministic on replay); only the
  links, which need this app's public URL (a setting), are added when it is sent.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import SplitResult, quote, urlsplit

from pydantic import BaseModel, Field

from .durations import iso, parse_time
from .plan import NotifyPolicy
from .preview import StepPreview
from .run import ApprovalRecord, RunInput, RunReport, RunStatus
from .settings import Settings

log = logging.getLogger("dr.notify")

NotifyEvent = Literal["approval_wait", "finished", "failed"]
NOTIFY_ACTIVITY = "notify"

ATTEMPTS = 3
TIMEOUT_SECONDS = 5.0  # per attempt (connect, and each read): an incoming webhook answers in well under that
BUDGET_SECONDS = 12.0  # no retry starts after this: the run is waiting for us (at the approval gate)
RETRY_DELAYS = (0.5, 1.0)
RETRY_AFTER_CAP = 2.0  # a 429's Retry-After is honoured up to this
SHOWN_STEPS = 30  # will_do entries in a message (twice: text and list; Teams caps a message at ~28 KB)
_RESPONSE_READ = 16 * 1024


class NotificationLinks(BaseModel):
    """This API's routes of the run (they take the caller's function key, which no message carries)."""

    status: str
    report: str
    approve: str | None = None
    reject: str | None = None


class Notification(BaseModel):
    """The webhook's JSON body."""

    text: str = Field("", description="A readable summary (what Teams and Slack incoming webhooks show).")
    event: NotifyEvent
    plan: str
    run_id: str
    mode: str
    status: str = Field(description="awaiting_approval, or the run's final status (Succeeded, Failed, ...).")
    at: str
    trigger: str | None = None
    reason: str | None = None
    requested_by: str | None = None
    approval_deadline: str | None = None
    preflight_failed: list[str] = Field(default_factory=list)
    will_do: list[StepPreview] | None = None
    will_do_total: int | None = None
    rto_seconds: float | None = None
    rpo_estimate_seconds: float | None = None
    service_restored_seconds: float | None = None
    duration_seconds: float | None = None
    decided_by: str | None = Field(None, description="Who approved, rejected or canceled the run.")
    decision_reason: str | None = None
    failed_steps: list[str] = Field(
        default_factory=list, description="'step (status): summary' of every step that did not succeed."
    )
    links: NotificationLinks | None = None


class NotifyRequest(BaseModel):
    """The input of the ``notify`` activity."""

    setting: str = Field(description="The app setting holding the webhook URL (the plan's webhook_url_setting).")
    notification: Notification


class NotifyResult(BaseModel):
    """The ``notify`` activity's answer: delivered, or why not (never the URL)."""

    event: NotifyEvent
    delivered: bool
    setting: str
    host: str | None = None
    attempts: int = 0
    http_status: int | None = None
    warning: str | None = None


# -- what to send ------------------------------------------------------------------------------------------


def event_of(status: RunStatus) -> NotifyEvent:
    """finished: the service recovered (Succeeded, PartiallySucceeded); failed: any other end."""
    return "finished" if status in ("Succeeded", "PartiallySucceeded") else "failed"


def request_for(policy: NotifyPolicy | None, notification: Notification) -> NotifyRequest | None:
    """The activity's input, or None when the plan does not ask for this event."""
    if policy is None or notification.event not in policy.on:
        return None
    return NotifyRequest(setting=policy.webhook_url_setting, notification=notification)


def approval_wait(
    run_id: str, run: RunInput, approval: ApprovalRecord, will_do: list[StepPreview], at: datetime
) -> Notification:
    return Notification(
        event="approval_wait",
        plan=run.plan.name,
        run_id=run_id,
        mode=run.mode,
        status="awaiting_approval",
        at=iso(at),
        trigger=_source(run.trigger),
        reason=run.reason,
        requested_by=run.requested_by,
        approval_deadline=iso(approval.deadline) if approval.deadline else None,
        preflight_failed=approval.preflight_failed[:10],
        will_do=will_do[:SHOWN_STEPS],
        will_do_total=len(will_do),
    )


def outcome(report: RunReport, at: datetime) -> Notification:
    approval = report.approval or {}
    canceled = report.canceled or {}
    rejected = report.status == "Rejected"
    failed = []
    for step in report.steps:
        if step.get("status") != "succeeded":
            said = str((step.get("detail") or {}).get("summary") or "")[:200]
            failed.append(f"{step['id']} ({step['status']})" + (f": {said}" if said else ""))
    return Notification(
        event=event_of(report.status),
        plan=report.plan,
        run_id=report.instance_id,
        mode=report.mode,
        status=report.status,
        at=iso(at),
        trigger=_source(report.trigger),
        reason=report.reason,
        requested_by=report.requested_by,
        rto_seconds=report.rto_seconds,
        rpo_estimate_seconds=report.rpo_estimate_seconds,
        service_restored_seconds=report.service_restored_seconds,
        duration_seconds=_seconds_between(report.started_at, report.finished_at),
        decided_by=canceled.get("by") or (approval.get("by") if rejected else None),
        decision_reason=canceled.get("reason") or (approval.get("reason") if rejected else None),
        failed_steps=failed[:SHOWN_STEPS],
    )


def _source(trigger: dict[str, object]) -> str | None:
    source = trigger.get("source")
    return str(source) if source is not None else None


def _seconds_between(start: str, end: str) -> float | None:
    try:
        return round((parse_time(end) - parse_time(start)).total_seconds(), 3)
    except ValueError:
        return None


def with_links(notification: Notification, base_url: str | None) -> Notification:
    """The message as sent: links to the run on this app (when its public URL is known) and its text."""
    links = None
    if base_url:
        run = f"{base_url.rstrip('/')}/api/recoveries/{quote(notification.run_id, safe='')}"
        waiting = notification.event == "approval_wait"
        links = NotificationLinks(
            status=run,
            report=f"{run}/report",
            approve=f"{run}/approve" if waiting else None,
            reject=f"{run}/reject" if waiting else None,
        )
    sent = notification.model_copy(update={"links": links})
    return sent.model_copy(update={"text": summary(sent)})


def summary(n: Notification) -> str:
    """The readable message (Markdown, which Teams and Slack both render well enough)."""
    what = f"DR {n.mode} of plan **{n.plan}**"
    lines: list[str]
    if n.event == "approval_wait":
        until = f" until {n.approval_deadline}" if n.approval_deadline else ""
        lines = [f"{what} is waiting for approval{until} (run {n.run_id})."]
        if n.reason:
            lines.append(f"Reason: {n.reason}" + (f" (requested by {n.requested_by})" if n.requested_by else ""))
        if n.preflight_failed:
            lines.append(
                "Pre-flight FAILED (approve only with override_failed_checks): " + "; ".join(n.preflight_failed)
            )
        lines.append("It will:")
        lines += [f"{i}. {item.step}: {item.action}" for i, item in enumerate(n.will_do or [], 1)]
        if n.will_do_total and n.will_do and n.will_do_total > len(n.will_do):
            lines.append(f"... and {n.will_do_total - len(n.will_do)} more steps (see the run's status)")
        if n.links and n.links.approve:
            lines.append(f"Approve: POST {n.links.approve} · reject: POST {n.links.reject} · status: {n.links.status}")
        return "\n".join(lines)
    figures = [
        f"RTO {_secs(n.rto_seconds)}",
        f"RPO {_secs(n.rpo_estimate_seconds)}",
        f"duration {_secs(n.duration_seconds)}",
    ]
    lines = [f"{what} ended **{n.status}** (run {n.run_id}): " + ", ".join(figures) + "."]
    if n.decided_by:
        lines.append(
            f"{'Canceled' if n.status == 'Canceled' else 'Decided'} by {n.decided_by}: {n.decision_reason or ''}"
        )
    if n.failed_steps:
        lines.append("Did not succeed: " + "; ".join(n.failed_steps))
    if n.links:
        lines.append(f"Report: {n.links.report}")
    return "\n".join(lines)


def _secs(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f} s"


# -- sending -----------------------------------------------------------------------------------------------

Post = Callable[[SplitResult, bytes, float], tuple[int | None, float | None, str]]


def send(
    request: NotifyRequest,
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> NotifyResult:
    """POST the notification to the URL the request's setting holds; a warning, never an exception, when it
    cannot be delivered."""
    notification = with_links(request.notification, settings.app_base_url)
    event, setting = notification.event, request.setting
    secret = settings.notify_webhook_url(setting)
    if secret is None:
        return _undelivered(event, setting, None, 0, None, f"app setting {setting} is not set")
    url = urlsplit(secret.get_secret_value())
    try:
        host, _ = url.hostname, url.port  # port raises on a malformed one
    except ValueError:
        host = None
    if url.scheme not in ("http", "https") or not host:
        return _undelivered(event, setting, None, 0, None, f"app setting {setting} does not hold an http(s) URL")
    body = notification.model_dump_json().encode()
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        status, retry_after, why = _post(url, body, TIMEOUT_SECONDS)
        if status is not None and 200 <= status < 300:
            log.info(
                "notification %s of run %s delivered (setting %s, host %s)", event, notification.run_id, setting, host
            )
            return NotifyResult(
                event=event, delivered=True, setting=setting, host=host, attempts=attempt, http_status=status
            )
        retryable = status is None or status == 429 or status >= 500
        delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
        if retry_after is not None:
            delay = min(max(retry_after, delay), RETRY_AFTER_CAP)
        if not retryable or attempt >= ATTEMPTS or clock() - started + delay > BUDGET_SECONDS:
            return _undelivered(event, setting, host, attempt, status, why)
        sleep(delay)


def _undelivered(
    event: NotifyEvent, setting: str, host: str | None, attempts: int, status: int | None, why: str
) -> NotifyResult:
    where = f"setting {setting}" + (f", host {host}" if host else "")
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    warning = f"notification {event!r} not delivered ({where}): {why}{tries}"
    log.warning(warning)
    return NotifyResult(
        event=event, delivered=False, setting=setting, host=host, attempts=attempts, http_status=status, warning=warning
    )


def _post(url: SplitResult, body: bytes, timeout: float) -> tuple[int | None, float | None, str]:
    """One POST: (HTTP status or None, Retry-After seconds, what happened)."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "dr-orchestrator-notify/1"}
    answer = exchange("POST", url, body, timeout, headers)
    return answer.status, answer.retry_after, answer.why


@dataclass(frozen=True)
class HttpAnswer:
    """One request's answer as :func:`exchange` saw it. ``why`` is safe to show (never the URL, nor an error's
    text, which may quote it); ``location`` and ``body`` are the endpoint's, for the caller to judge."""

    status: int | None
    why: str
    retry_after: float | None = None
    location: str | None = None
    body: bytes = b""


def exchange(
    method: str,
    url: SplitResult,
    body: bytes | None,
    timeout: float,
    headers: dict[str, str],
    *,
    read_limit: int = _RESPONSE_READ,
) -> HttpAnswer:
    """One request to a secret URL (a webhook's: notifications here, webhook steps in dr.steps.webhook).
    Standard library, so no client library logs the URL (urllib3 logs request lines at debug level), and no
    redirect is followed (it would carry the request, and its body, to wherever the answer points)."""
    host, port = url.hostname or "", url.port
    connection: http.client.HTTPConnection
    if url.scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read(read_limit)
        return HttpAnswer(
            status=response.status,
            why=f"HTTP {response.status}",
            retry_after=_retry_after(response.getheader("Retry-After")),
            location=response.getheader("Location"),
            body=data,
        )
    except (OSError, http.client.HTTPException) as exc:
        return HttpAnswer(status=None, why=_why(exc, timeout))
    finally:
        connection.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: not worth parsing for a wait capped at two seconds
        return None


def _why(exc: BaseException, timeout: float) -> str:
    """An error as a warning may show it: its kind, never its text (which may quote the URL)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__
