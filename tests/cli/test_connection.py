"""How drctl connects, without a stack: an address nobody answers, an Entra token, and never a secret shown."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from drctl.main import app
from tests.health_server import JsonHandler, serving
from tests.identity_endpoint import identity_endpoint


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_url_is_exit_7_on_one_line() -> None:
    port = _closed_port()
    for args in (("runs",), ("plans", "list"), ("run", "watch", "shop--drill--op-20260101T000000-abcdef")):
        result = CliRunner().invoke(app, ["--url", f"http://127.0.0.1:{port}", "--key", "s3cret-key", *args])
        assert result.exit_code == 7, result.output
        assert (
            result.stderr
            == f"drctl: cannot reach http://127.0.0.1:{port}: Connection refused; check --url (DRCTL_URL)\n"
        )
        assert "s3cret-key" not in result.output and result.stdout == ""


def test_a_missing_stack_file_says_how_to_start_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--stack", str(tmp_path / "stack.json"), "runs"])
    assert result.exit_code == 7
    assert result.stderr.strip() == (
        f"drctl: no local stack: {tmp_path / 'stack.json'} does not exist (start one with `make serve`, or give "
        "--url and --key)"
    )
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{}")
    result = CliRunner().invoke(app, ["--stack", str(garbage), "runs"])
    assert result.exit_code == 2 and "is not a devstack stack.json (host_url: Field required)" in result.stderr


def test_a_url_needs_a_key_or_a_token() -> None:
    result = CliRunner().invoke(app, ["--url", "https://dr.example.net", "runs"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "drctl: --url needs --key (or DRCTL_KEY), or --entra with --audience"
    result = CliRunner().invoke(app, ["--url", "https://dr.example.net", "--entra", "runs"])
    assert result.exit_code == 2 and "--entra needs --audience" in result.stderr


class _RecordingApi(JsonHandler):
    """An app that answers GET /api/plans and keeps the headers each request came with."""

    seen: ClassVar[list[dict[str, str]]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            self.seen.append(dict(self.headers.items()))
        self.send_json(200, {"plans": [], "count": 0})


def test_entra_sends_a_bearer_token_from_default_azure_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    """--entra: DefaultAzureCredential (here through the App Service managed-identity protocol) for
    api://<app id>/.default, sent as Bearer next to the function key; neither is printed."""
    with identity_endpoint() as endpoint, serving(_RecordingApi) as port:
        endpoint.environ(monkeypatch)
        result = CliRunner().invoke(
            app,
            [
                "--url",
                f"http://127.0.0.1:{port}",
                "--key",
                "s3cret-key",
                "--entra",
                "--audience",
                "1234-app",
                "plans",
                "list",
            ],
        )
        assert result.exit_code == 0, result.output
        assert [request.get("resource") for request in endpoint.requests] == ["api://1234-app"]
        headers = _RecordingApi.seen[-1]
        token = headers["Authorization"].removeprefix("Bearer ")
        assert token.count(".") == 2 and headers["x-functions-key"] == "s3cret-key"
        assert token not in result.output and "s3cret-key" not in result.output

        endpoint.failures.extend([401] * 10)  # the identity refuses: one line, refused
        failed = CliRunner().invoke(
            app, ["--url", f"http://127.0.0.1:{port}", "--entra", "--audience", "api://other-app", "plans", "list"]
        )
        assert failed.exit_code == 8, failed.output
        assert failed.stderr.startswith("drctl: no Entra token for api://other-app/.default: ")
        assert len(failed.stderr.strip().splitlines()) == 1
