from __future__ import annotations

import base64
import json

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError

from dr.auth import encode_principal, parse_principal, require_role
from dr.errors import (
    AuthorizationError,
    NotFoundError,
    PermanentError,
    PreconditionError,
    TransientError,
    from_azure_error,
    parse_failure,
)
from dr.settings import Settings


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
