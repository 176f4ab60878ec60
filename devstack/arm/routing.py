"""Routing for ARM paths: templates like ARM's REST specs, matched case-insensitively as ARM does.

Each provider's `urls.py` registers its routes here (moto's shape): method, path template, handler, and
the api-versions the provider accepts for that resource type (through `Router.provider`, which names every
route's resource type after the provider's namespace).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from . import errors

_PARAM = re.compile(r"\{(\w+)\}")
M = TypeVar("M", bound=BaseModel)


@dataclass
class ArmRequest:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    api_version: str
    body_bytes: bytes
    base_url: str
    """Scheme and authority the client used (for the URLs an LRO hands back)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Request headers, names lower-cased (conditional requests: If-Match, If-None-Match)."""

    def json(self) -> Any:
        if not self.body_bytes.strip():
            raise errors.invalid_request_content("the request body is empty")
        try:
            return json.loads(self.body_bytes)
        except ValueError as exc:
            raise errors.invalid_request_content(str(exc)) from exc

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; anything else is ARM's 400 InvalidRequestContent."""
        payload = self.json()
        if not isinstance(payload, dict):
            raise errors.invalid_request_content("the request body must be a JSON object")
        return payload

    def parse(self, model: type[M], *, on_invalid: Callable[[str], errors.ArmError] | None = None) -> M:
        """The body validated against a pydantic model; a bad body is ARM's 400 (or the provider's code)."""
        payload = self.json_object()
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
            )
            raise (on_invalid or errors.invalid_request_content)(detail) from exc

    def url_for(self, path: str, **query: str) -> str:
        """An absolute URL on this server, with the request's api-version."""
        query = {"api-version": self.api_version, **query}
        return self.base_url + path + "?" + "&".join(f"{k}={v}" for k, v in query.items())


@dataclass
class ArmResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ArmRequest], ArmResponse]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    resource_type: str
    api_versions: frozenset[str] | None
    """None accepts any api-version (resource groups)."""


def subscription_scope(namespace: str) -> str:
    """The template prefix of a provider's subscription-wide paths (lists, status URLs)."""
    return f"/subscriptions/{{subscriptionId}}/providers/{namespace}"


def resource_group_scope(namespace: str) -> str:
    """The template prefix of a provider's resources in a resource group."""
    return f"/subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}/providers/{namespace}"


def compile_template(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    last = 0
    for match in _PARAM.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        parts.append(f"(?P<{match.group(1)}>[^/]+)")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE)


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        resource_type: str,
        api_versions: Iterable[str] | None,
    ) -> None:
        self._routes.append(
            Route(
                method=method.upper(),
                template=template,
                pattern=compile_template(template),
                handler=handler,
                resource_type=resource_type,
                api_versions=frozenset(api_versions) if api_versions is not None else None,
            )
        )

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        path_matched = False
        for route in self._routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            path_matched = True
            if route.method == method.upper():
                return route, dict(found.groupdict())
        if path_matched:
            raise errors.method_not_allowed(method, path)
        raise errors.invalid_resource_type(path)

    def provider(self, namespace: str, api_versions: Iterable[str]) -> ProviderRoutes:
        """Registration for one provider: `add(method, template, handler, 'servers/databases')` registers the
        resource type `<namespace>/servers/databases` with the provider's api-versions."""
        return ProviderRoutes(self, namespace, tuple(api_versions))


@dataclass(frozen=True)
class ProviderRoutes:
    router: Router
    namespace: str
    api_versions: tuple[str, ...]

    def add(self, method: str, template: str, handler: Handler, resource_type: str) -> None:
        self.router.add(
            method, template, handler, resource_type=f"{self.namespace}/{resource_type}", api_versions=self.api_versions
        )

    def monitor_metrics(self, resource_template: str, handler: Handler, api_versions: Iterable[str]) -> None:
        """Azure Monitor's Metrics_List below one of the provider's resources: another namespace and its own
        api-versions. Register it before the resource's own routes that could take the path."""
        self.router.add(
            "GET",
            resource_template + "/providers/Microsoft.Insights/metrics",
            handler,
            resource_type="Microsoft.Insights/metrics",
            api_versions=api_versions,
        )
