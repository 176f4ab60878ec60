"""The readable reports over real HTTP on the devstack host: a run's report.html (stored beside the JSON
report in Azurite and served by the API), and a plan's history as JSON and HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from devstack.host import RuntimeStatus
from dr.auth import encode_principal
from dr.clients import get_clients
from dr.report import report_html_blob_name, reports_container, write_report
from dr.run import RunReport

from .conftest import Stack

MISSING_RUN = "quick--drill--op-20200101T000000-abcdef"


class Hooks(HTMLParser):
    """The data-step-id and data-run-id values of a page, as a browser's DOM holds them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.steps: set[str] = set()
        self.runs: set[str] = set()
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("data-step-id") is not None:
            self.steps.add(str(found["data-step-id"]))
        if found.get("data-run-id") is not None:
            self.runs.add(str(found["data-run-id"]))


def run_to_the_end(stack: Stack, plan: str, mode: str) -> str:
    response = stack.call("POST", "/api/recoveries", json={"plan": plan, "mode": mode, "reason": "game day"})
    assert response.status_code == 202, response.text
    run_id = str(response.json()["id"])
    assert stack.host.engine.wait(run_id, timeout=30).runtime_status is RuntimeStatus.COMPLETED
    return run_id


@pytest.fixture(scope="module")
def drill(stack: Stack) -> str:
    return run_to_the_end(stack, "quick", "drill")


def test_report_html_is_served_with_every_step_and_the_plan_snapshot(stack: Stack, drill: str) -> None:
    response = stack.call("GET", f"/api/recoveries/{drill}/report.html")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    page = response.text
    assert Hooks(page).steps == {"probe"}
    assert drill in page and "Succeeded" in page
    assert stack.health.url() in page  # the plan snapshot the run executed: the step's URL
    # The JSON route beside it still answers JSON: the two routes do not shadow each other.
    report = stack.call("GET", f"/api/recoveries/{drill}/report")
    assert report.status_code == 200 and report.json()["instance_id"] == drill


def test_the_html_report_is_stored_beside_the_json_report(stack: Stack, drill: str) -> None:
    blob = reports_container(get_clients()).get_blob_client(report_html_blob_name(drill))
    properties = blob.get_blob_properties()
    assert properties.content_settings.content_type.startswith("text/html")
    assert properties.metadata["plan"] == "quick" and properties.metadata["mode"] == "drill"
    stored = blob.download_blob().readall().decode()
    assert Hooks(stored).steps == {"probe"} and drill in stored


@pytest.mark.parametrize("run_id", [MISSING_RUN, "not-a-run", "..%2F..%2Fsecret"])
def test_report_html_without_a_report_is_a_json_404(stack: Stack, run_id: str) -> None:
    response = stack.call("GET", f"/api/recoveries/{run_id}/report.html")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "ReportNotFound"
    assert response.json() == stack.call("GET", f"/api/recoveries/{run_id}/report").json()


def test_history_lists_the_plans_runs_newest_first_with_rto_and_rpo(stack: Stack, drill: str) -> None:
    failover = run_to_the_end(stack, "quick", "failover")
    response = stack.call("GET", "/api/plans/quick/history")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan"] == "quick" and body["count"] == len(body["runs"])
    ids = [run["id"] for run in body["runs"]]
    assert ids.index(failover) < ids.index(drill)  # newest first
    mine = next(run for run in body["runs"] if run["id"] == drill)
    assert mine["mode"] == "drill" and mine["status"] == "Succeeded"
    assert mine["rto_seconds"] > 0 and mine["started_at"] and mine["finished_at"]
    assert "rpo_estimate_seconds" in mine
    drills = stack.call("GET", "/api/plans/quick/history?mode=drill").json()["runs"]
    assert drill in [run["id"] for run in drills] and failover not in [run["id"] for run in drills]
    assert {run["mode"] for run in drills} == {"drill"}


def test_history_days_leaves_out_older_runs(stack: Stack) -> None:
    old_id = "quick--drill--op-20200101T000000-0a1b2c"
    started = datetime.now(UTC) - timedelta(days=30)
    old = RunReport(
        instance_id=old_id,
        plan="quick",
        mode="drill",
        status="Succeeded",
        trigger={"source": "operator"},
        started_at=started.isoformat().replace("+00:00", "Z"),
        finished_at=(started + timedelta(seconds=42)).isoformat().replace("+00:00", "Z"),
        rto_seconds=42.0,
        rpo_estimate_seconds=None,
        steps=[],
    )
    write_report(get_clients(), old)
    recent = stack.call("GET", "/api/plans/quick/history?days=7").json()
    assert old_id not in [run["id"] for run in recent["runs"]] and recent["days"] == 7
    everything = stack.call("GET", "/api/plans/quick/history?limit=100").json()
    assert old_id in [run["id"] for run in everything["runs"]]


def test_history_html_plots_the_runs(stack: Stack, drill: str) -> None:
    response = stack.call("GET", "/api/plans/quick/history.html?mode=drill")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert drill in Hooks(response.text).runs
    assert re.search(r"<svg[^>]*class=\"rto-chart\"", response.text)
    assert "<script" not in response.text


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/plans/ghost/history", 404, "PlanNotFound"),
        ("/api/plans/ghost/history.html", 404, "PlanNotFound"),
        ("/api/plans/quick/history?days=soon", 400, "InvalidRequest"),
        ("/api/plans/quick/history?days=0", 400, "InvalidRequest"),
        ("/api/plans/quick/history?mode=sideways", 400, "InvalidRequest"),
        ("/api/plans/quick/history.html?limit=100000", 400, "InvalidRequest"),
    ],
)
def test_history_bad_requests_say_what_was_wrong(stack: Stack, path: str, status: int, code: str) -> None:
    response = stack.call("GET", path)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_readers_only_when_roles_are_enforced(stack: Stack, drill: str, roles_enforced: None) -> None:
    nobody = {"x-ms-client-principal": encode_principal("eve@contoso.com", [])}
    approver = {"x-ms-client-principal": encode_principal("bo@contoso.com", ["dr.approver"])}
    for path in (f"/api/recoveries/{drill}/report.html", "/api/plans/quick/history", "/api/plans/quick/history.html"):
        assert stack.call("GET", path, headers=nobody).status_code == 403, path
        assert stack.call("GET", path, headers=approver).status_code == 200, path
    assert stack.call("GET", "/api/plans/quick/history", key=False).status_code == 401
