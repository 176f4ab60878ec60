"""The operator and alert triggers read every page of an instance query (issue 13, finding 4).

The trigger functions run as the Functions worker runs them (the blueprint's user function, with the
durableClient binding as the JSON string the extension hands in) against a local endpoint that answers the
Durable extension's instance query the way HttpApiHandler does: pages of ``top`` instances (100 by
default), the next page's token in the ``x-ms-continuation-token`` response header, to be sent back in a
request header of the same name; the Azure Storage backend marks the last page with ``bnVsbA==``. The
order of instances across pages is not part of the contract (backends differ): this endpoint lists the
newest first, so a run's own step sub-orchestrations push it off the first page.

No devstack host here: this endpoint also ends with the Azure Storage backend's marker, and it counts the
pages served.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import pytest
import yaml
from azure.durable_functions.models.utils import http_utils

from devstack.alert_samples import PRIMARY_RG, alert
from dr.clients import reset_for_tests
from dr.run import RECOVERY_ORCHESTRATOR, run_id_prefix
from tests.health_server import JsonHandler, serving
from triggers import alerts, operator
from triggers.instances import CONTINUATION_HEADER

END_OF_PAGES = base64.b64encode(b"null").decode()  # what the Azure Storage backend sends on the last page


@dataclass
class Instance:
    instance_id: str
    name: str
    status: str
    created: datetime

    def payload(self) -> dict[str, Any]:
        stamp = self.created.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "name": self.name,
            "instanceId": self.instance_id,
            "runtimeStatus": self.status,
            "input": {"mode": "drill"},
            "customStatus": {"phase": "running"},
            "output": None,
            "createdTime": stamp,
            "lastUpdatedTime": stamp,
        }


@dataclass
class DurableRpc:
    """The instance query and start endpoints of the extension's RPC listener, paging like the extension."""

    instances: list[Instance] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    pages_served: int = 0
    last_page_token: str | None = END_OF_PAGES
    port: int = 0

    @property
    def binding(self) -> str:
        origin = f"http://127.0.0.1:{self.port}"
        return json.dumps(
            {
                "taskHubName": "drorchestrator",
                "creationUrls": {},
                "managementUrls": {},
                "rpcBaseUrl": f"{origin}/durabletask/",
                "httpBaseUrl": origin,
            }
        )

    def query(self, params: dict[str, str], token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        statuses = set(params["runtimeStatus"].split(",")) if params.get("runtimeStatus") else None
        prefix = params.get("instanceIdPrefix", "")
        low = _time(params.get("createdTimeFrom"))
        high = _time(params.get("createdTimeTo"))
        found = [
            i
            for i in self.instances
            if i.instance_id.startswith(prefix)
            and (statuses is None or i.status in statuses)
            and (low is None or i.created >= low)
            and (high is None or i.created <= high)
        ]
        found.sort(key=lambda i: i.created, reverse=True)  # newest first: no order is promised
        top = int(params.get("top") or 100)
        start = int(base64.b64decode(token).decode()) if token else 0
        page = found[start : start + top]
        more = start + top < len(found)
        self.pages_served += 1
        next_token = base64.b64encode(str(start + top).encode()).decode() if more else self.last_page_token
        return [i.payload() for i in page], next_token


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


@pytest.fixture
def rpc() -> Iterator[DurableRpc]:
    state = DurableRpc()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/durabletask/instances/":
                self.send_json(404, None)
                return
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body, token = state.query(params, self.headers.get(CONTINUATION_HEADER))
            self.send_json(200, body, {CONTINUATION_HEADER: token} if token is not None else {})

        def do_POST(self) -> None:
            prefix = f"/durabletask/orchestrators/{RECOVERY_ORCHESTRATOR}/"
            if not self.path.startswith(prefix):
                self.send_json(404, None)
                return
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            instance_id = self.path[len(prefix) :]
            state.started.append(instance_id)
            self.send_json(202, {"id": instance_id})

    with serving(Handler) as port:
        state.port = port
        yield state


@pytest.fixture
def plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    plan = {
        "name": "shop",
        "trigger": {"alert_rules": ["shop-primary-down"], "target_resource_ids": [PRIMARY_RG]},
        "steps": [{"id": "probe", "kind": "health_check", "url": "https://shop-wus.example.com/health"}],
    }
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(plan))
    monkeypatch.setenv("DR_PLANS_DIR", str(tmp_path))
    reset_for_tests()
    yield tmp_path
    reset_for_tests()


def _call(function: Any, req: func.HttpRequest, rpc: DurableRpc) -> func.HttpResponse:
    user_function = function._function.get_user_function()  # the durableClient middleware + our code

    async def invoke() -> func.HttpResponse:
        try:
            response: func.HttpResponse = await user_function(req=req, client=rpc.binding)
            return response
        finally:
            # The SDK's own calls (get_status, start_new) use the aiohttp session the SDK keeps for this
            # event loop (one per process in the SDK; one per loop once a devstack host has run here):
            # close it with our loop, as a worker's exit would.
            session = await http_utils._get_session()
            await session.close()

    return asyncio.run(invoke())


def _running_failover_behind_its_steps(rpc: DurableRpc, steps: int = 150) -> str:
    now = datetime.now(UTC)
    run_id = f"{run_id_prefix('shop', 'failover')}op-20261201T000000-aaaaaa"
    rpc.instances.append(Instance(run_id, RECOVERY_ORCHESTRATOR, "Running", now - timedelta(minutes=10)))
    for i in range(steps):  # work fan-out of the run: sub-orchestrations under the run's id, newer than it
        rpc.instances.append(Instance(f"{run_id}:blobs:{i:04d}", "step", "Running", now - timedelta(seconds=i)))
    return run_id


@pytest.mark.parametrize("last_token", [END_OF_PAGES, None], ids=["azure-storage-end", "no-header-end"])
def test_operator_refuses_a_second_failover_whose_first_is_past_page_one(
    rpc: DurableRpc, plans: Path, last_token: str | None
) -> None:
    rpc.last_page_token = last_token
    running = _running_failover_behind_its_steps(rpc)
    req = func.HttpRequest(
        method="POST",
        url="https://dr.example.net/api/recoveries",
        body=json.dumps({"plan": "shop", "mode": "failover", "reason": "second try"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    response = _call(operator.start_recovery, req, rpc)
    assert response.status_code == 409, response.get_body()
    assert running in response.get_body().decode()
    assert rpc.started == []  # nothing started
    assert rpc.pages_served == 2  # 151 instances at 100 a page, and the end of the pages was seen


def test_alert_for_a_plan_whose_failover_is_past_page_one_is_ignored(rpc: DurableRpc, plans: Path) -> None:
    running = _running_failover_behind_its_steps(rpc)
    req = func.HttpRequest(
        method="POST",
        url="https://dr.example.net/api/alerts",
        body=json.dumps(alert()).encode(),
        headers={"Content-Type": "application/json"},
    )
    response = _call(alerts.alerts, req, rpc)
    body = json.loads(response.get_body())
    assert response.status_code == 200, body
    assert "failover already in progress" in body["ignored"] and body["id"] == running
    assert rpc.started == []


def test_run_list_holds_every_run_not_the_first_page(rpc: DurableRpc, plans: Path) -> None:
    now = datetime.now(UTC)
    for i in range(130):
        run_id = f"{run_id_prefix('shop', 'drill')}op-{i:04d}"
        rpc.instances.append(Instance(run_id, RECOVERY_ORCHESTRATOR, "Completed", now - timedelta(hours=1, minutes=i)))
        rpc.instances.append(Instance(f"{run_id}:probe", "step", "Completed", now - timedelta(minutes=i)))
    req = func.HttpRequest(method="GET", url="https://dr.example.net/api/recoveries", body=b"", params={"limit": "500"})
    response = _call(operator.list_recoveries, req, rpc)
    body = json.loads(response.get_body())
    assert response.status_code == 200, body
    assert body["count"] == 130
    assert rpc.pages_served == 3  # 260 instances, 100 a page
    ids = [run["id"] for run in body["runs"]]
    assert ids[0].endswith("op-0000") and ids[-1].endswith("op-0129")  # newest first, all of them
