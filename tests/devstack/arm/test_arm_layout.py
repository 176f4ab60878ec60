"""The emulator's layering, moto's: the data plane (estate, providers, routing) never imports the control
plane (`devstack/arm/control/`), the control plane never imports the server, and the server composes both,
offering every control plane method on `ArmEmulator`."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from devstack.arm import ArmEmulator, ControlBackend

ARM = Path(__file__).resolve().parents[3] / "devstack" / "arm"
COMPOSERS = {"devstack.arm", "devstack.arm.server", "devstack.arm.__main__"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ARM.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every devstack.arm module `path` imports, relative imports resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            if node.module:  # `from .. import errors` imports devstack.arm.errors, not the package's names
                found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m.startswith("devstack.arm")}


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_data_plane_never_imports_the_control_plane() -> None:
    offenders = {
        _module_name(path): sorted(m for m in _imports(path) if _under(m, "devstack.arm.control"))
        for path in ARM.rglob("*.py")
        if _module_name(path) not in COMPOSERS and not _under(_module_name(path), "devstack.arm.control")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_control_plane_never_imports_the_server() -> None:
    offenders = {
        _module_name(path): sorted(m for m in _imports(path) if m in COMPOSERS)
        for path in (ARM / "control").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_control_method_is_offered_in_process(tmp_path: Path) -> None:
    arm = ArmEmulator(state_dir=tmp_path)
    names = [name for name, _ in inspect.getmembers(ControlBackend, inspect.isfunction) if not name.startswith("_")]

    assert names
    for name in names:
        method = getattr(arm, name)
        assert method.__self__ is arm.control, name
        assert inspect.signature(method) == inspect.signature(getattr(arm.control, name)), name
