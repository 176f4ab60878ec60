"""Shared HTTP plumbing of the triggers: JSON responses, the error → status mapping, who is calling, and this
API's own links."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote, urlsplit

import azure.functions as func

from dr.auth import Principal, actor, parse_principal
from dr.errors import (
    AuthorizationError,
    DrError,
    InvalidInputError,
    NotFoundError,
    PreconditionError,
    TransientError,
)
from dr.settings import Settings, get_settings

log = logging.getLogger("dr.triggers")


def principal_of(req: func.HttpRequest) -> Principal:
    """The caller as App Service authentication describes it (see the README's trust boundary)."""
    return parse_principal(req.headers.get("x-ms-client-principal"))


def acting_name(principal: Principal, claimed: str | None) -> str | None:
    """dr.auth.actor: with roles enforced, the principal's name claim alone."""
    return actor(get_settings(), principal, claimed)


def require_reader(settings: Settings, principal: Principal) -> None:
    if settings.enforce_roles and not (principal.roles & {settings.operator_role, settings.approver_role}):
        raise AuthorizationError(f"reading runs needs role {settings.operator_role!r} or {settings.approver_role!r}")


def recoveries_url(req: func.HttpRequest, instance_id: str) -> str:
    """This API's route of a run, on the host the caller used (its routes take the caller's function key)."""
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}/api/recoveries/{quote(instance_id, safe='')}"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/json",
        headers=headers,
    )


def error_response(exc: DrError, extra: dict[str, Any] | None = None) -> func.HttpResponse:
    """Map the error hierarchy to HTTP: the caller's fault is a 4xx with what was wrong (``extra`` adds
    fields to the error object, such as the run that holds a plan)."""
    if isinstance(exc, AuthorizationError):
        status = 403
    elif isinstance(exc, InvalidInputError):
        status = 400
    elif isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, PreconditionError):
        status = 409
    elif isinstance(exc, TransientError):
        return json_response({"error": {"code": exc.code, "message": exc.message}}, 503, {"Retry-After": "10"})
    else:
        status = 500
    return json_response({"error": {"code": exc.code, "message": exc.message, **(extra or {})}}, status)


def run_links(req: func.HttpRequest, instance_id: str) -> dict[str, str]:
    """Where the caller follows a run: this API's own routes, which take the caller's function key.

    Not the Durable extension's management URLs: those embed the extension's system key, and a key has
    no place in a response body (or the logs that keep it).
    """
    base = recoveries_url(req, instance_id)
    return {
        "id": instance_id,
        "statusUri": base,
        "reportUri": f"{base}/report",
        "approveUri": f"{base}/approve",
        "rejectUri": f"{base}/reject",
        "cancelUri": f"{base}/cancel",
    }
