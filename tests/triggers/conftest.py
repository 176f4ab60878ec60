"""Trigger tests: the real app in the devstack host, driven over real HTTP, with a real Azurite for
reports and a real local health endpoint for the plan's steps."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from devstack.alert_samples import PRIMARY_RG
from devstack.azurite import Azurite
from devstack.host import HostServer, run_host
from dr.clients import reset_for_tests
from tests.health_server import HealthServer, health_server

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    host: HostServer
    plans_dir: Path
    health: HealthServer

    @property
    def url(self) -> str:
        return self.host.url

    def call(self, method: str, path: str, *, key: bool = True, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key:
            headers["x-functions-key"] = self.host.function_key
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def post_alert(self, document: Any) -> requests.Response:
        raw = document if isinstance(document, bytes) else json.dumps(document).encode()
        return self.call("POST", "/api/alerts", data=raw, headers={"Content-Type": "application/json"})

    def instances(self) -> list[Any]:
        return self.host.engine.list_instances()


def write_plans(folder: Path, health_url: str) -> None:
    gated = {
        "name": "shop",
        "description": "gated test plan",
        "trigger": {"alert_rules": ["shop-primary-down"], "target_resource_ids": [PRIMARY_RG]},
        "approval": {"required": True, "timeout": "PT1H", "on_timeout": "abort"},
        "steps": [
            {"id": "probe", "kind": "health_check", "url": health_url},
            {"id": "verify", "kind": "health_check", "url": health_url, "after": ["probe"]},
        ],
    }
    quick = {
        "name": "quick",
        "trigger": {"alert_rules": ["quick-rule"], "severities": ["Sev0"]},
        "steps": [{"id": "probe", "kind": "health_check", "url": health_url}],
    }
    race = {  # gated, so a failover holds the plan until the test cancels it
        "name": "race",
        "trigger": {"alert_rules": ["race-rule"]},
        "approval": {"required": True, "timeout": "PT1H", "on_timeout": "abort"},
        "steps": [{"id": "probe", "kind": "health_check", "url": health_url}],
    }
    (folder / "race.yaml").write_text(yaml.safe_dump(race))
    (folder / "shop.yaml").write_text(yaml.safe_dump(gated))
    (folder / "quick.yaml").write_text(yaml.safe_dump(quick))


def reports_settings(azurite: Azurite, plans_dir: Path) -> dict[str, str]:
    """The app's settings for a host whose plans are in `plans_dir` and whose reports go to Azurite's `secondary`
    account, its steps polled every 0.2 s."""
    return {
        "DR_PLANS_DIR": str(plans_dir),
        "DR_REPORTS_ACCOUNT_URL": azurite.url_for("secondary"),
        "DR_STORAGE_CONNECTION_STRINGS": json.dumps({"secondary": azurite.connection_string("secondary")}),
        "DR_STEP_POLL_MIN_SECONDS": "0.2",
    }


@contextmanager
def app_settings(env: Mapping[str, str]) -> Iterator[None]:
    """The app's settings (environment variables) while a module's host runs, restored afterwards, with the app's
    cached settings and clients dropped both times: module-scoped fixtures cannot use `monkeypatch`."""
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            reset_for_tests()
            yield
    finally:
        reset_for_tests()


@contextmanager
def app_host(
    azurite: Azurite, plans_dir: Path, env: Mapping[str, str] | None = None, **host: Any
) -> Iterator[HostServer]:
    """The real app in the devstack host (this process) with `reports_settings` and `env`; `host` goes to run_host
    (activity_overrides=...)."""
    with app_settings({**reports_settings(azurite, plans_dir), **(env or {})}), run_host(ROOT, **host) as server:
        yield server


@pytest.fixture(scope="module")
def stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    plans_dir = tmp_path_factory.mktemp("plans")
    with health_server() as health:
        write_plans(plans_dir, health.url())
        with app_host(azurite, plans_dir) as host:
            yield Stack(host, plans_dir, health)


@pytest.fixture
def roles_enforced() -> Iterator[None]:
    with app_settings({"DR_ENFORCE_ROLES": "true"}):
        yield
