"""devstack.host: a local Azure Functions + Durable Functions host for Python v2 apps.

Functions are indexed, validated, loaded and invoked by Microsoft's Python runtime (`azure-functions-runtime`,
the package Azure runs for Python 3.13; `worker.py` plays the proxy worker, `invoker.py` the host's side of
each InvocationRequest). On top of it the host serves HTTP functions at `/api/<route>` with function keys,
runs timer triggers, serves the Durable extension's HTTP API (`/runtime/webhooks/durabletask/...`, and
`/durabletask/...` as the client binding's `rpcBaseUrl`), and runs orchestrations with a durable engine
whose episodes invoke the orchestrator function through the runtime, with histories in the extension's event
schema persisted in SQLite.

Command line (like `func start`)::

    python -m devstack.host --app-dir . --port 7071 --state-dir .devstack/host-state [--settings FILE]
        [--no-timers] [--virtual-clock] [--in-memory] [--max-concurrent-activities N]

Function key: `DEVSTACK_FUNCTION_KEY`, else generated and printed at start (it is also the master and
system key). `POST /admin/functions/{name}` with that key runs a timer function now.

The engine from plain (sync) pytest, with a virtual clock that skips durable timers while you wait::

    from datetime import timedelta
    from devstack.host import DurableEngine, EventType, RuntimeStatus, VirtualClock, load_app

    app = load_app("/work/main")                      # a directory with function_app.py (the runtime loads it)
    with DurableEngine.running(app, state_dir=None,   # None: in-memory SQLite; a path: durable across runs
                               clock=VirtualClock(),
                               activity_overrides={"step_begin": fake_begin}) as engine:
        iid = engine.start("recovery_orchestrator", {"plan": ...}, instance_id="x")
        engine.wait_for_custom_status(iid, lambda s: s and s.get("phase") == "awaiting_approval")
        engine.raise_event(iid, "approval", {"approved": True})
        status = engine.wait(iid, timeout=10)         # until Completed/Failed/Terminated
        assert status.runtime_status is RuntimeStatus.COMPLETED
        status.output, status.custom_status, status.history   # history: the raw extension events
        status.events_of_type(EventType.TASK_SCHEDULED)
        engine.clock.now()

`DurableEngine` methods: start(name, input=None, *, instance_id=None) -> str; wait(iid, timeout=10.0);
wait_for(iid, predicate(status), *, timeout, skip_time=True); wait_for_custom_status(iid, predicate, ...);
run_until_idle(timeout); advance(timedelta) (virtual clock); raise_event(iid, name, data=None);
terminate / suspend / resume(iid, reason=""); get_status(iid, *, history=True); list_instances(...);
purge(iid); stats (episodes, activities run, per-episode replay samples).

The full host in-process (HTTP on port 0) for end-to-end tests::

    from devstack.host import run_host
    with run_host("/work/main", clock=VirtualClock(auto_advance=True)) as host:
        requests.post(f"{host.url}/api/recoveries", headers={"x-functions-key": host.function_key}, ...)
        host.engine.wait(iid)

Fidelity notes: raising an event with the Python SDK's `raise_event` JSON-encodes the data twice, so the
orchestrator receives a JSON *string*, exactly as in Azure (azure-functions-durable-python#295); the
sendEventPostUri with a JSON body, and `DurableEngine.raise_event`, deliver the value itself. A non-dict
top-level orchestration input breaks `context.get_input()` as it does in Azure.
"""

from .api import DurableEngine, LoopThread
from .clock import Clock, RealClock, VirtualClock
from .engine import EngineCore, EngineStats
from .history import Event, EventType
from .indexer import IndexedApp, load_app
from .models import (
    DurableError,
    FunctionNotFoundError,
    InstanceAlreadyExistsError,
    InstanceGoneError,
    InstanceNotFoundError,
    InstanceStatus,
    RuntimeStatus,
)
from .server import HostRuntime, HostServer, run_host

__all__ = [
    "Clock",
    "DurableEngine",
    "DurableError",
    "EngineCore",
    "EngineStats",
    "Event",
    "EventType",
    "FunctionNotFoundError",
    "HostRuntime",
    "HostServer",
    "IndexedApp",
    "InstanceAlreadyExistsError",
    "InstanceGoneError",
    "InstanceNotFoundError",
    "InstanceStatus",
    "LoopThread",
    "RealClock",
    "RuntimeStatus",
    "VirtualClock",
    "load_app",
    "run_host",
]
