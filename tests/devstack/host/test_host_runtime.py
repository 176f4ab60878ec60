"""The host loads and invokes functions through Microsoft's Python runtime (azure-functions-runtime), so
what the runtime refuses in Azure is refused here, with the runtime's own words, and what it hands a
function (bindings, context) is what Azure hands it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from devstack.host import load_app, run_host
from devstack.host.worker import WorkerLoadError

ROOT = Path(__file__).resolve().parents[3]

REFUSED_APP = textwrap.dedent("""
    from typing import Any

    import azure.durable_functions as df

    app = df.DFApp()


    @app.activity_trigger(input_name="payload")
    def fine(payload: dict) -> dict:
        return payload


    @app.activity_trigger(input_name="payload")
    def refused(payload: dict[str, Any]) -> dict:
        return payload
""")

RUNTIME_MESSAGE = (
    "cannot load the refused function: binding payload has invalid non-type annotation dict[str, typing.Any]"
)

HTTP_APP = textwrap.dedent("""
    import json

    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


    @app.route(route="echo/{name}", methods=["POST"])
    def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        body = {
            "name": req.route_params["name"],
            "query": req.params.get("q"),
            "header": req.headers.get("x-sample"),
            "json": req.get_json(),
            "function_name": context.function_name,
            "invocation_id": context.invocation_id,
        }
        response = func.HttpResponse(json.dumps(body), status_code=201, mimetype="application/json")
        response.headers["x-answer"] = "42"
        return response


    @app.route(route="nothing", methods=["GET"])
    def nothing(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("no luck")
""")


def write_app(parent: Path, name: str, source: str) -> Path:
    app_dir = parent / name
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(source, encoding="utf-8")
    return app_dir


def test_an_annotation_the_runtime_refuses_fails_the_whole_app_with_the_runtimes_message(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path, "refused_app", REFUSED_APP)

    with pytest.raises(WorkerLoadError) as refused:
        load_app(app_dir)

    assert RUNTIME_MESSAGE in str(refused.value)


def test_the_host_command_refuses_to_start_on_such_an_app(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path, "refused_cli_app", REFUSED_APP)

    started = subprocess.run(
        [sys.executable, "-m", "devstack.host", "--app-dir", str(app_dir), "--port", "0", "--in-memory"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    assert started.returncode != 0
    assert RUNTIME_MESSAGE in started.stderr


def test_http_functions_get_the_runtimes_request_and_context_and_answer_through_it(tmp_path: Path) -> None:
    app = load_app(write_app(tmp_path, "http_app", HTTP_APP))

    with run_host(app) as host:
        answer = requests.post(
            f"{host.url}/api/echo/alice?q=1", json={"k": [1, 2]}, headers={"x-sample": "yes"}, timeout=10
        )
        failed = requests.get(f"{host.url}/api/nothing", timeout=10)

    assert answer.status_code == 201
    assert answer.headers["x-answer"] == "42"
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert {k: body[k] for k in ("name", "query", "header", "json", "function_name")} == {
        "name": "alice",
        "query": "1",
        "header": "yes",
        "json": {"k": [1, 2]},
        "function_name": "echo",
    }
    assert len(body["invocation_id"]) == 36  # the InvocationRequest's id, which the runtime hands the context
    assert failed.status_code == 500
