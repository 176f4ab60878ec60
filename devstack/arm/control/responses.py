"""Thin aiohttp handlers of the control API: parse the JSON (or YAML) body, call `ControlBackend`, answer
its result as JSON (`{"status": "ok"}` when it returns nothing).

Errors: a bad body or argument (ValidationError, ValueError, YAML) is 400 `InvalidControlRequest`, an
unknown name (KeyError) 404 `NotFound`, both in ARM's envelope `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..authorization.models import ScopePermissions
from .bodies import OperationFailure, ReplicationLag, TargetHealth
from .faults import FaultSpec
from .models import ControlBackend

ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlResponses:
    def __init__(self, backend: ControlBackend, url: Callable[[], str]) -> None:
        self.backend = backend
        self._url = url
        """The server's base URL (known once it listens), for ping."""

    async def ping(self, _: web.Request) -> web.Response:
        return _ok({"status": "ok", "url": self._url()})

    async def reset(self, _: web.Request) -> web.Response:
        self.backend.reset()
        return _ok()

    async def seed(self, request: web.Request) -> web.Response:
        self.backend.seed(await _body(request))
        return _ok()

    async def get_settings(self, _: web.Request) -> web.Response:
        return _ok(self.backend.settings())

    async def put_settings(self, request: web.Request) -> web.Response:
        return _ok(self.backend.configure(**await _body(request)))

    async def list_faults(self, _: web.Request) -> web.Response:
        return _ok(self.backend.faults())

    async def add_fault(self, request: web.Request) -> web.Response:
        return _ok(self.backend.inject_fault(FaultSpec.model_validate(await _body(request))))

    async def clear_faults(self, _: web.Request) -> web.Response:
        self.backend.clear_faults()
        return _ok()

    async def regions(self, _: web.Request) -> web.Response:
        return _ok(self.backend.regions_down())

    async def outage(self, request: web.Request) -> web.Response:
        self.backend.region_outage(request.match_info["location"])
        return _ok()

    async def restore(self, request: web.Request) -> web.Response:
        self.backend.region_restore(request.match_info["location"])
        return _ok()

    async def health(self, request: web.Request) -> web.Response:
        spec = TargetHealth.model_validate(await _body(request))
        self.backend.set_target_health(spec.target, healthy=spec.healthy)
        return _ok()

    async def requests(self, _: web.Request) -> web.Response:
        return _ok(self.backend.requests())

    async def clear_requests(self, _: web.Request) -> web.Response:
        self.backend.clear_requests()
        return _ok()

    async def operations(self, _: web.Request) -> web.Response:
        return _ok(self.backend.operations())

    async def finish_operations(self, _: web.Request) -> web.Response:
        self.backend.finish_operations()
        return _ok()

    async def fail_operation(self, request: web.Request) -> web.Response:
        spec = OperationFailure.model_validate(await _body(request))
        self.backend.fail_next_operation(spec.kind, spec.code, spec.message, status=spec.status, count=spec.count)
        return _ok()

    async def resolve(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        if not name:
            raise ValueError("query parameter 'name' (profile fqdn or id) is required")
        return _ok(self.backend.resolve(name))

    async def get_replication_lag(self, request: web.Request) -> web.Response:
        database_id = request.query.get("database_id")
        if not database_id:
            raise ValueError("query parameter 'database_id' is required")
        return _ok({"database_id": database_id, "seconds": self.backend.replication_lag(database_id)})

    async def put_replication_lag(self, request: web.Request) -> web.Response:
        spec = ReplicationLag.model_validate(await _body(request))
        if spec.seconds is None:
            raise ValueError("'seconds' is required")
        self.backend.set_replication_lag(spec.database_id, spec.seconds)
        return _ok()

    async def granted_permissions(self, _: web.Request) -> web.Response:
        return _ok(self.backend.granted_permissions())

    async def set_permissions(self, request: web.Request) -> web.Response:
        spec = ScopePermissions.model_validate(await _body(request))
        self.backend.set_permissions(spec.scope, spec.permissions)
        return _ok()

    async def clear_permissions(self, _: web.Request) -> web.Response:
        self.backend.clear_permissions()
        return _ok()


def guarded(handler: ControlHandler) -> ControlHandler:
    """The handler, with a bad request answered 400 and an unknown name 404 (see the module docstring)."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ValidationError, ValueError, yaml.YAMLError) as exc:
            return _error(400, "InvalidControlRequest", str(exc))
        except KeyError as exc:
            return _error(404, "NotFound", f"not found: {exc}")

    return wrapper


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def _ok(value: Any = None) -> web.Response:
    return web.json_response(_dump(value) if value is not None else {"status": "ok"})


async def _body(request: web.Request) -> Any:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)
