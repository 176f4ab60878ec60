"""What the end-to-end tests do on the whole local stack: start a demo's stack (its plan rendered once the stack's
application server listens), start a run over the operator API, follow it to its report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.demo.runner import Api
from devstack.stack import LocalStack


@contextmanager
def stack_with_rendered_plan(tmp_path: Path, demo: Path) -> Iterator[LocalStack]:
    """The local stack on `demo`/estate.yaml with `demo`/plan.yaml as its one plan. The plan names the stack's
    application server (${APPS}), known once it listens; plans are read when a run starts."""
    plans = tmp_path / "plans"
    plans.mkdir()
    with LocalStack(
        state_dir=tmp_path / "stack", timers=False, estate=demo / "estate.yaml", plans_dir=plans
    ) as running:
        assert running.apps is not None
        (plans / "plan.yaml").write_text((demo / "plan.yaml").read_text().replace("${APPS}", running.apps.url))
        yield running


def start_run(api: Api, plan: str, mode: str, reason: str) -> str:
    """Start a run of `plan` over the operator API; its id."""
    body = {"plan": plan, "mode": mode, "reason": reason}
    return str(api.json("POST", "/api/recoveries", (202,), json=body)["id"])


def run_report(api: Api, run_id: str, *, timeout: float, interval: float) -> dict[str, Any]:
    """Follow the run's status until it carries the report."""
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        view = api.json("GET", f"/api/recoveries/{run_id}", (200,))
        if view.get("report"):
            return dict(view["report"])
        time.sleep(interval)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s: {view}")
