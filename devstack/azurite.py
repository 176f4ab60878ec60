"""Launch the npm Azurite Blob emulator with two accounts (``primary`` and ``secondary``).

Used as a context manager by tests, benchmarks and the devstack stack script::

    with Azurite() as azurite:
        azurite.connection_string("primary")   # for BlobServiceClient.from_connection_string
        azurite.url_for("secondary")           # http://127.0.0.1:<port>/secondary (path-style)

The server runs as ``node node_modules/azurite/dist/src/blob/main.js`` (not through npx, whose wrapper
processes would make the PID we hold not the server's), listens on a free port it picks itself, and stops
on SIGTERM. ``python -m devstack.azurite`` runs one in the foreground and prints the settings to use.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ACCOUNTS = ("primary", "secondary")
_LISTENING = re.compile(r"successfully listens on https?://[^\s:]+:(\d+)")


class AzuriteError(RuntimeError):
    """Azurite is missing, failed to start, or died."""


class Azurite:
    """One Azurite Blob server process. Keys are generated per launch unless given."""

    def __init__(
        self,
        accounts: Iterable[str] = DEFAULT_ACCOUNTS,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        location: Path | None = None,
        keys: dict[str, str] | None = None,
        root: Path = REPO_ROOT,
        start_timeout: float = 30.0,
        access_log: bool = False,
    ) -> None:
        self.accounts: dict[str, str] = {
            name: (keys or {}).get(name) or base64.b64encode(secrets.token_bytes(64)).decode() for name in accounts
        }
        self.host = host
        self.requested_port = port
        self.location = location
        self.root = root
        self.start_timeout = start_timeout
        self.access_log = access_log
        self.port: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._output: deque[str] = deque(maxlen=50)
        self._reader: threading.Thread | None = None

    # -- addresses -----------------------------------------------------------------------------------
    @property
    def blob_endpoint(self) -> str:
        if self.port is None:
            raise AzuriteError("Azurite is not running")
        return f"http://{self.host}:{self.port}"

    def url_for(self, account: str, *, endpoint: str | None = None) -> str:
        """The account's path-style URL; ``endpoint`` reroutes it (e.g. through a fault proxy)."""
        self._check_account(account)
        return f"{(endpoint or self.blob_endpoint).rstrip('/')}/{account}"

    def connection_string(self, account: str, *, endpoint: str | None = None) -> str:
        self._check_account(account)
        return (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={self.accounts[account]};"
            f"BlobEndpoint={self.url_for(account, endpoint=endpoint)};"
        )

    def connection_strings(self, *, endpoint: str | None = None) -> dict[str, str]:
        """Account name -> connection string: the value of the setting DR_STORAGE_CONNECTION_STRINGS."""
        return {name: self.connection_string(name, endpoint=endpoint) for name in self.accounts}

    def settings_env(self, *, endpoint: str | None = None) -> dict[str, str]:
        """Environment variables that point the app's settings at this server."""
        return {"DR_STORAGE_CONNECTION_STRINGS": json.dumps(self.connection_strings(endpoint=endpoint))}

    def _check_account(self, account: str) -> None:
        if account not in self.accounts:
            raise KeyError(f"Azurite here has accounts {sorted(self.accounts)}, not {account!r}")

    # -- lifecycle -----------------------------------------------------------------------------------
    def _command(self) -> list[str]:
        main = self.root / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
        if not main.is_file():
            raise AzuriteError(f"Azurite is not installed ({main} is missing): run `npm ci` in {self.root}")
        node = shutil.which("node")
        if node is None:
            raise AzuriteError("node is not on PATH: install Node.js 20 to run Azurite")
        command = [
            node,
            str(main),
            "--blobHost",
            self.host,
            "--blobPort",
            str(self.requested_port),
            "--skipApiVersionCheck",  # without it the current SDK's x-ms-version is refused with 400
            "--disableTelemetry",
        ]
        if not self.access_log:
            command.append("--silent")
        if self.location is None:
            command.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            command += ["--location", str(self.location)]
        return command

    def start(self) -> Azurite:
        if self._process is not None:
            return self
        env = dict(os.environ)
        env["AZURITE_ACCOUNTS"] = ";".join(f"{name}:{key}" for name, key in self.accounts.items())
        self._process = subprocess.Popen(
            self._command(),
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        found = threading.Event()

        def read_output() -> None:
            # Keep draining after the port line so a chatty server never blocks on a full pipe.
            assert self._process is not None
            assert self._process.stdout is not None
            for line in self._process.stdout:
                self._output.append(line.rstrip())
                match = _LISTENING.search(line)
                if match and self.port is None:
                    self.port = int(match.group(1))
                    found.set()
            found.set()

        self._reader = threading.Thread(target=read_output, name="azurite-output", daemon=True)
        self._reader.start()
        if not found.wait(self.start_timeout) or self.port is None:
            output = "\n".join(self._output)
            self.stop()
            raise AzuriteError(f"Azurite did not start within {self.start_timeout:.0f} s; its output:\n{output}")
        return self

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        self.port = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Azurite (Blob) with the accounts primary and secondary.")
    parser.add_argument("--port", type=int, default=10000, help="0 picks a free port")
    parser.add_argument("--location", type=Path, help="persist here instead of in memory")
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    azurite = Azurite(port=args.port, location=args.location, access_log=args.access_log)
    try:
        azurite.start()
    except AzuriteError as exc:
        print(exc, file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # The keys are generated for this local emulator only: printing them is how a developer uses it.
    print(f"Azurite listening on {azurite.blob_endpoint} (accounts: {', '.join(azurite.accounts)})", flush=True)
    for name, value in azurite.settings_env().items():
        print(f"export {name}='{value}'", flush=True)
    try:
        while not stop.wait(1.0):
            if not azurite.running:
                print("Azurite exited", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        azurite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
