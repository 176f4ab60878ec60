"""The managed-identity path of the blob step, end to end on this machine: azure-identity's own
DefaultAzureCredential gets tokens from a local endpoint speaking the App Service managed-identity protocol
(what IDENTITY_ENDPOINT is in Azure Functions), and the Blob clients present them to a real Azurite over
HTTPS with ``--oauth basic`` (Azurite refuses bearer tokens over HTTP, as Azure does).

What this holds the code to (issue 13, finding 3): one credential per activity call, shared by every
client of that call and closed with them. Before, each client built its own async credential and nothing
closed it: a token request per client per call, and an aiohttp session left open each time (the
"Unclosed client session" ResourceWarning, file descriptors growing in a long-lived worker).
"""

from __future__ import annotations

import gc
import sys
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient

from devstack.azurite import Azurite
from dr import dispatch
from dr.clients import get_clients, reset_for_tests
from dr.errors import PermanentError, TransientError
from dr.plan import BlobBackupStep
from dr.steps.base import StepContext
from dr.steps.blob import last_sync, record_sync
from tests.identity_endpoint import IdentityEndpoint, identity_endpoint

PLAN = "shop-blobs"


class OAuthAzurite(Azurite):
    """Azurite over HTTPS with OAuth (basic: token format, lifetime, issuer and audience are checked)."""

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__()
        self.cert, self.key = cert, key

    def _command(self) -> list[str]:
        return [*super()._command(), "--cert", str(self.cert), "--key", str(self.key), "--oauth", "basic"]

    @property
    def blob_endpoint(self) -> str:
        return super().blob_endpoint.replace("http://", "https://", 1)

    def connection_string(self, account: str, *, endpoint: str | None = None) -> str:
        return (
            super()
            .connection_string(account, endpoint=endpoint)
            .replace("DefaultEndpointsProtocol=http;", "DefaultEndpointsProtocol=https;")
        )


@dataclass
class Estate:
    azurite: OAuthAzurite
    ca_file: Path

    def admin(self, account: str) -> BlobServiceClient:
        """An account-key client for arranging and checking (not the code under test)."""
        return BlobServiceClient.from_connection_string(
            self.azurite.connection_string(account), connection_verify=str(self.ca_file)
        )


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    folder = tmp_path_factory.mktemp("oauth-azurite")
    ca = trustme.CA(organization_name="dr tests: Azurite over HTTPS")
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_file = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    server.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    with OAuthAzurite(cert, key) as azurite:
        yield Estate(azurite, ca_file)


@pytest.fixture
def managed_identity(estate: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityEndpoint]:
    """The app's settings as in Azure: no connection strings, the identity endpoint of the platform."""
    with identity_endpoint() as endpoint:
        endpoint.environ(monkeypatch)
        monkeypatch.setenv("DR_STORAGE_CONNECTION_STRINGS", "{}")
        monkeypatch.setenv("DR_STORAGE_CA_BUNDLE", str(estate.ca_file))
        monkeypatch.setenv("DR_PLANS_DIR", str(tmp_path))
        reset_for_tests()
        yield endpoint
        reset_for_tests()


def _step(estate: Estate, source: str, target: str, *, retry_attempts: int = 1) -> BlobBackupStep:
    return BlobBackupStep.model_validate(
        {
            "id": "blobs",
            "kind": "blob_backup",
            "source": {"account_url": estate.azurite.url_for("primary"), "container": source},
            "target": {"account_url": estate.azurite.url_for("secondary"), "container": target},
            "retry_attempts": retry_attempts,
            "retry_backoff": 0.05,
            "request_timeout": 10,
        }
    )


def _payload(step: BlobBackupStep, run_id: str, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    context = StepContext(
        run_id=run_id, plan_name=PLAN, mode="failover", step=step.model_dump(mode="json"), started_at=now, now=now
    )
    return {"context": context.model_dump(mode="json"), **extra}


def _run_activities(step: BlobBackupStep) -> tuple[dict[str, Any], int]:
    """The step's activities as the sub-orchestration calls them (begin, work items, poll): the final
    progress and how many activity calls it took."""
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    progress = dispatch.begin(_payload(step, run_id))
    calls = 1
    while not progress["done"]:
        results = [dispatch.work(_payload(step, run_id, item=item)) for item in progress["work"]]
        progress = dispatch.poll(_payload(step, run_id, state=progress["state"], work_results=results))
        calls += len(results) + 1
    return progress, calls


class _Leaks:
    """ResourceWarnings (unclosed aiohttp sessions and connectors, sockets, transports) and exceptions
    raised in finalizers, collected while the block runs and after a full garbage collection."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def __enter__(self) -> _Leaks:
        gc.collect()
        self._warnings = warnings.catch_warnings(record=True)
        self._records = self._warnings.__enter__()
        warnings.simplefilter("always")
        self._hook = sys.unraisablehook
        sys.unraisablehook = lambda unraisable: self.found.append(
            f"unraisable in {unraisable.object!r}: {unraisable.exc_value!r}"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        gc.collect()
        gc.collect()
        sys.unraisablehook = self._hook
        self._warnings.__exit__(*exc)
        self.found.extend(
            f"{record.category.__name__}: {record.message}"
            for record in self._records
            if issubclass(record.category, ResourceWarning)
        )


@pytest.mark.filterwarnings("error")  # ResourceWarning included: an unclosed session fails the test
def test_blob_activities_with_managed_identity_share_one_credential_and_close_it(
    estate: Estate, managed_identity: IdentityEndpoint
) -> None:
    source, target = f"src-{uuid.uuid4().hex[:8]}", f"dst-{uuid.uuid4().hex[:8]}"
    estate.admin("primary").create_container(source)
    step = _step(estate, source, target)

    with _Leaks() as leaks:
        progress, calls = _run_activities(step)
        record = last_sync(PLAN, step)
        record_sync(PLAN, step, synced_through=datetime.now(UTC), finished_at=datetime.now(UTC), run_id="by-hand")

    # The path under test really ran on bearer tokens: Azurite created the target and the step's state
    # with them (no connection string was configured), and the sync record is there.
    assert progress["done"], progress
    assert progress["detail"]["target"].endswith(f"/{target}")
    assert estate.admin("secondary").get_container_client(target).exists()
    assert record is not None and record.step == "blobs"
    # One credential per activity call (and per helper call): one token request each, not one per client.
    assert managed_identity.token_requests() == calls + 2, (managed_identity.token_requests(), calls)
    assert all(r.get("resource", "").startswith("https://storage.azure.com") for r in managed_identity.requests)
    assert all(r.get("client_id") == "dr-identity-client-id" for r in managed_identity.requests)
    # Nothing left open: no "Unclosed client session", no unclosed connector or socket.
    assert leaks.found == []


def test_session_closes_its_clients_and_the_credential(estate: Estate, managed_identity: IdentityEndpoint) -> None:
    """The lifecycle itself: a session's credential is built on first need, shared, and closed last."""
    import asyncio

    async def use() -> None:
        async with get_clients().async_session() as azure:
            first = azure.blob_service(estate.azurite.url_for("primary"))
            second = azure.blob_service(estate.azurite.url_for("secondary"))
            assert first.credential is second.credential is azure.credential()
            await first.get_service_properties()
            await second.get_service_properties()
        assert azure.closed and not azure.has_credential
        with pytest.raises(RuntimeError, match="closed"):
            azure.blob_service(estate.azurite.url_for("primary"))

    with _Leaks() as leaks:
        asyncio.run(use())
    assert managed_identity.token_requests() == 1
    assert leaks.found == []


def test_identity_endpoint_down_at_cold_start_fails_the_call_as_transient(
    estate: Estate, managed_identity: IdentityEndpoint
) -> None:
    """The platform's identity endpoint answering 503 (cold start): the activity fails as transient, so
    the orchestrator retries the step on its timers; once the endpoint answers, the same call works."""
    source = f"src-{uuid.uuid4().hex[:8]}"
    estate.admin("primary").create_container(source)
    # No Blob SDK retries on top of azure-identity's own (the endpoint stays down for both).
    step = _step(estate, source, f"dst-{uuid.uuid4().hex[:8]}", retry_attempts=0)
    managed_identity.failures = [503] * 50
    with _Leaks() as leaks, pytest.raises(TransientError) as caught:
        dispatch.begin(_payload(step, "run-cold"))
    assert caught.value.code == "TokenUnavailable"
    assert leaks.found == []
    managed_identity.failures = []
    assert dispatch.begin(_payload(step, "run-cold"))["done"] in (True, False)


def test_token_the_account_refuses_is_permanent(estate: Estate, managed_identity: IdentityEndpoint) -> None:
    """A token the account refuses (issued for another audience) is a 401/403 from the resource itself:
    permanent, reported at once, not retried."""
    managed_identity.audience = "https://vault.azure.net"
    source = f"src-{uuid.uuid4().hex[:8]}"
    estate.admin("primary").create_container(source)
    step = _step(estate, source, f"dst-{uuid.uuid4().hex[:8]}")
    with pytest.raises(PermanentError) as caught:
        dispatch.begin(_payload(step, "run-403"))
    cause = caught.value.__cause__
    assert isinstance(cause, HttpResponseError) and cause.status_code in (401, 403), cause
    assert "Invalid token audience" in caught.value.message or caught.value.code, caught.value
