"""A real HTTP server speaking the App Service / Azure Functions managed-identity protocol, so tests run
azure-identity's own ManagedIdentityCredential (and DefaultAzureCredential) the way it runs in Azure.

In Azure the platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER; the credential sends
``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=...&client_id=...`` with the header
``X-IDENTITY-HEADER`` and gets ``{"access_token", "expires_on", "resource", "token_type"}``. This server
issues an (unsigned) JWT whose audience is the resource asked for and whose issuer is an Entra one: what
Azurite's ``--oauth basic`` checks. ``failures`` makes the next requests fail (a status code, or "reset"
to drop the connection), as the endpoint does for a while at a cold start.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.health_server import JsonHandler, serving

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(audience: str, *, lifetime: int = 3600) -> str:
    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + lifetime,
        "oid": "00000000-0000-0000-0000-00000000d00d",
        "tid": TENANT,
    }
    header = {"alg": "none", "typ": "JWT"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(b'unsigned')}"


@dataclass
class IdentityEndpoint:
    secret: str = field(default_factory=lambda: secrets.token_hex(8))
    port: int = 0
    failures: list[int | str] = field(default_factory=list)  # consumed one per request
    audience: str | None = None  # set: tokens for this audience whatever was asked (a wrong identity)
    requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/msi/token"

    def token_requests(self) -> int:
        return len(self.requests)

    def environ(self, monkeypatch: pytest.MonkeyPatch, *, client_id: str = "dr-identity-client-id") -> None:
        """Point azure-identity at this endpoint, as the Functions platform does, and nothing else."""
        for name in (
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_USERNAME",
            "MSI_ENDPOINT",
            "MSI_SECRET",
            "IMDS_ENDPOINT",
        ):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("IDENTITY_ENDPOINT", self.url)
        monkeypatch.setenv("IDENTITY_HEADER", self.secret)
        monkeypatch.setenv("AZURE_CLIENT_ID", client_id)


@contextmanager
def identity_endpoint() -> Iterator[IdentityEndpoint]:
    state = IdentityEndpoint()
    lock = threading.Lock()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            with lock:
                state.requests.append(query)
                failure = state.failures.pop(0) if state.failures else None
            if failure == "reset":
                self.close_connection = True
                self.connection.close()
                return
            if self.headers.get("X-IDENTITY-HEADER") != state.secret:
                self.send_json(401, {"statusCode": 401, "message": "X-IDENTITY-HEADER missing or wrong"})
                return
            if isinstance(failure, int):
                self.send_json(failure, {"statusCode": failure, "message": "managed identity endpoint not ready"})
                return
            resource = query.get("resource", "")
            expires_on = int(time.time()) + 3600
            self.send_json(
                200,
                {
                    "access_token": unsigned_jwt(state.audience or resource.rstrip("/") or resource),
                    "expires_on": str(expires_on),
                    "resource": resource,
                    "token_type": "Bearer",
                    "client_id": query.get("client_id", ""),
                },
            )

    with serving(Handler) as port:
        state.port = port
        yield state
