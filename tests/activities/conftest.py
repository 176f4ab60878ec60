"""Fixtures for activity tests against a real Azurite (the session's ``azurite`` from tests/conftest.py:
accounts ``primary`` and ``secondary``), optionally behind the devstack fault proxy.

``blob_world`` points the app's settings at Azurite and gives each test its own containers;
``world.run(step)`` drives a blob_backup step the way the per-step sub-orchestration does (begin, then work
items with at most ``max_parallel`` in flight in threads, then poll), counting the calls.

The kinds that talk to ARM (the sub-packages) share one devstack ARM emulator on a frozen ``clock``
(tests/arm_fixtures.py): each package's ``arm`` fixture starts a test from ``fresh_emulator`` and seeds its own
estate. ``health`` is a real local server for the health URLs steps probe, every path answering 200 again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

from devstack.arm import ArmEmulator
from devstack.azurite import Azurite
from devstack.faultproxy import FaultProxy
from dr import dispatch
from dr.clients import reset_for_tests
from dr.plan import BlobBackupStep, load_plan_file
from dr.run import RunInput, RunState
from dr.steps import get_kind
from dr.steps.base import StepContext, StepProgress, StepWorkInput
from tests.arm_fixtures import Clock, running_emulator
from tests.health_server import HealthUrls, serving_health_urls

BLOB = get_kind("blob_backup")
PLAN = "shop-blobs"


@pytest.fixture(scope="session")
def fault_proxy(azurite: Azurite) -> Iterator[FaultProxy]:
    """One proxy in front of Azurite for the session; each test that uses it starts with no rules."""
    with FaultProxy(azurite.blob_endpoint) as proxy:
        yield proxy


@dataclass
class Drive:
    """What driving a step took: every call by name, and the final progress (or the error)."""

    calls: list[str] = field(default_factory=list)
    progresses: list[StepProgress] = field(default_factory=list)
    work_items: list[dict[str, Any]] = field(default_factory=list)
    work_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> StepProgress:
        return self.progresses[-1]

    @property
    def detail(self) -> dict[str, Any]:
        return self.final.detail


async def work_round(ctx: StepContext, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A round of work items as the worker runs the async step_work activity: side by side on one loop."""
    calls = (dispatch.work(StepWorkInput(context=ctx, item=item).model_dump(mode="json")) for item in items)
    return list(await asyncio.gather(*calls))


@dataclass
class BlobWorld:
    azurite: Azurite
    plans_dir: Path
    endpoint: str | None = None  # set: every client goes through this (the fault proxy)
    run_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.source_container = f"src-{suffix}"
        self.target_container = f"dst-{suffix}"

    # -- clients (for arranging and checking, outside the code under test) ------------------------------
    def service(self, account: str) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.azurite.connection_string(account))

    @property
    def source(self) -> ContainerClient:
        return self.service("primary").get_container_client(self.source_container)

    @property
    def target(self) -> ContainerClient:
        return self.service("secondary").get_container_client(self.target_container)

    def put(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        **settings: Any,
    ) -> None:
        self.source.upload_blob(
            name,
            data,
            overwrite=True,
            metadata=metadata,
            content_settings=ContentSettings(content_type=content_type, **settings),
        )

    def target_names(self) -> list[str]:
        return sorted(blob.name for blob in self.target.list_blobs())

    # -- plans and steps -------------------------------------------------------------------------------
    def step(self, **overrides: Any) -> BlobBackupStep:
        endpoint = self.endpoint
        data: dict[str, Any] = {
            "id": "blobs",
            "kind": "blob_backup",
            "source": {
                "account_url": self.azurite.url_for("primary", endpoint=endpoint),
                "container": self.source_container,
            },
            "target": {
                "account_url": self.azurite.url_for("secondary", endpoint=endpoint),
                "container": self.target_container,
            },
            "copy_concurrency": 8,
            "retry_attempts": 2,
            "retry_backoff": 0.05,
            "request_timeout": 5,
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return BlobBackupStep.model_validate(data)

    def write_plan(self, step: BlobBackupStep, drill_overrides: dict[str, Any] | None = None) -> None:
        plan = {
            "name": PLAN,
            "steps": [step.model_dump(mode="json", exclude_defaults=True) | {"kind": "blob_backup"}],
            "drill": {"overrides": {step.id: drill_overrides or {}}},
        }
        (self.plans_dir / f"{PLAN}.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")

    def context(self, step: BlobBackupStep, *, mode: str = "failover", run_id: str | None = None) -> StepContext:
        """The step's context; a drill of a plan in the plans folder gets it as the recovery orchestrator
        builds it from the run's plan snapshot (which says where a failover would write)."""
        now = datetime.now(UTC)
        plan_file = self.plans_dir / f"{PLAN}.yaml"
        if mode == "drill" and plan_file.exists():
            snapshot = load_plan_file(plan_file).for_mode("drill")
            run = RunInput(plan=snapshot, mode="drill", trigger={"source": "test"}, requested_at=now)
            state = RunState(run_id or f"run-{uuid.uuid4().hex[:8]}", run, snapshot, now)
            ctx = state.step_input(step.id, now).context
            assert ctx.step == step, "the test drives the step of the plan it wrote"
            return ctx
        return StepContext(
            run_id=run_id or f"run-{uuid.uuid4().hex[:8]}",
            plan_name=PLAN,
            mode=mode,  # type: ignore[arg-type]
            step=step.model_dump(mode="json"),
            started_at=now,
            now=now,
        )

    def run(self, step: BlobBackupStep, *, mode: str = "failover", run_id: str | None = None) -> Drive:
        """Drive the step to the end as the sub-orchestration does (timers are not waited for)."""
        ctx = self.context(step, mode=mode, run_id=run_id)
        self.run_ids.append(ctx.run_id)
        drive = Drive()
        drive.calls.append("begin")
        progress = BLOB.begin(ctx, step)
        drive.progresses.append(progress)
        return self.go_on(ctx, step, progress, drive)

    def go_on(
        self, ctx: StepContext, step: BlobBackupStep, progress: StepProgress, drive: Drive | None = None
    ) -> Drive:
        """Drive a step from ``progress`` to its end."""
        drive = drive or Drive(progresses=[progress])
        for _ in range(10_000):
            if progress.done:
                return drive
            ctx = ctx.model_copy(update={"now": datetime.now(UTC)})
            results: list[dict[str, Any]] = []
            if progress.work:
                items = progress.work
                drive.work_items.extend(items)
                drive.calls.extend("work" for _ in items)
                results = asyncio.run(work_round(ctx, items))
                drive.work_results.extend(results)
            drive.calls.append("poll")
            progress = BLOB.poll(ctx, step, progress.state, results)
            drive.progresses.append(progress)
        raise AssertionError("the step never finished")

    def teardown(self, step: BlobBackupStep, drive: Drive, *, run_id: str, mode: str = "drill") -> dict[str, Any]:
        ctx = self.context(step, mode=mode, run_id=run_id)
        state = drive.progresses[-1].state if drive.progresses else {}
        return BLOB.teardown(ctx, step, state)


@pytest.fixture
def blob_world(azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlobWorld]:
    """Settings pointed at Azurite, a plans folder, and fresh source/target containers for one test."""
    monkeypatch.setenv("DR_STORAGE_CONNECTION_STRINGS", json.dumps(azurite.connection_strings()))
    monkeypatch.setenv("DR_PLANS_DIR", str(tmp_path))
    reset_for_tests()
    world = BlobWorld(azurite, tmp_path)
    world.service("primary").create_container(world.source_container)
    yield world
    reset_for_tests()


@pytest.fixture
def proxied_world(
    blob_world: BlobWorld, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BlobWorld]:
    """The same, with every client of the code under test going through the fault proxy (both accounts:
    Azurite only accepts a copy source on the host:port the destination request used)."""
    fault_proxy.clear_rules()
    endpoint = fault_proxy.endpoint
    strings = blob_world.azurite.connection_strings(endpoint=endpoint)
    monkeypatch.setenv("DR_STORAGE_CONNECTION_STRINGS", json.dumps(strings))
    reset_for_tests()
    blob_world.endpoint = endpoint
    yield blob_world
    fault_proxy.clear_rules()


def seconds_between(a: str, b: datetime) -> float:
    return (b - datetime.fromisoformat(a.replace("Z", "+00:00"))) / timedelta(seconds=1)


# -- the ARM emulator and health endpoints of the kinds that talk to ARM ------------------------------------


@pytest.fixture(scope="package")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="package")
def emulator(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[ArmEmulator]:
    with running_emulator(tmp_path_factory, clock) as arm:
        yield arm


@pytest.fixture(scope="package")
def health_server() -> Iterator[HealthUrls]:
    with serving_health_urls() as server:
        yield server


@pytest.fixture
def health(health_server: HealthUrls) -> HealthUrls:
    health_server.statuses.clear()
    health_server.hits.clear()
    return health_server
