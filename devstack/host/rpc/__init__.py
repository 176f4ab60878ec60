"""The FunctionRpc message classes that Microsoft's Python runtime expects from its host.

In Azure the proxy worker hands `azure-functions-runtime` a module of generated protobuf classes; here they
are generated with grpcio-tools from `FunctionRpc.proto` (beside this file) into `_generated/`, once, and
again whenever the .proto changes (a hash of it is kept next to the generated module).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

PROTO = Path(__file__).with_name("FunctionRpc.proto")
GENERATED_DIR = Path(__file__).with_name("_generated")
_MODULE_NAME = "devstack_functionrpc_pb2"
_lock = threading.Lock()


class ProtoGenerationError(RuntimeError):
    """grpcio-tools could not compile FunctionRpc.proto."""


def _proto_hash() -> str:
    return hashlib.sha256(PROTO.read_bytes()).hexdigest()


def generate(out_dir: Path = GENERATED_DIR) -> Path:
    """Compile the .proto with grpcio-tools' bundled protoc; return the generated module's path.

    Compiled into a scratch directory and moved into place, so that processes starting at once (a test
    run and the hosts it spawns) never import a half-written module."""
    from grpc_tools import protoc  # a devstack-only dependency (requirements-dev.txt)

    out_dir.mkdir(parents=True, exist_ok=True)
    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto shipped with grpcio-tools
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        status = protoc.main(["protoc", f"-I{PROTO.parent}", f"-I{include}", f"--python_out={scratch}", PROTO.name])
        built = Path(scratch) / "FunctionRpc_pb2.py"
        if status != 0 or not built.is_file():
            raise ProtoGenerationError(f"protoc failed with exit status {status} on {PROTO}")
        stamp = Path(scratch) / "FunctionRpc.sha256"
        stamp.write_text(_proto_hash(), encoding="utf-8")
        target = out_dir / built.name
        os.replace(built, target)
        os.replace(stamp, out_dir / stamp.name)
    return target


def load_protos() -> ModuleType:
    """The generated message module (generated first if missing or stale). One per process."""
    with _lock:
        loaded = sys.modules.get(_MODULE_NAME)
        if loaded is not None:
            return loaded
        target = GENERATED_DIR / "FunctionRpc_pb2.py"
        stamp = GENERATED_DIR / "FunctionRpc.sha256"
        if not target.is_file() or not stamp.is_file() or stamp.read_text(encoding="utf-8") != _proto_hash():
            target = generate()
        spec = importlib.util.spec_from_file_location(_MODULE_NAME, target)
        if spec is None or spec.loader is None:
            raise ProtoGenerationError(f"cannot import {target}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODULE_NAME] = module
        spec.loader.exec_module(module)
        return module


__all__ = ["GENERATED_DIR", "PROTO", "ProtoGenerationError", "generate", "load_protos"]
