"""POST /api/alerts over real HTTP: every response class, and no 5xx for any body."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.alert_samples import CONTEXTS, alert
from devstack.host import RuntimeStatus

from .conftest import Stack


def fresh_alert(service: str = "Platform", **overrides: Any) -> dict[str, Any]:
    unique = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}"
    return alert(service, alertId=unique, **overrides)


def _active_runs(stack: Stack, plan: str) -> list[Any]:
    return [
        s
        for s in stack.instances()
        if s.name == "recovery"
        and s.instance_id.startswith(f"{plan}--")
        and s.runtime_status in (RuntimeStatus.RUNNING, RuntimeStatus.PENDING)
    ]


def test_function_key_is_required(stack: Stack) -> None:
    response = stack.call("POST", "/api/alerts", key=False, json=fresh_alert())
    assert response.status_code == 401


def test_fired_alert_starts_one_run_with_status_urls_and_duplicates_name_it(stack: Stack) -> None:
    document = fresh_alert()
    response = stack.post_alert(document)
    assert response.status_code == 202, response.text
    body = response.json()
    run_id = body["id"]
    assert run_id.startswith("shop--failover--alert-")
    assert body["runs"][0]["plan"] == "shop"
    assert response.headers["Location"] == body["statusUri"]
    assert "code=" not in response.text  # no key in a response body
    status = stack.call("GET", body["statusUri"].replace(stack.url, ""))
    assert status.status_code == 200
    assert status.json()["id"] == run_id and status.json()["phase"] in ("starting", "preflight", "awaiting_approval")
    # Azure Monitor retries the same alert instance: the run it started is named, no second run.
    again = stack.post_alert(document)
    assert again.status_code == 200
    assert again.json()["ignored"].startswith("duplicate alert")
    assert again.json()["id"] == run_id
    # Another alert instance for the same plan while that run is in progress (awaiting approval).
    other = stack.post_alert(fresh_alert("Resource Health"))
    assert other.status_code == 200
    assert other.json()["ignored"] == f"plan 'shop': failover already in progress: {run_id}"
    assert len(_active_runs(stack, "shop")) == 1
    stack.host.engine.terminate(run_id, "test cleanup")


def test_resolved_alert_is_ignored(stack: Stack) -> None:
    before = len(stack.instances())
    response = stack.post_alert(fresh_alert(monitorCondition="Resolved", resolvedDateTime="2026-11-28T08:00:00Z"))
    assert response.status_code == 200
    assert "Resolved" in response.json()["ignored"]
    assert len(stack.instances()) == before


def test_no_matching_plan_is_ignored(stack: Stack) -> None:
    before = len(stack.instances())
    document = fresh_alert(alertRule="unrelated-rule", alertTargetIDs=["/subscriptions/x/resourceGroups/other"])
    response = stack.post_alert(document)
    assert response.status_code == 200
    assert response.json()["ignored"].startswith("no plan matches alert rule 'unrelated-rule'")
    # severity filter: quick-rule matches by name but only for Sev0
    response = stack.post_alert(fresh_alert(alertRule="quick-rule", alertTargetIDs=[], severity="Sev3"))
    assert response.status_code == 200 and "no plan matches" in response.json()["ignored"]
    assert len(stack.instances()) == before


def test_run_without_approval_completes_and_reports(stack: Stack) -> None:
    response = stack.post_alert(fresh_alert(alertRule="quick-rule", alertTargetIDs=[], severity="Sev0"))
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    status = stack.host.engine.wait(run_id, timeout=60)
    report = status.output
    assert report["status"] == "Succeeded"
    assert report["trigger"]["alert_rule"] == "quick-rule"
    assert report["trigger"]["monitoring_service"] == "Platform"
    assert report["rto_seconds"] is not None
    stored = stack.call("GET", f"/api/recoveries/{run_id}/report")
    assert stored.status_code == 200 and stored.json()["status"] == "Succeeded"


def test_malformed_bodies_get_a_precise_400(stack: Stack) -> None:
    cases = [
        (b"{oops", "MalformedJson"),
        (json.dumps({"schemaId": "AzureMonitorMetricAlert", "data": {}}).encode(), "UnsupportedSchema"),
        (
            json.dumps(
                {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {"alertRule": "x"}}}
            ).encode(),
            "MalformedAlert",
        ),
        (b"x" * (256 * 1024 + 10), "PayloadTooLarge"),
    ]
    before = len(stack.instances())
    for raw, code in cases:
        response = stack.post_alert(raw)
        assert response.status_code == 400, (code, response.text)
        assert response.json()["error"]["code"] == code
    missing = stack.post_alert(
        json.dumps({"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {"alertRule": "x"}}}).encode()
    ).json()["error"]["message"]
    assert "alertId" in missing and "firedDateTime" in missing
    assert len(stack.instances()) == before


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def _mutated_alert(data: st.DataObject) -> bytes:
    # Matches no plan even when valid: whatever the mutation, nothing may start.
    document = alert(
        data.draw(st.sampled_from(sorted(CONTEXTS))),
        alertRule="no-such-rule-anywhere",
        alertTargetIDs=["/subscriptions/x/resourceGroups/unrelated"],
    )
    essentials = document["data"]["essentials"]
    key = data.draw(st.sampled_from(sorted(essentials)))
    if data.draw(st.booleans()):
        del essentials[key]
    else:
        essentials[key] = data.draw(_json)
    raw = json.dumps(document).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    return raw[:cut] if data.draw(st.booleans()) else raw


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_body_ever_gets_a_5xx_or_starts_a_run(stack: Stack, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["bytes", "json", "alert"]))
    if kind == "bytes":
        raw = data.draw(st.binary(max_size=2048))
    elif kind == "json":
        raw = json.dumps(data.draw(_json)).encode()
    else:
        raw = _mutated_alert(data)
    before = {s.instance_id for s in stack.instances()}
    response = stack.post_alert(raw)
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400)
    assert {s.instance_id for s in stack.instances()} == before


def test_hostile_bodies_get_a_400_and_start_nothing(stack: Stack) -> None:
    before = len(stack.instances())
    document = fresh_alert()
    for raw, code in [
        (b"[" * 1000 + b"]" * 1000, "MalformedJson"),  # was a RecursionError: 500
        (json.dumps(document).replace('"Fired"', '"Resolved", "monitorCondition": "Fired"').encode(), "MalformedJson"),
        (b"\xef\xbb\xbf" + json.dumps(document).encode(), "UnsupportedEncoding"),
        (json.dumps(document).encode("utf-16"), "UnsupportedEncoding"),
        (json.dumps(fresh_alert(firedDateTime="2026-11-20T10:15:03")).encode(), "MalformedAlert"),
        (json.dumps(fresh_alert(severity="Sev\ud800")).encode(), "MalformedJson"),
        (json.dumps(alert("Platform", alertId="   ")).encode(), "MalformedAlert"),
    ]:
        response = stack.post_alert(raw)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == code, response.text
    assert len(stack.instances()) == before
