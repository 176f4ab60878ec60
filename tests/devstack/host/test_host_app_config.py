"""Indexing an app directory: host.json (route prefix, task hub from an app setting, function timeout)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import requests

from devstack.host import RuntimeStatus, load_app, run_host

from .helpers import poll_status

APP = textwrap.dedent("""
    import asyncio

    import azure.durable_functions as df
    import azure.functions as func

    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


    @app.route(route="start/{name}", methods=["POST"])
    @app.durable_client_input(client_name="client")
    async def start(req: func.HttpRequest, client) -> func.HttpResponse:
        instance_id = await client.start_new(req.route_params["name"])
        return client.create_check_status_response(req, instance_id)


    @app.orchestration_trigger(context_name="context")
    def slow_work(context):
        try:
            yield context.call_activity("takes_too_long", 5)
        except Exception as error:
            return str(error)
        return "finished"


    @app.activity_trigger(input_name="seconds")
    async def takes_too_long(seconds: int) -> str:
        await asyncio.sleep(seconds)
        return "done"
""")


def test_host_json_sets_route_prefix_task_hub_and_function_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir = tmp_path / "timeout_app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(APP)
    (app_dir / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "functionTimeout": "00:00:01",
                "extensions": {"http": {"routePrefix": ""}, "durableTask": {"hubName": "%SAMPLE_HUB_NAME%"}},
            }
        )
    )
    monkeypatch.setenv("SAMPLE_HUB_NAME", "ConfiguredHub")

    with run_host(load_app(app_dir)) as host:
        started = requests.post(f"{host.url}/start/slow_work", timeout=5)
        final = poll_status(started.json()["statusQueryGetUri"], timeout=10)

    assert started.status_code == 202
    assert "taskHub=ConfiguredHub" in started.json()["statusQueryGetUri"]
    assert final.json()["runtimeStatus"] == RuntimeStatus.COMPLETED.value
    assert final.json()["output"].startswith(
        "Activity function 'takes_too_long' failed: Timeout value of 00:00:01 was exceeded by function: "
        "Functions.takes_too_long"
    )
