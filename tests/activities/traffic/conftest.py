"""traffic_manager_failover against the devstack ARM emulator, through the azure-mgmt-trafficmanager
client the app builds (dr.clients), with health URLs served by a real local HTTP server.

One emulator and one health server serve the whole package; every test gets the emulator reset and its
clock set to NOW (the step's ctx.now follows the same clock, so "CheckingEndpoint for 60 s" and the
verify window line up), and every health URL answering 200 again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.clients import reset_for_tests
from dr.plan import TrafficManagerFailoverStep
from dr.steps.base import StepContext

SUB = "00000000-0000-0000-0000-0000000000b7"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GROUP = "shop-global"
PROFILES = f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Network/trafficManagerProfiles"
PROFILE_ID = f"{PROFILES}/shop"
DRILL_PROFILE_ID = f"{PROFILES}/shop-drill"


class Clock:
    """The emulator's time: frozen unless a test moves it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class HealthServer:
    """A local stand-in for the regions' health endpoints: every path answers 200 unless flipped."""

    base: str = ""
    statuses: dict[str, int] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def fail(self, path: str, status: int = 503) -> None:
        self.statuses[path] = status


def _handler(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            server.hits.append(path)
            status = server.statuses.get(path, 200)
            body = b"ok" if status == 200 else b"unavailable"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="package")
def health_server() -> Iterator[HealthServer]:
    server = HealthServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="health-server", daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def health(health_server: HealthServer) -> HealthServer:
    health_server.statuses.clear()
    health_server.hits.clear()
    return health_server


@pytest.fixture(scope="package")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="package")
def emulator(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[ArmEmulator]:
    with ArmEmulator(state_dir=Path(tmp_path_factory.mktemp("arm")), clock=clock) as arm:
        yield arm


@pytest.fixture
def arm(emulator: ArmEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmEmulator]:
    emulator.reset()
    clock.now = NOW
    monkeypatch.setenv("DR_ARM_ENDPOINT", emulator.url)
    monkeypatch.setenv("DR_ARM_CA_BUNDLE", str(emulator.ca_path))
    monkeypatch.setenv("DR_ARM_TOKEN", "devstack-arm-token")
    reset_for_tests()
    yield emulator
    reset_for_tests()


def endpoint(name: str, location: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "ExternalEndpoints",
        "target": f"{name}.example.com",
        "location": location,
    } | fields


def seed_profile(
    arm: ArmEmulator,
    *endpoints: dict[str, Any],
    name: str = "shop",
    routing_method: str = "Priority",
    monitor: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    ttl: int = 30,
) -> None:
    """A profile in shop-global (monitor: HTTP on the health server's port, interval 10 s, 2 tolerated
    failures, TTL 30 s unless given: expected DNS convergence (2 + 1) * 10 + 30 = 60 s)."""
    arm.seed(
        {
            "subscription_id": SUB,
            "resource_groups": [{"name": GROUP, "location": "eastus"}],
            "traffic_manager": {
                "profiles": [
                    {
                        "name": name,
                        "resource_group": GROUP,
                        "routing_method": routing_method,
                        "ttl": ttl,
                        "tags": tags or {},
                        "monitor": monitor
                        or {
                            "protocol": "HTTP",
                            "port": 80,
                            "path": "/health",
                            "interval_in_seconds": 10,
                            "tolerated_number_of_failures": 2,
                        },
                        "endpoints": list(endpoints),
                    }
                ]
            },
        }
    )


def shop_priority(arm: ArmEmulator, *, name: str = "shop", wus_status: str = "Enabled") -> None:
    seed_profile(
        arm,
        endpoint("shop-eus", "eastus", priority=1),
        endpoint("shop-wus", "westus", priority=2, status=wus_status),
        name=name,
    )


def step(health: HealthServer, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "traffic",
        "kind": "traffic_manager_failover",
        "profile_id": PROFILE_ID,
        "from_endpoints": ["shop-eus"],
        "to_endpoints": ["shop-wus"],
        "health_url": health.url("/wus/health"),
        "verify_window": "PT5M",
        "probe_timeout": "PT2S",
    }
    values.update(fields)
    return TrafficManagerFailoverStep.model_validate(values).model_dump(mode="json")


def context(
    step_fields: dict[str, Any],
    *,
    mode: str = "failover",
    run_id: str = "shop--failover--run1",
    now: datetime | None = None,
    force: bool = False,
    plan_name: str = "shop-eastus-to-westus",
) -> StepContext:
    return StepContext(
        run_id=run_id,
        plan_name=plan_name,
        mode=mode,  # type: ignore[arg-type]
        step=step_fields,
        started_at=NOW,
        now=now or NOW,
        force=force,
    )
