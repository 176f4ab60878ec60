"""Bearer tokens: what the emulator checks, and a credential clients can hand the SDK.

The emulator accepts any well-formed bearer token (it has no tenant to validate against) and answers a
missing or malformed one the way ARM does. azure-core ships no static-token credential, hence ours.
"""

from __future__ import annotations

import re
import time
from types import TracebackType
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

from . import errors

# RFC 6750 b64token: what may follow "Bearer ".
_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


def check_authorization(header: str | None) -> None:
    """Raise ARM's 401 unless `header` is 'Bearer <token>'. The token itself is never logged or echoed."""
    if header is None or not header.strip():
        raise errors.authentication_missing()
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise errors.authentication_malformed()
    if not _TOKEN.match(token.strip()):
        raise errors.invalid_token()


class StaticTokenCredential:
    """A TokenCredential (and SupportsTokenInfo) that always returns the same token: for the emulator
    only, never for Azure."""

    def __init__(self, token: str = "devstack-arm-token", *, lifetime_seconds: int = 3600) -> None:
        self._token = token
        self._lifetime = lifetime_seconds

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + self._lifetime)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token, int(time.time()) + self._lifetime)

    def close(self) -> None:
        return None

    def __enter__(self) -> StaticTokenCredential:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:  # keep the token out of logs and tracebacks
        return "StaticTokenCredential(token=***)"


class AsyncStaticTokenCredential:
    """The async (azure.core.credentials_async.AsyncTokenCredential) twin, for aio clients."""

    def __init__(self, token: str = "devstack-arm-token", *, lifetime_seconds: int = 3600) -> None:
        self._sync = StaticTokenCredential(token, lifetime_seconds=lifetime_seconds)

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return self._sync.get_token(*scopes)

    async def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        return self._sync.get_token_info(*scopes)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> AsyncStaticTokenCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "AsyncStaticTokenCredential(token=***)"
