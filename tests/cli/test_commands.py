"""Every drctl command against the running local stack, as an operator uses them.

Tests run in file order on one stack: the approval flows that fail the estate over come last."""

from __future__ import annotations

import io
import json
import re
import stat
import subprocess
from pathlib import Path

import pytest
import requests

from devstack.stack import LocalStack
from drctl.format import seconds
from tests.cli.conftest import PLAN, Cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drill(cli: Cli) -> tuple[str, subprocess.CompletedProcess[str]]:
    """A drill started and watched to its end by the installed console script (stdout a pipe)."""
    process = cli.script("run", "start", PLAN, "--mode", "drill", "--reason", "weekly drill", "--watch")
    stdout, stderr = process.communicate(timeout=240)
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    run_id = stdout.splitlines()[0].split()[1]
    return run_id, done


def test_plans_list_and_show(cli: Cli) -> None:
    listed = cli("plans", "list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if line.startswith(PLAN))
    assert "plan.yaml" in row and "valid" in row
    assert re.search(r"\b(green|red|unknown)\b", row), row  # readiness: no evaluation has run on a fresh stack
    as_json = json.loads(cli("plans", "list", "--json").stdout)
    assert [plan["name"] for plan in as_json["plans"]] == [PLAN]

    shown = cli("plans", "show", PLAN)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"plan {PLAN} (plan.yaml): valid, readiness ")
    missing = cli("plans", "show", "no-such-plan")
    assert missing.exit_code == 2
    assert "PlanNotFound" in missing.stderr


def test_what_if_says_whether_a_failover_would_work_now(cli: Cli) -> None:
    result = cli("run", "start", PLAN, "--mode", "what_if", "--reason", "before the change window")
    assert result.exit_code in (0, 1), result.output
    ready = result.exit_code == 0
    assert result.stdout.startswith(f"{PLAN}: {'READY' if ready else 'NOT READY'} for a failover now")
    assert "predicted RTO" in result.stdout and "predicted RPO" in result.stdout


def test_a_drill_watched_to_its_end_by_the_console_script(
    cli: Cli, drill: tuple[str, subprocess.CompletedProcess[str]]
) -> None:
    run_id, done = drill
    assert done.returncode == 0, done.stdout + done.stderr
    cli.check_clean(done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    assert lines[0] == f"run {run_id} started: drill of {PLAN}"
    # Not a terminal: plain lines of changes (each step's end, the blobs counted), not a redraw.
    for step in ("images", "invoices", "orders-db", "shop-db", "traffic", "verify"):
        assert sum(bool(re.search(rf"\] step {step} +succeeded", line)) for line in lines) == 1, (step, lines)
    copied = next(line for line in lines if re.search(r"step images +succeeded", line))
    assert "12/12 blobs (100%)" in copied
    assert any("phase teardown" in line for line in lines)
    assert lines[-2].startswith(f"run {run_id} ended: Succeeded · RTO ")
    assert lines[-1].startswith("report: ")
    assert not any("\x1b[" in line for line in lines)  # no terminal control codes in a log


def test_runs_lists_status_duration_rto_and_rpo(cli: Cli, drill: tuple[str, subprocess.CompletedProcess[str]]) -> None:
    run_id, _ = drill
    result = cli("runs", "--plan", PLAN, "--days", "1")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0]
    for column in ("status", "duration", "RTO", "RPO"):
        assert column in header
    row = next(line for line in result.stdout.splitlines() if line.startswith(run_id))
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[1:3] == ["drill", "Succeeded"]
    report = json.loads(cli("report", run_id, "--json").stdout)
    # RTO and RPO as the report measured them; the duration from its start and end.
    assert cells[5] == seconds(report["rto_seconds"]) != "-"
    assert cells[6] == seconds(report["rpo_estimate_seconds"])
    assert re.fullmatch(r"\d+\.\d[sm]", cells[4]), cells  # duration
    other = cli("runs", "--plan", "another-plan")
    assert other.exit_code == 0 and other.stdout.strip() == "no runs of plan another-plan in the last 7 day(s)"


def test_report_summary_json_and_html(
    cli: Cli, drill: tuple[str, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    run_id, _ = drill
    summary = cli("report", run_id)
    assert summary.exit_code == 0, summary.output
    assert summary.stdout.splitlines()[0] == f"run {run_id}: Succeeded"
    for step in ("images", "invoices", "orders-db", "shop-db", "traffic", "verify"):
        assert re.search(rf"^{step} +│ \S+ +│ succeeded", summary.stdout, re.MULTILINE), step
    document = json.loads(cli("report", run_id, "--json").stdout)
    assert document["instance_id"] == run_id and document["status"] == "Succeeded"

    assert cli.stack.info is not None
    route = f"{cli.stack.info.host_url}/api/recoveries/{run_id}/report.html"
    if requests.get(route, headers={"x-functions-key": cli.key}, timeout=30).status_code == 404:
        pytest.skip("GET /api/recoveries/{id}/report.html is not served by this app yet")
    page = tmp_path / "report.html"
    saved = cli("report", run_id, "--html", str(page))
    assert saved.exit_code == 0, saved.output
    assert saved.stdout.splitlines()[-1] == f"HTML report: {page}"
    html = page.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and run_id in html

    # --open hands the saved file to the browser (BROWSER names the program, as webbrowser reads it).
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    process = cli.script(
        "report", run_id, "--html", str(tmp_path / "open.html"), "--open", env={"BROWSER": str(browser)}
    )
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stdout + stderr
    assert opened.read_text().strip() == (tmp_path / "open.html").as_uri()


def test_history_of_a_plan(cli: Cli, drill: tuple[str, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    run_id, _ = drill
    assert cli.stack.info is not None
    route = f"{cli.stack.info.host_url}/api/plans/{PLAN}/history"
    if requests.get(route, headers={"x-functions-key": cli.key}, timeout=30).status_code == 404:
        pytest.skip("GET /api/plans/{name}/history is not served by this app yet")
    result = cli("history", PLAN)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith(run_id))
    assert [cell.strip() for cell in row.split("│")][1:3] == ["drill", "Succeeded"]
    failovers = cli("history", PLAN, "--mode", "failover", "--json")
    assert all(run["mode"] == "failover" for run in json.loads(failovers.stdout)["runs"])
    unknown = cli("history", "no-such-plan")
    assert unknown.exit_code == 2 and "PlanNotFound" in unknown.stderr


def test_unknown_runs_are_clear_errors(cli: Cli) -> None:
    for args in (
        ("run", "watch", "no-such-run"),
        ("run", "watch", f"{PLAN}--drill--op-20260101T000000-abcdef"),
        ("report", f"{PLAN}--drill--op-20260101T000000-abcdef"),
        ("approve", "no-such-run", "--reason", "x"),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert re.fullmatch(r"drctl: \S+ /api/recoveries/\S+: HTTP 404: (Run|Report)NotFound: .+\n", result.stderr)


def test_bad_input_is_one_line_and_exit_2(cli: Cli) -> None:
    for args, says in (
        (("run", "start", PLAN), "Missing option '--reason'"),
        (("run", "start", PLAN, "--mode", "sideways", "--reason", "x"), "Invalid value for '--mode'"),
        (("runs", "--days", "0"), "Invalid value for '--days'"),
        (("run", "start", PLAN, "--reason", "  "), "--reason must not be empty"),
        (("cancel",), "Missing argument 'ID'"),
        (("devstack", "outage", "atlantis"), "no region 'atlantis' in this stack (regions: eastus, westus)"),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert says in result.stderr and result.stdout == "", (args, result.output)


def test_devstack_outage_and_restore_are_seen_by_real_clients(cli: Cli, stack: LocalStack) -> None:
    assert stack.info is not None
    health = f"{stack.info.apps_url}/eastus/health"
    primary = stack.info.storage_accounts["primary"].connection_string

    def storage_answers() -> bool:
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(primary, retry_total=0)
        try:
            client.get_container_client("images").get_container_properties()
        except (ServiceRequestError, ServiceResponseError):  # the proxy cuts the region's connections
            return False
        return True

    def endpoint_status(name: str) -> str:
        profile = stack.traffic_client().profiles.get("shop-global", "shop")
        status = next(e.endpoint_monitor_status for e in profile.endpoints if e.name == name)
        return str(getattr(status, "value", status))

    assert requests.get(health, timeout=5).status_code == 200 and storage_answers()
    down = cli("devstack", "outage", "eastus")
    assert down.exit_code == 0, down.output
    assert down.stdout.splitlines() == [
        "eastus is DOWN: its SQL servers, Traffic Manager endpoints, application and storage",
        "regions: eastus down, westus up",
    ]
    assert requests.get(health, timeout=5).status_code == 503
    assert not storage_answers()
    assert endpoint_status("shop-eus") == "Degraded"
    assert requests.get(f"{stack.info.apps_url}/westus/health", timeout=5).status_code == 200

    up = cli("devstack", "restore", "eastus")
    assert up.exit_code == 0, up.output
    assert up.stdout.splitlines()[-1] == "regions: eastus up, westus up"
    assert requests.get(health, timeout=5).status_code == 200 and storage_answers()
    assert endpoint_status("shop-eus") != "Degraded"

    # A stack file without a running stack behind it: unreachable, said on one line.
    stale = json.loads(cli.stack_file.read_text())
    stale["control_url"] = "http://127.0.0.1:9"
    stale_file = cli.stack_file.with_name("stale-stack.json")
    stale_file.write_text(json.dumps(stale))
    from typer.testing import CliRunner

    from drctl.main import app

    gone = CliRunner().invoke(app, ["--stack", str(stale_file), "devstack", "outage", "eastus"])
    assert gone.exit_code == 7
    assert gone.stderr.startswith("drctl: cannot reach the local stack's control endpoint http://127.0.0.1:9")


# -- approval flows: failovers of the demo plan wait for an approver ---------------------------------------


def test_reject_a_waiting_failover(cli: Cli) -> None:
    run_id = cli.start("run", "start", PLAN, "--mode", "failover", "--reason", "primary looks sick")
    view = cli.wait_for_phase(run_id, "awaiting_approval")
    # A watch that gives up while the run waits: the prompt says what the run will do and how to decide, the
    # exit code says it still runs.
    waiting = cli("run", "watch", run_id, "--timeout", "1", "--interval", "0.2")
    assert waiting.exit_code == 6
    assert "WAITING FOR APPROVAL" in waiting.stdout and "the plan requires an approval" in waiting.stdout
    for step in view.get("will_do") or []:
        assert f"will do       {step['step']}: {step['action'][:60]}" in waiting.stdout
    assert f'approve:  drctl approve {run_id} --reason "…"' in waiting.stdout
    assert f'reject:   drctl reject {run_id} --reason "…"' in waiting.stdout
    assert "still running after 1 s" in waiting.stderr
    # One failover per plan: a second start is refused, naming the holder.
    second = cli("run", "start", PLAN, "--mode", "failover", "--reason", "again")
    assert second.exit_code == 8 and f"held by {run_id}" in second.stderr

    rejected = cli("reject", run_id, "--reason", "false alarm", "--by", "ana")
    assert rejected.exit_code == 0 and rejected.stdout.strip() == f"run {run_id}: rejected by ana"
    watched = cli("run", "watch", run_id, "--interval", "0.2")
    assert watched.exit_code == 4, watched.output
    assert f"run {run_id} ended: Rejected" in watched.stdout
    report = json.loads(cli("report", run_id, "--json").stdout)
    assert report["approval"]["decision"] == "rejected" and report["approval"]["by"] == "ana"
    late = cli("approve", run_id, "--reason", "too late")
    assert late.exit_code == 8 and "not awaiting approval" in late.stderr


@pytest.mark.parametrize("hard", [False, True], ids=["graceful", "hard"])
def test_cancel_a_waiting_failover(cli: Cli, hard: bool) -> None:
    run_id = cli.start("run", "start", PLAN, "--mode", "failover", "--reason", "maybe")
    cli.wait_for_phase(run_id, "awaiting_approval")
    canceled = cli("cancel", run_id, "--reason", "region came back", *(["--hard"] if hard else []))
    assert canceled.exit_code == 0, canceled.output
    mode = "hard" if hard else "graceful"
    assert canceled.stdout.startswith(f"run {run_id}: {mode} cancel requested by ")
    watched = cli("run", "watch", run_id, "--interval", "0.2")
    assert watched.exit_code == 5, watched.output
    assert f"run {run_id} ended: Canceled" in watched.stdout
    assert "WAITING FOR APPROVAL" not in watched.stdout  # an ended run waits for nobody


def test_follow_is_a_library_call_with_an_approval_hook(cli: Cli) -> None:
    """drctl.watch.follow, as another tool (the demo) calls it: its own output stream, a hook that decides."""
    from drctl.client import Api, read_stack, run_path
    from drctl.errors import ExitCode
    from drctl.models import RunView
    from drctl.watch import exit_code, follow

    api = Api.for_stack(read_stack(cli.stack_file))
    run_id = cli.start("run", "start", PLAN, "--mode", "failover", "--reason", "hook")
    asked: list[RunView] = []

    def decide(view: RunView) -> None:
        asked.append(view)
        api.post(run_path(run_id, "reject"), {"by": "hook", "reason": "rehearsal only"})

    out = io.StringIO()
    view = follow(api, run_id, out, interval=0.2, timeout=120, on_approval=decide)
    assert [v.phase for v in asked] == ["awaiting_approval"]
    assert view.outcome == "Rejected" and exit_code(view) == ExitCode.REJECTED
    assert view.report is not None and view.report["approval"]["by"] == "hook"
    text = out.getvalue()
    assert "WAITING FOR APPROVAL" in text and f"run {run_id} ended: Rejected" in text


def test_approve_a_failover_while_a_watch_follows_it(cli: Cli, stack: LocalStack) -> None:
    run_id = cli.start("run", "start", PLAN, "--mode", "failover", "--reason", "East US is down")
    watch = cli.script("run", "watch", run_id, "--interval", "0.3")
    assert watch.stdout is not None
    seen: list[str] = []
    for line in watch.stdout:  # the watch prints the prompt when the run reaches the gate
        seen.append(line.rstrip("\n"))
        if "approve:  drctl approve" in line:
            break
    assert any("WAITING FOR APPROVAL" in line for line in seen), seen
    approved = cli("approve", run_id, "--reason", "confirmed outage", "--by", "ana")
    assert approved.exit_code == 0 and approved.stdout.strip() == f"run {run_id}: approved by ana"
    rest, stderr = watch.communicate(timeout=240)
    assert watch.returncode == 0, rest + stderr
    cli.check_clean(rest, stderr)
    assert re.search(r"step traffic +succeeded", rest)
    assert f"run {run_id} ended: Succeeded" in rest
    # The world moved: the public name answers from West US.
    assert stack.info is not None
    assert requests.get(f"{stack.info.apps_url}/shop/health", timeout=5).json()["region"] == "westus"
