"""python -m devstack.arm --port N --state-dir DIR [--seed FILE]

Serves until SIGTERM or Ctrl-C. Prints the URL; writes the CA to DIR/ca.pem and DIR/arm.json
({"url", "ca_path", "pid"}) so other processes can find it. State lives in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .server import ArmEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.arm", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state-dir", type=Path, required=True, help="where ca.pem and arm.json go")
    parser.add_argument("--seed", type=Path, help="estate to load at start (YAML or JSON)")
    args = parser.parse_args(argv)

    emulator = ArmEmulator(state_dir=args.state_dir, host=args.host, port=args.port)
    if args.seed is not None:
        emulator.seed(args.seed)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with emulator:
        info = {"url": emulator.url, "ca_path": str(emulator.ca_path.resolve()), "pid": os.getpid()}
        (args.state_dir / "arm.json").write_text(json.dumps(info), encoding="utf-8")
        print(f"ARM emulator listening on {emulator.url} (CA: {info['ca_path']})", flush=True)
        while not stopping.wait(0.5):
            pass
    print("ARM emulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
