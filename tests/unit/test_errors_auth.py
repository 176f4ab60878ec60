from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
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
from tests.identity_endpoint import TENANT, identity_endpoint


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


# -- a credential's own failure reaches the report with its cause -------------------------------------------

_SECRET = "s3cr3t-Value~42"


@dataclass
class _Entra:
    """A local stand-in of Microsoft Entra ID's token endpoint (HTTPS, as azure-identity requires), refusing
    every client: what a wrong client secret gets."""

    authority: str
    ca_file: str
    bodies: list[str]


@contextmanager
def _entra_refusing(tmp_path: Path, *, echo_request: bool = False) -> Iterator[_Entra]:
    ca = trustme.CA(organization_name="dr tests: Entra stand-in")
    server_cert = ca.issue_cert("127.0.0.1")
    ca_file = tmp_path / "entra-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    bodies: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, document: dict[str, Any]) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # OpenID configuration (MSAL reads it before the token request)
            base = f"https://127.0.0.1:{self.server.server_address[1]}/{TENANT}"
            self._json(
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/v2.0",
                },
            )

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            bodies.append(body)
            description = (
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value. Trace ID: 5e1d Correlation ID: 9c2a Timestamp: 2025-01-01 00:00:00Z"
            )
            if echo_request:  # an endpoint (or a proxy) that quotes the request it refused
                description += f" Request: {body}"
            self._json(401, {"error": "invalid_client", "error_description": description, "error_codes": [7000215]})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Entra(f"https://127.0.0.1:{server.server_address[1]}", str(ca_file), bodies)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("echo_request", [False, True], ids=["verdict", "verdict-quoting-the-secret"])
@pytest.mark.parametrize("is_async", [True, False], ids=["aio", "sync"])
def test_credential_refused_by_entra_reports_the_credentials_reason(
    tmp_path: Path, is_async: bool, echo_request: bool
) -> None:
    """A wrong client secret: azure-identity's ClientSecretCredential raises ClientAuthenticationError with
    no response (sync) or the token endpoint's OAuth error answer (aio); no resource was asked. The step report
    used to read "Http0 (HTTP 0): no message" (sync) or "Http401 (HTTP 401): Unauthorized" (aio)."""
    from azure.identity import ClientSecretCredential
    from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

    with _entra_refusing(tmp_path, echo_request=echo_request) as entra:
        options = {"authority": entra.authority, "disable_instance_discovery": True, "connection_verify": entra.ca_file}
        factory = AsyncClientSecretCredential if is_async else ClientSecretCredential
        error = _token_error(lambda: factory(TENANT, "dr-client-id", _SECRET, **options), is_async=is_async)
        assert entra.bodies and _SECRET in entra.bodies[0]  # the credential really asked, with its secret

    translated = from_azure_error(error, what="list shopeus/images")
    assert type(translated) is PermanentError
    assert translated.code == "AuthenticationFailed"
    # What the orchestrator writes into the step report: only the message crosses the activity boundary.
    report = parse_failure(f"{translated} \n Traceback (most recent call last): ...")
    assert (report.category, report.code, report.retryable) == ("permanent", "AuthenticationFailed", False)
    # The credential's own words: MSAL's (sync) "Authentication failed: AADSTS...", azure-identity's own
    # client (aio) "Microsoft Entra ID error '(invalid_client) AADSTS..." with the endpoint's 401 answer.
    reason = (
        "Microsoft Entra ID error '(invalid_client) AADSTS7000215: Invalid client secret provided."
        if is_async
        else "Authentication failed: AADSTS7000215: Invalid client secret provided."
    )
    assert report.message.startswith(f"list shopeus/images: credential failure: {reason}"), report.message
    assert "\n" not in report.message and "Http" not in report.message and "no message" not in report.message
    assert _SECRET not in report.message
    if echo_request:
        assert "client_secret=<redacted>" in report.message


def test_credential_failure_through_a_real_client_call(tmp_path: Path) -> None:
    """The path the steps take: a Blob client's call with the credential, inside azure_errors."""
    from azure.identity import ClientSecretCredential

    with _entra_refusing(tmp_path) as entra:
        credential = ClientSecretCredential(
            TENANT,
            "dr-client-id",
            _SECRET,
            authority=entra.authority,
            disable_instance_discovery=True,
            connection_verify=entra.ca_file,
        )
        # The account is never reached: the token is asked for first (and a resource's refusal carries its
        # response, see test_resource_refusing_the_caller_stays_permanent).
        service = BlobServiceClient("https://127.0.0.1:9/shopeus", credential=credential, retry_total=0)
        with pytest.raises(PermanentError) as caught, azure_errors("read shopeus/images"):
            service.get_container_client("images").get_container_properties()
    assert isinstance(caught.value.__cause__, ClientAuthenticationError)
    assert str(caught.value).startswith(
        "[permanent:AuthenticationFailed] read shopeus/images: credential failure: Authentication failed: AADSTS7000215"
    ), caught.value


def test_credential_unavailable_with_an_entra_verdict_is_permanent_and_named() -> None:
    from azure.identity import CredentialUnavailableError

    error = CredentialUnavailableError(message="WorkloadIdentityCredential: AADSTS700016: Application not found")
    translated = from_azure_error(error, what="x")
    assert (type(translated), translated.code) == (PermanentError, "CredentialUnavailable")
    assert (
        translated.message == "x: credential failure: WorkloadIdentityCredential: AADSTS700016: Application not found"
    )


def test_chain_summary_reports_the_credential_that_failed_redacted() -> None:
    """A chain's summary lists every credential tried: the report names the one with a verdict, one line."""
    error = ClientAuthenticationError(
        message="DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n"
        "\tEnvironmentCredential: EnvironmentCredential authentication unavailable.\n"
        "\tManagedIdentityCredential: AADSTS500011: resource not found. Authorization: Bearer eyJ0eXAi.eyJhdWQi.c2ln\n"
        "To mitigate this issue, please refer to the troubleshooting guidelines here at https://aka.ms/x."
    )
    translated = from_azure_error(error, what="x")
    assert translated.message == (
        "x: credential failure: ManagedIdentityCredential: AADSTS500011: resource not found. "
        "Authorization: Bearer <redacted>"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("client_secret=abc123&scope=x", "client_secret=<redacted>&scope=x"),
        (
            '{"access_token": "tok.en", "token_type": "Bearer"}',
            '{"access_token": "<redacted>", "token_type": "Bearer"}',
        ),
        ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v==;", "AccountName=a;AccountKey=<redacted>;"),
        ("https://a.blob.core.windows.net/c?sv=2024&sig=abc%2Fdef", "sv=2024&sig=<redacted>"),
        ("token eyJhbGciOi.eyJzdWIi.c2ln here", "token <redacted> here"),
        ("Invalid client secret provided.", "Invalid client secret provided."),
    ],
)
def test_secrets_are_redacted(text: str, expected: str) -> None:
    from dr.errors import redact_secrets

    assert expected in redact_secrets(text)
