"""The demo application's regional deployments and its public name, served on 127.0.0.1.

`/<region>/health` answers 200 while the region is up and 503 when it is down; `/<profile>/health` stands in
for the public host name behind Traffic Manager: it asks the ARM emulator which endpoint DNS would answer
with now (its `resolve` control call) and answers as that endpoint's region would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .loopback import LoopbackJsonServer


class RegionApps:
    def __init__(
        self, resolve: Callable[[str], Any], endpoint_regions: dict[str, str], public_names: dict[str, str]
    ) -> None:
        self._resolve = resolve
        self.endpoint_regions = dict(endpoint_regions)
        self.public_names = dict(public_names)  # URL name -> Traffic Manager profile id
        self.regions_down: set[str] = set()
        self._server = LoopbackJsonServer(
            lambda _method, path, _headers: self.answer(path), name="the application server", thread_name="region-apps"
        )

    @property
    def url(self) -> str:
        return self._server.url

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
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
