"""dr/readiness.py: plan files read once (digest and plan, or file/key/message problems), the readiness tick
storing each evaluation in a real Azurite and logging the not-ready warning, and the drill schedule's due
times and run ids. dr.whatif.evaluate_plan is replaced here (these tests are about what is done with an
evaluation; tests/triggers/test_plans_api.py evaluates for real against the ARM emulator)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.azurite import Azurite
from dr import whatif
from dr.clients import get_clients, reset_for_tests
from dr.errors import PlanError
from dr.plan import Plan, parse_plan, scan_plans
from dr.readiness import (
    NOT_READY_EVENT,
    READY_EVENT,
    due_drills,
    read_readiness,
    readiness_tick,
    scheduled_drill,
    scheduled_drill_id,
)
from dr.run import is_run_id
from dr.settings import get_settings
from dr.steps.base import Check

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def plan_doc(name: str, url: str = "https://shop.example.com/health", **extra: Any) -> dict[str, Any]:
    return {"name": name, "steps": [{"id": "probe", "kind": "health_check", "url": url}], **extra}


def write(folder: Path, file: str, document: Any) -> None:
    (folder / file).write_text(document if isinstance(document, str) else yaml.safe_dump(document))


def test_plan_files_are_read_with_their_digest_or_their_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", plan_doc("shop"))
    write(tmp_path, "b.yaml", plan_doc("shop"))  # the same name again
    write(
        tmp_path,
        "c.yaml",
        {
            "name": "bad",
            "drill": {"schedule": "0 0 3 * *"},
            "steps": [
                {"id": "db", "kind": "health_chek", "url": "x"},
                {"id": "web", "kind": "health_check", "url": "x"},
            ],
        },
    )
    write(tmp_path, "d.yml", "steps: [")
    write(tmp_path, "e.yaml", "- a list")
    files = {f.file: f for f in scan_plans(tmp_path)}
    assert (
        files["a.yaml"].plan is not None
        and files["a.yaml"].digest == hashlib.sha256((tmp_path / "a.yaml").read_bytes()).hexdigest()
    )
    assert [(p.key, p.message) for p in files["b.yaml"].problems] == [
        ("name", "plan name 'shop' is already used by a.yaml")
    ]
    bad = {p.key: p.message for p in files["c.yaml"].problems}
    assert files["c.yaml"].name == "bad" and files["c.yaml"].broken
    assert "six fields" in bad["drill.schedule"]
    assert "health_chek" in bad["steps.db"]
    assert "pattern" in bad["steps.web.url"]
    assert {p.file for p in files["c.yaml"].problems} == {"c.yaml"}
    assert files["d.yml"].problems[0].key is None and "not valid YAML" in files["d.yml"].problems[0].message
    assert "a mapping" in files["e.yaml"].problems[0].message


def test_a_drill_schedule_is_validated_when_the_plan_loads() -> None:
    assert parse_plan(plan_doc("shop", drill={"schedule": "0 30 2 * * Sun"})).drill.schedule == "0 30 2 * * Sun"
    with pytest.raises(PlanError, match=r"field 'drill.schedule': minute field '61' is outside 0-59"):
        parse_plan(plan_doc("shop", drill={"schedule": "0 61 2 * * *"}), source="shop.yaml")


class FakeEvaluation:
    """evaluate_plan's stand-in: plans named in ``failing`` have a failed check, the others pass."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.calls: list[str] = []
        self.histories: list[Any] = []

    def __call__(
        self, plan: Plan, *, now: datetime, mode: str = "failover", history: Any = None
    ) -> whatif.PlanEvaluation:
        self.calls.append(plan.name)
        self.histories.append(history)
        failed = plan.name in self.failing
        check = (
            Check.failed("host_resolves", "host does not resolve: fix url")
            if failed
            else Check.passed("host_resolves", "resolves")
        )
        return whatif.PlanEvaluation(
            plan=plan.name,
            evaluated_at=now,
            ready=not failed,
            checks={"probe": [check, Check.warning("answers", "slow")]},
            predicted_rto_seconds=42.0,
        )


@pytest.fixture
def evaluation(monkeypatch: pytest.MonkeyPatch) -> FakeEvaluation:
    fake = FakeEvaluation()
    monkeypatch.setattr(whatif, "evaluate_plan", fake)
    return fake


@pytest.fixture
def world(azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    plans = tmp_path / "plans"
    plans.mkdir()
    monkeypatch.setenv("DR_PLANS_DIR", str(plans))
    monkeypatch.setenv("DR_REPORTS_ACCOUNT_URL", azurite.url_for("secondary"))
    monkeypatch.setenv(
        "DR_STORAGE_CONNECTION_STRINGS", json.dumps({"secondary": azurite.connection_string("secondary")})
    )
    monkeypatch.setenv("DR_REPORTS_CONTAINER", f"readiness-{datetime.now().strftime('%H%M%S%f')}")
    reset_for_tests()
    yield plans
    reset_for_tests()


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    found = []
    for entry in caplog.records:
        try:
            fields = json.loads(entry.getMessage())
        except ValueError:
            continue
        if isinstance(fields, dict) and fields.get("event") == name:
            found.append({**fields, "level": entry.levelno})
    return found


def tick(now: datetime, *, changed_only: bool = False) -> Any:
    return readiness_tick(get_clients(), get_settings(), now, changed_only=changed_only)


def test_each_evaluation_is_stored_and_a_failed_check_logs_the_warning(
    world: Path, evaluation: FakeEvaluation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dr.readiness")
    write(world, "shop.yaml", plan_doc("shop"))
    write(world, "quick.yaml", plan_doc("quick"))
    evaluation.failing = {"shop"}

    result = tick(NOW)
    assert sorted(r.plan for r in result.evaluated) == ["quick", "shop"] and result.errors == []
    shop = read_readiness(get_clients(), "shop")
    assert shop is not None
    assert (shop.readiness, shop.ready, shop.reason, shop.warnings) == ("red", False, "checks_failed", 1)
    assert shop.digest == hashlib.sha256((world / "shop.yaml").read_bytes()).hexdigest()
    assert shop.evaluation is not None and shop.evaluation["predicted_rto_seconds"] == 42.0
    assert read_readiness(get_clients(), "quick").readiness == "green"  # type: ignore[union-attr]
    assert evaluation.histories == [[], []]  # the stored reports (none yet) go to the evaluation

    [warning] = events(caplog, NOT_READY_EVENT)
    assert warning["level"] == logging.WARNING
    assert warning == {
        "event": "DrPlanNotReady",
        "plan": "shop",
        "file": "shop.yaml",
        "digest": shop.digest,
        "evaluated_at": "2026-03-02T12:00:00Z",
        "readiness": "red",
        "reason": "checks_failed",
        "transition": "turned_not_ready",
        "failed_count": 1,
        "failed_checks": [{"step": "probe", "check": "host_resolves", "message": "host does not resolve: fix url"}],
        "level": logging.WARNING,
    }

    caplog.clear()
    tick(NOW + timedelta(minutes=30))  # still failing: warned again, as still not ready
    assert [w["transition"] for w in events(caplog, NOT_READY_EVENT)] == ["still_not_ready"]

    caplog.clear()
    evaluation.failing = set()
    tick(NOW + timedelta(minutes=60))
    assert events(caplog, NOT_READY_EVENT) == []
    assert [e["plan"] for e in events(caplog, READY_EVENT)] == ["shop"]


def test_the_short_tick_evaluates_only_changed_files_and_broken_ones_go_red(
    world: Path, evaluation: FakeEvaluation, caplog: pytest.LogCaptureFixture
) -> None:
    write(world, "shop.yaml", plan_doc("shop"))
    write(world, "quick.yaml", plan_doc("quick"))
    first = tick(NOW, changed_only=True)  # nothing stored yet: every plan
    assert sorted(r.plan for r in first.evaluated) == ["quick", "shop"]
    evaluation.calls.clear()

    assert tick(NOW + timedelta(minutes=1), changed_only=True).evaluated == []
    write(world, "shop.yaml", plan_doc("shop", url="https://shop.example.com/healthz"))
    second = tick(NOW + timedelta(minutes=2), changed_only=True)
    assert [r.plan for r in second.evaluated] == ["shop"] and evaluation.calls == ["shop"]
    assert second.unchanged == ["quick"]

    caplog.set_level(logging.INFO, logger="dr.readiness")
    write(world, "quick.yaml", plan_doc("quick", url="nope"))  # broken: red without evaluating
    third = tick(NOW + timedelta(minutes=3), changed_only=True)
    assert [r.plan for r in third.evaluated] == ["quick"] and evaluation.calls == ["shop"]
    quick = read_readiness(get_clients(), "quick")
    assert quick is not None and (quick.readiness, quick.reason) == ("red", "plan_invalid")
    assert quick.problems[0].key == "steps.probe.url"
    [warning] = events(caplog, NOT_READY_EVENT)
    assert warning["plan"] == "quick" and warning["failed_checks"][0]["check"] == "plan_valid"


def test_an_evaluation_that_fails_is_recorded_unknown_and_warned(
    world: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(plan: Plan, **_: Any) -> whatif.PlanEvaluation:
        raise RuntimeError("checks crashed")

    monkeypatch.setattr(whatif, "evaluate_plan", broken)
    caplog.set_level(logging.INFO, logger="dr.readiness")
    write(world, "shop.yaml", plan_doc("shop"))
    tick(NOW)
    stored = read_readiness(get_clients(), "shop")
    assert stored is not None and (stored.readiness, stored.ready, stored.reason) == (
        "unknown",
        None,
        "evaluation_failed",
    )
    assert events(caplog, NOT_READY_EVENT)[0]["reason"] == "evaluation_failed"


def test_a_due_drill_has_one_run_id_per_plan_and_due_time(tmp_path: Path) -> None:
    write(tmp_path, "nightly.yaml", plan_doc("nightly", drill={"schedule": "0 0 3 * * *"}))
    write(tmp_path, "none.yaml", plan_doc("none"))
    files = scan_plans(tmp_path)
    at_three = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert [(p.name, due) for p, due in due_drills(files, at_three + timedelta(seconds=40))] == [("nightly", at_three)]
    assert due_drills(files, at_three + timedelta(minutes=11)) == []  # past the lookback: not started late
    assert due_drills(files, at_three - timedelta(seconds=1)) == []

    run_id = scheduled_drill_id("nightly", at_three)
    assert run_id == scheduled_drill_id("nightly", at_three)  # every firing names the same run
    assert run_id != scheduled_drill_id("nightly", at_three + timedelta(days=1))
    assert run_id != scheduled_drill_id("nightly2", at_three)
    assert is_run_id(run_id) and run_id.startswith("nightly--drill--op-20260302T030000-")

    plan = files[0].plan
    assert plan is not None
    instance_id, run = scheduled_drill(plan, at_three, at_three + timedelta(seconds=40), get_settings())
    assert instance_id == run_id
    assert (run.mode, run.requested_by, run.trigger["source"], run.trigger["due_at"]) == (
        "drill",
        "schedule",
        "schedule",
        "2026-03-02T03:00:00Z",
    )


def test_a_stale_or_missing_standing_sync_turns_readiness_red_though_a_failover_would_go_on() -> None:
    """The blob check only warns of an old sync (a failover must not be stopped by it); readiness is stricter."""
    from datetime import UTC, datetime, timedelta

    from dr.readiness import failed_checks
    from dr.steps.base import Check
    from dr.whatif import PlanEvaluation

    def evaluation(age: float | None) -> PlanEvaluation:
        sync = Check.passed("last_standing_sync", "last standing sync of a to b", rpo_estimate_seconds=age)
        return PlanEvaluation(
            plan="shop", evaluated_at=datetime.now(UTC), ready=True, checks={"images": [sync], "db": []}
        )

    limit = timedelta(minutes=60)
    assert failed_checks(evaluation(600.0), sync_stale_after=limit) == []
    [stale] = failed_checks(evaluation(7200.0), sync_stale_after=limit)
    assert (stale.step, stale.check) == ("images", "standing_sync_fresh") and "120 min old" in stale.message
    [never] = failed_checks(evaluation(None), sync_stale_after=limit)
    assert "no usable standing sync" in never.message
    assert failed_checks(evaluation(7200.0)) == []  # without a limit: only failed checks
