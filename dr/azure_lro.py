"""Start an ARM long-running operation and look at it later, one request at a time.

azure-core's ``LROPoller`` polls in a background thread until the operation ends; an activity must instead
start the operation, hand back a reference, and let the orchestrator look again after a durable timer. So:

- :func:`start_operation` runs a ``begin_*`` call with :class:`CaptureInitialResponse` as its polling method
  (a real azure-core ``PollingMethod`` that keeps the first response and polls nothing), and returns an
  :class:`OperationRef`: the ``Azure-AsyncOperation`` / ``Location`` URLs ARM answered with. It is a small
  JSON-able model meant for a step's ``state``.
- :func:`check_operation` GETs that status URL once through the client's own pipeline (credential, CA
  bundle, retry policy) and returns an :class:`OperationStatus`.

Nothing here knows about a provider: the SQL and Traffic Manager steps both use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.polling import PollingMethod
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.core.exceptions import ARMErrorFormat
from pydantic import BaseModel, ConfigDict

from .errors import PermanentError

OperationState = Literal["InProgress", "Succeeded", "Failed", "Canceled", "Unknown"]

# Few in-activity retries: a throttled or busy call becomes a TransientError quickly and the orchestrator
# waits on a durable timer (free) instead of the activity sleeping through Retry-After (billed, and bounded
# by the Functions timeout). One retry still absorbs a single blip.
ARM_CALL_OPTIONS: dict[str, Any] = {"retry_total": 1}


class OperationRef(BaseModel):
    """Where to look for the outcome of an operation ARM accepted (what a step keeps in its state)."""

    model_config = ConfigDict(frozen=True)

    initial_status_code: int
    status_url: str | None = None
    location_url: str | None = None
    retry_after_seconds: float | None = None
    provisioning_state: str | None = None

    @property
    def completed_at_once(self) -> bool:
        """ARM finished the operation in its first answer (no status URL to follow)."""
        if self.status_url or self.location_url:
            return False
        if self.provisioning_state is not None:
            return _normalise(self.provisioning_state) in ("Succeeded", "Failed", "Canceled")
        return self.initial_status_code in (200, 201, 204)


class OperationStatus(BaseModel):
    """One look at an operation. ``Unknown``: ARM no longer knows the operation (read the resource)."""

    model_config = ConfigDict(frozen=True)

    status: OperationState
    error_code: str | None = None
    error_message: str | None = None
    retry_after_seconds: float | None = None
    percent_complete: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("Succeeded", "Failed", "Canceled")


class CaptureInitialResponse(PollingMethod[None]):
    """A polling method that polls nothing: it keeps ARM's first answer so the caller can return at once."""

    def __init__(self) -> None:
        self._response: Any = None

    def initialize(self, client: Any, initial_response: Any, deserialization_callback: Any) -> None:
        self._response = initial_response

    def run(self) -> None:  # never called: finished() is already true
        return None

    def status(self) -> str:
        return "Started"

    def finished(self) -> bool:
        return True

    def resource(self) -> None:
        return None

    def reference(self) -> OperationRef:
        if self._response is None:
            raise PermanentError("the long-running call returned no response to follow", code="NoLroResponse")
        http = self._response.http_response
        headers = http.headers
        return OperationRef(
            initial_status_code=http.status_code,
            status_url=headers.get("Azure-AsyncOperation") or None,
            location_url=headers.get("Location") or None,
            retry_after_seconds=_retry_after(headers.get("Retry-After")),
            provisioning_state=_provisioning_state(_json_or_none(http)),
        )


def start_operation(begin: Callable[..., Any], *args: Any, **kwargs: Any) -> OperationRef:
    """Call ``begin(*args, **kwargs)`` (an SDK ``begin_*`` method) and return the operation's reference
    as soon as ARM has accepted it. Errors are the SDK's (translate them with ``from_azure_error``)."""
    capture = CaptureInitialResponse()
    begin(*args, polling=capture, **{**ARM_CALL_OPTIONS, **kwargs})
    return capture.reference()


class SendsRequests(Protocol):
    """What every generated management client offers: its pipeline, for a request we build."""

    def send_request(self, request: HttpRequest, *, stream: bool = False, **kwargs: Any) -> HttpResponse: ...


def check_operation(client: SendsRequests, ref: OperationRef, *, endpoint: str) -> OperationStatus:
    """Look at the operation once (one GET, never a wait).

    ``endpoint`` is the ARM endpoint the client was built for: the bearer token is only ever sent to a
    status URL on that host, whatever a stored state says. Throttling and server errors are raised as the
    SDK's ``HttpResponseError`` (translate with ``from_azure_error``: they are transient).
    """
    if ref.completed_at_once:
        state = _normalise(ref.provisioning_state) if ref.provisioning_state else "Succeeded"
        return OperationStatus(status=state)
    url = ref.status_url or ref.location_url
    if url is None:
        return OperationStatus(status="Unknown")
    _check_same_host(url, endpoint)
    response = client.send_request(HttpRequest("GET", url), **ARM_CALL_OPTIONS)
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if response.status_code == 404:
        return OperationStatus(status="Unknown", retry_after_seconds=retry_after)
    read = _async_operation_status if ref.status_url else _location_status
    return read(response, retry_after)


def _async_operation_status(response: HttpResponse, retry_after: float | None) -> OperationStatus:
    """Azure-AsyncOperation polling: the body gives the status (and the error once failed)."""
    if response.status_code >= 400:
        _raise_for(response)
    body = _json_or_none(response) or {}
    error = body.get("error") or {}
    percent = body.get("percentComplete")
    return OperationStatus(
        status=_normalise(str(body.get("status", "InProgress"))),
        error_code=error.get("code"),
        error_message=error.get("message"),
        retry_after_seconds=retry_after,
        percent_complete=float(percent) if isinstance(percent, int | float) else None,
    )


def _location_status(response: HttpResponse, retry_after: float | None) -> OperationStatus:
    """Location polling (ARM RPC): 202 while running, 200/201/204 when done, an error status when failed."""
    if response.status_code == 202:
        return OperationStatus(status="InProgress", retry_after_seconds=retry_after)
    if response.status_code < 300:
        return OperationStatus(status="Succeeded")
    if response.status_code in (408, 429) or response.status_code >= 500:
        _raise_for(response)
    error = (_json_or_none(response) or {}).get("error") or {}
    return OperationStatus(
        status="Failed",
        error_code=error.get("code") or f"Http{response.status_code}",
        error_message=error.get("message") or response.reason,
    )


def _raise_for(response: HttpResponse) -> None:
    if response.status_code == 404:
        raise ResourceNotFoundError(response=response, error_format=ARMErrorFormat)
    raise HttpResponseError(response=response, error_format=ARMErrorFormat)


def _check_same_host(url: str, endpoint: str) -> None:
    want, got = urlsplit(endpoint), urlsplit(url)
    if (got.scheme, got.netloc.lower()) != (want.scheme, want.netloc.lower()):
        raise PermanentError(
            f"operation status URL is not on the ARM endpoint {want.scheme}://{want.netloc}: "
            "refusing to send credentials there",
            code="ForeignStatusUrl",
        )


def _normalise(status: str) -> OperationState:
    lowered = status.strip().lower()
    if lowered == "succeeded":
        return "Succeeded"
    if lowered == "failed":
        return "Failed"
    if lowered in ("canceled", "cancelled"):
        return "Canceled"
    return "InProgress"  # ARM: any other status (Accepted, Running, Creating, ...) is not terminal


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for ARM; the caller's default interval applies


def _json_or_none(response: Any) -> dict[str, Any] | None:
    try:
        text = response.text()
    except Exception:  # a body already consumed or not text: nothing to read
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _provisioning_state(body: dict[str, Any] | None) -> str | None:
    if not body:
        return None
    properties = body.get("properties")
    if isinstance(properties, dict) and properties.get("provisioningState"):
        return str(properties["provisioningState"])
    return None
