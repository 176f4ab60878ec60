"""Function keys, enforced as Azure enforces them.

The devstack host has one key: it is the function key, the host key, the master key and the durable
extension's system key at once. FUNCTION and ADMIN auth levels need it in the `x-functions-key` header or
the `code` query parameter; ANONYMOUS functions don't.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping

FUNCTION_KEY_ENV = "DEVSTACK_FUNCTION_KEY"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


def resolve_function_key(explicit: str | None = None) -> tuple[str, bool]:
    """The key to enforce, and whether it was generated here (callers print a generated key once)."""
    if explicit:
        return explicit, False
    from_env = os.environ.get(FUNCTION_KEY_ENV)
    if from_env:
        return from_env, False
    return secrets.token_urlsafe(32), True


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    return headers.get(KEY_HEADER) or query.get(KEY_QUERY)


def key_matches(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())
