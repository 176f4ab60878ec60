"""drctl against the real local stack: one LocalStack per module (it takes seconds to start), the CLI run
in-process with typer's CliRunner or as the installed console script, the world checked with real clients."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner, Result

from devstack.stack import LocalStack
from drctl.main import app

PLAN = "shop-demo"  # the demo plan the stack renders: its failovers wait for an approver
BLOBS = {"images": 12, "invoices": 6}


def drctl_script() -> Path:
    """The console script the bootstrap installs next to the venv's python."""
    script = Path(sys.executable).parent / "drctl"
    assert script.is_file(), f"{script} is missing: `make bootstrap` installs drctl into the venv"
    return script


@dataclass
class Cli:
    stack: LocalStack
    stack_file: Path

    @property
    def key(self) -> str:
        assert self.stack.info is not None
        return self.stack.info.function_key

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(app, ["--stack", str(self.stack_file), *args], env=env)
        self.check_clean(result.stdout, result.stderr)
        return result

    def check_clean(self, stdout: str, stderr: str) -> None:
        """What every command keeps: no secret printed, no traceback, failures said on one line."""
        assert self.key not in stdout + stderr
        assert "Traceback" not in stdout + stderr
        assert len(stderr.strip().splitlines()) <= 1, stderr

    def script(self, *args: str, **popen: Any) -> subprocess.Popen[str]:
        """The installed console script, in another process (its stdout a pipe: not a terminal)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **popen.pop("env", {})}
        return subprocess.Popen(
            [str(drctl_script()), "--stack", str(self.stack_file), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            **popen,
        )

    def view(self, run_id: str) -> dict[str, Any]:
        """The run as the API shows it (a plain HTTP client, not drctl)."""
        assert self.stack.info is not None
        response = requests.get(
            f"{self.stack.info.host_url}/api/recoveries/{run_id}",
            headers={"x-functions-key": self.key},
            timeout=30,
        )
        response.raise_for_status()
        return dict(response.json())

    def wait_for_phase(self, run_id: str, phase: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.view(run_id)
            if view.get("phase") == phase:
                return view
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} never reached phase {phase}: {view}")

    def start(self, *args: str) -> str:
        """`drctl run start …`; the run id it printed."""
        result = self(*args)
        assert result.exit_code == 0, result.output
        first = result.stdout.splitlines()[0]
        assert first.startswith("run ") and " started: " in first, result.stdout
        return first.split()[1]


def seed_primary(stack: LocalStack) -> None:
    """The containers the demo plan copies, with a few blobs (a drill's blob steps need their source)."""
    service = stack.blob_service("primary")
    for container, count in BLOBS.items():
        client = service.get_container_client(container)
        client.create_container()
        for n in range(count):
            client.upload_blob(f"{container}/{n:03d}.bin", os.urandom(2048 * (n + 1)))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(state_dir=tmp_path_factory.mktemp("stack"), timers=False) as running:
        seed_primary(running)
        yield running


@pytest.fixture(scope="module")
def cli(stack: LocalStack) -> Cli:
    return Cli(stack, stack.state_dir / "stack.json")
