"""Fixtures for the devstack host tests: the sample app (tests/devstack/host/sample_app), an in-process
engine on a virtual clock, and a full host serving HTTP on port 0.

Every engine here cross-checks its sequence numbering against the SDK's own executor (verify_replay), so
any divergence between the host's bookkeeping and the SDK's fails the test that caused it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from devstack.host import DurableEngine, HostServer, IndexedApp, RealClock, VirtualClock, load_app, run_host

SAMPLE_APP_DIR = Path(__file__).parent / "sample_app"
TEST_KEY = "devstack-test-key"


@pytest.fixture(scope="session")
def sample_app() -> IndexedApp:
    return load_app(SAMPLE_APP_DIR)


@pytest.fixture(scope="session")
def patterns(sample_app: IndexedApp) -> ModuleType:
    """The sample's blueprint module (its in-process activity counters)."""
    return sys.modules["sample_durable_patterns"]


@pytest.fixture
def engine(sample_app: IndexedApp) -> Iterator[DurableEngine]:
    with DurableEngine.running(sample_app, clock=VirtualClock(), verify_replay=True) as running:
        yield running


@pytest.fixture(scope="module")
def host(sample_app: IndexedApp) -> Iterator[HostServer]:
    with run_host(sample_app, function_key=TEST_KEY, clock=RealClock(), verify_replay=True) as server:
        yield server
