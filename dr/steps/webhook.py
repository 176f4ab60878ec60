"""webhook: call an HTTP endpoint with the run's context, then follow the job it started until it is done.

The custom action no other kind covers: an Azure Automation runbook's webhook, a Logic App's HTTP trigger.

- The URL is a secret (an Automation webhook URL carries its token, a Logic App trigger's a SAS signature):
  the plan names the app setting that holds it (DR_WEBHOOK_<NAME>, read at each call, like dr.notify's
  webhook); no status, report, log line or error shows more than the setting's name and the URL's host. A
  ``Location`` the endpoint answers may carry a signature too: it lives in the step's state while the job is
  followed (orchestration history, as every activity input does) and is dropped once the job is done.
- begin POSTs once: JSON with ``plan``, ``run_id``, ``mode``, ``step``, ``reason``, ``at``, the plan's
  ``payload`` under ``data``, and an ``idempotency_key`` (also the ``Idempotency-Key`` header) that is the same
  for every call of this step in this run, so an endpoint can tell a repeated delivery (an activity runs at
  least once) from a new job.
- Following the job (poll, on durable timers): the plan's ``status`` URL (a template filled from the run and
  the webhook's JSON answer) until its ``field`` is one of ``done`` or ``failed``; else Azure's async pattern,
  the 202's ``Location`` polled (honouring ``Retry-After``) until it answers anything but 202 (Microsoft Learn,
  *Asynchronous Request-Reply pattern*; Logic Apps' async HTTP response); else the first 2xx is done.
- Failure categories: no connection, a 429 or a 5xx is transient (retried by the step's ``retry`` policy on
  durable timers, bounded); any other 4xx is permanent (a 401/403 often means the webhook's token expired),
  as is a redirect (not followed: it would carry the run's context elsewhere).
- A drill calls nothing by default (``drill: skip``: it says what a failover would call); ``drill: call`` calls
  ``drill_url_setting`` (else ``url_setting``, the body saying ``mode: drill``). Nothing is created here, so
  teardown has nothing to undo (a drill endpoint's job undoes its own). No data moves: no RPO.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import SplitResult, quote, urljoin, urlsplit

from pydantic import BaseModel, Field

from ..durations import iso
from ..errors import PermanentError, PreconditionError, TransientError, redact_secrets
from ..notify import HttpAnswer, exchange
from ..plan import WebhookStatusPoll, WebhookStep
from ..probe import resolve, tcp_probe
from ..settings import get_settings
from .base import Check, StepContext, StepKind, StepProgress, TeardownResult

USER_AGENT = "dr-orchestrator-webhook/1"
MIN_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 300.0  # a Retry-After beyond this is read as this: the step's timeout still bounds the job
CONNECT_CHECK_SECONDS = 5.0
SHOWN_BODY_CHARS = 300
Follow = Literal["location", "status_url"]


class WebhookState(BaseModel):
    """What the step remembers while it follows the job (``url`` is dropped once the job is done)."""

    setting: str
    host: str
    follow: Follow
    url: str = Field(description="Where the job's status is read (a Location may carry a signature).")
    polls: int = 0
    called_at: str
    http_status: int = Field(description="What the call itself answered.")


class Webhook(StepKind[WebhookStep]):
    # -- pre-flight ----------------------------------------------------------------------------------------
    def check(self, ctx: StepContext, params: WebhookStep) -> list[Check]:
        checks: list[Check] = []
        settings = [params.url_setting]
        if ctx.is_drill:
            if params.drill_calls:
                settings.append(_setting_for(ctx, params) or params.url_setting)
            else:
                checks.append(
                    Check.passed(
                        "drill_skips",
                        f"a drill does not call the webhook (drill: skip): it reports what a failover would call "
                        f"({params.url_setting})",
                    )
                )
        for setting in dict.fromkeys(settings):
            checks += _setting_checks(setting, params)
        if params.status is not None:
            status_host = urlsplit(params.status.url).hostname or "?"
            checks.append(
                Check.passed(
                    "status_url",
                    f"the job is followed at a status URL on {status_host} until {params.status.field} is one of "
                    f"{', '.join(params.status.done)}",
                    host=status_host,
                )
            )
        return checks

    # -- the call --------------------------------------------------------------------------------------------
    def begin(self, ctx: StepContext, params: WebhookStep) -> StepProgress:
        setting = _setting_for(ctx, params)
        if setting is None:
            return StepProgress(
                done=True,
                summary=f"drill: skipped (drill: skip); a failover calls the webhook in {params.url_setting}",
                detail={"setting": params.url_setting, "drill": "skipped", "called": False},
            )
        url = _url(setting)
        host = url.hostname or "?"
        key = idempotency_key(ctx)
        body = json.dumps(run_context(ctx, params, key)).encode()
        headers = {**_headers(key), "Content-Type": "application/json; charset=utf-8"}
        answer = exchange("POST", url, body, params.request_timeout.total_seconds(), headers)
        _raise_for(answer, f"webhook {setting} (host {host})", setting)
        detail: dict[str, Any] = {
            "setting": setting,
            "host": host,
            "http_status": answer.status,
            "called_at": iso(ctx.now),
            "idempotency_key": key,
        }
        if ctx.is_drill:
            detail["drill"] = "called"
        follow = _follow(ctx, params, setting, url, answer)
        if follow is None:
            warnings = []
            if answer.status == 202:
                warnings.append(
                    f"webhook {setting} accepted the call (HTTP 202) without a Location: the job was not followed to "
                    "its end (give the step a status URL to follow it)"
                )
            return StepProgress(
                done=True,
                summary=f"webhook {setting} (host {host}) answered HTTP {answer.status}",
                detail={**detail, "followed": "none"},
                warnings=warnings,
            )
        kind, status_url = follow
        state = WebhookState(
            setting=setting, host=host, follow=kind, url=status_url, called_at=iso(ctx.now), http_status=answer.status
        )
        status_host = urlsplit(status_url).hostname or "?"
        return StepProgress(
            state=state.model_dump(mode="json"),
            poll_after_seconds=_wait(answer, params),
            summary=f"webhook {setting} accepted (HTTP {answer.status}); following the job on {status_host}",
            detail={**detail, "followed": kind, "status_host": status_host},
        )

    def poll(
        self, ctx: StepContext, params: WebhookStep, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        job = WebhookState.model_validate(state)
        job.polls += 1
        url = urlsplit(job.url)
        status_host = url.hostname or "?"
        what = f"the job of webhook {job.setting} (status on {status_host})"
        answer = exchange("GET", url, None, params.request_timeout.total_seconds(), _headers(idempotency_key(ctx)))
        detail: dict[str, Any] = {
            "setting": job.setting,
            "host": job.host,
            "http_status": job.http_status,
            "called_at": job.called_at,
            "idempotency_key": idempotency_key(ctx),
            **({"drill": "called"} if ctx.is_drill else {}),
            "followed": job.follow,
            "status_host": status_host,
            "polls": job.polls,
            "last_status": answer.status,
        }
        if job.follow == "location":
            return self._location(job, answer, params, what, detail)
        assert params.status is not None  # a status_url job comes from a plan with status
        return self._status_field(job, answer, params, params.status, what, detail)

    def _location(
        self, job: WebhookState, answer: HttpAnswer, params: WebhookStep, what: str, detail: dict[str, Any]
    ) -> StepProgress:
        if answer.status == 202:
            if answer.location:  # the endpoint may move the job's status; follow where it says now
                job.url = _next_location(job.url, answer.location, what)
            return self._still_running(job, answer, params, detail, "202 Accepted")
        _raise_for(answer, what, job.setting)
        return StepProgress(done=True, summary=f"{what} done: HTTP {answer.status}", detail=detail)

    def _status_field(
        self,
        job: WebhookState,
        answer: HttpAnswer,
        params: WebhookStep,
        status: WebhookStatusPoll,
        what: str,
        detail: dict[str, Any],
    ) -> StepProgress:
        if answer.status == 202:
            return self._still_running(job, answer, params, detail, "202 Accepted")
        _raise_for(answer, what, job.setting)
        found = _dig(_json(answer, what), status.field)
        value = "" if found is None else str(found)
        detail["job_status"] = value
        if value.casefold() in {v.casefold() for v in status.done}:
            return StepProgress(done=True, summary=f"{what} done: {status.field} = {value}", detail=detail)
        if value.casefold() in {v.casefold() for v in status.failed}:
            raise PermanentError(f"{what} failed: {status.field} = {value}", code="WebhookJobFailed")
        return self._still_running(job, answer, params, detail, f"{status.field} = {value or 'not set yet'}")

    def _still_running(
        self, job: WebhookState, answer: HttpAnswer, params: WebhookStep, detail: dict[str, Any], said: str
    ) -> StepProgress:
        return StepProgress(
            state=job.model_dump(mode="json"),
            poll_after_seconds=_wait(answer, params),
            summary=f"job of webhook {job.setting} still running ({said}; {job.polls} status reads)",
            detail=detail,
        )

    def teardown(
        self, ctx: StepContext, params: WebhookStep, state: dict[str, Any], previous: TeardownResult | None = None
    ) -> dict[str, Any]:
        return {"teardown": "nothing to undo here: what a drill's webhook started is that endpoint's to undo"}


# -- the pure parts -------------------------------------------------------------------------------------------


def idempotency_key(ctx: StepContext) -> str:
    """The same for every call of this step in this run: an endpoint recognises a repeated delivery."""
    return f"{ctx.run_id}:{ctx.step_id}"


def run_context(ctx: StepContext, params: WebhookStep, key: str) -> dict[str, Any]:
    """The body the webhook gets: the run's context and the plan's payload (plan data), never a secret."""
    return {
        "source": "dr-orchestrator",
        "plan": ctx.plan_name,
        "run_id": ctx.run_id,
        "mode": ctx.mode,
        "step": ctx.step_id,
        "reason": ctx.reason,
        "at": iso(ctx.now),
        "idempotency_key": key,
        "data": params.payload,
    }


def fill_template(template: str, ctx: StepContext, response: Any) -> str:
    """The plan's status URL with {run_id}, {plan}, {step}, {mode} and {response.<path>} filled in (each value
    URL-quoted). PermanentError when the answer lacks a value the template names."""
    known = {"run_id": ctx.run_id, "plan": ctx.plan_name, "step": ctx.step_id, "mode": ctx.mode}
    out, last = [], 0
    for start, end, name in _placeholders(template):
        if name in known:
            value: Any = known[name]
        else:
            value = _dig(response, name.removeprefix("response."))
            if value is None or isinstance(value, dict | list):
                raise PermanentError(
                    f"the webhook's answer has no value at {name.removeprefix('response.')!r} for the status URL "
                    f"(answer: {_shown_body(response)})",
                    code="WebhookStatusUrlUnfilled",
                )
        out += [template[last:start], quote(str(value), safe="")]
        last = end
    out.append(template[last:])
    return "".join(out)


def _placeholders(template: str) -> list[tuple[int, int, str]]:
    """Each {name} of a template: (start, end, name); the plan's validator allowed only known names."""
    found = []
    index = 0
    while (start := template.find("{", index)) >= 0:
        end = template.find("}", start)
        if end < 0:
            break
        found.append((start, end + 1, template[start + 1 : end]))
        index = end + 1
    return found


def _dig(document: Any, path: str) -> Any:
    """The value at a dotted path (list items by index: JobIds.0), or None."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _setting_for(ctx: StepContext, params: WebhookStep) -> str | None:
    """The app setting this run calls (a failback's plan already names the failback setting: dr.failback);
    None: a drill that calls nothing."""
    if not ctx.is_drill:
        return params.url_setting
    if not params.drill_calls:
        return None
    return params.drill_url_setting or params.url_setting


def _url(setting: str) -> SplitResult:
    """The URL the setting holds; PreconditionError (naming the setting, never its value) when unusable."""
    secret = get_settings().step_webhook_url(setting)
    if secret is None:
        raise PreconditionError(
            f"app setting {setting} is not set: put the webhook URL in it (a Key Vault reference works)",
            code="WebhookUrlNotSet",
        )
    url = urlsplit(secret.get_secret_value())
    try:
        host, _ = url.hostname, url.port  # a malformed port raises
    except ValueError:
        host = None
    if url.scheme not in ("http", "https") or not host:
        raise PreconditionError(f"app setting {setting} does not hold an http(s) URL", code="WebhookUrlInvalid")
    return url


def _headers(key: str) -> dict[str, str]:
    return {"User-Agent": USER_AGENT, "Accept": "application/json", "Idempotency-Key": key}


def _follow(
    ctx: StepContext, params: WebhookStep, setting: str, called: SplitResult, answer: HttpAnswer
) -> tuple[Follow, str] | None:
    """Where the job's status is read next, or None: nothing to follow (done at the first answer)."""
    if params.status is not None:
        response = _json(answer, f"webhook {setting}") if "{response." in params.status.url else None
        return "status_url", fill_template(params.status.url, ctx, response)
    if answer.status == 202 and answer.location:
        return "location", _next_location(called.geturl(), answer.location, f"webhook {setting}")
    return None


def _next_location(current: str, location: str, what: str) -> str:
    """A Location resolved against the URL that gave it; refused if it is not http(s) or leaves https."""
    target = urlsplit(urljoin(current, location))
    if target.scheme not in ("http", "https") or not target.hostname:
        raise PermanentError(f"{what}: the answer's Location is not an http(s) URL", code="WebhookBadLocation")
    if urlsplit(current).scheme == "https" and target.scheme != "https":
        raise PermanentError(f"{what}: the answer's Location leaves https; not followed", code="WebhookBadLocation")
    return target.geturl()


def _wait(answer: HttpAnswer, params: WebhookStep) -> float:
    seconds = answer.retry_after if answer.retry_after is not None else params.poll_interval.total_seconds()
    return min(max(seconds, MIN_POLL_SECONDS), MAX_POLL_SECONDS)


def _raise_for(answer: HttpAnswer, what: str, setting: str) -> None:
    """The failure category of an answer that is not a success (see the module docstring)."""
    status = answer.status
    if status is None:
        raise TransientError(f"{what}: {answer.why}", code="WebhookUnreachable")
    if status == 429 or status >= 500:
        raise TransientError(f"{what}: HTTP {status}{_said(answer)}", code=f"WebhookHttp{status}")
    if 300 <= status < 400:
        raise PermanentError(
            f"{what}: answered a redirect (HTTP {status}), not followed: put the final URL in {setting}",
            code=f"WebhookHttp{status}",
        )
    if status >= 400:
        hint = ""
        if status in (401, 403):
            hint = f" (an expired or revoked webhook token answers this: renew the URL in {setting})"
        elif status == 404:
            hint = f" (the webhook or its job is gone: check the URL in {setting})"
        raise PermanentError(f"{what}: HTTP {status}{_said(answer)}{hint}", code=f"WebhookHttp{status}")


def _json(answer: HttpAnswer, what: str) -> Any:
    try:
        return json.loads(answer.body or b"null")
    except ValueError:
        raise PermanentError(f"{what}: answered HTTP {answer.status} without JSON", code="WebhookNotJson") from None


def _said(answer: HttpAnswer) -> str:
    """The error an endpoint gave (Azure's {"error": {"code", "message"}} or its text), short and redacted."""
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = answer.body.decode("utf-8", "replace")
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        error = document["error"]
        document = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    text = _shown_body(document)
    return f": {text}" if text else ""


def _shown_body(document: Any) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    return redact_secrets(" ".join(text.split()))[:SHOWN_BODY_CHARS]


def _setting_checks(setting: str, params: WebhookStep) -> list[Check]:
    """The setting holds an http(s) URL whose host resolves and accepts connections (nothing is sent)."""
    try:
        url = _url(setting)
    except PreconditionError as error:
        return [
            Check.failed(
                "webhook_url",
                f"{error.message}: the step cannot call its webhook. Set it in the function app's settings",
                setting=setting,
            )
        ]
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    found, unresolved = resolve(host, port)
    if unresolved is not None:
        return [
            Check.failed(
                "webhook_host",
                f"host {host} of the webhook in {setting} does not resolve ({unresolved}): fix the URL in the setting "
                "or the host's DNS",
                setting=setting,
                host=host,
            )
        ]
    limit = min(params.request_timeout.total_seconds(), CONNECT_CHECK_SECONDS)
    connect = tcp_probe(found[0], port, timeout_seconds=limit)
    if not connect.ok:
        return [
            Check.warning(
                "webhook_reachable",
                f"the webhook in {setting} (host {host}:{port}) does not accept connections ({connect.error}); the "
                f"call is retried as transient, then the step fails: check the endpoint",
                setting=setting,
                host=host,
            )
        ]
    return [
        Check.passed(
            "webhook_reachable",
            f"the webhook in {setting} (host {host}) accepts connections ({connect.latency_ms} ms); nothing was sent",
            setting=setting,
            host=host,
            connect_ms=connect.latency_ms,
        )
    ]
