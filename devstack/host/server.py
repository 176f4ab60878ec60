"""The local Functions host: HTTP functions, the Durable HTTP API, admin routes and timer triggers on
top of the durable engine, all on one asyncio event loop.

`HostRuntime` is the host inside a running loop (the CLI uses it directly); `HostServer`/`run_host` start
it on a background thread for in-process end-to-end tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from .api import DurableEngine, LoopThread
from .clock import Clock
from .cron import parse_schedule
from .durable_api import RPC_PATH, WEBHOOK_PATH, DurableHttpApi, client_binding_json
from .engine import EngineCore
from .indexer import AuthLevel, FunctionInfo, IndexedApp, TriggerKind, load_app, resolve_setting_reference
from .invoker import InvocationFailed, Invoker, web_response
from .keys import key_matches, presented_key, resolve_function_key
from .sdk_compat import close_session_for_this_loop, install_session_per_loop
from .worker_process import AppInstances, remote

log = logging.getLogger("devstack.host")

# Kinds the admin API does not run, and where they are started instead.
_STARTED_ELSEWHERE = {
    TriggerKind.HTTP: "HTTP functions are invoked at their route.",
    TriggerKind.ORCHESTRATION: "Durable functions are started through the Durable HTTP API.",
    TriggerKind.ACTIVITY: "Durable functions are started through the Durable HTTP API.",
    TriggerKind.ENTITY: "Durable functions are started through the Durable HTTP API.",
}


class HostRuntime:
    """The host inside an event loop: engine, HTTP server, timer triggers."""

    def __init__(
        self,
        app: IndexedApp,
        *,
        host: str = "127.0.0.1",
        port: int = 7071,
        state_dir: str | Path | None = None,
        clock: Clock | None = None,
        function_key: str | None = None,
        timers: bool = False,
        activity_overrides: Mapping[str, Callable[..., Any]] | None = None,
        max_concurrent_activities: int | None = None,
        verify_replay: bool = False,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.function_key, self.key_generated = resolve_function_key(function_key)
        self.task_hub = app.settings.hub_name
        self.timers_enabled = timers
        self.core = EngineCore(
            app,
            state_dir=str(state_dir) if state_dir is not None else None,
            clock=clock,
            activity_overrides=activity_overrides,
            max_concurrent_activities=max_concurrent_activities,
            verify_replay=verify_replay,
        )
        self._durable = DurableHttpApi(self.core, task_hub=self.task_hub, key=self.function_key)
        self.core.client_bindings = self._client_bindings  # activities may take a durable client too
        self._invoker = Invoker(app)
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[Any]] = set()
        # The admin API's GET routes, each answering JSON.
        self._admin_reads: dict[str, Callable[[], Any]] = {
            "/admin/host/status": self._host_status,
            "/admin/functions": self._function_list,
        }

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def local_url(self) -> str:
        """How functions in this process reach the host (a wildcard listen address is not a destination)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        install_session_per_loop()
        await self.core.start()
        web_app = web.Application(client_max_size=64 * 1024 * 1024)
        web_app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            await self.core.stop()
            raise
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        if self.timers_enabled:
            for info in self.app.of_kind(TriggerKind.TIMER).values():
                self._spawn(self._timer_loop(info), f"timer {info.name}")

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.core.stop()
        await close_session_for_this_loop()

    def describe_functions(self) -> str:
        lines = ["Functions:", ""]
        prefix = f"/{self.app.settings.route_prefix}" if self.app.settings.route_prefix else ""
        for info in sorted(self.app.functions.values(), key=lambda f: (f.kind is not TriggerKind.HTTP, f.name)):
            if info.kind is TriggerKind.HTTP and info.route is not None:
                methods = ",".join(sorted(info.methods)) if info.methods else "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS"
                lines.append(f"        {info.name}: [{methods}] {self.url}{prefix}/{info.route.template.strip('/')}")
            else:
                lines.append(f"        {info.name}: {info.trigger.type}")
        return "\n".join(lines)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- dispatch -----------------------------------------------------------------------------------------

    def _authorized(self, request: web.Request, level: AuthLevel) -> bool:
        if level is AuthLevel.ANONYMOUS:
            return True
        return key_matches(presented_key(request.headers, request.query), self.function_key)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.raw_path
        for mount, serve in ((WEBHOOK_PATH, self._durable_webhook), (RPC_PATH, self._durable_rpc)):
            if path == mount or path.startswith(mount + "/"):
                return await serve(request, path[len(mount) :])
        if path.startswith("/admin/"):
            return await self._admin(request, path)
        if path in ("", "/"):
            return web.Response(text="The devstack Functions host is running.")
        return await self._http_function(request, path)

    async def _durable_webhook(self, request: web.Request, subpath: str) -> web.Response:
        if not self._authorized(request, AuthLevel.FUNCTION):
            return web.Response(status=401)
        return await self._durable.handle(request, subpath)

    async def _durable_rpc(self, request: web.Request, subpath: str) -> web.Response:
        # The extension's RPC listener only listens on loopback; so does this mount, whatever --host is.
        if request.remote not in ("127.0.0.1", "::1"):
            return web.Response(status=404)
        return await self._durable.handle(request, subpath)

    async def _http_function(self, request: web.Request, path: str) -> web.Response:
        """The first HTTP function whose route and methods match, under the app's route prefix."""
        route_prefix = f"/{self.app.settings.route_prefix}" if self.app.settings.route_prefix else ""
        if route_prefix and not (path == route_prefix or path.startswith(route_prefix + "/")):
            return web.Response(status=404)
        sub_path = path[len(route_prefix) :] or "/"
        for info in self.app.http_functions:
            assert info.route is not None
            params = info.route.match(sub_path)
            if params is None:
                continue
            if info.methods is not None and request.method.upper() not in info.methods:
                continue
            if not self._authorized(request, info.auth_level):
                return web.Response(status=401)
            return await self._call_http_function(info, request, params)
        return web.Response(status=404)

    async def _call_http_function(
        self, info: FunctionInfo, request: web.Request, route_params: dict[str, str]
    ) -> web.Response:
        body = await request.read()
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            lowered = name.lower()
            headers[lowered] = f"{headers[lowered]}, {value}" if lowered in headers else value
        inputs: dict[str, Any] = {
            info.trigger.name: self._invoker.http(
                method=request.method,
                url=str(request.url),
                headers=headers,
                query=dict(request.query.items()),
                route_params=route_params,
                body=body,
            ),
            **self._client_bindings(info),
        }
        started = time.perf_counter()
        try:
            result = await self._invoker.invoke(info, inputs)
        except InvocationFailed as failure:
            log.error("Executed 'Functions.%s' (Failed): %s\n%s", info.name, failure.message, failure.stack_trace)
            return web.Response(status=500)
        log.info(
            "Executed 'Functions.%s' (Succeeded, Duration=%dms)", info.name, (time.perf_counter() - started) * 1000
        )
        http_out = next((b.name for b in info.bindings if b.type == "http" and b.direction.upper() == "OUT"), None)
        answer = result.return_value if http_out == "$return" else result.outputs.get(http_out or "")
        if answer is None:
            return web.Response(status=204)
        return web_response(answer)

    def _client_bindings(self, info: FunctionInfo) -> dict[str, Any]:
        """The durableClient binding's JSON, which the extension hands the worker as a string."""
        return {
            b.name: self._invoker.string(
                client_binding_json(self.local_url, b.task_hub or self.task_hub, self.function_key)
            )
            for b in info.durable_client_bindings
        }

    # -- admin --------------------------------------------------------------------------------------------

    async def _admin(self, request: web.Request, path: str) -> web.Response:
        if path == "/admin/host/ping":
            return web.Response(status=200)
        if not self._authorized(request, AuthLevel.ADMIN):
            return web.Response(status=401)
        if request.method == "GET" and path in self._admin_reads:
            return web.json_response(self._admin_reads[path]())
        if request.method == "POST" and path.startswith("/admin/functions/"):
            return self._run_function(path[len("/admin/functions/") :].strip("/"))
        return web.Response(status=404)

    def _host_status(self) -> dict[str, Any]:
        return {
            "state": "Running",
            "version": "devstack",
            "taskHub": self.task_hub,
            "functions": sorted(self.app.functions),
        }

    def _function_list(self) -> list[dict[str, str]]:
        return [{"name": f.name, "trigger": f.trigger.type} for f in self.app.functions.values()]

    def _run_function(self, name: str) -> web.Response:
        """POST /admin/functions/{name}: runs a timer function now; other kinds are started elsewhere."""
        info = self.app.find_function(name)
        if info is None:
            return web.Response(status=404)
        if info.kind is TriggerKind.TIMER:
            self._spawn(self._run_timer(info, past_due=False), f"admin run {info.name}")
            return web.Response(status=202)
        if (elsewhere := _STARTED_ELSEWHERE.get(info.kind)) is not None:
            return web.json_response(elsewhere, status=400)
        return web.json_response(
            f"Triggers of type {info.trigger.type} are not supported by the devstack host.", status=501
        )

    # -- timers -------------------------------------------------------------------------------------------

    async def _timer_loop(self, info: FunctionInfo) -> None:
        schedule = parse_schedule(resolve_setting_reference(info.trigger.schedule or ""))
        last = datetime.now(UTC)
        if info.trigger.run_on_startup:
            await self._run_timer(info, past_due=False)
        while True:
            now = datetime.now(UTC)
            due = schedule.next_after(max(now, last))
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            last = due
            await self._run_timer(
                info,
                past_due=(datetime.now(UTC) - due).total_seconds() > 1,
                next_due=schedule.next_after(due),
            )

    async def _run_timer(self, info: FunctionInfo, *, past_due: bool, next_due: datetime | None = None) -> None:
        now = datetime.now(UTC)
        # The TimerInfo the timer extension passes, serialized as the host does (JSON).
        timer_info = {
            "Schedule": {"AdjustForDST": True},
            "ScheduleStatus": {
                "Last": now.isoformat(),
                "Next": (next_due or now).isoformat(),
                "LastUpdated": now.isoformat(),
            },
            "IsPastDue": past_due,
        }
        inputs: dict[str, Any] = {
            info.trigger.name: self._invoker.json(json.dumps(timer_info)),
            **self._client_bindings(info),
        }
        try:
            await self._invoker.invoke(info, inputs)
            log.info("Executed 'Functions.%s' (Succeeded)", info.name)
        except InvocationFailed as failure:
            log.error("Executed 'Functions.%s' (Failed): %s\n%s", info.name, failure.message, failure.stack_trace)


class HostServer:
    """The full host on a background thread, for in-process end-to-end tests.

    Attributes once started: `url` (e.g. http://127.0.0.1:54321), `port`, `function_key`, `engine` (a
    `DurableEngine` on the same loop, for starting/inspecting orchestrations from the test).
    """

    def __init__(
        self,
        app: str | Path | IndexedApp,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        state_dir: str | Path | None = None,
        clock: Clock | None = None,
        function_key: str | None = None,
        timers: bool = False,
        settings_file: str | Path | None = None,
        activity_overrides: Mapping[str, Callable[..., Any]] | None = None,
        max_concurrent_activities: int | None = None,
        verify_replay: bool = False,
        worker_process: bool = False,
    ) -> None:
        indexed = load_app(app, settings_file=settings_file)
        # worker_process: invocations go to worker processes of their own (devstack.host.worker_process), as in
        # Azure: instances per scale group (DEVSTACK_SCALE_GROUPS, DEVSTACK_ALWAYS_READY),
        # FUNCTIONS_WORKER_PROCESS_COUNT processes each; started with the host, stopped with it.
        self._worker: AppInstances | None = None
        if worker_process:
            self._worker = AppInstances.from_settings(indexed.app_dir, indexed.loaded.functions).start()
            indexed = dataclasses.replace(indexed, loaded=remote(indexed.loaded, self._worker))
            # host.json maxConcurrentActivityFunctions is a limit per host instance (DurableTaskOptions
            # .MaxConcurrentActivityFunctions): the app's is that many times over. Enforced as one total; routing to
            # the least busy instance keeps each near its share.
            per_instance = max_concurrent_activities or indexed.settings.max_concurrent_activities
            max_concurrent_activities = per_instance * self._worker.activity_instances()
        self.runtime = HostRuntime(
            indexed,
            host=host,
            port=port,
            state_dir=state_dir,
            clock=clock,
            function_key=function_key,
            timers=timers,
            activity_overrides=activity_overrides,
            max_concurrent_activities=max_concurrent_activities,
            verify_replay=verify_replay,
        )
        self._loop_thread = LoopThread("devstack-host")
        self.engine = DurableEngine(self.runtime.core, self._loop_thread)

    @property
    def url(self) -> str:
        return self.runtime.url

    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def function_key(self) -> str:
        return self.runtime.function_key

    def start(self) -> HostServer:
        self._loop_thread.start()
        try:
            self._loop_thread.run(self.runtime.start(), timeout=30)
        except BaseException:
            self._loop_thread.stop()
            raise
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._loop_thread.run(self.runtime.stop(), timeout=30)
        self._loop_thread.stop()
        if self._worker is not None:
            self._worker.stop()

    def __enter__(self) -> HostServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def run_host(app: str | Path | IndexedApp, **options: Any) -> Iterator[HostServer]:
    """Start the full host in-process (port 0 by default) and stop it on exit. Options: see HostServer."""
    server = HostServer(app, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
