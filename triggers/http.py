"""Shared HTTP plumbing of the triggers: JSON responses and the error → status mapping."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote, urlsplit

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
    parts = urlsplit(req.url)
    base = f"{parts.scheme}://{parts.netloc}/api/recoveries/{quote(instance_id, safe='')}"
    return {
        "id": instance_id,
        "statusUri": base,
        "reportUri": f"{base}/report",
        "approveUri": f"{base}/approve",
        "rejectUri": f"{base}/reject",
        "cancelUri": f"{base}/cancel",
    }
