"""Shared fixtures: every test starts from fresh settings and clients (nothing leaks through caches)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dr.clients import reset_for_tests


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    reset_for_tests()
    yield
    reset_for_tests()
