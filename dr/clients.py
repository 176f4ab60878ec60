"""Azure SDK clients, built lazily from the one settings object and reused.

The same code talks to Azure (managed identity through azure-identity), to Azurite (connection strings
from settings) or to the devstack ARM emulator (its endpoint, CA bundle and a static token).

Sync clients live as long as the process and share one credential. Async clients are bound to the event
loop that uses them (an aiohttp session each), so they come from an :class:`AsyncAzureSession`: one per
event loop (one activity call), whose clients share ONE async credential, built on first need, and which
closes them all, credential last, when it ends. Nothing async outlives its loop: no "Unclosed client
session", no managed-identity token request per client.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import lru_cache
from ipaddress import ip_address
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential

from .errors import InvalidInputError
from .settings import Settings, get_settings

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.cdn import CdnManagementClient
    from azure.mgmt.cosmosdb import CosmosDBManagementClient
    from azure.mgmt.dns import DnsManagementClient
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
    from azure.mgmt.sql import SqlManagementClient
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.trafficmanager import TrafficManagerManagementClient
    from azure.mgmt.web import WebSiteManagementClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.blob.aio import BlobServiceClient as AsyncBlobServiceClient


def account_name_from_url(account_url: str) -> str:
    """The storage account an URL names: first host label in Azure, first path segment for an emulator's
    path-style URL (http://127.0.0.1:10000/primary)."""
    parts = urlsplit(account_url)
    host = parts.hostname or ""
    if not host:
        raise InvalidInputError(f"not an account URL: {account_url!r}")
    if host == "localhost" or _is_ip(host):
        segment = parts.path.strip("/").split("/")[0]
        if not segment:
            raise InvalidInputError(f"path-style account URL without an account name: {account_url!r}")
        return segment
    return host.split(".")[0]


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


# What the SDK's HTTP libraries look up in the environment on every request when a session trusts it (the
# default): proxies and a netrc file (requests and aiohttp), and for requests a CA bundle. aiohttp reads
# netrc in a thread-pool hop per request, a tenth of the blob copier's CPU. When no proxy or netrc is set,
# clients are built not to look (azure-core's use_env_settings), a sync client taking the CA bundle requests
# would have found as its explicit connection_verify: the same behaviour without the per-request lookups.
_PROXY_SETTINGS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "netrc")
_CA_SETTINGS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # requests' order


def proxy_or_netrc_present() -> bool:
    """Whether a proxy or netrc setting is there for HTTP clients to honour."""
    if any(value and name.lower() in _PROXY_SETTINGS for name, value in os.environ.items()):
        return True
    return any(Path(f"~/{name}").expanduser().exists() for name in (".netrc", "_netrc"))


def transport_kwargs(*, sync: bool, verify: str | None = None) -> dict[str, Any]:
    """The transport options of an SDK client (see _PROXY_SETTINGS); ``verify``: its own CA bundle, if any."""
    kwargs: dict[str, Any] = {} if verify is None else {"connection_verify": verify}
    if proxy_or_netrc_present():
        return kwargs
    kwargs["use_env_settings"] = False
    if sync and verify is None:
        bundle = next((os.environ[name] for name in _CA_SETTINGS if os.environ.get(name)), None)
        if bundle:
            kwargs["connection_verify"] = bundle
    return kwargs


class StaticToken(TokenCredential):
    """A fixed bearer token: what the ARM emulator needs, never used against Azure."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


# azure-core logs each request and response of every client (URL, headers) at INFO. The Functions Python
# worker sets the root logger to INFO and sends every record to the host (Azure/azure-functions-python-worker,
# workers/proxy_worker/dispatcher.py, dispatch_forever): thousands of records a run, unless asked for.
SDK_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


class Clients:
    """Builds each client on first use and hands the same one out afterwards (thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Every SDK client of the app is built here: set before any of them sends a request.
        logging.getLogger(SDK_HTTP_LOGGER).setLevel(logging.INFO if settings.sdk_http_logs else logging.WARNING)
        # Reentrant: building a management client builds (or finds) the credential under the same lock.
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, ...], Any] = {}

    def _once(self, key: tuple[str, ...], build: Any) -> Any:
        # A client already built needs no lock (a dict read is atomic): checks in many threads at once
        # would otherwise queue on it for every request.
        found = self._cache.get(key)
        if found is not None:
            return found
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    # -- credentials ---------------------------------------------------------------------------------
    def azure_credential(self) -> TokenCredential:
        def build() -> TokenCredential:
            from azure.identity import DefaultAzureCredential

            return DefaultAzureCredential(
                managed_identity_client_id=self.settings.managed_identity_client_id,
                exclude_interactive_browser_credential=True,
            )

        return self._once(("azure-credential",), build)

    def arm_credential(self) -> TokenCredential:
        if self.settings.arm_token is not None:
            return StaticToken(self.settings.arm_token.get_secret_value())
        return self.azure_credential()

    def _arm_kwargs(self) -> dict[str, Any]:
        bundle = self.settings.arm_ca_bundle
        kwargs: dict[str, Any] = {
            "base_url": self.settings.arm_endpoint.rstrip("/"),
            **transport_kwargs(sync=True, verify=str(bundle) if bundle is not None else None),
        }
        if self.settings.uses_arm_emulator:
            # The emulator's ARM audience is the same as Azure's; the SDK derives scopes from base_url.
            kwargs["credential_scopes"] = ["https://management.azure.com/.default"]
        return kwargs

    # -- management plane ----------------------------------------------------------------------------
    def sql(self, subscription_id: str) -> SqlManagementClient:
        def build() -> SqlManagementClient:
            from azure.mgmt.sql import SqlManagementClient

            return SqlManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("sql", subscription_id), build)

    def traffic_manager(self, subscription_id: str) -> TrafficManagerManagementClient:
        def build() -> TrafficManagerManagementClient:
            from azure.mgmt.trafficmanager import TrafficManagerManagementClient

            return TrafficManagerManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("tm", subscription_id), build)

    def cosmosdb(self, subscription_id: str) -> CosmosDBManagementClient:
        def build() -> CosmosDBManagementClient:
            from azure.mgmt.cosmosdb import CosmosDBManagementClient

            return CosmosDBManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("cosmosdb", subscription_id), build)

    def postgresql(self, subscription_id: str) -> PostgreSQLManagementClient:
        def build() -> PostgreSQLManagementClient:
            from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

            return PostgreSQLManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("postgresql", subscription_id), build)

    def cdn(self, subscription_id: str) -> CdnManagementClient:
        """Microsoft.Cdn: Azure Front Door Standard/Premium profiles, origin groups and origins."""

        def build() -> CdnManagementClient:
            from azure.mgmt.cdn import CdnManagementClient

            return CdnManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("cdn", subscription_id), build)

    def dns(self, subscription_id: str) -> DnsManagementClient:
        """Microsoft.Network/dnsZones: Azure DNS zones and record sets."""

        def build() -> DnsManagementClient:
            from azure.mgmt.dns import DnsManagementClient

            return DnsManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("dns", subscription_id), build)

    def storage(self, subscription_id: str) -> StorageManagementClient:
        """Microsoft.Storage's management plane (account properties and failover; blob data is blob_service's)."""

        def build() -> StorageManagementClient:
            from azure.mgmt.storage import StorageManagementClient

            return StorageManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("storage", subscription_id), build)

    def web(self, subscription_id: str) -> WebSiteManagementClient:
        def build() -> WebSiteManagementClient:
            from azure.mgmt.web import WebSiteManagementClient

            return WebSiteManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("web", subscription_id), build)

    def authorization(self, subscription_id: str) -> AuthorizationManagementClient:
        """Microsoft.Authorization (the Permissions API: what this app's identity may do at a scope)."""

        def build() -> AuthorizationManagementClient:
            from azure.mgmt.authorization import AuthorizationManagementClient

            return AuthorizationManagementClient(self.arm_credential(), subscription_id, **self._arm_kwargs())

        return self._once(("authorization", subscription_id), build)

    # -- data plane ----------------------------------------------------------------------------------
    def storage_kwargs(self, *, sync: bool = True) -> dict[str, Any]:
        """Transport options of every Blob client: a CA bundle for a non-public endpoint, if set."""
        bundle = self.settings.storage_ca_bundle
        return transport_kwargs(sync=sync, verify=str(bundle) if bundle is not None else None)

    def connection_string_for(self, account_url: str) -> str | None:
        secret = self.settings.storage_connection_strings.get(account_name_from_url(account_url))
        return secret.get_secret_value() if secret is not None else None

    def blob_service(self, account_url: str) -> BlobServiceClient:
        def build() -> BlobServiceClient:
            from azure.storage.blob import BlobServiceClient

            kwargs = self.storage_kwargs()
            conn = self.connection_string_for(account_url)
            if conn is not None:
                return BlobServiceClient.from_connection_string(conn, **kwargs)
            return BlobServiceClient(account_url, credential=self.azure_credential(), **kwargs)

        return self._once(("blob", account_url), build)

    def async_session(self) -> AsyncAzureSession:
        """Async clients for one event loop; use as ``async with clients.async_session() as azure:``."""
        return AsyncAzureSession(self)


class AsyncAzureSession:
    """The async clients of one event loop (one activity call) and the one credential they share.

    The credential is built when the first client that needs it is (Azurite accounts reached with a
    connection string need none) and requests a token once for all of them. ``aclose`` (or leaving the
    ``async with``) closes every client this session built, then the credential: the aio clients do not
    close a credential they were given, and an unclosed one leaves its aiohttp session open.
    """

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self._credential: AsyncTokenCredential | None = None
        self._open: list[Any] = []
        self.closed = False

    def credential(self) -> AsyncTokenCredential:
        if self.closed:
            raise RuntimeError("this AsyncAzureSession is closed")
        if self._credential is None:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential(
                managed_identity_client_id=self.clients.settings.managed_identity_client_id
            )
        return self._credential

    @property
    def has_credential(self) -> bool:
        return self._credential is not None

    def blob_service(self, account_url: str, **kwargs: Any) -> AsyncBlobServiceClient:
        """A new async Blob client for this session (closed with it)."""
        from azure.storage.blob.aio import BlobServiceClient as AsyncClient

        if self.closed:
            raise RuntimeError("this AsyncAzureSession is closed")
        kwargs = {**self.clients.storage_kwargs(sync=False), **kwargs}
        conn = self.clients.connection_string_for(account_url)
        if conn is not None:
            client = AsyncClient.from_connection_string(conn, **kwargs)
        else:
            client = AsyncClient(account_url, credential=self.credential(), **kwargs)
        self._open.append(client)
        return client

    async def aclose(self) -> None:
        """Close every client, then the credential; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        clients, self._open = self._open, []
        failures: list[BaseException] = []
        for client in clients:
            try:
                await client.close()
            except Exception as exc:  # close the others and the credential all the same
                failures.append(exc)
        credential, self._credential = self._credential, None
        if credential is not None:
            await credential.close()
        if failures:
            raise failures[0]

    async def __aenter__(self) -> AsyncAzureSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


@lru_cache(maxsize=1)
def get_clients() -> Clients:
    return Clients(get_settings())


def reset_for_tests() -> None:
    """Forget cached settings and clients (tests that change the environment call this)."""
    get_clients.cache_clear()
    get_settings.cache_clear()
