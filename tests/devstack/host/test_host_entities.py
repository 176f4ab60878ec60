"""Durable entities: called and signalled from orchestrators, signalled and read from the SDK's client over
HTTP, their state persisted, their operations run one batch at a time in arrival order."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import requests

from devstack.host import DurableEngine, HostServer, IndexedApp, RuntimeStatus, VirtualClock
from devstack.host.history import EventType

from .conftest import TEST_KEY
from .helpers import of_type, wait_until

KEY = {"x-functions-key": TEST_KEY}


def test_an_orchestrator_signals_then_calls_an_entity_and_sees_its_result_and_its_errors(
    engine: DurableEngine,
) -> None:
    key = f"k-{uuid.uuid4().hex[:8]}"

    status = engine.wait(engine.start("counter_workflow", {"key": key}))

    assert status.runtime_status is RuntimeStatus.COMPLETED, status.output
    # The two signals were queued before the call, so the call sees both.
    assert status.output == {"total": 15, "refused": "the counter refuses (at 15)", "again": 15}
    sent = of_type(status.history, EventType.EVENT_SENT)
    assert [(e["InstanceId"], e["Name"], json.loads(e["Input"])["op"]) for e in sent] == [
        (f"@counter@{key}", "op", "add"),
        (f"@counter@{key}", "op", "add"),
        (f"@counter@{key}", "op", "get"),
        (f"@counter@{key}", "op", "fail"),
        (f"@counter@{key}", "op", "get"),
    ]
    assert [json.loads(e["Input"]).get("signal", False) for e in sent] == [True, True, False, False, False]
    # Each call's response is an EventRaised named after its request id.
    calls = [json.loads(e["Input"])["id"] for e in sent[2:]]
    assert [e["Name"] for e in of_type(status.history, EventType.EVENT_RAISED)] == calls
    assert engine.read_entity_state("Counter", key) == (True, 15)


def test_calling_an_entity_that_does_not_exist_fails_the_orchestration(engine: DurableEngine) -> None:
    status = engine.wait(engine.start("calls_unknown_entity", None))

    assert status.runtime_status is RuntimeStatus.FAILED
    assert status.output.startswith(
        "The function 'nosuchentity' doesn't exist, is disabled, or is not an entity function."
    )


def test_operations_on_one_entity_run_in_the_order_they_arrived(engine: DurableEngine) -> None:
    key = f"order-{uuid.uuid4().hex[:8]}"

    for number in range(1, 31):
        engine.signal_entity("journal", key, "record", number)
    engine.run_until_idle()

    assert engine.read_entity_state("journal", key) == (True, list(range(1, 31)))


def test_concurrent_callers_of_one_entity_lose_no_update(engine: DurableEngine) -> None:
    key = f"race-{uuid.uuid4().hex[:8]}"

    instances = [engine.start("counter_increment", {"key": key}) for _ in range(12)]
    outputs = [engine.wait(instance_id).output for instance_id in instances]

    assert engine.read_entity_state("Counter", key) == (True, 12)
    assert max(outputs) == 12
    assert all(1 <= value <= 12 for value in outputs)


def test_entity_state_survives_a_host_restart(sample_app: IndexedApp, tmp_path: Path) -> None:
    key = f"durable-{uuid.uuid4().hex[:8]}"

    with DurableEngine.running(sample_app, state_dir=tmp_path, clock=VirtualClock()) as first:
        first.signal_entity("Counter", key, "add", 3)
        first.run_until_idle()
    with DurableEngine.running(sample_app, state_dir=tmp_path, clock=VirtualClock()) as second:
        restored = second.read_entity_state("Counter", key)
        second.signal_entity("Counter", key, "add", 4)
        second.run_until_idle()
        after = second.read_entity_state("Counter", key)

    assert restored == (True, 3)
    assert after == (True, 7)


# --- the SDK's client over HTTP ------------------------------------------------------------------------------


def _signal(host: HostServer, name: str, key: str, op: str, payload: object = None) -> requests.Response:
    return requests.post(
        f"{host.url}/api/entity/{name}/{key}", params={"op": op}, json=payload, headers=KEY, timeout=10
    )


def _read(host: HostServer, name: str, key: str) -> dict:
    response = requests.get(f"{host.url}/api/entity/{name}/{key}", headers=KEY, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_client_signals_an_entity_and_reads_its_state(host: HostServer) -> None:
    key = f"http-{uuid.uuid4().hex[:8]}"

    assert _read(host, "Counter", key) == {"exists": False, "state": None}
    assert _signal(host, "Counter", key, "add", 7).status_code == 202
    assert _signal(host, "Counter", key, "add", 8).status_code == 202
    assert wait_until(lambda: _read(host, "Counter", key)["state"] == 15, timeout=10)

    assert _read(host, "Counter", key) == {"exists": True, "state": 15}


def test_the_client_passes_structured_inputs_and_delete_ends_the_entity(host: HostServer) -> None:
    key = f"http-{uuid.uuid4().hex[:8]}"

    assert _signal(host, "journal", key, "record", {"plan": "shop", "steps": [1, 2]}).status_code == 202
    assert _signal(host, "journal", key, "record", "plain text").status_code == 202
    assert wait_until(lambda: len(_read(host, "journal", key)["state"] or []) == 2, timeout=10)
    recorded = _read(host, "journal", key)
    assert _signal(host, "Counter", key, "add", 1).status_code == 202
    assert wait_until(lambda: _read(host, "Counter", key)["exists"], timeout=10)
    assert _signal(host, "Counter", key, "delete").status_code == 202
    assert wait_until(lambda: not _read(host, "Counter", key)["exists"], timeout=10)

    assert recorded == {"exists": True, "state": [{"plan": "shop", "steps": [1, 2]}, "plain text"]}


def test_signalling_an_entity_function_that_does_not_exist_is_refused(host: HostServer) -> None:
    response = _signal(host, "NoSuchEntity", "k", "add", 1)

    # The extension answers 400 (no such entity function); the SDK's client raises on anything but 202.
    assert response.status_code == 409
    assert response.text == "The operation failed with an unexpected status code 400"


def test_the_entity_webhook_reads_state_and_signals(host: HostServer) -> None:
    key = f"hook-{uuid.uuid4().hex[:8]}"
    base = f"{host.url}/runtime/webhooks/durabletask/entities/Counter/{key}"

    missing = requests.get(base, params={"code": TEST_KEY}, timeout=10)
    # The body as the SDK's signal_entity sends it: its JSON text as a JSON string (the Python entity's
    # get_input() decodes twice, so a bare `41` would fail the operation, in Azure as here).
    signalled = requests.post(base, params={"code": TEST_KEY, "op": "add"}, json=json.dumps(41), timeout=10)
    assert wait_until(lambda: requests.get(base, params={"code": TEST_KEY}, timeout=10).status_code == 200, timeout=10)
    found = requests.get(base, params={"code": TEST_KEY}, timeout=10)

    assert missing.status_code == 404
    assert signalled.status_code == 202
    assert found.json() == 41
