"""The emulator: an HTTPS aiohttp server on a background thread, the ARM front door (auth, api-version,
faults, subscription and resource-group checks, routing), and the in-process control API.

    with ArmEmulator(state_dir=tmp_path) as arm:
        client = SqlManagementClient(StaticTokenCredential(), SUB, base_url=arm.url,
                                     connection_verify=str(arm.ca_path))
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from aiohttp import web

from . import errors
from .auth import check_authorization
from .control import (
    Fault,
    FaultRegistry,
    FaultSpec,
    OperationInfo,
    RegionStatus,
    RequestRecord,
    control_routes,
)
from .errors import ArmError
from .estate import Clock, EmulatorSettings, Estate, normalize_location
from .resourcegroups import RESOURCE_GROUPS, ResourceGroupResponses
from .resourcegroups import register as register_resource_groups
from .routing import ArmRequest, ArmResponse, Router
from .seed import EstateSeed, apply_seed, load_seed
from .sql.models import OPERATION_KINDS, SqlBackend
from .sql.responses import SqlResponses
from .sql.urls import register as register_sql
from .trafficmanager.models import ResolveAnswer, TrafficManagerBackend
from .trafficmanager.responses import TrafficManagerResponses
from .trafficmanager.urls import register as register_traffic_manager

REQUEST_LOG_LIMIT = 10_000
logger = logging.getLogger(__name__)


class ArmEmulator:
    def __init__(
        self,
        state_dir: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        settings: EmulatorSettings | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self._requested_port = port
        self.estate = Estate(clock)
        if settings is not None:
            self.estate.settings = settings.model_copy()
        self.sql = SqlBackend(self.estate)
        self.traffic_manager = TrafficManagerBackend(self.estate)
        self.estate.providers = [self.sql, self.traffic_manager]
        self.router = Router()
        register_resource_groups(self.router, ResourceGroupResponses(self.estate))
        register_sql(self.router, SqlResponses(self.estate, self.sql))
        register_traffic_manager(self.router, TrafficManagerResponses(self.estate, self.traffic_manager))
        self._faults = FaultRegistry()
        self._log: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._log_lock = threading.Lock()
        self._ca = trustme.CA(organization_name="devstack ARM emulator")
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def ca_path(self) -> Path:
        """PEM of the CA that signed the server's certificate: clients pass it as connection_verify."""
        return self.state_dir / "ca.pem"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> ArmEmulator:
        if self._thread is not None:
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._ca.cert_pem.write_to_path(str(self.ca_path))
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="arm-emulator", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    async def _serve(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.add_routes(control_routes(self))
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port, ssl_context=context)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=15)
        self._thread = None
        self._loop = None
        self._port = None

    def __enter__(self) -> ArmEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the ARM front door --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        api_version = request.query.get("api-version")
        fault: Fault | None = None
        try:
            check_authorization(request.headers.get("Authorization"))
            if not api_version:
                raise errors.missing_api_version()
            fault = self._faults.take(request.method, request.path)
            if fault is not None and fault.latency_seconds:
                await asyncio.sleep(fault.latency_seconds)
            injected = fault.error() if fault is not None else None
            if injected is not None:
                raise injected
            body = await request.read()
            response = self._dispatch(
                ArmRequest(
                    method=request.method,
                    path=request.path,
                    params={},
                    query=dict(request.query),
                    api_version=api_version,
                    body_bytes=body,
                    base_url=f"{request.scheme}://{request.host}",
                )
            )
            error_code = None
        except ArmError as exc:
            response = ArmResponse(exc.status, exc.envelope(), dict(exc.headers))
            error_code = exc.code
        except Exception as exc:  # an emulator bug: answer like ARM would, and keep it in the log
            logger.exception("ARM emulator failed on %s %s", request.method, request.path)
            failure = ArmError(500, "InternalServerError", f"devstack ARM emulator error ({type(exc).__name__})")
            response = ArmResponse(500, failure.envelope())
            error_code = failure.code
        self._record(request, response.status, api_version, started, error_code, fault)
        headers = {"x-ms-request-id": str(uuid.uuid4()), **response.headers}
        if response.body is None or response.status == 204:
            return web.Response(status=response.status, headers=headers)
        return web.Response(
            status=response.status,
            text=json.dumps(response.body),
            content_type="application/json",
            headers=headers,
        )

    def _dispatch(self, request: ArmRequest) -> ArmResponse:
        with self.estate.lock:
            self.estate.tick()
            route, params = self.router.match(request.method, request.path)
            if route.api_versions is not None and request.api_version not in route.api_versions:
                raise errors.unsupported_api_version(
                    request.api_version, route.resource_type, sorted(route.api_versions)
                )
            if "subscriptionId" in params:
                self.estate.subscription(params["subscriptionId"])
            if "resourceGroupName" in params and route.resource_type != RESOURCE_GROUPS:
                self.estate.resource_group(params["subscriptionId"], params["resourceGroupName"])
            request.params = params
            return route.handler(request)

    def _record(
        self,
        request: web.Request,
        status: int,
        api_version: str | None,
        started: float,
        error_code: str | None,
        fault: Fault | None,
    ) -> None:
        record = RequestRecord(
            method=request.method,
            path=request.path,
            status=status,
            api_version=api_version,
            at=datetime.now(UTC),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            error_code=error_code,
            fault_id=fault.id if fault is not None else None,
        )
        with self._log_lock:
            self._log.append(record)

    # -- control API ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the estate, faults, outages, settings and the request log."""
        with self.estate.lock:
            self.estate.reset()
        self._faults.clear()
        self.clear_requests()

    def seed(self, estate: EstateSeed | Mapping[str, Any] | str | Path) -> None:
        """Add an estate (a model, a mapping, or a YAML/JSON file path) to what is there."""
        parsed = load_seed(estate)
        with self.estate.lock:
            apply_seed(self.estate, self.sql, self.traffic_manager, parsed)

    def settings(self) -> EmulatorSettings:
        with self.estate.lock:
            return self.estate.settings.model_copy(deep=True)

    def configure(self, **changes: Any) -> EmulatorSettings:
        """Change timing knobs; `operation_seconds` entries are merged into the current ones."""
        with self.estate.lock:
            current = self.estate.settings.model_dump()
            durations = {**current["operation_seconds"], **changes.pop("operation_seconds", {})}
            _check_kinds(durations)
            updated = EmulatorSettings.model_validate({**current, **changes, "operation_seconds": durations})
            self.estate.settings = updated
            return updated.model_copy(deep=True)

    def set_operation_duration(self, kind: str, seconds: float) -> None:
        """How long operations of `kind` run from now on, e.g. ('database.geo_restore', 30)."""
        self.configure(operation_seconds={kind: seconds})

    def inject_fault(
        self,
        path: str | FaultSpec,
        *,
        method: str | None = None,
        status: int | None = 503,
        code: str | None = None,
        message: str | None = None,
        count: int | None = 1,
        retry_after: int | None = None,
        latency_seconds: float = 0.0,
    ) -> Fault:
        """Fail (or delay) the next `count` ARM requests whose path matches the glob `path`."""
        spec = (
            path
            if isinstance(path, FaultSpec)
            else FaultSpec(
                path=path,
                method=method,
                status=status,
                code=code,
                message=message,
                count=count,
                retry_after=retry_after,
                latency_seconds=latency_seconds,
            )
        )
        return self._faults.add(spec)

    def faults(self) -> list[Fault]:
        return self._faults.list()

    def clear_faults(self) -> None:
        self._faults.clear()

    def region_outage(self, location: str) -> None:
        """Take a region down: its SQL servers' requests time out (504 GatewayTimeout) while their
        geo-backups stay restorable, and Traffic Manager endpoints located there go Degraded."""
        with self.estate.lock:
            self.estate.tick()
            self.estate.outages.setdefault(normalize_location(location), self.estate.now())

    def region_restore(self, location: str) -> None:
        with self.estate.lock:
            self.estate.tick()
            self.estate.outages.pop(normalize_location(location), None)

    def regions_down(self) -> list[RegionStatus]:
        with self.estate.lock:
            return [RegionStatus(location=loc, down_since=at) for loc, at in self.estate.outages.items()]

    def set_target_health(self, target: str, *, healthy: bool) -> None:
        """Make a Traffic Manager endpoint target's probe pass or fail (host name or targetResourceId)."""
        with self.estate.lock:
            if healthy:
                self.estate.unhealthy_targets.discard(target.lower())
            else:
                self.estate.unhealthy_targets.add(target.lower())

    def requests(self) -> list[RequestRecord]:
        """The ARM request log, oldest first (control API calls are not in it)."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def operations(self) -> list[OperationInfo]:
        with self.estate.lock:
            self.estate.tick()
            return [
                OperationInfo(
                    id=op.id,
                    kind=op.kind,
                    status=op.status.value,
                    started_at=op.started_at,
                    deadline=op.deadline,
                    ended_at=op.ended_at,
                    error_code=op.error.code if op.error is not None else None,
                )
                for op in sorted(self.estate.operations.operations.values(), key=lambda o: o.started_at)
            ]

    def finish_operations(self) -> None:
        """Finish every in-flight operation now (as if its duration had passed)."""
        with self.estate.lock:
            self.estate.operations.finish_all(self.estate.now())
            self.estate.tick()

    def fail_next_operation(
        self,
        kind: str,
        code: str = "OperationTimedOut",
        message: str | None = None,
        *,
        status: int = 500,
        count: int = 1,
    ) -> None:
        """The next `count` operations of `kind` end Failed with this ARM error (the SDK poller raises
        HttpResponseError carrying `code`); what they started is undone."""
        _check_kinds({kind: 0})
        with self.estate.lock:
            self.estate.operations.plan_failure(kind, ArmError(status, code, message), count)

    def resolve(self, name: str) -> ResolveAnswer:
        """The endpoint a DNS query for a profile (fqdn, relative name or resource id) gets now."""
        with self.estate.lock:
            self.estate.tick()
            profile = self.traffic_manager.profile_by_name(name)
            if profile is None:
                raise KeyError(f"no Traffic Manager profile {name!r}")
            return self.traffic_manager.resolve(profile)

    def replication_lag(self, database_id: str) -> float | None:
        """Seconds the geo-secondary trails the primary (None when the database has no link). Azure has
        no ARM field for it (sys.dm_geo_replication_link_status.replication_lag_sec holds it)."""
        with self.estate.lock:
            return self.sql.replication_lag(database_id)

    def set_replication_lag(self, database_id: str, seconds: float) -> None:
        with self.estate.lock:
            if self.sql.set_replication_lag(database_id, seconds) == 0:
                raise KeyError(f"database {database_id!r} has no replication link")


def _check_kinds(durations: Mapping[str, Any]) -> None:
    unknown = sorted(set(durations) - set(OPERATION_KINDS))
    if unknown:
        raise ValueError(f"unknown operation kind(s) {unknown}; known: {', '.join(OPERATION_KINDS)}")
