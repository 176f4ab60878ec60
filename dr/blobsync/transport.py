"""Async Blob clients for one sync call, each with its own retry policy, and the source authorization that
lets the target account read the source for a server-side copy (a short-lived read-only SAS).

Clients come from the call's :class:`dr.clients.AsyncAzureSession`: they share its one credential and
close with it."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from azure.core.exceptions import AzureError
from azure.storage.blob._shared.policies import is_retry
from azure.storage.blob.aio import ExponentialRetry

if TYPE_CHECKING:
    from azure.storage.blob.aio import BlobServiceClient, ContainerClient

    from ..clients import AsyncAzureSession


SYNC_SAS_LIFETIME = timedelta(hours=1)  # covers one work item: synchronous copies finish inside it
ASYNC_SAS_LIFETIME = timedelta(hours=48)  # an asynchronous (pending) copy reads the source until it ends
_CLOCK_SKEW = timedelta(minutes=5)


class DoublingRetry(ExponentialRetry):
    """The storage SDK's retry policy with two changes DR needs:

    - backoff ``first * 2 ** (n-1)`` (capped, jittered) instead of ``initial + base ** n``, so a plan can say
      "first retry after 1 s" and a test "after 50 ms";
    - 429 is retried too (the storage SDK retries 408 and 5xx only), and a ``Retry-After`` the service sends
      with a 429 or 503 is waited out (up to the cap).
    """

    def __init__(self, *, first_backoff: float, attempts: int, max_backoff: float = 30.0) -> None:
        super().__init__(initial_backoff=0, increment_base=2, retry_total=attempts, random_jitter_range=0)
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        count = max(1, int(settings.get("count", 1)))
        backoff = min(self.max_backoff, self.first_backoff * 2 ** (count - 1))
        return backoff * random.uniform(0.8, 1.2)

    async def send(self, request: Any) -> Any:  # type: ignore[override]  # the SDK types it as sync
        settings = self.configure_retries(request)
        while True:
            try:
                response = await self.next.send(request)  # type: ignore[misc]
            except AzureError as err:
                if type(err).__name__ == "AzureSigningError" or not self.increment(
                    settings, request=request.http_request, error=err
                ):
                    raise
                await self.sleep(settings, request.context.transport)
                continue
            status = response.http_response.status_code
            if (status == 429 or is_retry(response, settings["mode"])) and self.increment(
                settings, request=request.http_request, response=response.http_response
            ):
                await self._wait(settings, request.context.transport, response.http_response)
                continue
            response.http_response.location_mode = settings["mode"]
            return response

    async def _wait(self, settings: dict[str, Any], transport: Any, http_response: Any) -> None:
        backoff = self.get_backoff_time(settings)
        retry_after = http_response.headers.get("Retry-After")
        if retry_after and http_response.status_code in (429, 503):
            with contextlib.suppress(ValueError):
                backoff = max(backoff, min(self.max_backoff, float(retry_after)))
        await transport.sleep(backoff)


@dataclass(frozen=True)
class Transport:
    """How a sync talks to storage: timeouts and retries from the step's parameters."""

    retry_attempts: int
    first_backoff: float
    request_timeout: float
    connect_timeout: float = 10.0

    def service(self, azure: AsyncAzureSession, account_url: str) -> BlobServiceClient:
        """A client of ``azure`` (closed with it). A fresh policy object per client: a policy shared by two
        clients signed requests with the wrong account's key (see notes/azurite.md)."""
        return azure.blob_service(
            account_url,
            retry_policy=DoublingRetry(first_backoff=self.first_backoff, attempts=self.retry_attempts),
            connection_timeout=min(self.connect_timeout, self.request_timeout),
            read_timeout=self.request_timeout,
        )


class SourceAuthorizer:
    """Read-only container SAS for the source, so the target service can read it (the bytes never pass
    through this process). With an account key (Azurite, connection strings) it is an account-key SAS; with
    a managed identity (Azure) a user-delegation SAS, whose key is fetched once per call."""

    def __init__(self, source: BlobServiceClient, container: str) -> None:
        self._source = source
        self._container = container
        # Blob URLs are built here as the SDK builds them (the path quoted, "~" and "/" kept): a BlobClient per
        # blob, only for its URL, cost a third of a millisecond of CPU per copy.
        self._container_url = source.get_container_client(container).url.split("?", 1)[0]
        self._tokens: dict[timedelta, str] = {}
        self._lock = asyncio.Lock()

    def blob_url(self, blob_name: str) -> str:
        return f"{self._container_url}/{quote(blob_name.encode(), safe='~/')}"

    async def url_for(self, blob_name: str, *, lifetime: timedelta = SYNC_SAS_LIFETIME) -> str:
        token = self._tokens.get(lifetime)
        if token is None:
            async with self._lock:
                token = self._tokens.get(lifetime) or await self._issue(lifetime)
                self._tokens[lifetime] = token
        return f"{self.blob_url(blob_name)}?{token}"

    async def _issue(self, lifetime: timedelta) -> str:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        now = datetime.now(UTC)
        start, expiry = now - _CLOCK_SKEW, now + lifetime
        permission = ContainerSasPermissions(read=True)
        credential = self._source.credential
        account_key = getattr(credential, "account_key", None)
        account_name = str(getattr(credential, "account_name", None) or self._source.account_name)
        if account_key:
            return generate_container_sas(
                account_name,
                self._container,
                account_key=account_key,
                permission=permission,
                start=start,
                expiry=expiry,
            )
        delegation_key = await self._source.get_user_delegation_key(start, expiry)
        return generate_container_sas(
            account_name,
            self._container,
            user_delegation_key=delegation_key,
            permission=permission,
            start=start,
            expiry=expiry,
        )


_SIGNATURE = re.compile(r"([?&](sig|se|st|sp|sv|sr|skoid|sktid|skt|ske|sks|skv|spr)=)[^&\s\"'<]*", re.I)


def redact(text: str) -> str:
    """Remove SAS fields from a message (error texts may echo a copy source URL)."""
    return _SIGNATURE.sub(r"\1***", text)


def run_async[T](factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous step code, also when called inside an event loop
    (an async activity): then it runs on a helper thread with its own loop."""

    async def main() -> T:
        return await factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def ensure_container(container: ContainerClient, *, metadata: dict[str, str] | None = None) -> bool:
    """Create the container unless it exists; True when this call created it."""
    from azure.core.exceptions import ResourceExistsError

    try:
        await container.create_container(metadata=metadata)
    except ResourceExistsError:
        return False
    return True
