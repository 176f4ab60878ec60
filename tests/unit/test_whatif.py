"""dr.whatif.predict: pure, from hand-built checks (the facts each kind's check reports) and past reports."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dr.durations import iso
from dr.plan import Plan, parse_plan
from dr.steps.base import Check
from dr.whatif import (
    ASSUMED_TM_WRITE_SECONDS,
    DEFAULT_COPY_BYTES_PER_SECOND,
    HISTORY_WAIT_SECONDS,
    ORCHESTRATOR_HOP_SECONDS,
    ORCHESTRATOR_START_SECONDS,
    SQL_FAILOVER_SECONDS,
    SQL_GEO_RESTORE_SECONDS,
    PlanEvaluation,
    PreflightInput,
    StorePrediction,
    measurements,
    predict,
    run_preflight,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SUB = "/subscriptions/s/resourceGroups"
FOG = f"{SUB}/wus/providers/Microsoft.Sql/servers/shop-wus/failoverGroups/fog"
DB = f"{SUB}/eus/providers/Microsoft.Sql/servers/shop-eus/databases/orders"
SERVER = f"{SUB}/wus/providers/Microsoft.Sql/servers/shop-wus"
PROFILE = f"{SUB}/g/providers/Microsoft.Network/trafficManagerProfiles/shop"


def blob(step_id: str = "images", **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "kind": "blob_backup",
        "source": {"account_url": "https://eus.blob.core.windows.net", "container": "images"},
        "target": {"account_url": "https://wus.blob.core.windows.net", "container": "images"},
        **extra,
    }


def fog(step_id: str = "db", mode: str = "planned", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "sql_failover_group", "failover_group_id": FOG, "failover_mode": mode, **extra}


def restore(step_id: str = "orders", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "sql_geo_restore", "source_database_id": DB, "target_server_id": SERVER, **extra}


def traffic(step_id: str = "traffic", **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "kind": "traffic_manager_failover",
        "profile_id": PROFILE,
        "from_endpoints": ["eus"],
        "to_endpoints": ["wus"],
        **extra,
    }


def health(step_id: str = "verify", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "health_check", "url": "https://shop.example.com/health", **extra}


def plan(*steps: dict[str, Any], approval: bool = False) -> Plan:
    return parse_plan({"name": "p", "steps": list(steps), "approval": {"required": approval}})


def fog_checks(*, role: str = "Secondary", expected: str = "planned", lag: float | None = 5.0) -> list[Check]:
    rpo = 0.0 if expected == "planned" else lag
    basis = "planned failover: no data loss" if expected == "planned" else f"forced failover: lag {lag}"
    if expected == "forced" and lag is None:
        basis = "unknown: the lag is reported only by the primary, and the primary is unreachable"
    return [
        Check.passed("current_role", "group is secondary", replication_role=role),
        Check.passed("replication", "lag", lag_seconds=lag, replication_state="CATCH_UP"),
        Check.passed("failover_mode", "mode", expected_failover=expected, rpo_estimate_seconds=rpo, rpo_basis=basis),
    ]


def restore_checks(backup_age: float | None = 1200.0) -> list[Check]:
    backup = iso(NOW - timedelta(seconds=backup_age)) if backup_age is not None else None
    return [
        Check.passed("source_geo_backup", "geo-backup", last_available_backup=backup),
        Check.passed("target_database_free", "shop-wus/orders is free", target_database="orders"),
    ]


def traffic_checks(
    *,
    interval: int = 30,
    tolerated: int = 3,
    timeout: int = 10,
    ttl: int = 30,
    writes: int = 2,
    target_status: str = "Online",
) -> list[Check]:
    model = {
        "interval_seconds": interval,
        "tolerated_failures": tolerated,
        "timeout_seconds": timeout,
        "ttl_seconds": ttl,
    }
    return [
        Check.passed("secondary_healthy", "fit", monitor_status={"shop-wus": target_status}),
        Check.passed("changes", "changes", changes=[f"change {n}" for n in range(writes)]),
        Check.passed("dns_convergence", "clients follow", convergence=model),
    ]


def blob_checks(
    *, reachable: bool = True, synced_ago: float | None = 600.0, backlog: dict[str, Any] | None = None
) -> list[Check]:
    probe = {"reachable": reachable, "seconds": 0.02 if reachable else 3.0}
    standing: dict[str, Any] = {
        "last_sync_at": iso(NOW - timedelta(seconds=synced_ago)) if synced_ago is not None else None,
        "unknown": None if synced_ago is not None else "unknown: no standing sync recorded",
    }
    if backlog is not None:
        standing["backlog"] = backlog
    return [
        Check.passed("source_reachable", "source", probe=probe),
        Check.passed("last_standing_sync", "sync", **standing),
    ]


def health_checks(latency_ms: float = 40.0) -> list[Check]:
    return [Check.passed("answers", "answered 200", ok=True, latency_ms=latency_ms)]


def step_of(evaluation: PlanEvaluation, step_id: str) -> Any:
    return next(step for step in evaluation.steps if step.step == step_id)


def store_of(evaluation: PlanEvaluation, step_id: str) -> StorePrediction:
    return next(store for store in evaluation.stores if store.step == step_id)


def report(steps: dict[str, float], *, mode: str = "failover", rto: float | None = None, **details: Any) -> dict:
    """A past run's report whose steps ran one after another for the given seconds."""
    at = NOW - timedelta(days=1)
    entries = []
    for step_id, seconds in steps.items():
        entries.append(
            {
                "id": step_id,
                "kind": details.get(f"{step_id}_kind", "health_check"),
                "status": "succeeded",
                "started_at": iso(at),
                "finished_at": iso(at + timedelta(seconds=seconds)),
                "detail": details.get(step_id, {}),
            }
        )
        at += timedelta(seconds=seconds)
    return {"plan": "p", "mode": mode, "rto_seconds": rto, "steps": entries}


# -- the kinds' models ----------------------------------------------------------------------------------


def test_traffic_manager_switch_is_its_writes_and_clients_follow_within_the_ttl_after_it() -> None:
    evaluation = predict(plan(traffic()), {"traffic": traffic_checks(writes=2, ttl=30)}, now=NOW)

    prediction = step_of(evaluation, "traffic")
    # The step disables the primary itself: no probe has to fail first. 2 PATCHes x 5 s; the target is Online.
    assert prediction.seconds == 2 * ASSUMED_TM_WRITE_SECONDS
    assert "Online already" in prediction.basis and prediction.measured is False
    assert prediction.clients_follow_seconds == 30
    assert evaluation.predicted_rto_seconds == pytest.approx(prediction.seconds + ORCHESTRATOR_START_SECONDS)
    # What customers feel: the switch done, then every resolver's cache expired.
    assert evaluation.predicted_service_restored_seconds == evaluation.predicted_rto_seconds
    assert evaluation.predicted_clients_follow_seconds == pytest.approx(evaluation.predicted_rto_seconds + 30)
    assert evaluation.uncalibrated_steps == ["traffic"]


def test_a_target_endpoint_not_online_yet_adds_one_probing_interval() -> None:
    disabled = predict(
        plan(traffic()), {"traffic": traffic_checks(interval=10, target_status="Disabled", writes=2)}, now=NOW
    )
    prediction = step_of(disabled, "traffic")
    assert prediction.seconds == 2 * ASSUMED_TM_WRITE_SECONDS + 10
    assert "shop-wus" in prediction.basis and "CheckingEndpoint" in prediction.basis


def test_a_measured_switch_is_calibrated_and_says_so() -> None:
    history = [report({"traffic": 1.5}, traffic_kind="traffic_manager_failover", rto=2.5)]
    evaluation = predict(plan(traffic()), {"traffic": traffic_checks()}, now=NOW, history=history)
    prediction = step_of(evaluation, "traffic")
    assert (prediction.seconds, prediction.measured) == (1.5, True)
    assert evaluation.uncalibrated_steps == []
    assert evaluation.predicted_clients_follow_seconds == pytest.approx(evaluation.predicted_rto_seconds + 30)


def test_sql_failover_group_planned_waits_for_the_lag_and_forced_does_not() -> None:
    planned = predict(plan(fog()), {"db": fog_checks(expected="planned", lag=5.0)}, now=NOW)
    forced = predict(plan(fog(mode="forced")), {"db": fog_checks(expected="forced", lag=5.0)}, now=NOW)

    assert step_of(planned, "db").seconds == SQL_FAILOVER_SECONDS + 5.0
    assert step_of(forced, "db").seconds == SQL_FAILOVER_SECONDS
    assert store_of(planned, "db").seconds == 0.0
    assert store_of(forced, "db").seconds == 5.0
    assert "forced" in step_of(forced, "db").basis


def test_sql_failover_group_already_primary_costs_nothing() -> None:
    evaluation = predict(plan(fog()), {"db": fog_checks(role="Primary")}, now=NOW)
    assert step_of(evaluation, "db").seconds == 1.0
    assert store_of(evaluation, "db").seconds == 0.0


def test_geo_restore_documented_time_and_backup_age() -> None:
    evaluation = predict(plan(restore()), {"orders": restore_checks(backup_age=1200.0)}, now=NOW)

    assert step_of(evaluation, "orders").seconds == SQL_GEO_RESTORE_SECONDS
    assert "12 h" in step_of(evaluation, "orders").basis
    assert store_of(evaluation, "orders").seconds == 1200.0
    assert evaluation.predicted_rpo_seconds == 1200.0
    assert evaluation.rpo_bound_by == "orders"


def test_blob_backlog_over_the_default_rate() -> None:
    backlog = {
        "blobs": 64,
        "bytes": 120 * 1024 * 1024 + 10,
        "same_second": 1,
        "same_second_bytes": 10,
        "complete": True,
        "text": "64 blob(s)",
        "list_seconds": 0.5,
    }
    evaluation = predict(plan(blob()), {"images": blob_checks(backlog=backlog)}, now=NOW)

    prediction = step_of(evaluation, "images")
    # The blob of the sync's own second is left out of the time (it was most likely in the sync).
    expected = 0.5 + max(120 * 1024 * 1024 / DEFAULT_COPY_BYTES_PER_SECOND, 63 / (32 / 0.1))
    assert prediction.seconds == pytest.approx(expected, abs=0.001)
    assert "60 MiB/s" in prediction.basis
    store = store_of(evaluation, "images")
    assert store.seconds == 600.0
    assert "64 blob(s)" in store.basis


def test_blob_copy_rate_from_history() -> None:
    backlog = {"blobs": 100, "bytes": 10_000_000, "complete": False, "text": "≥ 100 blob(s)", "list_seconds": 0.0}
    past = report({"images": 10.0}, images_kind="blob_backup", images={"bytes_copied": 5_000_000, "copied": 20})
    step = blob(copy_concurrency=10)
    # A measured duration of a failover that copied is comparable (the source answered then too): it wins.
    measured = predict(plan(step), {"images": blob_checks(backlog=backlog)}, now=NOW, history=[past])
    assert step_of(measured, "images").seconds == 10.0
    # A drill's is not (it copies everything into its own container), but its rates are: 2 blobs/s, 0.5 MB/s.
    drill = report(
        {"images": 10.0}, mode="drill", images_kind="blob_backup", images={"bytes_copied": 5_000_000, "copied": 20}
    )
    rated = predict(plan(step), {"images": blob_checks(backlog=backlog)}, now=NOW, history=[drill])
    assert step_of(rated, "images").seconds == pytest.approx(max(10_000_000 / 500_000, 100 / 2))
    assert "median copy rates of 1 past run" in step_of(rated, "images").basis
    assert "capped" in step_of(rated, "images").basis


def test_blob_with_an_unreachable_source_ends_at_once() -> None:
    evaluation = predict(plan(blob()), {"images": blob_checks(reachable=False)}, now=NOW)
    assert step_of(evaluation, "images").seconds == pytest.approx(3.5)
    assert "unreachable" in step_of(evaluation, "images").basis


def test_health_check_expects_one_attempt() -> None:
    evaluation = predict(plan(health(attempts=5, interval="PT2S")), {"verify": health_checks(40.0)}, now=NOW)
    prediction = step_of(evaluation, "verify")
    assert prediction.seconds == 0.04
    assert "at worst 5 attempts" in prediction.basis


# -- history --------------------------------------------------------------------------------------------


def test_history_median_is_preferred_and_said() -> None:
    checks = {"db": fog_checks(expected="forced", lag=None)}
    history = [
        report({"db": seconds}, db_kind="sql_failover_group", db={"action": "forced failover"})
        for seconds in (40.0, 20.0, 30.0)
    ]
    evaluation = predict(plan(fog(mode="forced")), checks, now=NOW, history=history)

    prediction = step_of(evaluation, "db")
    assert prediction.seconds == 30.0
    assert prediction.basis.startswith("measured: median of the newest 3 failover run(s)")


def test_a_drill_of_a_failover_group_is_no_measurement() -> None:
    drill = report({"db": 0.2}, mode="drill", db_kind="sql_failover_group", db={"action": "none (drill: ...)"})
    evaluation = predict(plan(fog()), {"db": fog_checks()}, now=NOW, history=[drill])
    assert step_of(evaluation, "db").seconds == SQL_FAILOVER_SECONDS + 5.0


def test_orchestrator_time_is_measured_from_history_when_it_can_be() -> None:
    checks = {"verify": health_checks()}
    without = predict(plan(health()), checks, now=NOW)
    assert without.detail["orchestrator_seconds"] == ORCHESTRATOR_START_SECONDS

    history = [report({"verify": 2.0}, rto=3.5), report({"verify": 2.0}, rto=2.5)]
    evaluation = predict(plan(health()), checks, now=NOW, history=history)
    assert evaluation.detail["orchestrator_seconds"] == 1.0  # median of 1.5 and 0.5
    assert evaluation.predicted_rto_seconds == 3.0  # measured 2.0 + 1.0


def test_what_a_run_carries_of_its_history_predicts_what_the_whole_reports_do() -> None:
    """Pre-flight gets dr.whatif.measurements of the reports (an activity's answer): the same prediction."""
    whole = [
        report(
            {"images": 4.0, "db": 30.0, "traffic": 2.0},
            images_kind="blob_backup",
            images={"bytes_copied": 5_000_000, "copied": 20, "samples": ["a"] * 500, "source_unavailable": "no"},
            db_kind="sql_failover_group",
            db={"action": "forced failover", "partners": {"big": "x" * 5000}},
            traffic_kind="traffic_manager_failover",
            traffic={"changes": ["disable a", "enable b"], "mode": "failover"},
            rto=40.0,
        ),
        report({"db": 0.2}, mode="drill", db_kind="sql_failover_group", db={"action": "none (drill: ...)"}),
    ]
    checks = {"images": blob_checks(reachable=False), "db": fog_checks(expected="forced"), "traffic": traffic_checks()}
    the_plan = plan(blob(), fog(), traffic())
    cut = measurements(whole)

    assert len(str(cut)) < len(str(whole)) / 4
    assert predict(the_plan, checks, now=NOW, history=cut) == predict(the_plan, checks, now=NOW, history=whole)


# -- the graph and the stores ---------------------------------------------------------------------------


def test_critical_path_on_a_diamond() -> None:
    diamond = plan(
        traffic("start", from_endpoints=["a"], to_endpoints=["b"]),
        fog("left", after=["start"]),
        restore("right", after=["start"]),
        health("end", after=["left", "right"]),
    )
    checks = {
        "start": traffic_checks(interval=10, ttl=5, writes=2, target_status="Disabled"),  # 2 x 5 s + 10 s
        "left": fog_checks(expected="forced"),  # 30 s
        "right": restore_checks(),  # 12 h
        "end": health_checks(100.0),  # 0.1 s
    }
    evaluation = predict(diamond, checks, now=NOW)

    assert evaluation.critical_path == ["start", "right", "end"]
    hop = ORCHESTRATOR_HOP_SECONDS
    expected = ORCHESTRATOR_START_SECONDS + 20 + hop + SQL_GEO_RESTORE_SECONDS + hop + 0.1
    assert evaluation.predicted_rto_seconds == pytest.approx(expected)
    assert step_of(evaluation, "left").earliest_finish_seconds == pytest.approx(
        ORCHESTRATOR_START_SECONDS + 20 + hop + 30
    )


def test_rpo_is_unknown_when_any_store_is_unknown_and_names_it() -> None:
    both = plan(blob(), fog(mode="forced"), restore())
    checks = {
        "images": blob_checks(synced_ago=60.0),
        "db": fog_checks(expected="forced", lag=None),
        "orders": restore_checks(backup_age=1200.0),
    }
    evaluation = predict(both, checks, now=NOW)

    assert evaluation.predicted_rpo_seconds is None
    assert evaluation.rpo_bound_by == "db"
    assert store_of(evaluation, "db").seconds is None
    assert store_of(evaluation, "db").basis.startswith("unknown")


def test_rpo_is_the_worst_store() -> None:
    both = plan(blob(), fog(), restore())
    checks = {"images": blob_checks(synced_ago=90.0), "db": fog_checks(), "orders": restore_checks(backup_age=45.0)}
    evaluation = predict(both, checks, now=NOW)

    assert evaluation.predicted_rpo_seconds == 90.0
    assert evaluation.rpo_bound_by == "images"
    assert {store.step for store in evaluation.stores} == {"images", "db", "orders"}


def test_ready_means_no_failed_check_and_failed_ones_are_listed() -> None:
    checks = {"verify": [Check.failed("host_resolves", "host does not resolve")]}
    evaluation = predict(plan(health()), checks, now=NOW)
    assert evaluation.ready is False
    assert evaluation.detail["failed_checks"] == ["verify: host does not resolve"]
    assert predict(plan(health()), {"verify": health_checks()}, now=NOW).ready is True


def test_unknown_step_duration_leaves_the_rto_unknown() -> None:
    evaluation = predict(plan(traffic(), health(after=["traffic"])), {"verify": health_checks()}, now=NOW)
    assert step_of(evaluation, "traffic").seconds is None
    assert evaluation.predicted_rto_seconds is None
    assert "traffic" in evaluation.detail["rto_basis"]


def test_a_slow_history_read_does_not_hold_the_preflight_back() -> None:
    """The history only refines the prediction: once the checks are done, pre-flight waits for it briefly."""
    release = threading.Event()

    def slow_history() -> list[dict[str, Any]]:
        release.wait(30)
        return []

    started = time.monotonic()
    try:
        result = run_preflight(PreflightInput(plan="p", checks={"verify": {}}), slow_history, check=lambda _: [])
    finally:
        release.set()
    assert time.monotonic() - started < HISTORY_WAIT_SECONDS + 5
    assert result.checks == {"verify": []} and result.history == []
    assert result.history_error is not None and "not read within" in result.history_error
