"""The host over real HTTP: function keys, request/response conversion, the Durable HTTP API, and the
sample's starter driven through azure-functions-durable's own DurableOrchestrationClient."""

from __future__ import annotations

import uuid

import pytest
import requests

from devstack.host import HostServer, IndexedApp, RuntimeStatus, VirtualClock, run_host

from .conftest import TEST_KEY
from .helpers import poll_status, wait_until

KEY = {"x-functions-key": TEST_KEY}


def _start(host: HostServer, orchestrator: str, payload: object, instance_id: str | None = None) -> dict:
    url = f"{host.url}/api/orchestrators/{orchestrator}" + (f"/{instance_id}" if instance_id else "")
    response = requests.post(url, json=payload, headers=KEY, timeout=10)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == response.json()["statusQueryGetUri"]
    return response.json()


def _webhook(host: HostServer, path: str) -> str:
    return f"{host.url}/runtime/webhooks/durabletask/{path}"


# --- keys ------------------------------------------------------------------------------------------------


def test_function_level_routes_need_the_key_in_a_header_or_the_code_parameter(host: HostServer) -> None:
    url = f"{host.url}/api/keys/function-level"

    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"x-functions-key": "wrong"}, timeout=5).status_code == 401
    by_header = requests.get(url, headers=KEY, timeout=5)
    by_query = requests.get(url, params={"code": TEST_KEY}, timeout=5)

    assert (by_header.status_code, by_header.text) == (200, "function ok")
    assert (by_query.status_code, by_query.text) == (200, "function ok")


def test_admin_level_routes_need_the_master_key(host: HostServer) -> None:
    url = f"{host.url}/api/keys/admin-only"

    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers=KEY, timeout=5).text == "admin ok"


def test_the_durable_webhooks_need_the_system_key(host: HostServer) -> None:
    assert requests.get(_webhook(host, "instances/whatever"), timeout=5).status_code == 401
    assert requests.get(_webhook(host, "instances/whatever"), params={"code": TEST_KEY}, timeout=5).status_code == 404


# --- HTTP functions ----------------------------------------------------------------------------------------


def test_an_anonymous_function_gets_route_params_query_headers_and_body(host: HostServer) -> None:
    response = requests.post(
        f"{host.url}/api/echo/some%20name/extra?color=blue&size=2",
        data=b"raw body",
        headers={"x-ms-client-principal": "eyJhdXRoX3R5cCI6ImFhZCJ9", "x-custom": "kept"},
        timeout=5,
    )

    echoed = response.json()
    assert response.status_code == 200
    assert response.headers["x-echo"] == "yes"
    assert response.headers["Content-Type"].startswith("application/json")
    assert echoed["method"] == "POST"
    assert echoed["route_params"] == {"name": "some name", "rest": "extra"}
    assert echoed["params"] == {"color": "blue", "size": "2"}
    assert echoed["principal"] == "eyJhdXRoX3R5cCI6ImFhZCJ9"
    assert echoed["custom_header"] == "kept"
    assert echoed["body"] == "raw body"
    assert echoed["url"].endswith("/api/echo/some%20name/extra?color=blue&size=2")
    assert echoed["function_name"] == "echo"


def test_an_optional_route_parameter_may_be_left_out(host: HostServer) -> None:
    echoed = requests.get(f"{host.url}/api/echo/alone", timeout=5).json()

    assert echoed["route_params"] == {"name": "alone"}


def test_unmatched_methods_and_routes_are_404_and_failures_500(host: HostServer) -> None:
    assert requests.delete(f"{host.url}/api/echo/x", timeout=5).status_code == 404
    assert requests.get(f"{host.url}/api/nowhere", timeout=5).status_code == 404
    assert requests.get(f"{host.url}/api/boom", timeout=5).status_code == 500


# --- Durable: the starter and the status URLs ----------------------------------------------------------


def test_the_starter_returns_status_urls_that_lead_to_the_output(host: HostServer) -> None:
    links = _start(host, "hello_sequence", {"cities": ["Paris", "Rome"]})

    final = poll_status(links["statusQueryGetUri"])

    assert final.status_code == 200
    assert final.json()["runtimeStatus"] == "Completed"
    assert final.json()["output"] == ["Hello Paris!", "Hello Rome!"]
    assert links["statusQueryGetUri"].startswith(f"{host.url}/runtime/webhooks/durabletask/instances/")


def test_a_running_instance_answers_202_with_location_and_retry_after(host: HostServer) -> None:
    links = _start(host, "approval_workflow", {"timeout_hours": 24})

    running = requests.get(links["statusQueryGetUri"], timeout=5)

    assert running.status_code == 202
    assert running.headers["Retry-After"] == "5"
    assert running.headers["Location"] == links["statusQueryGetUri"]
    assert running.json()["runtimeStatus"] in ("Pending", "Running")
    requests.post(links["terminatePostUri"].replace("{text}", "cleanup"), timeout=5)


def test_an_event_sent_to_send_event_post_uri_resumes_the_orchestration(host: HostServer) -> None:
    links = _start(host, "approval_workflow", {"timeout_hours": 24})
    wait_until(
        lambda: (
            requests.get(links["statusQueryGetUri"], timeout=5).json()["customStatus"] == {"stage": "awaiting approval"}
        )
    )

    sent = requests.post(
        links["sendEventPostUri"].replace("{eventName}", "Approval"), json={"approved": True, "by": "web"}, timeout=5
    )
    final = poll_status(links["statusQueryGetUri"])

    assert sent.status_code == 202
    assert final.json()["output"] == {"approved": True, "note": "Hello web!"}


def test_the_client_sdk_raises_events_suspends_resumes_and_terminates(host: HostServer) -> None:
    links = _start(host, "approval_workflow", {"timeout_hours": 24})
    instance_id = links["id"]
    manage = f"{host.url}/api/manage/{instance_id}"
    wait_until(lambda: host.engine.get_status(instance_id).custom_status == {"stage": "awaiting approval"})

    assert requests.post(f"{manage}/suspend", headers=KEY, timeout=5).text == "ok"
    suspended = wait_until(lambda: host.engine.get_status(instance_id).runtime_status is RuntimeStatus.SUSPENDED)
    assert requests.post(f"{manage}/resume", headers=KEY, timeout=5).text == "ok"
    assert requests.post(f"{manage}/raise", json={"approved": False, "by": "sdk"}, headers=KEY, timeout=5).text == "ok"
    final = poll_status(links["statusQueryGetUri"])
    # Terminating a completed instance is a 410 the SDK accepts silently.
    assert requests.post(f"{manage}/terminate", headers=KEY, timeout=5).text == "ok"

    assert suspended
    assert final.json()["output"] == {"approved": False, "note": "Hello sdk!"}


def test_the_client_sdk_terminates_lists_and_purges(host: HostServer) -> None:
    waiting = _start(host, "approval_workflow", {"timeout_hours": 24})["id"]
    done = _start(host, "hello_sequence", {"cities": ["Kyiv"]})["id"]
    host.engine.wait(done)

    terminated = requests.post(f"{host.url}/api/manage/{waiting}/terminate", headers=KEY, timeout=5)
    status = host.engine.wait(waiting)
    listed = requests.post(f"{host.url}/api/manage/-/list", headers=KEY, timeout=5).json()
    purged = requests.post(f"{host.url}/api/manage/{done}/purge", headers=KEY, timeout=5).json()

    assert terminated.text == "ok"
    assert status.runtime_status is RuntimeStatus.TERMINATED
    assert status.output == "stopped by test"
    assert done in listed
    assert purged == {"deleted": 1}
    assert requests.get(_webhook(host, f"instances/{done}"), params={"code": TEST_KEY}, timeout=5).status_code == 404


def test_the_client_sdk_reads_status_with_history(host: HostServer) -> None:
    instance_id = _start(host, "hello_sequence", {"cities": ["Bern"]})["id"]
    host.engine.wait(instance_id)

    status = requests.get(f"{host.url}/api/status/{instance_id}", headers=KEY, timeout=5).json()

    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Bern!"]
    kinds = [e["EventType"] for e in status["history"]]
    assert kinds == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert status["history"][1]["FunctionName"] == "say_hello"
    assert status["history"][1]["Result"] == "Hello Bern!"


# --- Durable: status codes of the webhook API ------------------------------------------------------------


def test_webhook_status_codes_follow_the_extension(host: HostServer) -> None:
    code = {"code": TEST_KEY}
    done = _start(host, "hello_sequence", {"cities": ["X"]})["id"]
    host.engine.wait(done)
    waiting = _start(host, "approval_workflow", {"timeout_hours": 24}, instance_id=f"w-{uuid.uuid4().hex}")["id"]

    unknown = requests.get(_webhook(host, "instances/nope"), params=code, timeout=5)
    gone = requests.post(_webhook(host, f"instances/{done}/raiseEvent/Approval"), params=code, json={}, timeout=5)
    not_json = requests.post(
        _webhook(host, f"instances/{waiting}/raiseEvent/Approval"),
        params=code,
        data="x",
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    no_such_function = requests.post(_webhook(host, "orchestrators/nope"), params=code, json={}, timeout=5)
    duplicate = requests.post(
        _webhook(host, f"orchestrators/approval_workflow/{waiting}"), params=code, json={}, timeout=5
    )
    terminated = requests.post(
        _webhook(host, f"instances/{waiting}/terminate"), params={**code, "reason": "r"}, timeout=5
    )

    assert unknown.status_code == 404
    assert gone.status_code == 410
    assert not_json.status_code == 400
    assert no_such_function.status_code == 400
    assert "doesn't exist" in no_such_function.json()["ExceptionMessage"]
    assert duplicate.status_code == 500
    assert duplicate.json()["ExceptionMessage"] == f"An Orchestration instance with the ID {waiting} already exists."
    assert terminated.status_code == 202


def test_start_and_wait_returns_the_output_directly(host: HostServer) -> None:
    response = requests.post(
        _webhook(host, "orchestrators/hello_sequence"),
        params={"code": TEST_KEY, "timeout": "5", "pollingInterval": "0.05"},
        json={"cities": ["Lima"]},
        timeout=10,
    )

    assert response.status_code == 200
    assert response.json() == ["Hello Lima!"]


def test_instance_queries_filter_and_page_with_a_continuation_token(host: HostServer) -> None:
    prefix = f"page-{uuid.uuid4().hex[:8]}-"
    for index in range(3):
        host.engine.wait(_start(host, "hello_sequence", {"cities": ["P"]}, instance_id=f"{prefix}{index}")["id"])
    query = {"code": TEST_KEY, "instanceIdPrefix": prefix, "runtimeStatus": "Completed,Failed", "top": "2"}

    first = requests.get(_webhook(host, "instances/"), params=query, timeout=5)
    token = first.headers["x-ms-continuation-token"]
    second = requests.get(
        _webhook(host, "instances/"), params=query, headers={"x-ms-continuation-token": token}, timeout=5
    )

    assert [s["instanceId"] for s in first.json()] == [f"{prefix}0", f"{prefix}1"]
    assert [s["instanceId"] for s in second.json()] == [f"{prefix}2"]
    assert "x-ms-continuation-token" not in second.headers


def test_instance_queries_answer_pages_of_100_by_default_as_the_extension_does(host: HostServer) -> None:
    prefix = f"many-{uuid.uuid4().hex[:8]}-"
    ids = [host.engine.start("hello_sequence", {"cities": ["P"]}, instance_id=f"{prefix}{i:03d}") for i in range(130)]
    for instance_id in ids:
        host.engine.wait(instance_id)
    query = {"code": TEST_KEY, "instanceIdPrefix": prefix}

    first = requests.get(_webhook(host, "instances/"), params=query, timeout=10)
    token = first.headers["x-ms-continuation-token"]
    second = requests.get(
        _webhook(host, "instances/"), params=query, headers={"x-ms-continuation-token": token}, timeout=10
    )

    assert len(first.json()) == 100
    assert [s["instanceId"] for s in first.json() + second.json()] == ids
    assert "x-ms-continuation-token" not in second.headers


def test_show_history_merges_scheduling_into_completions(host: HostServer) -> None:
    links = _start(host, "hello_sequence", {"cities": ["Oslo"]})
    host.engine.wait(links["id"])

    payload = requests.get(links["statusQueryGetUri"] + "&showHistory=true&showHistoryOutput=true", timeout=5).json()

    events = payload["historyEvents"]
    assert [e["EventType"] for e in events] == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert events[1]["FunctionName"] == "say_hello"
    assert events[1]["Result"] == "Hello Oslo!"
    assert events[2]["Result"] == ["Hello Oslo!"]


# --- admin --------------------------------------------------------------------------------------------------


def test_the_admin_route_runs_a_timer_function_now(host: HostServer) -> None:
    before = {s.instance_id for s in host.engine.list_instances(prefix="nightly-")}

    response = requests.post(f"{host.url}/admin/functions/nightly_chain", json={"input": ""}, headers=KEY, timeout=5)
    started = wait_until(lambda: {s.instance_id for s in host.engine.list_instances(prefix="nightly-")} - before)

    assert response.status_code == 202
    assert len(started) == 1
    status = host.engine.wait(started.pop())
    assert status.output == ["Hello Oslo!"]
    assert requests.post(f"{host.url}/admin/functions/nightly_chain", timeout=5).status_code == 401
    assert requests.post(f"{host.url}/admin/functions/nope", headers=KEY, timeout=5).status_code == 404


def test_host_ping_and_status(host: HostServer) -> None:
    assert requests.get(f"{host.url}/admin/host/ping", timeout=5).status_code == 200
    status = requests.get(f"{host.url}/admin/host/status", headers=KEY, timeout=5).json()
    assert status["state"] == "Running"
    assert "hello_sequence" in status["functions"]


@pytest.mark.parametrize("payload", [{"a": 1}, [1, 2], "text"])
def test_inputs_sent_through_the_client_sdk_reach_the_orchestrator(host: HostServer, payload: object) -> None:
    links = _start(host, "echo_input", payload)

    final = poll_status(links["statusQueryGetUri"])

    assert final.json()["output"]["input"] == payload


def test_restart_and_purge_by_creation_time(host: HostServer) -> None:
    first = _start(host, "hello_sequence", {"cities": ["Again"]})
    host.engine.wait(first["id"])

    restarted = requests.post(first["restartPostUri"], timeout=5)
    new_id = restarted.json()["id"]
    final = poll_status(restarted.json()["statusQueryGetUri"])
    purged = requests.delete(
        _webhook(host, "instances/"),
        params={"code": TEST_KEY, "createdTimeFrom": "2000-01-01T00:00:00.000000Z", "runtimeStatus": "Completed"},
        timeout=5,
    )
    missing_from = requests.delete(_webhook(host, "instances/"), params={"code": TEST_KEY}, timeout=5)

    assert restarted.status_code == 202
    assert new_id != first["id"]
    assert final.json()["output"] == ["Hello Again!"]
    assert purged.status_code == 200
    assert purged.json()["instancesDeleted"] >= 2
    assert host.engine.get_status(new_id) is None
    assert missing_from.status_code == 400


def test_a_virtual_clock_driven_over_http_skips_timers_when_the_host_is_idle(sample_app: IndexedApp) -> None:
    with run_host(sample_app, function_key=TEST_KEY, clock=VirtualClock(auto_advance=True)) as idle_host:
        links = _start(idle_host, "approval_workflow", {"timeout_hours": 24})

        final = poll_status(links["statusQueryGetUri"], timeout=10)

    assert final.json()["customStatus"] == {"stage": "timed out"}


def test_two_hosts_in_one_process_each_serve_their_durable_clients(host: HostServer, sample_app: IndexedApp) -> None:
    with run_host(sample_app, function_key=TEST_KEY) as other:
        ids = [_start(h, "hello_sequence", {"cities": [h.url]})["id"] for h in (other, host, other, host)]
        outputs = [(h.engine.wait(i).output) for h, i in zip((other, host, other, host), ids, strict=True)]

    assert outputs == [[f"Hello {h.url}!"] for h in (other, host, other, host)]
