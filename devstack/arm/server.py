"""The emulator: an HTTPS aiohttp server on a background thread that composes the data plane (the estate,
the ARM providers and their routes) and the control plane (`control/`, mounted under /_emulator/), with the
ARM front door in between (auth, api-version, faults, subscription and resource-group checks, routing, the
request log). `ArmEmulator` also offers the control plane's methods in-process (`arm.reset()` is
`arm.control.reset()`).

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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import MethodType, TracebackType
from typing import Concatenate, Self, cast, overload

import trustme
from aiohttp import web

from . import errors
from .auth import check_authorization
from .authorization.models import AuthorizationBackend
from .authorization.responses import AuthorizationResponses
from .authorization.urls import register as register_authorization
from .cdn.models import CdnBackend
from .cdn.responses import CdnResponses
from .cdn.urls import register as register_cdn
from .control import ControlBackend, ControlResponses, Fault, RequestRecord
from .control import routes as control_routes
from .cosmosdb.models import CosmosDbBackend
from .cosmosdb.responses import CosmosDbResponses
from .cosmosdb.urls import register as register_cosmosdb
from .dns.models import DnsBackend
from .dns.responses import DnsResponses
from .dns.urls import register as register_dns
from .errors import ArmError
from .estate import Clock, EmulatorSettings, Estate
from .postgresql.models import PostgreSqlBackend
from .postgresql.responses import PostgreSqlResponses
from .postgresql.urls import register as register_postgresql
from .resourcegroups import RESOURCE_GROUPS, ResourceGroupResponses
from .resourcegroups import register as register_resource_groups
from .routing import ArmRequest, ArmResponse, Router
from .sql.models import SqlBackend
from .sql.responses import SqlResponses
from .sql.urls import register as register_sql
from .storage.models import StorageBackend
from .storage.responses import StorageResponses
from .storage.urls import register as register_storage
from .trafficmanager.models import TrafficManagerBackend
from .trafficmanager.responses import TrafficManagerResponses
from .trafficmanager.urls import register as register_traffic_manager
from .web.models import WebBackend
from .web.responses import WebResponses
from .web.urls import register as register_web

logger = logging.getLogger(__name__)


class _ControlMethod[**P, R]:
    """A `ControlBackend` method offered on `ArmEmulator`: `arm.reset()` calls `arm.control.reset()`, with
    the same signature and docstring, so the in-process control API is the control plane's, not a copy."""

    def __init__(self, method: Callable[Concatenate[ControlBackend, P], R]) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, emulator: None, owner: type[ArmEmulator]) -> Self: ...
    @overload
    def __get__(self, emulator: ArmEmulator, owner: type[ArmEmulator] | None = None) -> Callable[P, R]: ...
    def __get__(self, emulator: ArmEmulator | None, owner: type[ArmEmulator] | None = None) -> Self | Callable[P, R]:
        if emulator is None:
            return self
        return cast("Callable[P, R]", MethodType(self._method, emulator.control))


class ArmEmulator:
    """The server. Data plane: `estate`, `sql`, `traffic_manager`, `authorization` (the providers' backends),
    `router`.
    Control plane: `control`, a `ControlBackend` over them, whose methods are also the emulator's."""

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
        self.authorization = AuthorizationBackend(self.estate, self.sql, self.traffic_manager)
        self.estate.providers = [self.sql, self.traffic_manager, self.authorization]
        self.cosmosdb = CosmosDbBackend(self.estate)
        self.postgresql = PostgreSqlBackend(self.estate)
        self.estate.providers += [self.cosmosdb, self.postgresql]
        self.storage = StorageBackend(self.estate)
        self.web = WebBackend(self.estate)
        self.estate.providers += [self.storage, self.web]
        self.cdn = CdnBackend(self.estate)
        self.dns = DnsBackend(self.estate)
        self.estate.providers += [self.cdn, self.dns]
        self.router = Router()
        # First: its paths end in /providers/Microsoft.Authorization/permissions, below any other provider's.
        register_authorization(self.router, AuthorizationResponses(self.authorization))
        register_resource_groups(self.router, ResourceGroupResponses(self.estate))
        register_sql(self.router, SqlResponses(self.estate, self.sql))
        register_traffic_manager(self.router, TrafficManagerResponses(self.estate, self.traffic_manager))
        register_cosmosdb(self.router, CosmosDbResponses(self.estate, self.cosmosdb))
        register_postgresql(self.router, PostgreSqlResponses(self.estate, self.postgresql))
        register_storage(self.router, StorageResponses(self.estate, self.storage))
        register_web(self.router, WebResponses(self.estate, self.web))
        register_cdn(self.router, CdnResponses(self.estate, self.cdn))
        register_dns(self.router, DnsResponses(self.estate, self.dns))
        self.control = ControlBackend(self.estate, self.sql, self.traffic_manager, self.authorization)
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
        app.add_routes(control_routes(ControlResponses(self.control, lambda: self.url)))
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
            fault = self.control.fault_registry.take(request.method, request.path)
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
                    headers={name.lower(): value for name, value in request.headers.items()},
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
        self.control.request_log.append(record)

    # -- control API: the control plane's methods, in-process ----------------------------------------
    reset = _ControlMethod(ControlBackend.reset)
    seed = _ControlMethod(ControlBackend.seed)
    settings = _ControlMethod(ControlBackend.settings)
    configure = _ControlMethod(ControlBackend.configure)
    set_operation_duration = _ControlMethod(ControlBackend.set_operation_duration)
    inject_fault = _ControlMethod(ControlBackend.inject_fault)
    faults = _ControlMethod(ControlBackend.faults)
    clear_faults = _ControlMethod(ControlBackend.clear_faults)
    requests = _ControlMethod(ControlBackend.requests)
    clear_requests = _ControlMethod(ControlBackend.clear_requests)
    region_outage = _ControlMethod(ControlBackend.region_outage)
    region_restore = _ControlMethod(ControlBackend.region_restore)
    regions_down = _ControlMethod(ControlBackend.regions_down)
    set_target_health = _ControlMethod(ControlBackend.set_target_health)
    operations = _ControlMethod(ControlBackend.operations)
    finish_operations = _ControlMethod(ControlBackend.finish_operations)
    fail_next_operation = _ControlMethod(ControlBackend.fail_next_operation)
    resolve = _ControlMethod(ControlBackend.resolve)
    replication_lag = _ControlMethod(ControlBackend.replication_lag)
    set_replication_lag = _ControlMethod(ControlBackend.set_replication_lag)
    set_permissions = _ControlMethod(ControlBackend.set_permissions)
    granted_permissions = _ControlMethod(ControlBackend.granted_permissions)
    clear_permissions = _ControlMethod(ControlBackend.clear_permissions)
