"""Durable semantics taken from the extension: function names from the decorators, orchestration versions."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from devstack.host import DurableEngine, HostServer, RuntimeStatus, VirtualClock, load_app
from devstack.host.history import EventType

from .conftest import TEST_KEY
from .helpers import of_type, poll_status

KEY = {"x-functions-key": TEST_KEY}


# --- names -------------------------------------------------------------------------------------------------


def test_an_orchestrator_renamed_by_its_decorator_starts_by_that_name_through_the_client(host: HostServer) -> None:
    started = requests.post(
        f"{host.url}/api/orchestrators/HelloCities", json={"cities": ["Oslo", "Quito"]}, headers=KEY, timeout=10
    )
    assert started.status_code == 202, started.text

    final = poll_status(started.json()["statusQueryGetUri"], timeout=10)

    assert final.json()["runtimeStatus"] == "Completed"
    assert final.json()["name"] == "HelloCities"
    assert final.json()["output"] == ["Greetings, Oslo!", "Greetings, Quito!"]


def test_the_python_name_of_a_renamed_orchestrator_is_not_an_orchestrator(host: HostServer) -> None:
    started = requests.post(f"{host.url}/api/orchestrators/hello_cities_orchestrator", headers=KEY, timeout=10)

    assert started.status_code == 400
    assert "The function 'hello_cities_orchestrator' doesn't exist, is disabled, or is not an orchestrator" in (
        started.text
    )
    assert "'HelloCities'" in started.text


def test_orchestrator_names_are_case_insensitive(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("hellocities", {"cities": ["Rome"]}))

    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == ["Greetings, Rome!"]
    assert [e["Name"] for e in of_type(status.history, EventType.TASK_SCHEDULED)] == ["Greet"]


def test_a_renamed_activity_is_unknown_by_its_python_name(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("calls_activity_by_function_name", None))

    assert status.runtime_status is RuntimeStatus.FAILED
    assert status.output.startswith(
        "The function 'greet_city' doesn't exist, is disabled, or is not an activity function."
    )
    assert "'Greet'" in status.output


# --- versions ----------------------------------------------------------------------------------------------


def test_without_default_version_or_start_version_context_version_is_none(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("versioned_parent", None))

    assert status.output == {"before": None, "after": None, "child": None, "child_asked_for_9.9": None}


def test_start_new_version_reaches_context_version_on_every_replay(host: HostServer) -> None:
    started = requests.post(
        f"{host.url}/api/orchestrators/versioned_parent", params={"version": "2.0"}, headers=KEY, timeout=10
    )
    assert started.status_code == 202, started.text
    instance_id = started.json()["id"]

    final = poll_status(started.json()["statusQueryGetUri"], timeout=10)
    history = host.engine.get_status(instance_id)

    assert final.json()["runtimeStatus"] == "Completed"
    # "after" is read after a yield, i.e. on replays; sub-orchestrations get host.json defaultVersion (none
    # here), whatever version the SDK's call_sub_orchestrator passed.
    assert final.json()["output"] == {"before": "2.0", "after": "2.0", "child": None, "child_asked_for_9.9": None}
    assert history is not None
    (started_event,) = of_type(history.history, EventType.EXECUTION_STARTED)
    assert started_event["Version"] == "2.0"


VERSIONED_APP = """
import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    before = context.version
    yield context.create_timer(context.current_utc_datetime)
    child = yield context.call_sub_orchestrator("child", None, context.instance_id + "-child")
    asked = yield context.call_sub_orchestrator("child", None, context.instance_id + "-asked", version="9.9")
    return {"before": before, "after": context.version, "child": child, "asked": asked}


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime)
    return context.version


@app.orchestration_trigger(context_name="context")
def eternal(context: df.DurableOrchestrationContext):
    seen = [*(context.get_input() or {}).get("seen", []), context.version]
    yield context.create_timer(context.current_utc_datetime)
    if len(seen) < 2:
        context.continue_as_new({"seen": seen})
        return None
    return seen
"""


@pytest.fixture(scope="module")
def versioned_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DurableEngine]:
    app_dir = tmp_path_factory.mktemp("versioned") / "versioned_app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(VERSIONED_APP)
    (app_dir / "host.json").write_text(
        json.dumps({"version": "2.0", "extensions": {"durableTask": {"defaultVersion": "1.0"}}})
    )
    with DurableEngine.running(load_app(app_dir), clock=VirtualClock(), verify_replay=True) as running:
        yield running


def test_host_json_default_version_applies_to_new_orchestrations_and_all_sub_orchestrations(
    versioned_engine: DurableEngine,
) -> None:
    default = versioned_engine.wait(versioned_engine.start("parent", None))
    explicit = versioned_engine.wait(versioned_engine.start("parent", None, version="2.0"))

    assert default.output == {"before": "1.0", "after": "1.0", "child": "1.0", "asked": "1.0"}
    assert explicit.output == {"before": "2.0", "after": "2.0", "child": "1.0", "asked": "1.0"}
    created = of_type(explicit.history, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED)
    assert [e["Version"] for e in created] == ["1.0", "1.0"]


def test_continue_as_new_keeps_the_version(versioned_engine: DurableEngine) -> None:
    default = versioned_engine.wait(versioned_engine.start("eternal", None))
    explicit = versioned_engine.wait(versioned_engine.start("eternal", None, version="3.1"))

    assert default.output == ["1.0", "1.0"]
    assert explicit.output == ["3.1", "3.1"]
