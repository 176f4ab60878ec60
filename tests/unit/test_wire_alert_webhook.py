"""scripts/wire-alert-webhook.sh, the azd hook that gives the action group the function key after deploy.

The script's own logic runs for real (bash, curl, its retries and modes) against a local HTTPS endpoint
standing in for the function app's /api/alerts. The Azure CLI is a stub on PATH that records its arguments
and answers like `az` does for these calls: that the real `az` accepts them is NOT verified here (no Azure
on this machine; docs/deploy.md lists it under what was not verified).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "wire-alert-webhook.sh"
KEY = "k3y-ThatMustNeverBePrinted=="

STUB_AZ = r"""#!/usr/bin/env bash
# Stub of the Azure CLI for the hook test: records every call, answers the three the hook makes.
printf '%s\n' "$*" >>"$STUB_DIR/calls"
case "$1 $2" in
  "functionapp show") echo "$STUB_HOST" ;;
  "functionapp keys")
    failures="$(cat "$STUB_DIR/key_failures")"
    if [[ "$failures" -gt 0 ]]; then
      echo $((failures - 1)) >"$STUB_DIR/key_failures"
      echo "ERROR: Operation returned an invalid status 'Service Unavailable'" >&2
      exit 1
    fi
    echo "$STUB_KEY" ;;
  "monitor action-group") printf '%s\n' "$@" >"$STUB_DIR/update_args" ;;
  *) echo "stub az: unexpected call: $*" >&2; exit 2 ;;
esac
"""


@dataclass
class App:
    """The function app's /api/alerts: 200 with the right key, 401 without (as AuthLevel.FUNCTION does)."""

    url_host: str = ""
    key: str = KEY
    alerts: list[dict[str, object]] = field(default_factory=list)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[App, Path]]:
    ca = trustme.CA(organization_name="dr tests: the function app")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    state = App()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            authorized = self.path == "/api/alerts" and self.headers.get("x-functions-key") == state.key
            if authorized:
                state.alerts.append(json.loads(body))
            self.send_response(200 if authorized else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url_host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, ca_file
    finally:
        server.shutdown()
        server.server_close()


def _run(tmp_path: Path, app: App, ca_file: Path, mode: str, *, key_failures: int) -> subprocess.CompletedProcess[str]:
    stub_dir = tmp_path / "stub"
    (stub_dir / "bin").mkdir(parents=True, exist_ok=True)
    az = stub_dir / "bin" / "az"
    az.write_text(STUB_AZ)
    az.chmod(0o755)
    (stub_dir / "key_failures").write_text(str(key_failures))
    env = {
        "PATH": f"{stub_dir / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "STUB_DIR": str(stub_dir),
        "STUB_HOST": app.url_host,
        "STUB_KEY": KEY,
        "CURL_CA_BUNDLE": str(ca_file),
        "AZURE_RESOURCE_GROUP": "rg-dr-prod",
        "AZURE_FUNCTION_APP_NAME": "func-dr-abc",
        "DR_ACTION_GROUP_NAME": "ag-dr-abc",
        "DR_ALERT_WEBHOOK_RECEIVER": "dr-orchestrator",
        "DR_WIRE_WAIT_SECONDS": "0",
    }
    return subprocess.run(
        [shutil.which("bash") or "bash", str(SCRIPT), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _update_args(tmp_path: Path) -> list[str] | None:
    path = tmp_path / "stub" / "update_args"
    return path.read_text().splitlines() if path.exists() else None


def test_postdeploy_waits_for_the_host_sets_the_key_and_checks_it(tmp_path: Path, app: tuple[App, Path]) -> None:
    state, ca_file = app
    result = _run(tmp_path, state, ca_file, "postdeploy", key_failures=2)  # a cold host: two refusals
    assert result.returncode == 0, result.stderr
    args = _update_args(tmp_path)
    assert args is not None
    assert args[args.index("--remove-action") + 1] == "dr-orchestrator"
    added = args[args.index("--add-action") + 1 : args.index("--add-action") + 5]
    assert added == [
        "webhook",
        "dr-orchestrator",
        f"https://{state.url_host}/api/alerts?code={KEY}",
        "usecommonalertschema",
    ]
    assert args[args.index("--name") + 1] == "ag-dr-abc"
    # The end-to-end check reached the app with the key, as a Resolved alert the app ignores.
    assert len(state.alerts) == 1
    assert state.alerts[0]["data"]["essentials"]["monitorCondition"] == "Resolved"  # type: ignore[index]
    assert "got 200" in result.stderr
    assert KEY not in result.stdout + result.stderr  # never printed


def test_postprovision_before_any_deploy_leaves_it_to_postdeploy(tmp_path: Path, app: tuple[App, Path]) -> None:
    state, ca_file = app
    result = _run(tmp_path, state, ca_file, "postprovision", key_failures=100)  # no code: no key
    assert result.returncode == 0, result.stderr
    assert "the postdeploy hook wires the webhook" in result.stderr
    assert _update_args(tmp_path) is None and state.alerts == []


def test_postdeploy_fails_when_no_key_comes(tmp_path: Path, app: tuple[App, Path]) -> None:
    state, ca_file = app
    result = _run(tmp_path, state, ca_file, "postdeploy", key_failures=100)
    assert result.returncode == 1
    assert "could not read the default function key" in result.stderr
    assert _update_args(tmp_path) is None


def test_postdeploy_fails_when_the_key_does_not_open_the_endpoint(tmp_path: Path, app: tuple[App, Path]) -> None:
    state, ca_file = app
    state.key = "another-key"
    result = _run(tmp_path, state, ca_file, "postdeploy", key_failures=0)
    assert result.returncode == 1
    assert "answered 401, not 200" in result.stderr
    assert KEY not in result.stdout + result.stderr
