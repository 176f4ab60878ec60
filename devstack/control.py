"""The running stack's own control surface: what `LocalStack.region_outage` / `region_restore` do in-process,
over HTTP, for a tool in another process (`drctl devstack outage|restore REGION` against `make serve`).

The ARM emulator has a control API of its own, but a regional outage also takes down the application server's
region and cuts the region's storage accounts at the fault proxy, and those live only in the stack's process:
hence this small server next to them (moto keeps its control plane as a service of its own too).

    GET  /regions                     -> {"regions": {"eastus": {"down": false}, ...}}
    POST /regions/{region}/outage     -> the same, after the outage
    POST /regions/{region}/restore    -> the same, after the restore

Loopback only. Every request carries ``x-devstack-token`` with the token the stack wrote to `stack.json`: any
local process could reach the port, only the one that can read the developer's stack file may use it.
"""

from __future__ import annotations

import hmac
import re
import threading
from typing import Any, Protocol

from .loopback import LoopbackJsonServer

TOKEN_HEADER = "x-devstack-token"
_ROUTE = re.compile(r"^/regions/(?P<region>[A-Za-z0-9 %-]{1,60})/(?P<action>outage|restore)$")


class ControlledStack(Protocol):
    def region_outage(self, region: str) -> None: ...

    def region_restore(self, region: str) -> None: ...

    def regions(self) -> dict[str, bool]:
        """Every region the stack knows, and whether it is down."""
        ...


class StackControl:
    def __init__(self, stack: ControlledStack, token: str) -> None:
        self._stack = stack
        self.token = token
        self._lock = threading.Lock()  # one outage or restore at a time: each touches three servers
        self._server = LoopbackJsonServer(
            lambda method, path, headers: self.answer(method, path, headers.get(TOKEN_HEADER)),
            name="the control server",
            thread_name="stack-control",
            methods=("GET", "POST"),
        )

    @property
    def url(self) -> str:
        return self._server.url

    def answer(self, method: str, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
        if token is None or not hmac.compare_digest(token, self.token):
            return 401, {"error": f"missing or wrong {TOKEN_HEADER} (it is in the stack's stack.json)"}
        path = path.split("?", maxsplit=1)[0].rstrip("/")
        if path == "/regions" and method == "GET":
            return 200, self._status()
        route = _ROUTE.match(path)
        if route is None or method != "POST":
            return 404, {"error": "try GET /regions, POST /regions/{region}/outage or /restore"}
        region = route["region"].replace("%20", "").replace(" ", "").lower()
        known = self._stack.regions()
        if region not in known:
            return 404, {"error": f"no region {region!r} in this stack (regions: {', '.join(sorted(known))})"}
        with self._lock:
            if route["action"] == "outage":
                self._stack.region_outage(region)
            else:
                self._stack.region_restore(region)
        return 200, {"region": region, "action": route["action"], **self._status()}

    def _status(self) -> dict[str, Any]:
        return {"regions": {region: {"down": down} for region, down in sorted(self._stack.regions().items())}}

    def start(self) -> StackControl:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
