"""Orchestrator tests: the real function app, replayed through the SDK's `handle` entry point by the
devstack engine in virtual-clock mode (durable timers are skipped, not slept), with the step activities
replaced by scripted fakes registered under their real names."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devstack.host import DurableEngine, IndexedApp, VirtualClock, load_app
from dr.plan import parse_plan
from dr.run import RunInput
from dr.whatif import PreflightInput, run_preflight

ROOT = Path(__file__).resolve().parents[2]

Behaviour = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture(scope="session")
def app() -> IndexedApp:
    return load_app(ROOT)


class FakeSteps:
    """Scripted step activities. ``script[step_id](operation, payload)`` returns the activity result or
    raises; the default finishes every step in begin. Every call is recorded."""

    def __init__(self) -> None:
        self.script: dict[str, Behaviour] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.reports: list[dict[str, Any]] = []
        # Pre-flight answers by step id (dr.steps.base.Check as JSON); default: no checks.
        self.checks: dict[str, list[dict[str, Any]] | Behaviour] = {}
        # A failback's primary-health rounds, in order (True: healthy); when they run out, healthy.
        self.primary_rounds: list[bool] = []
        self.primary_probes = 0
        self.on_primary_probe: Callable[[int], None] | None = None  # called with the round's number
        self.plan_states: list[dict[str, Any]] = []
        self.history_unreadable = False  # the preflight's history read fails (reports container unreachable)
        # The cancels the run forwarded to its first steps (forward_cancel), and the engine that delivers them.
        self.forwarded: list[list[str]] = []
        self.engine: DurableEngine | None = None
        self._lock = threading.Lock()

    def _check(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        step_id = payload["context"]["step"]["id"]
        with self._lock:
            self.calls.append(("check", step_id, payload))
        answer = self.checks.get(step_id, [])
        return answer("check", payload) if callable(answer) else answer  # type: ignore[return-value]

    def _call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        step_id = payload["context"]["step"]["id"]
        with self._lock:
            self.calls.append((operation, step_id, payload))
        behaviour = self.script.get(step_id)
        if behaviour is None:
            return {"done": True, "summary": f"{step_id} done"} if operation != "teardown" else {"removed": step_id}
        return behaviour(operation, payload)

    def changes(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every call that may change something (all but the read-only pre-flight checks)."""
        return [call for call in self.calls if call[0] != "check"]

    def ops(self, step_id: str) -> list[str]:
        return [op for op, sid, _ in self.calls if sid == step_id and op != "check"]

    def overrides(self) -> dict[str, Callable[..., Any]]:
        def write_report(payload: dict[str, Any]) -> str:
            self.reports.append(payload["report"])
            return f"memory://reports/{payload['report']['instance_id']}.json"

        return {
            "preflight": self._preflight,
            "step_begin": lambda payload: self._call("begin", payload),
            "step_poll": lambda payload: self._call("poll", payload),
            "step_work": lambda payload: self._call("work", payload),
            "step_teardown": lambda payload: self._call("teardown", payload),
            "write_report": write_report,
            "probe_primary": self._probe_primary,
            "record_plan_state": self._record_plan_state,
            "forward_cancel": self._forward_cancel,
        }

    def _forward_cancel(self, payload: dict[str, Any]) -> dict[str, Any]:
        """forward_cancel over this engine: the cancel, raised to each step still active."""
        assert self.engine is not None
        with self._lock:
            self.forwarded.append(list(payload["steps"]))
        for step_id in payload["steps"]:
            instance = f"{payload['run_id']}:{step_id}"
            status = self.engine.get_status(instance, history=False)
            if status is not None and status.runtime_status in ("Pending", "Running"):
                self.engine.raise_event(instance, "cancel", payload["cancel"])
        return {"steps": payload["steps"]}

    def _preflight(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The preflight activity (dr.whatif.run_preflight) over the scripted checks, with the reports this
        engine's runs wrote as the plan's history."""

        def history() -> list[dict[str, Any]]:
            if self.history_unreadable:
                raise RuntimeError("reports container unreachable")
            with self._lock:
                return [report for report in reversed(self.reports) if report.get("plan") == payload["plan"]]

        request = PreflightInput.model_validate(payload)
        return run_preflight(request, history, check=self._check).model_dump(mode="json")

    def _probe_primary(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            ok = self.primary_rounds.pop(0) if self.primary_rounds else True
            self.primary_probes += 1
            number = self.primary_probes
        if self.on_primary_probe is not None:
            self.on_primary_probe(number)
        result = "HTTP 200" if ok else "HTTP 503"
        return {
            "ok": ok,
            "urls": [{"url": url, "ok": ok, "result": result, "latency_ms": 1.0} for url in payload["urls"]],
        }

    def _record_plan_state(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.plan_states.append(payload)
        return {"active": "recorded", "run_id": payload["run_id"]}


@pytest.fixture
def fake() -> FakeSteps:
    return FakeSteps()


@pytest.fixture
def engine(app: IndexedApp, fake: FakeSteps) -> Iterator[DurableEngine]:
    with DurableEngine.running(
        app, state_dir=None, clock=VirtualClock(), activity_overrides=fake.overrides()
    ) as running:
        fake.engine = running
        yield running


def run_input(steps: list[dict[str, Any]], *, mode: str = "failover", **plan_fields: Any) -> dict[str, Any]:
    plan = parse_plan({"name": "shop", "steps": steps, **plan_fields})
    return RunInput(
        plan=plan.for_mode(mode).model_dump(mode="json"),  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        trigger={"source": "operator"},
        requested_at=datetime.now(UTC),
        requested_by="tester",
        reason="test",
        min_poll_seconds=1,
    ).model_dump(mode="json")


def step(step_id: str, **fields: Any) -> dict[str, Any]:
    """A verification step (health_check): a run whose verification fails did not recover."""
    return {"id": step_id, "kind": "health_check", "url": f"http://127.0.0.1:9/{step_id}", **fields}


SQL = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers"
TRAFFIC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/trafficManagerProfiles"


def data_step(step_id: str, **fields: Any) -> dict[str, Any]:
    """A data step (a failover group's failover; its activities are the fakes')."""
    return {
        "id": step_id,
        "kind": "sql_failover_group",
        "failover_group_id": f"{SQL}/wus-{step_id}/failoverGroups/fog-{step_id}",
        **fields,
    }


def traffic_step(step_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "kind": "traffic_manager_failover",
        "profile_id": f"{TRAFFIC}/{step_id}",
        "from_endpoints": ["eus"],
        "to_endpoints": ["wus"],
        **fields,
    }


def check(name: str, status: str, message: str) -> dict[str, Any]:
    return {"name": name, "status": status, "message": message, "facts": {}}
