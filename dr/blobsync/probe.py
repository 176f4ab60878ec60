"""One bounded request to a storage account: does it answer, and how fast.

A failover must not spend the SDK's full retry budget (``request_timeout`` x ``retry_attempts``, tens of
seconds) finding out that the primary region is gone. A probe is a single request with no SDK retries and
one deadline over connect and read; what it decides is only *whether the account answered*. Any HTTP answer
counts as reachable, an error status included (a 503 or a 404 is the account talking): the caller's normal
clients, with their retries, deal with what it said. Only no answer at all (a refused or reset connection, a
name that does not resolve, silence until the deadline) is "unreachable". (On a reset connection aiohttp itself
sends an idempotent request once more over a new one; that costs a round trip, not a timeout.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from .copier import describe
from .model import SourceProbe
from .transport import Transport, redact

if TYPE_CHECKING:
    from azure.storage.blob.aio import BlobServiceClient, ContainerClient

    from ..clients import AsyncAzureSession

STORAGE_SCOPE = "https://storage.azure.com/.default"


@dataclass
class Probed[T]:
    """A probe's verdict, with what a reachable account answered: the call's value, or its error status."""

    verdict: SourceProbe
    value: T | None = None
    error: HttpResponseError | None = None


def probe_service(azure: AsyncAzureSession, account_url: str, timeout: float) -> BlobServiceClient:
    """A client for probes: no SDK retries, connect and read timeouts no longer than the probe's deadline."""
    return Transport(retry_attempts=0, first_backoff=0.0, request_timeout=timeout, connect_timeout=timeout).service(
        azure, account_url
    )


async def warm_credential(azure: AsyncAzureSession, account_url: str) -> None:
    """Fetch the identity's storage token before a probe's clock starts: a cold managed-identity token can
    take seconds, and a slow token is not a dead account. Call it alone, before requests run concurrently
    (each would fetch its own token otherwise); the credential caches the token for every client of the
    session. Accounts reached with a key need none."""
    if azure.clients.connection_string_for(account_url) is None:
        await azure.credential().get_token(STORAGE_SCOPE)


async def probe[T](call: Callable[[], Awaitable[T]], timeout: float) -> Probed[T]:
    """Run ``call`` (one request through a :func:`probe_service` client) under a ``timeout`` deadline.

    Raises what is not a verdict on the account (a credential that cannot get a token, a bug)."""
    started = time.monotonic()

    def elapsed() -> float:
        return round(time.monotonic() - started, 3)

    try:
        async with asyncio.timeout(timeout):
            value = await call()
    except TimeoutError:
        cause = f"no answer within {timeout:g} s"
        return Probed(SourceProbe(reachable=False, seconds=elapsed(), cause=cause))
    except (ServiceRequestError, ServiceResponseError) as exc:
        # The connection failed or the response was lost: nothing at the other end answered.
        cause = f"{describe(exc)}: {redact(str(exc.message or exc))[:200]}"
        return Probed(SourceProbe(reachable=False, seconds=elapsed(), cause=cause))
    except HttpResponseError as exc:
        if exc.status_code is None:  # raised before any response (e.g. signing): not the account's answer
            raise
        verdict = SourceProbe(reachable=True, seconds=elapsed(), answer=describe(exc), status=exc.status_code)
        return Probed(verdict, error=exc)
    return Probed(SourceProbe(reachable=True, seconds=elapsed(), answer="ok", status=200), value=value)


async def probe_listing(container: ContainerClient, timeout: float) -> Probed[int]:
    """List at most one blob of the container: the cheapest request that proves the sync could list it
    (the account answers, the container exists, the identity may read it). The value: blobs returned."""

    async def first_page() -> int:
        pages: Any = container.list_blobs(results_per_page=1).by_page()
        page = await pages.__anext__()
        return len([blob async for blob in page])

    return await probe(first_page, timeout)
