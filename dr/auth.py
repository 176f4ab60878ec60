"""Operator identity from App Service authentication (the ``x-ms-client-principal`` header).

App Service authentication validates the token and injects the header; the app only reads it. Roles come
from the claims whose type is the principal's ``role_typ`` (app roles of the Entra app registration).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel

from .errors import AuthorizationError
from .settings import Settings

ROLE_CLAIM_DEFAULT = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_CLAIM_DEFAULT = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


class Principal(BaseModel):
    name: str | None = None
    roles: frozenset[str] = frozenset()
    authenticated: bool = False


def parse_principal(header: str | None) -> Principal:
    if not header:
        return Principal()
    try:
        document: Any = json.loads(base64.b64decode(header, validate=False))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise AuthorizationError("x-ms-client-principal is not base64-encoded JSON") from None
    if not isinstance(document, dict):
        raise AuthorizationError("x-ms-client-principal is not a JSON object")
    role_type = document.get("role_typ") or ROLE_CLAIM_DEFAULT
    name_type = document.get("name_typ") or NAME_CLAIM_DEFAULT
    roles: set[str] = set()
    name = None
    for claim in document.get("claims") or []:
        if not isinstance(claim, dict):
            continue
        if claim.get("typ") in (role_type, "roles"):
            roles.add(str(claim.get("val")))
        elif claim.get("typ") in (name_type, "preferred_username", "name") and name is None:
            name = str(claim.get("val"))
    return Principal(name=name, roles=frozenset(roles), authenticated=True)


def require_role(settings: Settings, principal: Principal, role: str, action: str) -> None:
    """When role checks are on (DR_ENFORCE_ROLES), refuse callers without the role."""
    if not settings.enforce_roles:
        return
    if not principal.authenticated:
        raise AuthorizationError(f"{action} needs a signed-in caller with role {role!r} (App Service auth)")
    if role not in principal.roles:
        raise AuthorizationError(f"{action} needs role {role!r}; {principal.name or 'caller'} lacks it")


def encode_principal(name: str, roles: list[str]) -> str:
    """Build a header value as App Service would (tests, the demo and the CLI use it)."""
    claims = [{"typ": NAME_CLAIM_DEFAULT, "val": name}] + [{"typ": ROLE_CLAIM_DEFAULT, "val": r} for r in roles]
    document = {
        "auth_typ": "aad",
        "claims": claims,
        "name_typ": NAME_CLAIM_DEFAULT,
        "role_typ": ROLE_CLAIM_DEFAULT,
    }
    return base64.b64encode(json.dumps(document).encode()).decode()


def actor(settings: Settings, principal: Principal, claimed: str | None) -> str | None:
    """Who is acting. With roles enforced, only the signed-in principal's name claim counts (a ``by`` in
    the body is ignored, and a principal without a name claim is refused); otherwise the signed-in name
    wins over a name in the body."""
    if settings.enforce_roles:
        if not principal.name or not principal.name.strip():
            raise AuthorizationError("the signed-in principal has no name claim: its actions cannot be recorded")
        return principal.name
    return principal.name or claimed
