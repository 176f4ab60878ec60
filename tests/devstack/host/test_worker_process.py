"""The app in worker processes of its own (devstack.host.worker_process), as in Azure: HTTP functions,
orchestrators and activities run there through Microsoft's runtime, on instances per Flex Consumption scale
group (HTTP apart from Durable; as many as infra/main.bicep keeps always ready), FUNCTIONS_WORKER_PROCESS_COUNT
processes each sharing the invocations, and a worker that dies fails its invocations instead of hanging them."""

from __future__ import annotations

import logging
import os
import re
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devstack.host import RuntimeStatus, run_host
from devstack.host.indexer import load_app
from devstack.host.worker_process import (
    DEFAULT_ALWAYS_READY,
    AppInstances,
    always_ready_from_settings,
    scale_group,
)

PID_APP = textwrap.dedent("""
    import json
    import logging
    import os
    import time

    import azure.durable_functions as df
    import azure.functions as func

    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


    @app.route(route="pid", methods=["GET"])
    def pid(req: func.HttpRequest) -> func.HttpResponse:
        time.sleep(float(req.params.get("sleep", "0")))
        return func.HttpResponse(json.dumps({"pid": os.getpid(), "setting": os.environ.get("SAMPLE_SETTING")}))


    @app.route(route="log", methods=["GET"])
    def log(req: func.HttpRequest) -> func.HttpResponse:
        logging.getLogger("shop.checkout").info("order %s paid", req.params.get("order"))
        logging.getLogger("shop.checkout").debug("basket details")
        return func.HttpResponse("logged")


    @app.route(route="die", methods=["GET"])
    def die(req: func.HttpRequest) -> func.HttpResponse:
        os._exit(3)


    @app.orchestration_trigger(context_name="context")
    def pids(context: df.DurableOrchestrationContext):
        first = yield context.call_activity("where", None)
        return {"orchestrator": os.getpid(), "activity": first}


    @app.activity_trigger(input_name="payload")
    def where(payload: str) -> int:
        return os.getpid()


    @app.timer_trigger(schedule="0 0 * * * *", arg_name="timer", run_on_startup=False)
    def hourly(timer: func.TimerRequest) -> None:
        pass
""")


@pytest.fixture
def pid_app(tmp_path: Path) -> Path:
    app_dir = tmp_path / "pid_app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(PID_APP, encoding="utf-8")
    return app_dir


def test_functions_run_in_worker_processes_with_the_hosts_settings(
    pid_app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMPLE_SETTING", "from the host")
    monkeypatch.setenv("FUNCTIONS_WORKER_PROCESS_COUNT", "2")
    with run_host(pid_app, worker_process=True) as host:
        answers = [requests.get(f"{host.url}/api/pid", timeout=30).json() for _ in range(2)]
        assert {answer["setting"] for answer in answers} == {"from the host"}
        assert os.getpid() not in {answer["pid"] for answer in answers}

        # Invocations in flight at once are spread over both processes.
        def slow_pid(_: int) -> dict:
            return dict(requests.get(f"{host.url}/api/pid?sleep=0.3", timeout=30).json())

        with ThreadPoolExecutor(8) as pool:
            spread = list(pool.map(slow_pid, range(8)))
        assert len({answer["pid"] for answer in spread}) == 2

        done = host.engine.wait(host.engine.start("pids", None), timeout=30)
        assert done.runtime_status is RuntimeStatus.COMPLETED
        assert os.getpid() not in done.output.values()


def test_a_worker_that_dies_fails_its_invocation_instead_of_hanging_it(pid_app: Path) -> None:
    with run_host(pid_app, worker_process=True) as host:
        started = time.monotonic()
        answer = requests.get(f"{host.url}/api/die", timeout=30)
        assert answer.status_code == 500
        assert time.monotonic() - started < 10
        # And what comes after it fails at once too (no worker is left to answer).
        assert requests.get(f"{host.url}/api/pid", timeout=30).status_code == 500


def test_http_functions_and_durable_ones_run_on_instances_of_their_own_as_on_flex_consumption(
    pid_app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEVSTACK_SCALE_GROUPS", raising=False)
    monkeypatch.delenv("FUNCTIONS_WORKER_PROCESS_COUNT", raising=False)
    monkeypatch.setenv("DEVSTACK_ALWAYS_READY", "http=1,durable=1")
    with run_host(pid_app, worker_process=True) as host:
        http_pid = requests.get(f"{host.url}/api/pid", timeout=30).json()["pid"]
        done = host.engine.wait(host.engine.start("pids", None), timeout=30)

    assert done.runtime_status is RuntimeStatus.COMPLETED
    assert done.output["orchestrator"] == done.output["activity"]  # one "durable" instance
    assert http_pid != done.output["orchestrator"]
    assert os.getpid() not in {http_pid, *done.output.values()}


def test_the_durable_group_runs_on_the_always_ready_instances_infra_deploys(
    pid_app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEVSTACK_SCALE_GROUPS", raising=False)
    monkeypatch.delenv("DEVSTACK_ALWAYS_READY", raising=False)
    monkeypatch.delenv("FUNCTIONS_WORKER_PROCESS_COUNT", raising=False)
    with run_host(pid_app, worker_process=True) as host:
        http_pid = requests.get(f"{host.url}/api/pid", timeout=30).json()["pid"]
        runs = [host.engine.start("pids", None) for _ in range(4)]
        outputs = [host.engine.wait(run, timeout=30).output for run in runs]

    durable_pids = {pid for output in outputs for pid in output.values()}
    # Two instances of the durable group share the work (infra/main.bicep keeps two always ready), and neither
    # is the HTTP group's.
    assert len(durable_pids) == DEFAULT_ALWAYS_READY["durable"] == 2
    assert http_pid not in durable_pids


def test_the_devstack_deploys_as_many_always_ready_instances_as_infra_does() -> None:
    bicep = (Path(__file__).resolve().parents[3] / "infra" / "main.bicep").read_text(encoding="utf-8")

    def default(param: str) -> int:
        found = re.search(rf"^param {param} int = (\d+)$", bicep, re.MULTILINE)
        assert found is not None, f"infra/main.bicep declares no int parameter {param}"
        return int(found.group(1))

    assert {
        "http": default("alwaysReadyHttpInstances"),
        "durable": default("alwaysReadyDurableInstances"),
    } == DEFAULT_ALWAYS_READY


def test_always_ready_instances_are_read_from_the_setting_and_a_bad_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVSTACK_ALWAYS_READY", "durable=3, http=1")
    assert always_ready_from_settings() == {"durable": 3, "http": 1}
    monkeypatch.setenv("DEVSTACK_ALWAYS_READY", "durable:3")
    with pytest.raises(ValueError, match="'durable:3' is not group=count"):
        always_ready_from_settings()


def test_one_instance_runs_the_whole_app_when_no_group_is_set_apart(
    pid_app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSTACK_SCALE_GROUPS", "")
    with run_host(pid_app, worker_process=True) as host:
        http_pid = requests.get(f"{host.url}/api/pid", timeout=30).json()["pid"]
        done = host.engine.wait(host.engine.start("pids", None), timeout=30)

    assert {http_pid} == set(done.output.values())


def test_each_function_has_the_scale_group_flex_consumption_gives_its_trigger(pid_app: Path) -> None:
    functions = load_app(pid_app).loaded.functions

    groups = {name: scale_group(loaded) for name, loaded in functions.items()}
    instances = AppInstances(pid_app, functions, ("http", "durable"), {"durable": 3})
    placed = {name: instances.pool_of(loaded.function_id) for name, loaded in functions.items()}

    assert groups == {
        "pid": "http",
        "log": "http",
        "die": "http",
        "pids": "durable",
        "where": "durable",
        "hourly": "function:hourly",
    }
    assert sorted(instances.pools) == ["durable", "http"]
    assert placed["hourly"] is placed["pid"] is instances.pools["http"]  # a group without its own: the first's
    assert placed["pids"] is placed["where"] is instances.pools["durable"]
    # maxConcurrentActivityFunctions holds per instance: three durable instances, three times the activities.
    assert [len(instances.pools[group].instances) for group in ("http", "durable")] == [1, 3]
    assert instances.activity_instances() == 3


def test_the_apps_logs_reach_the_host_as_the_python_worker_sends_them(
    pid_app: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with run_host(pid_app, worker_process=True) as host:
        assert requests.get(f"{host.url}/api/log?order=42", timeout=30).text == "logged"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(r.name.endswith("shop.checkout") for r in caplog.records):
            time.sleep(0.05)

    app_logs = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "worker.http.shop.checkout"]
    # The root logger of the worker is at INFO, as in Azure: the app's INFO record comes, its DEBUG one does not.
    assert app_logs == [(logging.INFO, "order 42 paid")]
    # The runtime's own per-invocation record comes too, written at DEBUG (a system log).
    runtime = [r for r in caplog.records if r.name == "worker.http.azure.functions"]
    assert any("Function name: log" in r.getMessage() and r.levelno == logging.DEBUG for r in runtime)


NAP_APP = textwrap.dedent("""
    import os
    import time

    import azure.durable_functions as df
    import azure.functions as func

    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


    @app.orchestration_trigger(context_name="context")
    def naps(context: df.DurableOrchestrationContext):
        return (yield context.task_all([context.call_activity("nap", i) for i in range(2)]))


    @app.activity_trigger(input_name="payload")
    def nap(payload: int) -> list:
        started = time.time()
        time.sleep(0.5)
        return [os.getpid(), started, time.time()]
""")


def test_max_concurrent_activities_holds_per_durable_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app_dir = tmp_path / "nap_app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(NAP_APP, encoding="utf-8")
    (app_dir / "host.json").write_text(
        '{"version": "2.0", "extensions": {"durableTask": {"maxConcurrentActivityFunctions": 1}}}', encoding="utf-8"
    )
    monkeypatch.delenv("DEVSTACK_SCALE_GROUPS", raising=False)
    monkeypatch.delenv("FUNCTIONS_WORKER_PROCESS_COUNT", raising=False)
    monkeypatch.setenv("DEVSTACK_ALWAYS_READY", "http=1,durable=2")
    with run_host(app_dir, worker_process=True) as host:
        done = host.engine.wait(host.engine.start("naps", None), timeout=30)

    (pid_a, start_a, end_a), (pid_b, start_b, end_b) = done.output
    # One activity at a time on each instance, and two instances: the two naps ran at once, one on each.
    assert pid_a != pid_b
    assert start_a < end_b and start_b < end_a
