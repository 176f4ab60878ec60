"""The devstack ARM emulator for tests that drive the app's code through the real Azure SDK clients: its clock,
starting it, pointing the app's settings at it, the tests' own clients, and what it was asked.

The emulator's time is a `Clock` the tests freeze at NOW and move, so the step's ctx.now, LRO durations and ages
(geo-backups, Last Sync Times) line up exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.arm import ArmEmulator, StaticTokenCredential
from dr.clients import reset_for_tests

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Clock:
    """The emulator's time: frozen unless a test moves it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@contextmanager
def running_emulator(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[ArmEmulator]:
    """One emulator on its own state folder, on `clock`'s time (starting one costs a TLS CA and a server thread)."""
    with ArmEmulator(state_dir=Path(tmp_path_factory.mktemp("arm")), clock=clock) as arm:
        yield arm


def arm_settings(emulator: ArmEmulator) -> dict[str, str]:
    """The app's settings (dr.clients) that point its ARM clients at the emulator."""
    return {
        "DR_ARM_ENDPOINT": emulator.url,
        "DR_ARM_CA_BUNDLE": str(emulator.ca_path),
        "DR_ARM_TOKEN": "devstack-arm-token",
    }


def fresh_emulator(emulator: ArmEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> ArmEmulator:
    """The emulator as a test starts with it: empty, its clock at NOW, the app's settings pointed at it and the
    app's cached clients dropped. The caller seeds what the test needs."""
    clock.now = NOW
    emulator.reset()
    for name, value in arm_settings(emulator).items():
        monkeypatch.setenv(name, value)
    reset_for_tests()
    return emulator


FAST_POLL = 0.05


def client_kwargs(arm: ArmEmulator, **overrides: Any) -> dict[str, Any]:
    """For the tests' own SDK clients (arranging and inspecting the world, outside the code under test): the
    emulator's URL and CA, polling fast."""
    return {"base_url": arm.url, "connection_verify": str(arm.ca_path), "polling_interval": FAST_POLL, **overrides}


def arm_client[C](client_type: type[C], arm: ArmEmulator, subscription_id: str, **overrides: Any) -> C:
    """A management client (StorageManagementClient, ...) of the tests' own on the emulator."""
    return client_type(StaticTokenCredential(), subscription_id, **client_kwargs(arm, **overrides))  # type: ignore[call-arg]


def arm_calls(arm: ArmEmulator, method: str, path_contains: str) -> list[str]:
    """Paths of the ARM requests with this method whose path contains the text (case-insensitive)."""
    return [r.path for r in arm.requests() if r.method == method and path_contains.lower() in r.path.lower()]
