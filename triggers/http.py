"""Shared HTTP plumbing of the triggers: JSON responses and the error → status mapping."""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.functions as func

from dr.errors import (
    AuthorizationError,
    DrError,
    InvalidInputError,
    NotFoundError,
    PreconditionError,
    TransientError,
)

log = logging.getLogger("dr.triggers")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/json",
        headers=headers,
    )


def error_response(exc: DrError) -> func.HttpResponse:
    """Map the error hierarchy to HTTP: the caller's fault is a 4xx with what was wrong."""
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
    return json_response({"error": {"code": exc.code, "message": exc.message}}, status)


def management_urls(client: Any, instance_id: str) -> dict[str, str]:
    payload: dict[str, str] = client.create_http_management_payload(instance_id)
    return payload
