from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.blob import BlobServiceClient

from dr.auth import encode_principal, parse_principal, require_role
from dr.errors import (
    AuthorizationError,
    NotFoundError,
    PermanentError,
    PreconditionError,
    TransientError,
    azure_errors,
    from_azure_error,
    parse_failure,
)
from dr.settings import Settings
from tests.identity_endpoint import identity_endpoint


def test_failure_category_survives_the_activity_boundary() -> None:
    error = TransientError("server busy", code="FailoverGroupBusy")
    # The Durable SDK hands the orchestrator "<reason> \n <details>" with a traceback after it.
    failure = parse_failure(f"{error} \n Traceback (most recent call last): ...")
    assert (failure.category, failure.code, failure.retryable) == ("transient", "FailoverGroupBusy", True)
    assert failure.message.startswith("server busy")


def test_foreign_exceptions_are_permanent() -> None:
    failure = parse_failure("KeyError: 'x'\nTraceback...")
    assert (failure.category, failure.code, failure.retryable) == ("permanent", "UnexpectedError", False)


def _http_error(status: int, code: str) -> HttpResponseError:
    error = HttpResponseError(message=f"{code}: boom")
    error.status_code = status
    error.error_code = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("exc", "expected", "code"),
    [
        (_http_error(429, "TooManyRequests"), TransientError, "TooManyRequests"),
        (_http_error(409, "FailoverGroupBusy"), TransientError, "FailoverGroupBusy"),
        (_http_error(409, "DatabaseAlreadyExists"), PreconditionError, "DatabaseAlreadyExists"),
        (_http_error(400, "InvalidRequestContent"), PermanentError, "InvalidRequestContent"),
        (_http_error(403, "AuthorizationFailed"), PermanentError, "AuthorizationFailed"),
        (ServiceRequestError("connection refused"), TransientError, "ConnectionError"),
    ],
)
def test_azure_errors_are_translated_with_their_code(exc: Exception, expected: type, code: str) -> None:
    translated = from_azure_error(exc, what="failover shop-fog")
    assert type(translated) is expected
    assert translated.code == code
    assert translated.message.startswith("failover shop-fog")


def test_not_found_translation() -> None:
    error = ResourceNotFoundError(message="gone")
    error.status_code = 404
    assert isinstance(from_azure_error(error, what="get db"), NotFoundError)


def test_the_translation_edge_chains_azure_errors_and_lets_ours_through() -> None:
    with pytest.raises(TransientError) as translated, azure_errors("read database shop-wus/shop"):
        raise _http_error(429, "TooManyRequests")
    assert translated.value.message.startswith("read database shop-wus/shop: TooManyRequests")
    assert isinstance(translated.value.__cause__, HttpResponseError)
    ours = PreconditionError("secondary unhealthy")
    with pytest.raises(PreconditionError) as passed, azure_errors("switch"):
        raise ours
    assert passed.value is ours


def test_principal_roles_and_enforcement() -> None:
    header = encode_principal("ana@contoso.com", ["dr.operator"])
    principal = parse_principal(header)
    assert principal.name == "ana@contoso.com" and principal.roles == {"dr.operator"}
    enforced = Settings(enforce_roles=True)
    require_role(enforced, principal, "dr.operator", "start")
    with pytest.raises(AuthorizationError, match=r"needs role 'dr.approver'; ana@contoso.com lacks it"):
        require_role(enforced, principal, "dr.approver", "approve")
    with pytest.raises(AuthorizationError, match="signed-in caller"):
        require_role(enforced, parse_principal(None), "dr.operator", "start")
    require_role(Settings(enforce_roles=False), parse_principal(None), "dr.operator", "start")


def test_principal_with_custom_role_claim_type_and_garbage() -> None:
    document = {
        "role_typ": "roles",
        "name_typ": "name",
        "claims": [{"typ": "roles", "val": "dr.approver"}, {"typ": "name", "val": "bo"}],
    }
    principal = parse_principal(base64.b64encode(json.dumps(document).encode()).decode())
    assert principal.roles == {"dr.approver"} and principal.name == "bo"
    with pytest.raises(AuthorizationError):
        parse_principal("!!!not-base64-json")


# -- authentication failures: transient when no token could be had, permanent when a resource said no ---


def _token_error(credential_factory: Callable[[], Any], *, is_async: bool) -> BaseException:
    """What azure-identity raises for a storage token, through its real credential classes."""
    scope = "https://storage.azure.com/.default"
    if is_async:

        async def attempt() -> None:
            async with credential_factory() as credential:
                await credential.get_token(scope)

        with pytest.raises(ClientAuthenticationError) as caught:
            asyncio.run(attempt())
    else:
        with pytest.raises(ClientAuthenticationError) as caught:
            credential_factory().get_token(scope)
    return caught.value


@pytest.mark.parametrize("failure", [500, 503, "reset"])
@pytest.mark.parametrize("is_async", [True, False], ids=["aio", "sync"])
def test_identity_endpoint_failure_at_cold_start_is_transient(
    failure: int | str, is_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DefaultAzureCredential (what the app builds) against an App Service identity endpoint that is not
    ready: the step must be retried, not failed at once."""
    from azure.identity import DefaultAzureCredential
    from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential

    with identity_endpoint() as endpoint:
        endpoint.environ(monkeypatch)
        endpoint.failures = [failure] * 20
        factory = AsyncDefaultAzureCredential if is_async else DefaultAzureCredential
        error = _token_error(
            lambda: factory(managed_identity_client_id="dr-identity-client-id", retry_total=0), is_async=is_async
        )
        assert endpoint.token_requests() >= 1  # the endpoint was asked: this is its failure, not a setup error
        translated = from_azure_error(error, what="list shopeus/images")
        assert type(translated) is TransientError, translated
        assert translated.code == "TokenUnavailable"
        assert translated.message.startswith("list shopeus/images: could not get an access token")
        assert parse_failure(str(translated)).retryable
        # Once the endpoint answers, the same credential class gets a token: retrying was right.
        endpoint.failures = []
        if is_async:

            async def again() -> str:
                async with AsyncDefaultAzureCredential(managed_identity_client_id="dr-identity-client-id") as c:
                    return (await c.get_token("https://storage.azure.com/.default")).token

            assert asyncio.run(again())
        else:
            assert (
                DefaultAzureCredential(managed_identity_client_id="dr-identity-client-id")
                .get_token("https://storage.azure.com/.default")
                .token
            )


def test_managed_identity_credential_used_directly_5xx_and_unavailable_are_transient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.identity import CredentialUnavailableError
    from azure.identity.aio import ManagedIdentityCredential

    with identity_endpoint() as endpoint:
        endpoint.environ(monkeypatch)
        endpoint.failures = [503] * 20
        error = _token_error(
            lambda: ManagedIdentityCredential(client_id="dr-identity-client-id", retry_total=0), is_async=True
        )
        assert type(from_azure_error(error, what="x")) is TransientError
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("IMDS_ENDPOINT", "http://127.0.0.1:9/")  # nothing listens: no managed identity here
    unavailable = CredentialUnavailableError(message="ManagedIdentityCredential authentication unavailable")
    assert type(from_azure_error(unavailable, what="x")) is TransientError


@pytest.mark.parametrize(
    ("status", "code", "sdk_error"),
    [
        (403, "AuthorizationPermissionMismatch", HttpResponseError),  # the identity lacks the data role
        (403, "AuthenticationFailed", ClientAuthenticationError),
        (401, "InvalidAuthenticationInfo", ClientAuthenticationError),
    ],
)
def test_resource_refusing_the_caller_stays_permanent(status: int, code: str, sdk_error: type) -> None:
    """A 401/403 that a storage account answers reaches the SDK with its response: retrying cannot help,
    the report must say why at once."""
    with _storage_refusing(status, code) as url:
        service = BlobServiceClient(url, credential=_ACCOUNT_KEY)
        with pytest.raises(HttpResponseError) as caught:
            service.get_container_client("images").get_container_properties()
    assert type(caught.value) is sdk_error
    translated = from_azure_error(caught.value, what="read images")
    assert type(translated) is PermanentError
    assert translated.code == code


def test_entra_verdict_in_a_credential_message_stays_permanent() -> None:
    error = ClientAuthenticationError(
        message="DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "\tEnvironmentCredential: AADSTS7000215: Invalid client secret provided."
    )
    assert type(from_azure_error(error, what="x")) is PermanentError


_ACCOUNT_KEY = {"account_name": "shopeus", "account_key": base64.b64encode(b"k" * 64).decode()}


@contextmanager
def _storage_refusing(status: int, code: str) -> Iterator[str]:
    """A local endpoint answering every request as Blob storage refuses one (status, x-ms-error-code, body)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
                "<Message>This request is not authorized to perform this operation.</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("x-ms-error-code", code)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/shopeus"
    finally:
        server.shutdown()
        server.server_close()
