"""The pure parts of benchmarks/rto.py: critical path ratios, cloud-interval coverage, the probe bound, and
that its generated plans validate as plans (no stack is started here)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.rto import (
    MACHINE,
    CpuSampler,
    blob_probe_bound,
    cloud_intervals,
    critical_path,
    generated_plan,
    outage_plan,
    overhead_share,
    union_length,
)
from dr.plan import Plan

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


def step(step_id: str, start: float, end: float) -> dict:
    return {
        "id": step_id,
        "kind": "health_check",
        "status": "succeeded",
        "started_at": iso(start),
        "finished_at": iso(end),
    }


def test_ratio_is_actual_finish_over_the_dependency_chain_at_measured_durations() -> None:
    # a (0-2), b (0-6) in parallel; c after a lasts 2 s but started only when b ended (a wave): 8 vs 4.
    report = {"started_at": iso(0), "steps": [step("a", 0, 2), step("b", 0, 6), step("c", 6, 8)]}
    result = critical_path(report, {"a": [], "b": [], "c": ["a"]})
    assert result["worst_ratio"] == pytest.approx(2.0)
    assert result["worst_step"]["id"] == "c"
    assert result["critical_path_s"] == pytest.approx(6.0)


def test_steps_under_the_minimum_do_not_count() -> None:
    report = {"started_at": iso(0), "steps": [step("a", 0.5, 0.9), step("b", 0, 4)]}
    result = critical_path(report, {}, min_seconds=1.0)
    assert result["steps_counted"] == 1
    assert result["worst_ratio"] == pytest.approx(1.0)


def test_union_length_merges_overlaps_and_clips() -> None:
    assert union_length([(0, 2), (1, 3), (5, 6), (-1, 0.5)], 0, 5.5) == pytest.approx(3.5)


def test_an_operation_lasts_until_the_client_observed_it() -> None:
    log = [
        {"method": "PUT", "path": "/x/databases/db", "at": at(1.1), "duration_ms": 100},
        {"method": "GET", "path": "/x/databaseAzureAsyncOperation/OP1", "at": at(2.0), "duration_ms": 10},
        {"method": "GET", "path": "/x/databaseAzureAsyncOperation/op1", "at": at(4.5), "duration_ms": 10},
    ]
    ops = [{"id": "op1", "started_at": at(1.05), "ended_at": at(4.49), "deadline": at(4.0)}]
    intervals = cloud_intervals(log, ops)
    assert (at(1.0), at(4.5)) in intervals
    assert overhead_share(at(0), 5.0, intervals)["share"] == pytest.approx(0.3)


def test_a_traffic_manager_probe_window_counts_as_cloud_time() -> None:
    profile = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/trafficManagerProfiles/p"
    log = [
        {"method": "PATCH", "path": f"{profile}/ExternalEndpoints/wus", "at": at(1.0), "duration_ms": 100},
        {"method": "GET", "path": profile, "at": at(1.2), "duration_ms": 10},
        {"method": "GET", "path": profile, "at": at(2.5), "duration_ms": 10},
    ]
    intervals = cloud_intervals(log, [], checking_seconds=1.0)
    assert (at(1.0), at(2.5)) in intervals


def test_probe_bound_follows_the_doubling_retry() -> None:
    assert blob_probe_bound(2.0, 1, 0.5) == pytest.approx(4.6)
    assert blob_probe_bound(30.0, 4, 1.0) == pytest.approx(5 * 30 + 1.2 * (1 + 2 + 4 + 8))


def test_generated_plans_are_valid_plans() -> None:
    generated = generated_plan("rto-gen", "http://127.0.0.1:1", lanes=20, depth=5)
    plan = Plan.model_validate(generated.plan())
    assert len(plan.steps) == 100
    assert sum(1 for s in plan.steps if not s.after) == 20
    outage = Plan.model_validate(outage_plan("rto-o00", "http://127.0.0.1:1").plan())
    assert len(outage.steps) == 6
    assert len(generated.estate()["sql"]["failover_groups"]) == 40


def test_cpu_shares_are_per_core_over_the_window_between_the_nearest_samples() -> None:
    sampler = CpuSampler()
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    sampler.samples = [
        (at, {MACHINE: 100.0, "host": 10.0, "app worker 7": 5.0}),
        (at + timedelta(seconds=1), {MACHINE: 101.5, "host": 10.5, "app worker 7": 6.0}),
        (at + timedelta(seconds=2), {MACHINE: 103.0, "host": 10.8, "app worker 7": 7.0, "azurite": 0.2}),
    ]
    shares = sampler.between(at + timedelta(milliseconds=100), at + timedelta(seconds=2))
    assert shares["window_s"] == 2.0
    assert shares["core_share"] == {"host": 0.4, "app worker 7": 1.0, "azurite": 0.1}
    # 3 busy seconds of all cores in 2 s: on this machine's cores, that share of its capacity.
    assert shares["machine_busy"] == round(3.0 / 2.0 / (os.cpu_count() or 1), 2)


def test_the_machine_sample_holds_at_least_this_processs_cpu_seconds() -> None:
    sample = CpuSampler()._sample()
    assert sample[MACHINE] >= sample["host, emulators and driver"]  # this process is part of the machine


def test_a_worker_process_is_named_by_its_scale_group() -> None:
    from devstack.host.worker_process import _WORKER_MAIN

    command = " ".join(["/usr/bin/python3", "-c", _WORKER_MAIN, "/work/app", "5", "durable"])
    assert CpuSampler._label(command, 42) == "app worker (durable) 42"
    assert CpuSampler._label("/usr/bin/node /x/azurite/dist/src/blob/main.js", 43) == "azurite"
