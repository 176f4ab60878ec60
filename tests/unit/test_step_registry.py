"""The one registry of step kinds: every kind a plan may name has its implementation, named after it, and
loading a plan imports none of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from dr.errors import PlanError
from dr.steps import REGISTRY, get_kind, kind_names, spec_of
from dr.steps.base import StepKind

ROOT = Path(__file__).resolve().parents[2]


def test_every_kind_resolves_to_one_implementation_named_after_it() -> None:
    assert kind_names() == {
        "blob_backup",
        "sql_geo_restore",
        "sql_failover_group",
        "traffic_manager_failover",
        "health_check",
        "front_door_origins",
        "dns_record_switch",
        "manual",
        "webhook",
        "cosmos_failover",
        "postgresql_promote",
        "storage_account_failover",
        "app_scale",
    }
    for name, spec in REGISTRY.items():
        kind = get_kind(name)
        assert isinstance(kind, StepKind)
        assert kind.kind == name
        assert get_kind(name) is kind
        assert get_args(spec.params.model_fields["kind"].annotation) == (name,)
        assert spec_of(name) is spec


def test_an_unknown_kind_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="'dns_flip' is not implemented"):
        get_kind("dns_flip")


def test_loading_a_plan_imports_no_kind_and_no_azure_sdk() -> None:
    """Triggers load plans: a cold start must not pay for the kinds' SDKs."""
    code = (
        "import sys\n"
        "from dr.plan import parse_plan\n"
        "import dr.steps\n"
        "parse_plan({'name': 'p', 'steps': [{'id': 'v', 'kind': 'health_check', 'url': 'https://x/health'}]})\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('azure.', 'dr.steps.')) and m != 'dr.steps.base')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


_RACE = """
import threading
from dr.steps import get_kind, kind_names

names = sorted(kind_names())
barrier = threading.Barrier(len(names))
errors = []

def load(name):
    barrier.wait()
    try:
        get_kind(name)
    except BaseException as exc:
        errors.append(f"{name}: {exc!r}")

threads = [threading.Thread(target=load, args=(name,)) for name in names]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert not errors, errors
"""


@pytest.mark.parametrize("attempt", range(3))
def test_kinds_first_used_at_once_load_without_an_import_deadlock(attempt: int) -> None:
    """Activities run in threads, and a fresh worker may begin every kind at once: importing two kinds'
    SDK packages at the same time deadlocked Python's import locks (azure.mgmt.sql), failing a step."""
    subprocess.run([sys.executable, "-c", _RACE], check=True, cwd=ROOT)
