"""ARM errors as the wire carries them: an HTTP status plus `{"error": {"code", "message"}}`.

Providers raise `ArmError` (or a helper below) from anywhere in a request; the server turns it into the
response. Codes and messages follow what Azure Resource Manager and the resource providers send, so the
SDK maps them the same way (404 -> ResourceNotFoundError, 401 -> ClientAuthenticationError, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Default code for an injected fault of a given status, and the message Azure documents for known codes.
DEFAULT_CODE_FOR_STATUS: dict[int, str] = {
    400: "BadRequest",
    401: "AuthenticationFailed",
    404: "ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

KNOWN_MESSAGES: dict[str, str] = {
    "TooManyRequests": "Requests beyond max requests that can be processed by available resources.",
    "SubscriptionRequestsThrottled": "Number of requests for subscription exceeded the limit.",
    "InternalServerError": "An internal server error occurred. Please retry the request.",
    "ServiceUnavailable": "The service is temporarily unavailable. Please retry the request.",
    "GatewayTimeout": "The gateway did not receive a response within the specified time period.",
    "FailoverGroupBusy": "Failover Group is busy with another operation.",
    "ConflictingDatabaseOperation": (
        "There is already some operation on the database and the current operation should wait till it is done."
    ),
    "OperationTimedOut": "The operation timed out and automatically rolled back. Please retry the operation.",
    "PlannedFailoverTimedOut": (
        "User invoked planned failover, and it timed out while trying to contact the partner management service."
    ),
}


class ArmError(Exception):
    """An error response: raise it and the server answers `status` with ARM's error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        target: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message or KNOWN_MESSAGES.get(code) or code
        self.headers = dict(headers or {})
        self.target = target
        super().__init__(f"{status} {code}: {self.message}")

    def error_body(self) -> dict[str, Any]:
        """The inner `error` object (also what a failed async operation carries)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            body["target"] = self.target
        return body

    def envelope(self) -> dict[str, Any]:
        return {"error": self.error_body()}


# -- ARM front door ----------------------------------------------------------------------------------


def authentication_missing() -> ArmError:
    return ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")


def authentication_malformed() -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
    )


def invalid_token() -> ArmError:
    return ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.")


def missing_api_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def unsupported_api_version(api_version: str, resource_type: str, supported: list[str]) -> ArmError:
    return ArmError(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for location 'global' and API version '{api_version}' for "
        f"type '{resource_type}'. The supported api-versions are '{', '.join(supported)}'.",
    )


def subscription_not_found(subscription_id: str) -> ArmError:
    return ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")


def resource_group_not_found(resource_group: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found.")


def resource_not_found(type_and_name: str, resource_group: str) -> ArmError:
    """`type_and_name` is ARM's form, e.g. 'Microsoft.Sql/servers/shop-eus/databases/shop'."""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{type_and_name}' under resource group '{resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def parent_resource_not_found(parent_type_and_name: str) -> ArmError:
    return ArmError(
        404,
        "ParentResourceNotFound",
        f"Can not perform requested operation on nested resource. Parent resource '{parent_type_and_name}' not found.",
    )


def invalid_resource_type(path: str) -> ArmError:
    return ArmError(404, "InvalidResourceType", f"The resource type could not be found for the path '{path}'.")


def method_not_allowed(method: str, path: str) -> ArmError:
    return ArmError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed on '{path}'.")


def bad_request(message: str) -> ArmError:
    """A provider's own 400 refusal of a request (ARM's generic code; the message says what was wrong)."""
    return ArmError(400, "BadRequest", message)


def invalid_request_content(detail: str) -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: '{detail}'.",
    )


def location_required() -> ArmError:
    return ArmError(400, "LocationRequired", "The location property is required for this definition.")


def location_not_available(location: str, resource_type: str, available: str) -> ArmError:
    return ArmError(
        400,
        "LocationNotAvailableForResourceType",
        f"The provided location '{location}' is not available for resource type '{resource_type}'. "
        f"List of available regions for the resource type is '{available}'.",
    )


def gateway_timeout(namespace: str) -> ArmError:
    """What ARM answers when the resource provider in a region does not respond (a region outage)."""
    return ArmError(
        504,
        "GatewayTimeout",
        f"The gateway did not receive a response from '{namespace}' within the specified time period.",
    )


def operation_not_found() -> ArmError:
    return ArmError(404, "OperationIdNotFound", "The operation with Id does not exist.")
