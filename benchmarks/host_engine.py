"""Benchmark of the devstack durable engine (devstack/host): fan-out/fan-in and a sequential chain of
no-op activities, and the cost of one replay against history length. Prints JSON.

    .venv/bin/python -m benchmarks.host_engine            # or: python benchmarks/host_engine.py

Azure's Durable docs quote roughly 100 activities/s for fan-out on one worker; the devstack should not be
the slow part of a local run. Replay is O(history) per episode, so the engine batches completions into as
few episodes as it can; the episode counts below show how well that works.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.host import DurableEngine, RuntimeStatus, VirtualClock, load_app

BENCH_APP = textwrap.dedent("""
    from typing import Any

    import azure.durable_functions as df

    app = df.DFApp()


    @app.orchestration_trigger(context_name="context")
    def fan_out(context: df.DurableOrchestrationContext):
        count = context.get_input()["count"]
        results = yield context.task_all([context.call_activity("noop", i) for i in range(count)])
        return len(results)


    @app.orchestration_trigger(context_name="context")
    def chain(context: df.DurableOrchestrationContext):
        value = 0
        for _ in range(context.get_input()["steps"]):
            value = yield context.call_activity("noop", value)
        return value


    @app.activity_trigger(input_name="value")
    def noop(value: Any) -> Any:
        return value
""")


def build_app(parent: Path) -> Path:
    """The benchmark's app as a directory: the Python runtime loads apps from their function_app.py."""
    app_dir = parent / "bench_app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(BENCH_APP, encoding="utf-8")
    return app_dir


def run(engine: DurableEngine, orchestrator: str, payload: dict[str, int]) -> dict[str, Any]:
    episodes_before = engine.stats.episodes
    started = time.perf_counter()
    instance_id = engine.start(orchestrator, payload)
    status = engine.wait(instance_id, timeout=300)
    wall = time.perf_counter() - started
    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output
    history = status.history or []
    activities = sum(1 for e in history if e["EventType"] == 4)
    return {
        "wall_seconds": round(wall, 3),
        "activities": activities,
        "activities_per_second": round(activities / wall, 1) if wall else None,
        "episodes": engine.stats.episodes - episodes_before,
        "history_events": len(history),
    }


def replay_cost(samples: list[tuple[int, float]], targets: tuple[int, ...]) -> dict[str, Any]:
    """Median time of one episode (handle + action replay) for histories near each target length."""
    result: dict[str, Any] = {}
    for target in targets:
        near = [seconds for length, seconds in samples if abs(length - target) <= max(10, target // 10)]
        if near:
            result[str(target)] = {"episodes": len(near), "median_ms": round(statistics.median(near) * 1000, 2)}
    return result


def main() -> None:
    app = load_app(build_app(Path(tempfile.mkdtemp(prefix="devstack-bench-"))))
    report: dict[str, Any] = {"python": sys.version.split()[0], "activity_workers": 16}
    with DurableEngine.running(app, clock=VirtualClock(), state_dir=None) as engine:
        report["in_memory"] = {
            "fan_out_100": run(engine, "fan_out", {"count": 100}),
            "fan_out_1000": run(engine, "fan_out", {"count": 1000}),
            "chain_200": run(engine, "chain", {"steps": 200}),
        }
        # One episode per step: a 250-step chain replays histories from 5 to ~1000 events.
        engine.stats.samples.clear()
        run(engine, "chain", {"steps": 250})
        samples = [(s.history_events, s.seconds) for s in engine.stats.samples]
        report["replay_per_episode_by_history_length"] = replay_cost(samples, (100, 500, 1000))
    with (
        tempfile.TemporaryDirectory() as state_dir,
        DurableEngine.running(app, clock=VirtualClock(), state_dir=state_dir) as engine,
    ):
        report["sqlite_file"] = {
            "fan_out_1000": run(engine, "fan_out", {"count": 1000}),
            "chain_200": run(engine, "chain", {"steps": 200}),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
