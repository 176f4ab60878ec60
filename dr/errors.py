"""The one error hierarchy of the project.

Activities raise these; the Durable runtime carries only an exception's message across the activity
boundary, so every error renders as ``[<category>:<code>] message`` and :func:`parse_failure` recovers the
category on the orchestrator side (deterministically, from the message alone) to decide whether to retry.
azure-core errors are translated at the adapter edge by :func:`from_azure_error`; code that calls an Azure SDK
wraps the call in :func:`azure_errors` (the one place that catches them) or, where it must look at the raw
error first (a 404 that means "not there", a 409 that means "busy"), hands it to :func:`from_azure_error`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

Category = Literal["transient", "permanent", "precondition", "not_found", "invalid"]

_FAILURE = re.compile(r"\[(transient|permanent|precondition|not_found|invalid):([A-Za-z0-9_.\-]+)\]\s?(.*)", re.S)


class DrError(Exception):
    """Base of every error this project raises on purpose."""

    category: Category = "permanent"
    default_code = "Error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def __str__(self) -> str:
        return f"[{self.category}:{self.code}] {self.message}"

    @property
    def retryable(self) -> bool:
        return self.category == "transient"


class TransientError(DrError):
    """Worth retrying: throttling, a busy resource, a network blip, a 5xx."""

    category: Category = "transient"
    default_code = "Transient"


class PermanentError(DrError):
    """Retrying will not help: the operation failed for good."""

    category: Category = "permanent"
    default_code = "Failed"


class PreconditionError(DrError):
    """The world is not in a state where acting is safe (secondary unhealthy, name taken, cool-down)."""

    category: Category = "precondition"
    default_code = "PreconditionFailed"


class NotFoundError(DrError):
    """A resource a plan names does not exist."""

    category: Category = "not_found"
    default_code = "NotFound"


class InvalidInputError(DrError):
    """Bad input from outside (a plan file, an alert body, an operator request): a 4xx, never a retry."""

    category: Category = "invalid"
    default_code = "InvalidInput"


class PlanError(InvalidInputError):
    default_code = "InvalidPlan"


class StepTimeoutError(PermanentError):
    default_code = "StepTimedOut"


@dataclass(frozen=True)
class Failure:
    """What the orchestrator knows about a failed activity: only its message crossed the boundary."""

    category: Category
    code: str
    message: str

    @property
    def retryable(self) -> bool:
        return self.category == "transient"

    def as_dict(self) -> dict[str, str]:
        return {"category": self.category, "code": self.code, "message": self.message}


def parse_failure(text: str) -> Failure:
    """Recover the category and code from an activity failure's message (see :class:`DrError`).

    Exceptions that were not ours (a bug, an unexpected library error) count as permanent: retrying an
    unknown error hides bugs and delays the operator's decision.
    """
    match = _FAILURE.search(text)
    if match:
        category, code, message = match.groups()
        # The Durable SDK appends the activity's traceback after " \n ": the report wants the message.
        message = re.split(r" \n |\n\s*Traceback \(most recent call last\)", message, maxsplit=1)[0]
        return Failure(category, code, message.strip())  # type: ignore[arg-type]
    first_line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return Failure("permanent", "UnexpectedError", first_line)


_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_TRANSIENT_CODES = {"FailoverGroupBusy", "ServerBusy", "OperationInProgress", "TooManyRequests"}


def from_azure_error(exc: Exception, *, what: str) -> DrError:
    """Translate an azure-core exception into this hierarchy, keeping Azure's error code and message.

    ``what`` says what was being done ("copy images/a.png", "failover shop-fog") so the message stands alone.
    """
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, DrError):
        return exc
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return TransientError(f"{what}: connection failed ({type(exc).__name__})", code="ConnectionError")
    if isinstance(exc, ClientAuthenticationError) and token_request_failed(exc):
        return TransientError(f"{what}: {_token_failure_message(exc)}", code="TokenUnavailable")
    if isinstance(exc, ClientAuthenticationError) and raised_by_credential(exc):
        return _credential_failure(exc, what=what)
    if isinstance(exc, HttpResponseError):
        return _from_http_error(exc, what=what)
    return PermanentError(f"{what}: {type(exc).__name__}: {exc}", code="UnexpectedError")


def _from_http_error(exc: Any, *, what: str) -> DrError:
    """An answer from the service: its status and Azure's error code decide the category."""
    from azure.core.exceptions import ClientAuthenticationError, ResourceExistsError, ResourceNotFoundError

    status = exc.status_code or 0
    code = _azure_error_code(exc) or f"Http{status}"
    message = f"{what}: {code} (HTTP {status}): {_azure_error_message(exc)}"
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return PermanentError(message, code=code)
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return NotFoundError(message, code=code)
    if status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES:
        return TransientError(message, code=code)
    if isinstance(exc, ResourceExistsError) or status in (409, 412):
        return PreconditionError(message, code=code)
    return PermanentError(message, code=code)


@contextmanager
def azure_errors(what: str) -> Iterator[None]:
    """The translation edge: an azure-core error raised in the block leaves it as a :class:`DrError`
    (see :func:`from_azure_error`), chained to the original; errors of this hierarchy pass through as they are.

    ``what`` says what the block does ("read database shop-wus/shop"), so the message stands alone.
    """
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as exc:
        raise from_azure_error(exc, what=what) from exc


# Markers of a definitive answer from Microsoft Entra ID inside a credential's message (AADSTS codes:
# unknown application, wrong secret, disabled principal...): retrying cannot change it.
_ENTRA_VERDICT = re.compile(r"\bAADSTS\d{5,}\b")


def token_request_failed(exc: BaseException) -> bool:
    """True when a credential could not get a token for a transient reason: the request never reached the
    resource, and asking the identity endpoint again may well work.

    At a cold start the managed-identity endpoint of App Service / Functions (IDENTITY_ENDPOINT) may refuse
    connections, time out or answer 5xx for a while; azure-identity reports that as
    ``CredentialUnavailableError`` or, from a credential chain such as ``DefaultAzureCredential``, as a
    ``ClientAuthenticationError`` without a response (the chain keeps only its credentials' messages).
    A 401/403 that a *resource* answers (storage, ARM) always carries its response and stays permanent, as
    does a 401/403 or 400 from a token endpoint used directly, or an Entra verdict (``AADSTS...``).
    """
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    if not isinstance(exc, ClientAuthenticationError):
        return False
    if _ENTRA_VERDICT.search(str(exc.message or "")):
        return False
    if isinstance(exc, CredentialUnavailableError):
        return True
    response = getattr(exc, "response", None)
    if response is None:
        return True  # raised by a credential before any request reached the resource
    status = getattr(response, "status_code", 0) or 0
    return status in _TRANSIENT_STATUS


def raised_by_credential(exc: BaseException) -> bool:
    """True when azure-identity raised the error while getting a token: no resource was asked. Its error
    carries no response (a credential chain, MSAL), or the token endpoint's OAuth error answer (RFC 6749
    5.2: ``{"error": "invalid_client", "error_description": ...}``). A 401/403 that a resource answers
    carries the resource's response: XML from storage, ``{"error": {"code": ...}}`` from ARM."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    if not isinstance(exc, ClientAuthenticationError):
        return False
    if isinstance(exc, CredentialUnavailableError):
        return True
    response = getattr(exc, "response", None)
    return response is None or _is_oauth_error(response)


def _is_oauth_error(response: Any) -> bool:
    try:
        document = json.loads(response.text())
    except Exception:  # no body, not JSON, not text: not a token endpoint's answer
        return False
    return isinstance(document, dict) and isinstance(document.get("error"), str)


def _credential_failure(exc: BaseException, *, what: str) -> DrError:
    """A credential that could not get a token for good (an Entra verdict such as a wrong secret or an unknown
    application): the report names the credential's own reason. It has no HTTP status: before this, the error
    went down the resource path and read "Http0 (HTTP 0): no message"."""
    from azure.identity import CredentialUnavailableError

    code = "CredentialUnavailable" if isinstance(exc, CredentialUnavailableError) else "AuthenticationFailed"
    return PermanentError(f"{what}: credential failure: {_credential_reason(exc)}"[:_MAX_REASON], code=code)


_MAX_REASON = 500
# A credential chain's summary: one line per credential tried ("\tManagedIdentityCredential: <reason>").
_CREDENTIAL_LINE = re.compile(r"^\w*Credential: ")


def _credential_reason(exc: BaseException) -> str:
    """The credential's own reason, on one line, secrets redacted. A chain's summary lists every credential
    it tried, one per line, most of them merely unavailable: the line with an Entra verdict wins, then the
    line of a credential that tried and failed, then any credential's line, then the first line."""
    text = redact_secrets(str(getattr(exc, "message", None) or exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    tried = [line for line in lines if _CREDENTIAL_LINE.match(line)]
    for candidates in (
        [line for line in lines if _ENTRA_VERDICT.search(line)],
        [line for line in tried if "unavailable" not in line.lower()],
        tried,
        lines,
    ):
        if candidates:
            return candidates[0]
    return f"{type(exc).__name__} without a message"


def _token_failure_message(exc: BaseException) -> str:
    """The credential's reason, short (see :func:`_credential_reason`)."""
    return f"could not get an access token (retried as transient): {_credential_reason(exc)}"[:_MAX_REASON]


# What may carry a secret in a credential's or an endpoint's message: "key=value" or "key": "value" pairs
# whose key names a secret (client_secret=..., "access_token": "...", AccountKey=..., sig=...), bearer
# tokens and JWTs.
_SECRET_PAIR = re.compile(
    r"""(?ix)
    (?P<key>\b(?:client_secret|client_assertion|password|secret|access_token|refresh_token|id_token|
              accountkey|sharedaccesskey|sig|x-identity-header|identity_header|msi_secret)\b["']?\s*[:=]\s*["']?)
    (?P<value>[^\s"'&;,]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
REDACTED = "<redacted>"


def redact_secrets(text: str) -> str:
    """The text with secret values replaced by ``<redacted>``: what reaches a report or a log must not leak
    a client secret, a key or a token an SDK or an endpoint put in its message."""
    text = _SECRET_PAIR.sub(lambda match: match["key"] + REDACTED, text)
    text = _BEARER.sub(lambda match: match[1] + REDACTED, text)
    return _JWT.sub(REDACTED, text)


def _azure_error_code(exc: object) -> str | None:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or getattr(exc, "error_code", None)
    # Storage gives a StorageErrorCode (a str Enum, whose str() is "StorageErrorCode.X"): its value is the
    # service's code.
    code = getattr(code, "value", code)
    return str(code) if code else None


def _azure_error_message(exc: object) -> str:
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) or getattr(exc, "reason", None) or "no message"
    # Azure storage messages carry a RequestId/Time trailer that adds noise to reports.
    return str(message).split("\nRequestId:")[0].strip()


class AuthorizationError(InvalidInputError):
    """The caller is authenticated (function key) but lacks the role the operation needs."""

    default_code = "Forbidden"


class ConflictError(PreconditionError):
    """The request conflicts with the run's current state (not awaiting approval, already finished...)."""

    default_code = "Conflict"
