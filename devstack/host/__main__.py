"""`python -m devstack.host`: serve a Python v2 function app locally, like `func start`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from .clock import RealClock, VirtualClock
from .indexer import load_app, load_settings_file
from .keys import FUNCTION_KEY_ENV
from .server import HostRuntime


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.host",
        description="Host a Python v2 Azure Functions app with Durable Functions locally.",
    )
    parser.add_argument("--app-dir", default=".", help="directory with function_app.py (default: .)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="port to listen on (default: 7071; 0 = any)")
    parser.add_argument(
        "--state-dir",
        default=None,
        help="where durable state lives (default: <app-dir>/.devstack/host-state)",
    )
    parser.add_argument("--in-memory", action="store_true", help="keep durable state in memory only")
    parser.add_argument(
        "--settings",
        default=None,
        help="local.settings.json-style file loaded into the environment (default: <app-dir>/local.settings.json)",
    )
    parser.add_argument(
        "--timers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run timer triggers on their schedules (default: on)",
    )
    parser.add_argument(
        "--virtual-clock",
        action="store_true",
        help="durable time skips to the next timer when the host is idle",
    )
    parser.add_argument(
        "--max-concurrent-activities",
        type=int,
        default=None,
        help="activity worker pool size (default: host.json maxConcurrentActivityFunctions or 16)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def apply_local_settings(app_dir: Path, settings_file: str | None) -> Path | None:
    """Load the app settings like `func start`: `local.settings.json` in the app directory unless a file is
    named, each value an environment variable unless one is already set and not empty (Core Tools'
    StartHostAction.UpdateEnvironmentVariables in Azure/azure-functions-core-tools:
    src/Azure.Functions.Cli/Actions/HostActions/StartHostAction.cs, which prints the same skip message)."""
    path = Path(settings_file) if settings_file else app_dir / "local.settings.json"
    if not path.is_file():
        if settings_file:
            raise FileNotFoundError(f"settings file {path} not found")
        return None
    for key, value in load_settings_file(path).items():
        if os.environ.get(key):
            print(f"Skipping '{key}' from local settings as it's already defined in current environment variables.")
        else:
            os.environ[key] = value
    return path


async def serve(args: argparse.Namespace) -> None:
    app_dir = Path(args.app_dir).resolve()
    apply_local_settings(app_dir, args.settings)
    app = load_app(app_dir)
    state_dir = None if args.in_memory else Path(args.state_dir or app_dir / ".devstack" / "host-state")
    runtime = HostRuntime(
        app,
        host=args.host,
        port=args.port,
        state_dir=state_dir,
        clock=VirtualClock(auto_advance=True) if args.virtual_clock else RealClock(),
        timers=args.timers,
        max_concurrent_activities=args.max_concurrent_activities,
    )
    await runtime.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(runtime.describe_functions(), flush=True)
    if runtime.key_generated:
        # A local development key, generated for this run; set DEVSTACK_FUNCTION_KEY to choose your own.
        print(
            f"\nFunction key (x-functions-key header or ?code=; set {FUNCTION_KEY_ENV} to choose it): "
            f"{runtime.function_key}",
            flush=True,
        )
    print(f"Durable task hub: {runtime.task_hub}; state: {state_dir or 'in memory'}", flush=True)
    print(f"Host listening on {runtime.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
