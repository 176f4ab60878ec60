"""The demo application's regional deployments and its public name, served on 127.0.0.1.

`/<region>/health` answers 200 while the region is up and 503 when it is down; `/<profile>/health` stands in
for the public host name behind Traffic Manager: it asks the ARM emulator which endpoint DNS would answer
with now (its `resolve` control call) and answers as that endpoint's region would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RegionApps:
    def __init__(
        self, resolve: Callable[[str], Any], endpoint_regions: dict[str, str], public_names: dict[str, str]
    ) -> None:
        self._resolve = resolve
        self.endpoint_regions = dict(endpoint_regions)
        self.public_names = dict(public_names)  # URL name -> Traffic Manager profile id
        self.regions_down: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the application server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        parts = [part for part in path.split("?", maxsplit=1)[0].split("/") if part]
        if len(parts) != 2 or parts[1] != "health":
            return 404, {"error": "try /<region>/health or /<profile>/health"}
        name = parts[0]
        if name in self.endpoint_regions.values():
            return self._region_health(name, via=None)
        if name not in self.public_names:
            return 404, {"error": f"no region or public name {name!r}"}
        answer = self._resolve(self.public_names[name])
        if answer.endpoint is None:
            return 503, {"error": f"{answer.fqdn}: no endpoint answers (NXDOMAIN)"}
        region = self.endpoint_regions.get(answer.endpoint, "unknown")
        return self._region_health(region, via=answer.endpoint)

    def _region_health(self, region: str, via: str | None) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"region": region, **({"endpoint": via} if via else {})}
        if region in self.regions_down:
            return 503, {**body, "status": "down"}
        return 200, {**body, "status": "healthy"}

    def start(self) -> RegionApps:
        apps = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = apps.answer(self.path)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="region-apps", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
