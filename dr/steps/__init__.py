"""Step kinds, one module each, behind the contract in :mod:`dr.steps.base`.

A kind is implemented when its module exists; plans naming any other kind fail validation.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache
from typing import Any

from ..errors import PlanError

_MODULES = {
    "health_check": "dr.steps.health",
    "blob_backup": "dr.steps.blob",
    "sql_geo_restore": "dr.steps.sql",
    "sql_failover_group": "dr.steps.sql",
    "traffic_manager_failover": "dr.steps.traffic",
}


@cache
def implemented_kinds() -> frozenset[str]:
    return frozenset(kind for kind, module in _MODULES.items() if importlib.util.find_spec(module) is not None)


def get_kind(kind: str) -> Any:
    """The StepKind instance for a kind name (each module exposes ``KINDS: dict[str, StepKind]``)."""
    if kind not in implemented_kinds():
        raise PlanError(f"step kind {kind!r} is not implemented")
    module = importlib.import_module(_MODULES[kind])
    return module.KINDS[kind]
