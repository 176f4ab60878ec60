"""The SQL steps against real Azure: the same begin/poll/teardown calls the activity tests make against the
emulator. Skipped unless the environment says which resources to use (nothing here creates a server):

    DR_LIVE_TESTS=1
    credentials for DefaultAzureCredential: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET
        (or AZURE_FEDERATED_TOKEN_FILE), or DR_LIVE_CREDENTIAL=default to use `az login` / a managed identity
    DR_LIVE_SQL_SOURCE_DATABASE_ID   a database with a geo-backup   } geo-restore drill (creates a database
    DR_LIVE_SQL_TARGET_SERVER_ID     a server in another region     }   named dr-live-<id>, then deletes it)
    DR_LIVE_SQL_FAILOVER_GROUP_ID    a group, on its secondary       read-only drill of the group
    DR_LIVE_SQL_ALLOW_FAILOVER=1     also fail the group over (planned) and back: changes production roles

Geo-restore takes minutes to hours: DR_LIVE_SQL_RESTORE_TIMEOUT (seconds, default 3600) bounds the wait.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dr.clients import reset_for_tests
from dr.errors import TransientError
from dr.steps import get_kind, spec_of
from dr.steps.base import StepContext, StepKind, StepProgress

pytestmark = pytest.mark.live

RESTORE_TIMEOUT = float(os.environ.get("DR_LIVE_SQL_RESTORE_TIMEOUT", "3600"))
FAILOVER_TIMEOUT = 1800.0


def _missing_credentials() -> str | None:
    env = os.environ
    if env.get("DR_LIVE_CREDENTIAL") == "default":
        return None
    service_principal = env.get("AZURE_TENANT_ID") and env.get("AZURE_CLIENT_ID")
    if service_principal and (env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_FEDERATED_TOKEN_FILE")):
        return None
    return (
        "no Azure credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET "
        "(or AZURE_FEDERATED_TOKEN_FILE), or DR_LIVE_CREDENTIAL=default for az login / managed identity"
    )


def require(*names: str) -> dict[str, str]:
    """The named environment variables, or a skip that says what is missing."""
    if os.environ.get("DR_LIVE_TESTS") != "1":
        pytest.skip("live Azure tests run only with DR_LIVE_TESTS=1")
    missing_credentials = _missing_credentials()
    if missing_credentials:
        pytest.skip(missing_credentials)
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        pytest.skip(f"set {', '.join(missing)} to run this live test")
    return {name: os.environ[name] for name in names}


@pytest.fixture(autouse=True)
def _azure_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Talk to Azure itself, whatever a developer's shell says about the emulator."""
    for name in ("DR_ARM_ENDPOINT", "DR_ARM_CA_BUNDLE", "DR_ARM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    reset_for_tests()
    yield
    reset_for_tests()


class LiveRun:
    """Drives one step kind as the sub-orchestration would, with real sleeps instead of durable timers."""

    def __init__(self, step: dict[str, Any], *, mode: str, run_id: str | None = None) -> None:
        self.kind: StepKind[Any] = get_kind(step["kind"])
        self.params = spec_of(step["kind"]).params.model_validate(step)
        self.run_id = run_id or f"live-{uuid.uuid4().hex[:12]}"
        self.mode = mode
        self.step = step

    def ctx(self) -> StepContext:
        now = datetime.now(UTC)
        return StepContext(
            run_id=self.run_id,
            plan_name="live-test",
            mode=self.mode,
            step=self.step,
            started_at=now,
            now=now,  # type: ignore[arg-type]
        )

    def call(self, fn: Any, *args: Any) -> Any:
        for attempt in range(5):  # the orchestrator's retry of transient failures
            try:
                return fn(self.ctx(), self.params, *args)
            except TransientError:
                if attempt == 4:
                    raise
                time.sleep(10 * (attempt + 1))
        raise AssertionError("unreachable")

    def to_the_end(self, timeout: float) -> StepProgress:
        progress: StepProgress = self.call(self.kind.begin)
        deadline = time.monotonic() + timeout
        while not progress.done:
            assert time.monotonic() < deadline, f"not done within {timeout:.0f}s: {progress.summary}"
            time.sleep(max(progress.poll_after_seconds, 5.0))
            progress = self.call(self.kind.poll, progress.state, [])
        return progress


@pytest.mark.timeout(int(RESTORE_TIMEOUT) + 600)
def test_live_geo_restore_drill_then_teardown_deletes_it() -> None:
    env = require("DR_LIVE_SQL_SOURCE_DATABASE_ID", "DR_LIVE_SQL_TARGET_SERVER_ID")
    run = LiveRun(
        {
            "id": "db",
            "kind": "sql_geo_restore",
            "source_database_id": env["DR_LIVE_SQL_SOURCE_DATABASE_ID"],
            "target_server_id": env["DR_LIVE_SQL_TARGET_SERVER_ID"],
            "drill_target_database": f"dr-live-{uuid.uuid4().hex[:8]}",
        },
        mode="drill",
    )
    started: StepProgress = run.call(run.kind.begin)
    try:
        assert started.rpo_estimate_seconds is not None
        assert started.rpo_estimate_seconds >= 0
        assert started.detail["last_available_backup"]
        # A re-run of begin finds the restore instead of starting another one.
        again: StepProgress = run.call(run.kind.begin)
        assert again.detail["origin"] == "restore started earlier by this run"
        progress = run.to_the_end(RESTORE_TIMEOUT)
        assert progress.detail["status"] == "Online"
    finally:
        result = run.call(run.kind.teardown, started.state)
    assert result["teardown"] in ("delete started", "deleted")


@pytest.mark.timeout(300)
def test_live_failover_group_drill_reads_the_group_and_changes_nothing() -> None:
    env = require("DR_LIVE_SQL_FAILOVER_GROUP_ID")
    step = {
        "id": "fog",
        "kind": "sql_failover_group",
        "failover_group_id": env["DR_LIVE_SQL_FAILOVER_GROUP_ID"],
    }

    first: StepProgress = LiveRun(step, mode="drill").call(get_kind("sql_failover_group").begin)
    second: StepProgress = LiveRun(step, mode="drill").call(get_kind("sql_failover_group").begin)

    assert first.done
    assert first.detail["replication_role"] in ("Primary", "Secondary")
    assert second.detail["replication_role"] == first.detail["replication_role"]
    assert first.detail["rpo_basis"]


@pytest.mark.timeout(int(2 * FAILOVER_TIMEOUT) + 300)
def test_live_planned_failover_and_back() -> None:
    env = require("DR_LIVE_SQL_FAILOVER_GROUP_ID", "DR_LIVE_SQL_ALLOW_FAILOVER")
    group_id = env["DR_LIVE_SQL_FAILOVER_GROUP_ID"]
    step = {"id": "fog", "kind": "sql_failover_group", "failover_group_id": group_id}
    before: StepProgress = LiveRun(step, mode="drill").call(get_kind("sql_failover_group").begin)
    if before.detail["replication_role"] != "Secondary":
        pytest.skip("DR_LIVE_SQL_FAILOVER_GROUP_ID must name the group on its secondary server")
    partner_server_id = before.detail["partners"][0]["id"]
    back = {**step, "failover_group_id": f"{partner_server_id}/failoverGroups/{group_id.rsplit('/', 1)[-1]}"}

    promoted = LiveRun(step, mode="failover").to_the_end(FAILOVER_TIMEOUT)
    assert promoted.detail["replication_role"] == "Primary"
    assert promoted.rpo_estimate_seconds == 0.0

    restored = LiveRun(back, mode="failover").to_the_end(FAILOVER_TIMEOUT)
    assert restored.detail["replication_role"] == "Primary"
