"""The control API: what a test or the devstack does to the emulated world (not ARM).

Every call exists twice: as a method on `ArmEmulator` (in-process) and as JSON over HTTP under
/_emulator/ (for a server started with `python -m devstack.arm`). Routes:

    GET    /_emulator/ping                              -> {"status": "ok", "url": ...}
    POST   /_emulator/reset
    POST   /_emulator/seed                              body: estate seed (JSON, or YAML as text)
    GET    /_emulator/settings | PUT (partial update)   body: EmulatorSettings fields
    GET    /_emulator/faults | POST (FaultSpec) -> Fault | DELETE (clear all)
    GET    /_emulator/regions                           -> [{"location", "down_since"}]
    POST   /_emulator/regions/{location}/outage | /restore
    POST   /_emulator/health                            body: {"target", "healthy"}
    GET    /_emulator/requests | DELETE                 the ARM request log
    GET    /_emulator/operations                        in-flight and finished LROs
    POST   /_emulator/operations/finish                 finish every in-flight LRO now
    POST   /_emulator/operations/fail                   body: {"kind", "code", "message", "count"}
    GET    /_emulator/trafficmanager/resolve?name=FQDN|PROFILE_ID  -> ResolveAnswer
    GET    /_emulator/sql/replication-lag?database_id=ID -> {"database_id", "seconds"}
    PUT    /_emulator/sql/replication-lag               body: {"database_id", "seconds"}
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import DEFAULT_CODE_FOR_STATUS, KNOWN_MESSAGES, ArmError

if TYPE_CHECKING:
    from .server import ArmEmulator


class FaultSpec(BaseModel):
    """Make matching ARM requests fail (or slow down) before they reach the provider."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="Glob on the request path, case-insensitive: '*/failoverGroups/*/failover', "
        "'*/Microsoft.Sql/*', '*' for everything."
    )
    method: str | None = Field(None, description="Only this HTTP method (any when unset).")
    status: int | None = Field(503, description="Error status to answer; None adds latency only.")
    code: str | None = Field(None, description="ARM error code; defaults by status (429 TooManyRequests...).")
    message: str | None = None
    count: int | None = Field(1, ge=1, description="How many requests fail; None: every one until cleared.")
    retry_after: int | None = Field(
        None,
        ge=0,
        description="Retry-After seconds on the error. None: 1 for 429 and 503 (as Azure throttles), no "
        "header otherwise; 0: no header. The SDK retries any error that carries Retry-After.",
    )
    latency_seconds: float = Field(0.0, ge=0, description="Delay before answering (error or not).")


class Fault(FaultSpec):
    id: str
    hits: int = 0

    def error(self) -> ArmError | None:
        if self.status is None:
            return None
        code = self.code or DEFAULT_CODE_FOR_STATUS.get(self.status, "InternalServerError")
        retry_after = self.retry_after if self.retry_after is not None else (1 if self.status in (429, 503) else 0)
        headers = {"Retry-After": str(retry_after)} if retry_after > 0 else {}
        return ArmError(self.status, code, self.message or KNOWN_MESSAGES.get(code), headers=headers)


class FaultRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(id=f"fault-{next(self._ids)}", **spec.model_dump())
            self._faults.append(fault)
            return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, counted as used (spent ones disappear)."""
        with self._lock:
            for fault in self._faults:
                if fault.method is not None and fault.method.upper() != method.upper():
                    continue
                if not fnmatch.fnmatchcase(path.lower(), fault.path.lower()):
                    continue
                fault.hits += 1
                if fault.count is not None and fault.hits >= fault.count:
                    self._faults.remove(fault)
                return fault.model_copy()
            return None

    def list(self) -> list[Fault]:
        with self._lock:
            return [f.model_copy() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class RequestRecord(BaseModel):
    """One ARM request as the log keeps it (never headers: the Authorization header stays out)."""

    method: str
    path: str
    status: int
    api_version: str | None
    at: datetime
    duration_ms: float
    error_code: str | None = None
    fault_id: str | None = None


class RegionStatus(BaseModel):
    location: str
    down_since: datetime


class TargetHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="An endpoint's target host name, or its targetResourceId.")
    healthy: bool


class OperationFailure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="Operation kind, e.g. 'database.geo_restore' (see OPERATION_KINDS).")
    code: str = "OperationTimedOut"
    message: str | None = None
    status: int = Field(500, description="HTTP status the error carries (seen on the Location URL).")
    count: int = Field(1, ge=1)


class ReplicationLag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_id: str
    seconds: float | None = Field(None, ge=0)


class OperationInfo(BaseModel):
    id: str
    kind: str
    status: str
    started_at: datetime
    deadline: datetime
    ended_at: datetime | None
    error_code: str | None


# -- HTTP ------------------------------------------------------------------------------------------------


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


def control_routes(emulator: ArmEmulator) -> list[web.RouteDef]:
    """aiohttp routes for the control API; each wraps the ArmEmulator method of the same meaning."""

    def guarded(handler: Any) -> Any:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                response: web.StreamResponse = await handler(request)
                return response
            except (ValidationError, ValueError, yaml.YAMLError) as exc:
                return _error(400, "InvalidControlRequest", str(exc))
            except KeyError as exc:
                return _error(404, "NotFound", f"not found: {exc}")

        return wrapper

    async def ping(_: web.Request) -> web.Response:
        return _ok({"status": "ok", "url": emulator.url})

    async def reset(_: web.Request) -> web.Response:
        emulator.reset()
        return _ok()

    async def seed(request: web.Request) -> web.Response:
        emulator.seed(await _body(request))
        return _ok()

    async def get_settings(_: web.Request) -> web.Response:
        return _ok(emulator.settings())

    async def put_settings(request: web.Request) -> web.Response:
        return _ok(emulator.configure(**await _body(request)))

    async def list_faults(_: web.Request) -> web.Response:
        return _ok(emulator.faults())

    async def add_fault(request: web.Request) -> web.Response:
        return _ok(emulator.inject_fault(FaultSpec.model_validate(await _body(request))))

    async def clear_faults(_: web.Request) -> web.Response:
        emulator.clear_faults()
        return _ok()

    async def regions(_: web.Request) -> web.Response:
        return _ok(emulator.regions_down())

    async def outage(request: web.Request) -> web.Response:
        emulator.region_outage(request.match_info["location"])
        return _ok()

    async def restore(request: web.Request) -> web.Response:
        emulator.region_restore(request.match_info["location"])
        return _ok()

    async def health(request: web.Request) -> web.Response:
        spec = TargetHealth.model_validate(await _body(request))
        emulator.set_target_health(spec.target, healthy=spec.healthy)
        return _ok()

    async def requests(_: web.Request) -> web.Response:
        return _ok(emulator.requests())

    async def clear_requests(_: web.Request) -> web.Response:
        emulator.clear_requests()
        return _ok()

    async def operations(_: web.Request) -> web.Response:
        return _ok(emulator.operations())

    async def finish(_: web.Request) -> web.Response:
        emulator.finish_operations()
        return _ok()

    async def fail(request: web.Request) -> web.Response:
        spec = OperationFailure.model_validate(await _body(request))
        emulator.fail_next_operation(spec.kind, spec.code, spec.message, status=spec.status, count=spec.count)
        return _ok()

    async def resolve(request: web.Request) -> web.Response:
        name = request.query.get("name")
        if not name:
            raise ValueError("query parameter 'name' (profile fqdn or id) is required")
        return _ok(emulator.resolve(name))

    async def get_lag(request: web.Request) -> web.Response:
        database_id = request.query.get("database_id")
        if not database_id:
            raise ValueError("query parameter 'database_id' is required")
        return _ok({"database_id": database_id, "seconds": emulator.replication_lag(database_id)})

    async def put_lag(request: web.Request) -> web.Response:
        spec = ReplicationLag.model_validate(await _body(request))
        if spec.seconds is None:
            raise ValueError("'seconds' is required")
        emulator.set_replication_lag(spec.database_id, spec.seconds)
        return _ok()

    base = "/_emulator"
    table = [
        ("GET", "/ping", ping),
        ("POST", "/reset", reset),
        ("POST", "/seed", seed),
        ("GET", "/settings", get_settings),
        ("PUT", "/settings", put_settings),
        ("GET", "/faults", list_faults),
        ("POST", "/faults", add_fault),
        ("DELETE", "/faults", clear_faults),
        ("GET", "/regions", regions),
        ("POST", "/regions/{location}/outage", outage),
        ("POST", "/regions/{location}/restore", restore),
        ("POST", "/health", health),
        ("GET", "/requests", requests),
        ("DELETE", "/requests", clear_requests),
        ("GET", "/operations", operations),
        ("POST", "/operations/finish", finish),
        ("POST", "/operations/fail", fail),
        ("GET", "/trafficmanager/resolve", resolve),
        ("GET", "/sql/replication-lag", get_lag),
        ("PUT", "/sql/replication-lag", put_lag),
    ]
    return [web.route(method, base + path, guarded(handler)) for method, path, handler in table]
