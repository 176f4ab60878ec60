"""`python -m devstack.host` as a real process: at-least-once activities across a SIGKILL, app settings
from --settings or the app's local.settings.json, and the generated function key."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from .conftest import SAMPLE_APP_DIR
from .helpers import poll_status, wait_until

REPO_ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def host_process(
    *args: str, env: dict[str, str] | None = None, app_dir: Path = SAMPLE_APP_DIR
) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """Start the CLI on port 0; yield the process, its URL and everything it printed before listening."""
    command = [
        sys.executable,
        "-m",
        "devstack.host",
        "--app-dir",
        str(app_dir),
        "--port",
        "0",
        "--no-timers",
        *args,
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = ""
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            banner += line
            found = re.search(r"Host listening on (http://\S+)", line)
            if found:
                yield process, found.group(1), banner
                return
        raise AssertionError(f"the host did not start:\n{banner}")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_a_killed_host_runs_the_interrupted_activity_again_and_completes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    marker = tmp_path / "marker"
    marker.mkdir()
    runs = marker / "runs.txt"
    key = {"x-functions-key": "kill-test-key"}
    env = {"DEVSTACK_FUNCTION_KEY": "kill-test-key"}

    with host_process("--state-dir", str(state), env=env) as (first, url, _):
        started = requests.post(
            f"{url}/api/orchestrators/crash_test", json={"dir": str(marker)}, headers=key, timeout=10
        )
        assert started.status_code == 202
        instance_id = started.json()["id"]
        assert wait_until(lambda: runs.exists() and runs.read_text().strip(), timeout=15)
        first.send_signal(signal.SIGKILL)  # in the middle of the activity
        first.wait(timeout=10)

    with host_process("--state-dir", str(state), env=env) as (_, url, _):
        final = poll_status(
            f"{url}/runtime/webhooks/durabletask/instances/{instance_id}?code=kill-test-key", timeout=20
        )

    assert final.status_code == 200
    assert final.json()["runtimeStatus"] == "Completed"
    assert final.json()["output"] == {"first": "finished on run 2", "second": "Hello after the crash!"}
    pids = runs.read_text().split()
    assert len(pids) == 2
    assert pids[0] != pids[1]


def test_the_cli_loads_settings_and_prints_a_generated_key(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text('{"IsEncrypted": false, "Values": {"SAMPLE_GREETING": "from settings"}}')
    env = {k: v for k, v in os.environ.items() if k != "DEVSTACK_FUNCTION_KEY"}

    with host_process("--in-memory", "--settings", str(settings), env=env) as (_, url, banner):
        key = re.search(r"Function key \(.*\): (\S+)", banner)
        setting = requests.get(f"{url}/api/settings/SAMPLE_GREETING", timeout=5)
        without_key = requests.get(f"{url}/api/keys/function-level", timeout=5)
        with_key = requests.get(
            f"{url}/api/keys/function-level", headers={"x-functions-key": key.group(1) if key else ""}, timeout=5
        )

    assert setting.text == "from settings"
    assert key is not None
    assert without_key.status_code == 401
    assert with_key.status_code == 200
    assert "http_start: [POST]" in banner


def test_the_cli_reads_the_apps_local_settings_json_like_func_start(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(SAMPLE_APP_DIR, app_dir, ignore=shutil.ignore_patterns("__pycache__"))
    (app_dir / "local.settings.json").write_text(
        '{"IsEncrypted": false, "Values": {"SAMPLE_FROM_FILE": "from the file", "SAMPLE_ALSO_SET": "from the file",'
        ' "SAMPLE_EMPTY": "from the file"}}'
    )
    env = {"DEVSTACK_FUNCTION_KEY": "settings-key", "SAMPLE_ALSO_SET": "from the environment", "SAMPLE_EMPTY": ""}

    with host_process("--in-memory", env=env, app_dir=app_dir) as (_, url, banner):
        read = {
            name: requests.get(f"{url}/api/settings/{name}", timeout=5).text
            for name in ("SAMPLE_FROM_FILE", "SAMPLE_ALSO_SET", "SAMPLE_EMPTY")
        }

    # As with func: a variable already set (and not empty) wins, and the skip is reported.
    assert read == {
        "SAMPLE_FROM_FILE": "from the file",
        "SAMPLE_ALSO_SET": "from the environment",
        "SAMPLE_EMPTY": "from the file",
    }
    assert (
        "Skipping 'SAMPLE_ALSO_SET' from local settings as it's already defined in current environment variables."
        in banner
    )
