"""Fixtures for the ARM emulator tests: one emulator per session (HTTPS on port 0), reset and seeded with
the example "shop" estate before each test, and real SDK clients pointed at it.

Speed: the bulk of the tests run LROs of 0.2 s with Retry-After left out and clients polling every
0.05 s; the tests about Retry-After itself use the emulator's defaults (Retry-After: 1).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.trafficmanager import TrafficManagerManagementClient

from devstack.arm import EXAMPLE_ESTATE, ArmEmulator
from tests.arm_fixtures import arm_client

from .arm_helpers import SUB


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArmEmulator]:
    with ArmEmulator(state_dir=tmp_path_factory.mktemp("arm")) as arm:
        yield arm


@pytest.fixture
def arm(emulator: ArmEmulator) -> ArmEmulator:
    """The emulator with a fresh shop estate and fast operations."""
    emulator.reset()
    emulator.seed(EXAMPLE_ESTATE)
    emulator.configure(retry_after_seconds=0, default_operation_seconds=0.2)
    return emulator


@pytest.fixture
def sql(arm: ArmEmulator) -> Iterator[SqlManagementClient]:
    with arm_client(SqlManagementClient, arm, SUB) as client:
        yield client


@pytest.fixture
def sql_no_retry(arm: ArmEmulator) -> Iterator[SqlManagementClient]:
    """A client that surfaces the first error (no retries), for outage and error-shape tests."""
    with arm_client(SqlManagementClient, arm, SUB, retry_total=0) as client:
        yield client


@pytest.fixture
def tm(arm: ArmEmulator) -> Iterator[TrafficManagerManagementClient]:
    with arm_client(TrafficManagerManagementClient, arm, SUB) as client:
        yield client
