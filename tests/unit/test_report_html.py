"""The HTML report and history pages (dr.report_html), read back with an HTML parser the way a browser builds
its DOM. Reports are made by the real dr.run.RunState (and canceled_report), as the orchestrator makes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from dr.durations import iso
from dr.history import RunSummary
from dr.plan import Plan, parse_plan
from dr.report_html import STATUS_COLOURS, phases, render_history, render_report
from dr.run import ApprovalRecord, CancelRequest, RunInput, RunState, StepOutcome, canceled_report
from dr.steps.base import Check, TeardownResult

T0 = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
HOSTILE = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
RG = "/subscriptions/s/resourceGroups/rg/providers"
# Every element the pages may contain: no script, no iframe, no img, no link, no object, nothing that loads.
ALLOWED_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "header", "section", "h1", "h2", "h3", "p", "span", "div"),
    *("dl", "dt", "dd", "code", "b", "i", "br", "ul", "li", "pre", "details", "summary"),
    *("table", "thead", "tbody", "tr", "th", "td"),
    *("svg", "g", "title", "rect", "text", "line", "polyline", "circle", "path"),
}


class Dom(HTMLParser):
    """Start tags with their attributes, and the text, in document order."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def with_attr(self, name: str, value: str | None = None) -> list[tuple[str, dict[str, str]]]:
        return [(t, a) for t, a in self.tags if name in a and (value is None or a[name] == value)]

    def step_ids(self, tag: str) -> list[str]:
        return [a["data-step-id"] for t, a in self.with_attr("data-step-id") if t == tag]

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def plan(approval: bool = True) -> Plan:
    return parse_plan(
        {
            "name": "shop",
            "description": "shop to West US",
            "approval": {"required": approval, "timeout": "PT15M", "on_timeout": "abort"},
            "steps": [
                {
                    "id": "db",
                    "kind": "sql_failover_group",
                    "failover_group_id": f"{RG}/Microsoft.Sql/servers/w/failoverGroups/f",
                },
                {
                    "id": "traffic",
                    "kind": "traffic_manager_failover",
                    "profile_id": f"{RG}/Microsoft.Network/trafficManagerProfiles/shop",
                    "from_endpoints": ["eus"],
                    "to_endpoints": ["wus"],
                    "after": ["db"],
                },
                {
                    "id": "verify",
                    "kind": "health_check",
                    "url": "https://shop.example.com/health",
                    "after": ["traffic"],
                },
            ],
        }
    )


def state(mode: str = "failover", *, approval: bool = True, reason: str = "east is down") -> RunState:
    the_plan = plan(approval)
    fired = T0 - timedelta(seconds=30)
    trigger = {"source": "alert", "alert_rule": "shop-down", "severity": "Sev1", "fired_at": iso(fired)}
    if mode == "drill":
        fired = T0
        trigger = {"source": "operator", "requested_by": "ana", "requested_at": T0.isoformat()}
    run = RunInput(plan=the_plan, mode=mode, trigger=trigger, requested_at=fired, requested_by="ana", reason=reason)
    run_state = RunState(f"shop--{mode}--op-20261128T070000-abcdef", run, the_plan, T0 + timedelta(seconds=1))
    for step in the_plan.steps:
        run_state.record_checks(step.id, [Check(name="exists", status="passed", message=f"{step.id} found")], T0)
    run_state.preflight_at = T0 + timedelta(seconds=3)
    return run_state


def outcome(step_id: str, kind: str, status: str, start: int, end: int, **extra: Any) -> StepOutcome:
    return StepOutcome(
        id=step_id,
        kind=kind,
        status=status,  # type: ignore[arg-type]
        started_at=T0 + timedelta(seconds=start),
        finished_at=T0 + timedelta(seconds=end),
        **extra,
    )


def succeeded_failover() -> dict[str, Any]:
    run = state()
    run.approval = ApprovalRecord(
        required=True, decision="approved", by="bo", reason="primary gone", decided_at=T0 + timedelta(seconds=20)
    )
    run.record_outcome(outcome("db", "sql_failover_group", "succeeded", 21, 50, rpo_estimate_seconds=4.0))
    run.record_outcome(outcome("traffic", "traffic_manager_failover", "succeeded", 50, 70))
    run.record_outcome(outcome("verify", "health_check", "succeeded", 70, 72, detail={"attempts": 3}))
    return run.report(T0 + timedelta(seconds=73)).model_dump(mode="json")


def test_every_step_has_its_bar_and_its_row() -> None:
    report = succeeded_failover()
    dom = Dom(render_report(report))
    ids = [step["id"] for step in report["steps"]]
    assert dom.step_ids("g") == ids  # the timeline's bars, in plan order
    assert dom.step_ids("tr") == ids  # the steps table
    bar = next(a for t, a in dom.tags if t == "rect" and a.get("fill") == STATUS_COLOURS["succeeded"])
    assert float(bar["width"]) > 2


def test_header_shows_the_run_and_its_numbers() -> None:
    text = Dom(render_report(succeeded_failover())).all_text
    for shown in (
        "shop--failover--op-20261128T070000-abcdef",
        "shop to West US",
        "Succeeded",
        "alert shop-down (Sev1)",
        "approved by bo",
        "2026-11-28 06:59:30.000 UTC",  # the alert fired
        "102.0 s",  # RTO: fired 06:59:30 → the last step done 07:01:12
        "east is down",
    ):
        assert shown in text, shown


def test_phases_follow_the_run_from_the_alert_to_verification() -> None:
    spans = phases(succeeded_failover())
    assert [span.name for span in spans] == ["detection", "pre-flight", "decision", "data", "traffic", "verification"]
    by_name = {span.name: span.seconds for span in spans}
    assert by_name["detection"] == 31  # fired 06:59:30, run started 07:00:01
    assert by_name["decision"] == 17  # pre-flight done at +3 s, approved at +20 s
    assert (by_name["data"], by_name["traffic"], by_name["verification"]) == (29, 20, 2)


def test_rto_breakdown_and_retries_are_in_the_page() -> None:
    dom = Dom(render_report(succeeded_failover()))
    phases_shown = [a["data-phase"] for t, a in dom.with_attr("data-phase") if t == "tr"]
    assert phases_shown == [
        *("detection", "pre-flight", "decision", "data", "traffic", "verification"),
        *("rto", "service_restored"),
    ]
    verify_bar = next(a for t, a in dom.with_attr("data-step-id", "verify") if t == "g")
    assert verify_bar["data-status"] == "succeeded"
    assert "2 s · attempts 3" in dom.all_text  # verify's duration and its attempts, beside its bar


def test_hostile_strings_are_text_never_markup() -> None:
    run = state(reason=HOSTILE)
    run.approval = ApprovalRecord(
        required=True, decision="approved", by=HOSTILE, reason=HOSTILE, decided_at=T0 + timedelta(seconds=5)
    )
    failure = {"category": "permanent", "code": "X'\"", "message": HOSTILE}
    run.record_outcome(outcome("db", "sql_failover_group", "failed", 6, 9, failure=failure, warnings=[HOSTILE]))
    run.mark_skipped("traffic", HOSTILE, T0 + timedelta(seconds=9))
    report = run.report(T0 + timedelta(seconds=10)).model_dump(mode="json")
    report["trigger"]["alert_rule"] = HOSTILE
    report["steps"][2]["id"] = HOSTILE  # even an id is escaped, in text and in attributes
    page = render_report(report, plan_snapshot={"name": "shop", "description": HOSTILE})
    dom = Dom(page)
    assert {tag for tag, _ in dom.tags} <= ALLOWED_TAGS
    assert not [name for _, attrs in dom.tags for name in attrs if name.startswith("on")]
    assert "<script" not in page and "<img" not in page
    assert dom.all_text.count(HOSTILE) >= 6  # reason, approver, why, failure, warning, plan snapshot…
    assert HOSTILE in dom.step_ids("g")


def test_the_page_loads_nothing() -> None:
    page = render_report(succeeded_failover())
    dom = Dom(page)
    assert not [a for _, a in dom.tags if "src" in a or "href" in a]
    assert "url(" not in page and "@import" not in page
    csp = next(a["content"] for t, a in dom.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "script" not in csp


def test_failed_run_marks_the_failed_step_and_has_no_rto() -> None:
    run = state(approval=False)
    failure = {"category": "permanent", "code": "Forbidden", "message": "no permission on fog"}
    run.record_outcome(outcome("db", "sql_failover_group", "failed", 4, 8, failure=failure))
    for step_id in ("traffic", "verify"):
        run.mark_skipped(step_id, "db did not succeed", T0 + timedelta(seconds=8))
    report = run.report(T0 + timedelta(seconds=9)).model_dump(mode="json")
    dom = Dom(render_report(report))
    assert report["status"] == "Failed"
    failed_bar = next(a for t, a in dom.with_attr("data-step-id", "db") if t == "g")
    assert failed_bar["data-status"] == "failed"
    assert any(t == "rect" and a.get("fill") == STATUS_COLOURS["failed"] for t, a in dom.tags)
    text = dom.all_text
    assert "Forbidden: no permission on fog" in text
    assert "not started (skipped)" in text
    assert "No RTO: the run did not recover (status Failed)." in text
    assert "No approval was asked for" in text
    assert dom.step_ids("g") == ["db", "traffic", "verify"]


def test_canceled_run_shows_who_canceled_and_every_step() -> None:
    run = RunInput(plan=plan(), mode="failover", trigger={"source": "operator"}, requested_at=T0, reason="x")
    report = canceled_report(
        "shop--failover--op-20261128T070000-abcdef", run, None, by="dee", reason="wrong region", at=T0
    ).model_dump(mode="json")
    dom = Dom(render_report(report))
    assert dom.step_ids("tr") == ["db", "traffic", "verify"]
    assert {a["data-status"] for t, a in dom.with_attr("data-step-id") if t == "g"} == {"canceled"}
    text = dom.all_text
    assert "Canceled" in text and "wrong region" in text and "hard (terminated)" in text
    assert "This report records no pre-flight" in text


def test_graceful_cancel_while_awaiting_approval_ends_the_decision_phase() -> None:
    run = state()
    run.request_cancel(CancelRequest(by="dee", reason="false alarm"), T0 + timedelta(seconds=40))
    report = run.report(T0 + timedelta(seconds=41)).model_dump(mode="json")
    decision = [span for span in phases(report) if span.name == "decision"]
    assert len(decision) == 1 and decision[0].seconds == 37  # pre-flight done at +3 s, canceled at +40 s
    assert "graceful" in Dom(render_report(report)).all_text


def test_drill_shows_teardown_and_its_cost() -> None:
    run = state("drill", approval=False)
    created = [{"type": "SQL database", "name": "orders-drill", "created_at": "2026-11-28T07:00:05Z"}]
    run.record_outcome(outcome("db", "sql_failover_group", "succeeded", 5, 9, detail={"drill_created": created}))
    run.record_outcome(outcome("traffic", "traffic_manager_failover", "succeeded", 9, 12))
    run.record_outcome(outcome("verify", "health_check", "succeeded", 12, 13))
    run.steps["db"].teardown = TeardownResult(teardown="deleted orders-drill")
    run.steps["traffic"].teardown = TeardownResult.failed("profile busy")
    run.teardown_finished_at = T0 + timedelta(seconds=30)
    report = run.report(T0 + timedelta(seconds=31)).model_dump(mode="json")
    spans = phases(report)
    assert [span.name for span in spans] == ["pre-flight", "data", "traffic", "verification", "teardown"]
    assert spans[-1].seconds == 17  # last step done at +13 s, drill database removed at +30 s
    text = Dom(render_report(report)).all_text
    assert "teardown: deleted orders-drill" in text
    assert "left behind by traffic (traffic_manager_failover): profile busy" in text
    assert "Drill cost" in text and "orders-drill" in text
    assert "Started by" in text and "ana" in text


@pytest.mark.parametrize(
    "report",
    [
        {},
        {"instance_id": "x", "steps": [{"id": "a"}, {"id": "b", "status": "failed", "detail": None}]},
        {"steps": [{"id": "a", "started_at": "not a time", "finished_at": 3}], "trigger": None, "approval": "yes"},
        {"status": "Weird", "steps": "none", "rpo_by_store": [None, 5], "predicted": [], "preflight": {"counts": 1}},
    ],
)
def test_missing_or_odd_fields_still_render(report: dict[str, Any]) -> None:
    dom = Dom(render_report(report))
    steps = report.get("steps")
    expected = [step["id"] for step in steps] if isinstance(steps, list) else []
    assert sorted(dom.step_ids("tr")) == sorted(expected)
    assert {tag for tag, _ in dom.tags} <= ALLOWED_TAGS


def test_plan_snapshot_is_shown_when_given() -> None:
    snapshot = plan().model_dump(mode="json")
    with_plan = Dom(render_report(succeeded_failover(), plan_snapshot=snapshot)).all_text
    assert "failover_group_id:" in with_plan and "to_endpoints:" in with_plan
    without = Dom(render_report(succeeded_failover())).all_text
    assert "failover_group_id:" not in without and "does not carry the plan" in without


def test_history_plots_each_run_and_lists_it() -> None:
    runs = [
        RunSummary(id="r3", mode="drill", status="Failed", started_at="2026-11-20T07:00:00Z"),
        RunSummary(id="r2", mode="failover", status="Succeeded", started_at="2026-11-13T07:00:00Z", rto_seconds=90),
        RunSummary(id="r1", mode="drill", status="Succeeded", started_at="2026-11-06T07:00:00Z", rto_seconds=60),
        RunSummary(id="r0", mode="drill", status="Succeeded", started_at="2026-10-30T07:00:00Z", rto_seconds=120),
        RunSummary(id=HOSTILE, mode="drill", status="Succeeded", started_at=None, rto_seconds=5),
    ]
    page = render_history("shop", runs, days=60, mode=None)
    dom = Dom(page)
    assert [a["data-run-id"] for t, a in dom.with_attr("data-run-id") if t == "tr"] == [run.id for run in runs]
    plotted = [a["data-run-id"] for t, a in dom.with_attr("data-run-id") if t == "g"]
    assert sorted(plotted) == ["r0", "r1", "r2", "r3"]  # a run without a start time cannot be placed
    line = next(a for t, a in dom.tags if t == "polyline")
    points = [tuple(map(float, point.split(","))) for point in line["points"].split()]
    assert len(points) == 2  # the drills that measured an RTO (r0, r1), oldest first
    assert points[0][0] < points[1][0]
    assert points[0][1] < points[1][1]  # r0's 120 s is drawn above r1's 60 s (SVG y grows downwards)
    assert "<script" not in page and "last 60 day(s)" in dom.all_text


def test_history_without_an_rto_says_so() -> None:
    runs = [RunSummary(id="r1", mode="drill", status="Rejected", started_at="2026-11-06T07:00:00Z")]
    text = Dom(render_history("shop", runs)).all_text
    assert "No run in this period measured an RTO" in text
    assert "No stored report" in Dom(render_history("shop", [])).all_text
