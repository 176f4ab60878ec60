"""Shared fixtures: every test starts from fresh settings and clients (nothing leaks through caches)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.azurite import Azurite
from dr.clients import reset_for_tests


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    reset_for_tests()
    yield
    reset_for_tests()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One real Azurite (npm) for the session, with the accounts `primary` and `secondary`."""
    with Azurite() as server:
        yield server
