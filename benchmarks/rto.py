"""RTO benchmark on the local stack, with the ARM emulator's operation durations set to realistic ratios
(scaled down by one factor). Prints one JSON document, each figure next to its target and a `met` flag.

    .venv/bin/python benchmarks/rto.py            # full sizes (make bench-rto)
    .venv/bin/python benchmarks/rto.py --quick    # small sizes, a few minutes on 2 cores
    .venv/bin/python benchmarks/rto.py --scale 0.05 --only critical_path,unreachable_source

It measures whatever the orchestrator does (waves or dependency-driven scheduling): nothing here imports
the orchestrator; runs are started over HTTP (alerts POSTed to /api/alerts, shaped like
devstack/alert_samples.py) and read back from the run reports and the emulator's request log.

Cloud timing model (`REALISTIC_SECONDS`, then x `--scale`, LRO durations floored at `--min-op-seconds` so
steps whose ratio is measured last at least a second):
- SQL failover-group failover (planned, forced, try-planned): 30 s; geo-restore: 300 s (minutes);
  database create/copy/PITR: 120 s; other Microsoft.Sql writes: 30 s (emulator `operation_seconds`).
- Traffic Manager switch: every PUT/PATCH on a profile takes 5 s (a latency-only emulator fault, since Traffic
  Manager writes are synchronous); a newly enabled endpoint reports CheckingEndpoint for one probe interval,
  30 s (emulator `endpoint_checking_seconds`), and the step waits until it is Online. DNS TTL (30 s) is not
  modelled: the emulator's DNS answers the current state and the step does not wait for resolvers' caches, so
  TTL never enters RTO as the app measures it (it is reported as a constant, not measured).
- The ARM emulator answers Retry-After: 1 (its default); DR_STEP_POLL_MIN_SECONDS is 0.5 unless set.
Every scenario runs with East US down (ARM outage, the app's East US deployment, the primary storage account
refused), as `make demo` does.

Figures
-------
rto_vs_critical_path — for the demo plan (devstack/demo/plan.yaml with approval off: a human's approval time
  is not the orchestrator's) and a generated plan of `lanes` parallel chains x `depth` steps (100 = 20 x 5
  at full size; SQL geo-restores, failover-group failovers and Traffic Manager switches, mixed so that each
  depth holds long and short steps). Time 0 is the moment steps may start: the end of the run's pre-flight
  (report `preflight.finished_at`; the run's `started_at` without one). Pre-flight (every step's read-only
  checks before the first change, a deliberate safety phase) is reported beside it as `preflight_s`. A step's measured
  duration d(s) = finished_at - started_at from the report; its earliest possible finish
  EF(s) = max(EF(p) for p in s.after, default 0) + d(s); its ratio = (finished_at - run start) / EF(s).
  Only steps with d(s) >= 1 s count. Target: the worst ratio <= 1.05.
region_outage — one plan (6 steps: 2 geo-restores, 2 failover groups, a Traffic Manager switch after both
  failovers, a health check after the switch; its own resource groups, seeded in the emulator) run alone,
  then N plans of the same shape (50 at full size) triggered by N alerts sent within one second (each from a
  sender of its own, so a slow answer never delays the next alert). Alert to
  first cloud call: from just before the alert's POST to the start (log time - duration) of the first ARM
  request whose path names one of that plan's resource groups. Targets: p99 <= 2 s; the slowest of the N
  plans' RTO (report rto_seconds, from the alert's firedDateTime) over the lone plan's RTO <= 1.5.
  `cpu_until_last_first_call`: from the first alert to the last plan's first cloud call, each process's share
  of one core (this process holds the devstack host, the ARM emulator and the driver; the app's worker
  processes, one per instance of each Flex Consumption scale group, named "(http)" and "(durable)", and
  Azurite are its children): a worker at ~1.0 was bound by its one core (the GIL). `machine_busy`: the share
  of all the machine's cores busy over that window, whatever the process; near 1.0, the machine itself is the
  limit. The app runs on the always-ready instances infra/main.bicep deploys (`app_instances`: one "http",
  two "durable"); --durable-instances 1 measures a single durable instance.
unreachable_source_s — a blob_backup step (failover mode, on_source_unavailable: continue) against a
  black-holed primary (the fault proxy swallows every request to it): the step's finished_at - started_at.
  The configured probe bound is the worst case of the step's storage retry policy for one request:
  (retry_attempts + 1) x request_timeout + sum over retries n of min(30, retry_backoff x 2^(n-1)) x 1.2
  (DoublingRetry: doubling backoff, +-20 % jitter, 30 s cap). Target: <= bound + 1 s.
orchestration_overhead — for a run alone on the stack, over its RTO window W = [alert firedDateTime,
  firedDateTime + rto_seconds]: overhead = (|W| - |W ∩ C|) / |W|, where C is the union of the run's cloud
  intervals:
    * every ARM request the emulator logged: [log time - duration, log time];
    * every long-running operation: from the start of the request that created it (the emulator's
      operation start when no logged request contains it) to the end of the first request on its status or
      result URL (path containing the operation id) answered after the operation had ended — the moment
      the client observed completion (the operation's end when the client never looked again);
    * a Traffic Manager endpoint's probe window: from the end of the last write to a profile to the end of
      the first read of that profile that starts once endpoint_checking_seconds have passed.
  Storage calls (blob steps) and HTTP health probes are not cloud operations here (the emulator cannot see
  them), so the figure is taken as met on the generated plan and the lone region-outage plan (ARM steps and
  one health check); the demo plan's share is reported for information. Target: <= 5 %.

Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devstack.arm.control.requestlog import REQUEST_LOG_LIMIT  # noqa: E402  (the log keeps the newest this many)

SUB = "00000000-0000-0000-0000-000000000001"
ALERT_PREFIX = f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/"
TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")
SCENARIOS = ("critical_path", "region_outage", "unreachable_source")

# Realistic durations (seconds) before scaling.
REALISTIC_SECONDS: dict[str, float] = {
    "failover_group.failover": 30.0,
    "failover_group.force_failover": 30.0,
    "failover_group.try_planned_before_forced_failover": 30.0,
    "failover_group.create": 60.0,
    "failover_group.update": 30.0,
    "failover_group.delete": 30.0,
    "database.geo_restore": 300.0,
    "database.create": 120.0,
    "database.copy": 120.0,
    "database.point_in_time_restore": 120.0,
    "database.update": 30.0,
    "database.delete": 30.0,
    "server.create": 120.0,
    "server.update": 30.0,
    "server.delete": 60.0,
}
TM_WRITE_SECONDS = 5.0  # one PUT/PATCH on a Traffic Manager profile or endpoint
TM_PROBE_SECONDS = 30.0  # a newly enabled endpoint is CheckingEndpoint until Traffic Manager's first probe
TM_TTL_SECONDS = 30.0  # not modelled (see the module docstring)

TARGETS = {
    "worst_ratio": 1.05,
    "first_call_p99_s": 2.0,
    "rto_ratio": 1.5,
    "unreachable_slack_s": 1.0,
    "overhead_share": 0.05,
}
MIN_RATIO_STEP_SECONDS = 1.0
BLOB_PROBE = {"request_timeout": 2.0, "retry_attempts": 1, "retry_backoff": 0.5}


# -- pure analysis (tests/benchmarks/test_rto.py) -------------------------------------------------------


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def critical_path(report: dict[str, Any], after: dict[str, list[str]], min_seconds: float = 1.0) -> dict[str, Any]:
    """Each step's actual finish over its earliest possible finish (see the module docstring)."""
    preflight = report.get("preflight") or {}
    start = parse_time(preflight.get("finished_at") or report["started_at"])
    steps = {s["id"]: s for s in report["steps"]}
    earliest: dict[str, float] = {}

    def ef(step_id: str) -> float:
        if step_id not in earliest:
            step = steps[step_id]
            deps = [ef(dep) for dep in after.get(step_id, []) if dep in steps]
            duration = 0.0
            if step.get("started_at") and step.get("finished_at"):
                duration = (parse_time(step["finished_at"]) - parse_time(step["started_at"])).total_seconds()
            earliest[step_id] = max(deps, default=0.0) + max(0.0, duration)
        return earliest[step_id]

    rows = []
    for step_id, step in steps.items():
        if not (step.get("started_at") and step.get("finished_at")):
            continue
        duration = (parse_time(step["finished_at"]) - parse_time(step["started_at"])).total_seconds()
        actual = (parse_time(step["finished_at"]) - start).total_seconds()
        finish = ef(step_id)
        rows.append(
            {
                "id": step_id,
                "kind": step["kind"],
                "status": step["status"],
                "duration_s": round(duration, 3),
                "actual_finish_s": round(actual, 3),
                "earliest_finish_s": round(finish, 3),
                "ratio": round(actual / finish, 4) if finish > 0 else None,
            }
        )
    counted = [r for r in rows if r["duration_s"] >= min_seconds and r["ratio"] is not None]
    worst = max(counted, key=lambda r: r["ratio"], default=None)
    return {
        "steps": len(rows),
        "steps_counted": len(counted),
        "worst_ratio": worst["ratio"] if worst else None,
        "worst_step": worst,
        "median_ratio": round(_percentile([r["ratio"] for r in counted], 50), 4) if counted else None,
        "critical_path_s": round(max((r["earliest_finish_s"] for r in rows), default=0.0), 3),
        "last_finish_s": round(max((r["actual_finish_s"] for r in rows), default=0.0), 3),
        "statuses": sorted({r["status"] for r in rows}),
        "preflight_s": preflight.get("seconds"),
    }


def _percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def union_length(intervals: Iterable[tuple[float, float]], lo: float, hi: float) -> float:
    """Length of the union of the intervals, clipped to [lo, hi]."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in intervals if min(b, hi) > max(a, lo))
    total, end = 0.0, -math.inf
    for a, b in clipped:
        if a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def cloud_intervals(
    requests_log: list[dict[str, Any]],
    operations: list[dict[str, Any]],
    checking_seconds: float = 0.0,
) -> list[tuple[datetime, datetime]]:
    """The cloud intervals C of the module docstring. Request records: {method, path, at, duration_ms};
    operations: {id, started_at, ended_at}."""
    spans = [(r["at"] - timedelta(milliseconds=r["duration_ms"]), r["at"], r) for r in requests_log]
    intervals: list[tuple[datetime, datetime]] = [(a, b) for a, b, _ in spans]
    for op in operations:
        start = op["started_at"]
        creating = [a for a, b, r in spans if r["method"] != "GET" and a <= op["started_at"] <= b]
        if creating:
            start = min(creating)
        ended = op.get("ended_at")
        end = ended or op.get("deadline") or start
        if ended is not None:
            seen = [b for a, b, r in spans if op["id"].lower() in r["path"].lower() and b >= ended]
            if seen:
                end = min(seen)
        intervals.append((start, end))
    if checking_seconds > 0:
        by_profile: dict[str, list[tuple[datetime, datetime, dict[str, Any]]]] = {}
        for a, b, r in spans:
            lowered = r["path"].lower()
            marker = "/trafficmanagerprofiles/"
            if marker in lowered:
                head, _, tail = lowered.partition(marker)
                by_profile.setdefault(head + marker + tail.split("/")[0], []).append((a, b, r))
        for profile_spans in by_profile.values():
            writes = [b for a, b, r in profile_spans if r["method"] in ("PUT", "PATCH")]
            if not writes:
                continue
            last_write = max(writes)
            ready = last_write + timedelta(seconds=checking_seconds)
            reads = [b for a, b, r in profile_spans if r["method"] == "GET" and a >= ready]
            intervals.append((last_write, min(reads) if reads else ready))
    return intervals


def overhead_share(
    fired: datetime, rto_seconds: float, intervals: list[tuple[datetime, datetime]]
) -> dict[str, float | None]:
    if not rto_seconds or rto_seconds <= 0:
        return {"share": None, "rto_s": rto_seconds, "cloud_covered_s": None}
    lo, hi = 0.0, rto_seconds
    rel = [((a - fired).total_seconds(), (b - fired).total_seconds()) for a, b in intervals]
    covered = union_length(rel, lo, hi)
    return {
        "share": round((rto_seconds - covered) / rto_seconds, 4),
        "rto_s": round(rto_seconds, 3),
        "cloud_covered_s": round(covered, 3),
    }


def blob_probe_bound(request_timeout: float, retry_attempts: int, retry_backoff: float) -> float:
    backoffs = sum(min(30.0, retry_backoff * 2 ** (n - 1)) * 1.2 for n in range(1, retry_attempts + 1))
    return (retry_attempts + 1) * request_timeout + backoffs


def scaled_durations(scale: float, min_op_seconds: float) -> dict[str, float]:
    return {kind: round(max(min_op_seconds, seconds * scale), 3) for kind, seconds in REALISTIC_SECONDS.items()}


# -- plans and estates ----------------------------------------------------------------------------------


def _ids(prefix: str) -> dict[str, str]:
    return {
        "eus_rg": f"{prefix}-eus",
        "wus_rg": f"{prefix}-wus",
        "global_rg": f"{prefix}-global",
        "eus": f"{prefix}-eus",
        "wus": f"{prefix}-wus",
    }


class PlanBuilder:
    """A plan and the estate it needs, resources in the plan's own resource groups (named after it)."""

    def __init__(self, name: str, apps_url: str) -> None:
        self.name = name
        self.apps_url = apps_url
        self.ids = _ids(name)
        self.steps: list[dict[str, Any]] = []
        self.databases: list[dict[str, Any]] = []
        self.fogs: list[dict[str, Any]] = []
        self.profiles: list[dict[str, Any]] = []

    def server_id(self, side: str) -> str:
        rg = self.ids[f"{side}_rg"]
        return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Sql/servers/{self.ids[side]}"

    def geo_restore(self, step_id: str, after: list[str]) -> None:
        db = f"db-{step_id}"
        self.databases.append({"name": db, "geo_backup": {"age_minutes": 20}})
        self.steps.append(
            {
                "id": step_id,
                "kind": "sql_geo_restore",
                "source_database_id": f"{self.server_id('eus')}/databases/{db}",
                "target_server_id": self.server_id("wus"),
                "target_database": db,
                "after": after,
            }
        )

    def failover_group(self, step_id: str, after: list[str]) -> None:
        db, fog = f"fdb-{step_id}", f"fog-{step_id}"
        self.databases.append({"name": db, "geo_backup": {"age_minutes": 20}})
        self.fogs.append(
            {
                "name": fog,
                "primary": self.ids["eus"],
                "secondary": self.ids["wus"],
                "databases": [db],
                "replication_lag_seconds": 2,
            }
        )
        self.steps.append(
            {
                "id": step_id,
                "kind": "sql_failover_group",
                "failover_group_id": f"{self.server_id('wus')}/failoverGroups/{fog}",
                "allow_data_loss": True,
                "after": after,
            }
        )

    def traffic(self, step_id: str, after: list[str]) -> None:
        profile = f"tm-{step_id}"
        self.profiles.append(
            {
                "name": profile,
                "resource_group": self.ids["global_rg"],
                "relative_name": f"{self.name}-{profile}",
                "routing_method": "Priority",
                "ttl": int(TM_TTL_SECONDS),
                "monitor": {
                    "protocol": "HTTP",
                    "port": 80,
                    "path": "/health",
                    "interval_in_seconds": 30,
                    "timeout_in_seconds": 10,
                    "tolerated_number_of_failures": 3,
                },
                "endpoints": [
                    {
                        "name": "eus",
                        "type": "ExternalEndpoints",
                        "target": f"{self.name}-eus.devstack.local",
                        "location": "eastus",
                        "priority": 1,
                    },
                    # A warm standby: disabled until the switch enables it (then Traffic Manager probes it).
                    {
                        "name": "wus",
                        "type": "ExternalEndpoints",
                        "target": f"{self.name}-wus.devstack.local",
                        "location": "westus",
                        "priority": 2,
                        "status": "Disabled",
                    },
                ],
            }
        )
        self.steps.append(
            {
                "id": step_id,
                "kind": "traffic_manager_failover",
                "profile_id": f"/subscriptions/{SUB}/resourceGroups/{self.ids['global_rg']}/providers/"
                f"Microsoft.Network/trafficManagerProfiles/{profile}",
                "from_endpoints": ["eus"],
                "to_endpoints": ["wus"],
                "health_url": f"{self.apps_url}/westus/health",
                "poll_interval": "PT1S",
                "after": after,
            }
        )

    def health(self, step_id: str, after: list[str]) -> None:
        self.steps.append(
            {
                "id": step_id,
                "kind": "health_check",
                "url": f"{self.apps_url}/westus/health",
                "attempts": 5,
                "interval": "PT1S",
                "after": after,
            }
        )

    def add(self, kind: str, step_id: str, after: list[str]) -> None:
        {"geo": self.geo_restore, "fog": self.failover_group, "tm": self.traffic, "health": self.health}[kind](
            step_id, after
        )

    @property
    def rule(self) -> str:
        return f"{self.name}-down"

    def plan(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": f"rto benchmark plan {self.name}",
            "trigger": {"alert_rules": [self.rule]},
            "approval": {"required": False},
            "steps": [{k: v for k, v in step.items() if v != []} for step in self.steps],
        }

    def estate(self) -> dict[str, Any]:
        return {
            "subscription_id": SUB,
            "resource_groups": [
                {"name": self.ids["eus_rg"], "location": "eastus"},
                {"name": self.ids["wus_rg"], "location": "westus"},
                {"name": self.ids["global_rg"], "location": "eastus"},
            ],
            "sql": {
                "servers": [
                    {
                        "name": self.ids["eus"],
                        "resource_group": self.ids["eus_rg"],
                        "location": "eastus",
                        "databases": self.databases,
                    },
                    {"name": self.ids["wus"], "resource_group": self.ids["wus_rg"], "location": "westus"},
                ],
                "failover_groups": self.fogs,
            },
            "traffic_manager": {"profiles": self.profiles},
        }

    def resource_groups(self) -> set[str]:
        return {self.ids["eus_rg"].lower(), self.ids["wus_rg"].lower(), self.ids["global_rg"].lower()}

    def after(self) -> dict[str, list[str]]:
        return {s["id"]: list(s.get("after", [])) for s in self.steps}


GENERATED_PATTERN = ("geo", "fog", "tm", "fog", "geo")


def generated_plan(name: str, apps_url: str, lanes: int, depth: int) -> PlanBuilder:
    """`lanes` independent chains of `depth` steps; the kind at (lane, level) rotates with the lane, so every
    level mixes long (geo-restore) and short (failover, switch) steps."""
    builder = PlanBuilder(name, apps_url)
    for lane in range(lanes):
        previous: list[str] = []
        for level in range(depth):
            kind = GENERATED_PATTERN[(lane + level) % len(GENERATED_PATTERN)]
            step_id = f"l{lane:02d}-s{level}"
            builder.add(kind, step_id, previous)
            previous = [step_id]
    return builder


def outage_plan(name: str, apps_url: str) -> PlanBuilder:
    builder = PlanBuilder(name, apps_url)
    builder.geo_restore("db-a", [])
    builder.geo_restore("db-b", [])
    builder.failover_group("fog-a", [])
    builder.failover_group("fog-b", [])
    builder.traffic("traffic", ["fog-a", "fog-b"])
    builder.health("verify", ["traffic"])
    return builder


# -- the stack ------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Bench:
    def __init__(self, stack: Any, plans_dir: Path, args: argparse.Namespace) -> None:
        assert stack.info is not None
        self.stack = stack
        self.info = stack.info
        self.arm = stack.arm
        self.plans_dir = plans_dir
        self.args = args
        self.apps_url = stack.apps.url
        self.session = requests.Session()
        self.session.headers["x-functions-key"] = self.info.function_key
        self.alert_seq = 0
        self.checking_seconds = round(TM_PROBE_SECONDS * args.scale, 3)

    # -- setup -----------------------------------------------------------------------------------------
    def configure_cloud(self) -> dict[str, Any]:
        durations = scaled_durations(self.args.scale, self.args.min_op_seconds)
        self.arm.configure(operation_seconds=durations, endpoint_checking_seconds=self.checking_seconds)
        tm_write = round(TM_WRITE_SECONDS * self.args.scale, 3)
        for method in ("PUT", "PATCH"):
            self.arm.inject_fault(
                "*/trafficManagerProfiles/*", method=method, status=None, count=None, latency_seconds=tm_write
            )
        return {
            "scale": self.args.scale,
            "min_op_seconds": self.args.min_op_seconds,
            "realistic_s": {
                **REALISTIC_SECONDS,
                "traffic_manager.write": TM_WRITE_SECONDS,
                "traffic_manager.probe": TM_PROBE_SECONDS,
                "traffic_manager.ttl": TM_TTL_SECONDS,
            },
            "emulated_s": {
                **durations,
                "traffic_manager.write": tm_write,
                "traffic_manager.probe": self.checking_seconds,
                "traffic_manager.ttl": "not modelled",
            },
            "arm_retry_after_s": self.arm.settings().retry_after_seconds,
            "step_poll_min_s": float(os.environ.get("DR_STEP_POLL_MIN_SECONDS", "0.5")),
        }

    def write_plans(self, plans: dict[str, str]) -> None:
        for old in self.plans_dir.glob("*.yaml"):
            old.unlink()
        for name, text in plans.items():
            (self.plans_dir / f"{name}.yaml").write_text(text)

    # -- runs ------------------------------------------------------------------------------------------
    def fire(self, rule: str) -> tuple[str, datetime]:
        self.alert_seq += 1
        from devstack.alert_samples import alert

        posted = _now()
        body = alert(
            "Platform",
            rule=rule,
            alertId=f"{ALERT_PREFIX}rto-{os.getpid()}-{self.alert_seq}-{time.time_ns()}",
            firedDateTime=_iso(posted),
        )
        response = self.session.post(f"{self.info.host_url}/api/alerts", json=body, timeout=60)
        if response.status_code != 202:
            raise RuntimeError(f"alert {rule}: HTTP {response.status_code}: {response.text[:300]}")
        return response.json()["id"], posted

    def follow(self, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """The final report of every run (polled every second), or an error entry when it timed out."""
        reports: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(reports) < len(run_ids) and time.monotonic() < deadline:
            for run_id in run_ids:
                if run_id in reports:
                    continue
                try:
                    response = self.session.get(f"{self.info.host_url}/api/recoveries/{run_id}", timeout=60)
                    view = response.json()
                except (requests.RequestException, ValueError):
                    continue
                if view.get("runtime_status") in TERMINAL and view.get("phase") in ("done", None):
                    report = view.get("report")
                    if report is None:
                        got = self.session.get(f"{self.info.host_url}/api/recoveries/{run_id}/report", timeout=60)
                        report = got.json() if got.status_code == 200 else {"status": view.get("runtime_status")}
                    reports[run_id] = report
            time.sleep(1.0)
        for run_id in run_ids:
            reports.setdefault(run_id, {"status": "TimedOut"})
        return reports

    def run_alone(self, rule: str, timeout: float) -> tuple[dict[str, Any], datetime, list[dict[str, Any]], list]:
        self.arm.clear_requests()
        known_ops = {op.id for op in self.arm.operations()}
        run_id, fired = self.fire(rule)
        report = self.follow([run_id], timeout)[run_id]
        log = [r.model_dump() for r in self.arm.requests()]
        ops = [op.model_dump() for op in self.arm.operations() if op.id not in known_ops]
        return report, fired, log, ops

    def overhead(self, report: dict[str, Any], fired: datetime, log: list, ops: list) -> dict[str, Any]:
        rto = report.get("rto_seconds")
        if rto is None:
            return {"share": None, "why": f"run status {report.get('status')}: no RTO"}
        return overhead_share(fired, rto, cloud_intervals(log, ops, self.checking_seconds))

    # -- scenarios -------------------------------------------------------------------------------------
    def critical_path(self) -> dict[str, Any]:
        from devstack.stack import DEMO_PLAN

        out: dict[str, Any] = {}
        demo_text = DEMO_PLAN.read_text().replace("${APPS}", self.apps_url)
        demo = yaml.safe_load(demo_text)
        demo["approval"] = {"required": False}
        self.write_plans({"shop-demo": yaml.safe_dump(demo, sort_keys=False)})
        report, fired, log, ops = self.run_alone("shop-primary-down", self.args.run_timeout)
        after = {s["id"]: list(s.get("after", [])) for s in demo["steps"]}
        out["demo"] = {
            "status": report.get("status"),
            "rto_s": report.get("rto_seconds"),
            **critical_path(report, after, MIN_RATIO_STEP_SECONDS),
            "overhead": self.overhead(report, fired, log, ops),
        }
        gen = generated_plan("rto-gen", self.apps_url, self.args.lanes, self.args.depth)
        self.arm.seed(gen.estate())
        self.write_plans({gen.name: yaml.safe_dump(gen.plan(), sort_keys=False)})
        report, fired, log, ops = self.run_alone(gen.rule, self.args.run_timeout)
        out["generated"] = {
            "shape": f"{self.args.lanes} parallel chains x {self.args.depth} steps",
            "status": report.get("status"),
            "rto_s": report.get("rto_seconds"),
            **critical_path(report, gen.after(), MIN_RATIO_STEP_SECONDS),
            "overhead": self.overhead(report, fired, log, ops),
        }
        ratios = [out[k]["worst_ratio"] for k in ("demo", "generated") if out[k]["worst_ratio"] is not None]
        worst = max(ratios) if ratios else None
        succeeded = all(out[k]["status"] == "Succeeded" for k in ("demo", "generated"))
        out["worst_ratio"] = worst
        out["target_worst_ratio"] = TARGETS["worst_ratio"]
        out["met"] = succeeded and worst is not None and worst <= TARGETS["worst_ratio"]
        return out

    def _burst(self, many: list[PlanBuilder]) -> tuple[dict[str, datetime], dict[str, str], list[str]]:
        """One alert per plan, spread evenly over one second: when each was posted, the run each started, and
        the alerts that failed."""
        count = len(many)
        fired_at: dict[str, datetime] = {}
        run_of: dict[str, str] = {}
        errors: list[str] = []
        t0 = time.monotonic() + 0.2

        def send(i: int) -> None:
            builder = many[i]
            delay = t0 + i / count - time.monotonic()  # spread evenly over one second
            if delay > 0:
                time.sleep(delay)
            try:
                run_id, posted = self.fire(builder.rule)
            except Exception as exc:
                errors.append(f"{builder.name}: {exc}"[:300])
                return
            fired_at[builder.name] = posted
            run_of[builder.name] = run_id

        # A sender per alert: each POST waits for its answer, and alerts must not wait for earlier answers to be
        # sent (with fewer senders, a slow intake would stretch the burst and hide its cost).
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(send, range(count)))
        return fired_at, run_of, errors

    def region_outage(self) -> dict[str, Any]:
        count = self.args.outage_plans
        solo = outage_plan("rto-solo", self.apps_url)
        many = [outage_plan(f"rto-o{i:02d}", self.apps_url) for i in range(count)]
        for builder in (solo, *many):
            self.arm.seed(builder.estate())
        # The plans folder holds all N+1 plans for both parts: the lone run reads the same folder.
        self.write_plans({b.name: yaml.safe_dump(b.plan(), sort_keys=False) for b in (solo, *many)})
        report, fired, log, ops = self.run_alone(solo.rule, self.args.run_timeout)
        solo_first = _first_call(log, solo.resource_groups())
        solo_rto: float | None = report.get("rto_seconds")
        solo_out: dict[str, Any] = {
            "status": report.get("status"),
            "rto_s": report.get("rto_seconds"),
            "alert_to_first_cloud_call_s": round((solo_first - fired).total_seconds(), 3) if solo_first else None,
            "overhead": self.overhead(report, fired, log, ops),
        }

        self.arm.clear_requests()
        with CpuSampler() as cpu:
            fired_at, run_of, errors = self._burst(many)
            reports = self.follow(list(run_of.values()), self.args.run_timeout * 3)
        sent_within = (max(fired_at.values()) - min(fired_at.values())).total_seconds() if len(fired_at) > 1 else 0.0
        log = [r.model_dump() for r in self.arm.requests()]
        latencies: list[float] = []
        firsts: list[datetime] = []
        missing = 0
        rtos: list[float] = []
        statuses: dict[str, int] = {}
        for builder in many:
            if builder.name not in run_of:
                continue
            first = _first_call(log, builder.resource_groups())
            if first is None:
                missing += 1
            else:
                firsts.append(first)
                latencies.append((first - fired_at[builder.name]).total_seconds())
            report = reports[run_of[builder.name]]
            statuses[str(report.get("status"))] = statuses.get(str(report.get("status")), 0) + 1
            if report.get("rto_seconds") is not None:
                rtos.append(float(report["rto_seconds"]))
        p99 = _percentile(latencies, 99) if latencies else None
        burst_cpu = cpu.between(min(fired_at.values()), max(firsts)) if fired_at and firsts else None
        slowest = max(rtos) if rtos else None
        ratio = slowest / float(solo_rto) if slowest and solo_rto else None
        return {
            "plans": count,
            "steps_per_plan": len(solo.steps),
            "alerts_sent_within_s": round(sent_within, 3),
            "request_log_records": len(log),
            "request_log_full": len(log) >= REQUEST_LOG_LIMIT,  # oldest records dropped: first calls unknown
            "alert_errors": errors[:5],
            "single_plan_alone": solo_out,
            "statuses": statuses,
            # From the first alert to the last plan's first cloud call: each process's share of one core.
            "cpu_until_last_first_call": burst_cpu,
            "alert_to_first_cloud_call_s": {
                "p50": round(_percentile(latencies, 50), 3) if latencies else None,
                "p99": round(p99, 3) if p99 is not None else None,
                "max": round(max(latencies), 3) if latencies else None,
                "plans_without_a_cloud_call": missing,
                "target_p99": TARGETS["first_call_p99_s"],
                "met": p99 is not None and missing == 0 and p99 <= TARGETS["first_call_p99_s"],
            },
            "rto_s": {
                "p50": round(_percentile(rtos, 50), 3) if rtos else None,
                "slowest": slowest,
                "single_alone": solo_out["rto_s"],
                "slowest_over_single": round(ratio, 3) if ratio else None,
                "target_slowest_over_single": TARGETS["rto_ratio"],
                "met": ratio is not None and len(rtos) == count and ratio <= TARGETS["rto_ratio"],
            },
            "met": (
                not errors
                and statuses.get("Succeeded", 0) == count
                and p99 is not None
                and missing == 0
                and p99 <= TARGETS["first_call_p99_s"]
                and ratio is not None
                and ratio <= TARGETS["rto_ratio"]
            ),
        }

    def unreachable_source(self) -> dict[str, Any]:
        from devstack.faultproxy import Rule

        probe = BLOB_PROBE
        plan = {
            "name": "rto-blob",
            "description": "blob step against a black-holed primary",
            "trigger": {"alert_rules": ["rto-blob-down"]},
            "approval": {"required": False},
            "steps": [
                {
                    "id": "images",
                    "kind": "blob_backup",
                    "source": {"account_url": "https://shopeus.blob.core.windows.net", "container": "images"},
                    "target": {"account_url": "https://shopwus.blob.core.windows.net", "container": "rto-images"},
                    "request_timeout": f"PT{probe['request_timeout']}S",
                    "retry_attempts": probe["retry_attempts"],
                    "retry_backoff": f"PT{probe['retry_backoff']}S",
                }
            ],
        }
        self.write_plans({"rto-blob": yaml.safe_dump(plan, sort_keys=False)})
        proxy = self.stack.proxy
        proxy.clear_rules()
        blackhole = proxy.add_rule(Rule("blackhole", account="primary"))
        try:
            report, _fired, _log, _ops = self.run_alone("rto-blob-down", self.args.run_timeout)
        finally:
            proxy.clear_rules()
            proxy.add_rule(Rule("refuse", account="primary"))  # back to the region outage
        step = (report.get("steps") or [{}])[0]
        seconds = None
        if step.get("started_at") and step.get("finished_at"):
            seconds = round((parse_time(step["finished_at"]) - parse_time(step["started_at"])).total_seconds(), 3)
        bound = round(
            blob_probe_bound(probe["request_timeout"], int(probe["retry_attempts"]), probe["retry_backoff"]), 3
        )
        target = round(bound + TARGETS["unreachable_slack_s"], 3)
        return {
            "unreachable_source_s": seconds,
            "step_status": step.get("status"),
            "verdict": (step.get("detail") or {}).get("summary"),
            "requests_swallowed": blackhole.hits,
            "probe": probe,
            "probe_bound_s": bound,
            "target_s": target,
            "met": seconds is not None and step.get("status") == "succeeded" and seconds <= target,
        }


MACHINE = "(all processes)"  # a sample's key for the whole machine's busy CPU seconds


def _busy_seconds(times: Any) -> float:
    """Busy CPU seconds of every core since boot, from psutil.cpu_times() (its fields differ by platform): all
    but idle and I/O wait, as psutil's cpu_percent counts them. Linux counts guest time in user and nice too."""
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return float(total - times.idle - getattr(times, "iowait", 0.0))


class CpuSampler:
    """CPU seconds of this process (the devstack host, the ARM emulator, this driver) and of each child
    process (the app's worker processes, Azurite), sampled every ``interval`` s in a thread: whether a burst
    was bound by CPU, and by which process (one Python worker cannot use more than one core)."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self._me = psutil.Process()
        self._machine_times = psutil.cpu_times  # every core, every process
        self.interval = interval
        self.samples: list[tuple[datetime, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    @staticmethod
    def _label(command: str, pid: int) -> str:
        if "worker_process" in command:  # its scale group last on the command line (devstack.host.worker_process)
            return f"app worker ({command.rsplit(' ', 1)[-1]}) {pid}"
        if "azurite" in command:
            return "azurite"
        return f"{command.split(' ', maxsplit=1)[0].rsplit('/', 1)[-1]} {pid}"

    def _sample(self) -> dict[str, float]:
        times = self._me.cpu_times()
        out = {MACHINE: _busy_seconds(self._machine_times()), "host, emulators and driver": times.user + times.system}
        for child in self._me.children(recursive=True):
            try:  # a child may end between the listing and these reads: it is left out of this sample
                used, command = child.cpu_times(), " ".join(child.cmdline())
            except Exception:
                continue
            out[self._label(command, child.pid)] = used.user + used.system
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((_now(), self._sample()))
            self._stop.wait(self.interval)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Each process's share of one core from ``start`` to ``end`` (the nearest samples)."""
        inside = [(at, cpu) for at, cpu in self.samples if start <= at <= end] or self.samples[-1:]
        before = [(at, cpu) for at, cpu in self.samples if at <= start] or self.samples[:1]
        (t0, first), (t1, last) = before[-1], inside[-1]
        wall = (t1 - t0).total_seconds()
        if wall <= 0:
            return {"window_s": 0.0}
        shares = {name: round((last[name] - first.get(name, 0.0)) / wall, 2) for name in last if name != MACHINE}
        out: dict[str, Any] = {"window_s": round(wall, 2), "cores": os.cpu_count(), "core_share": shares}
        if MACHINE in last and MACHINE in first:
            # 1.0: every core busy the whole window; then more processes (or workers) cannot make it faster.
            busy = (last[MACHINE] - first[MACHINE]) / wall / (os.cpu_count() or 1)
            out["machine_busy"] = round(busy, 2)
        return out


def _first_call(log: list[dict[str, Any]], groups: set[str]) -> datetime | None:
    starts = [r["at"] - timedelta(milliseconds=r["duration_ms"]) for r in log if _group_of(r["path"]) in groups]
    return min(starts) if starts else None


def _group_of(path: str) -> str | None:
    parts = path.lower().split("/")
    for i, part in enumerate(parts[:-1]):
        if part == "resourcegroups":
            return parts[i + 1]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/rto.py", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: 6x5 generated plan, 10 outage plans")
    parser.add_argument("--scale", type=float, default=0.02, help="realistic durations x this (0.02: 30 s -> 0.6 s)")
    parser.add_argument("--min-op-seconds", type=float, default=1.0, help="floor of a scaled LRO duration")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"subset of {','.join(SCENARIOS)}")
    parser.add_argument("--lanes", type=int, default=None, help="generated plan: parallel chains (20; quick 6)")
    parser.add_argument("--depth", type=int, default=None, help="generated plan: steps per chain (5)")
    parser.add_argument("--outage-plans", type=int, default=None, help="plans in the region outage (50; quick 10)")
    parser.add_argument("--run-timeout", type=float, default=300.0, help="seconds one run may take")
    parser.add_argument(
        "--durable-instances",
        type=int,
        default=None,
        help="instances of the app's durable scale group (default: the always-ready count infra/main.bicep deploys)",
    )
    args = parser.parse_args(argv)
    args.lanes = args.lanes or (6 if args.quick else 20)
    args.depth = args.depth or 5
    args.outage_plans = args.outage_plans or (10 if args.quick else 50)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown or not chosen:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    os.environ.setdefault("DR_STEP_POLL_MIN_SECONDS", "0.5")
    instances = _app_instances(parser, args.durable_instances)

    from devstack.stack import LocalStack

    work = Path(tempfile.mkdtemp(prefix="rto-bench-"))
    plans_dir = work / "plans"
    plans_dir.mkdir()
    began = time.monotonic()
    # The app's instances per Flex Consumption scale group (one Python worker process each, unless
    # FUNCTIONS_WORKER_PROCESS_COUNT says more): the storm's first calls depend on the durable group's.
    out: dict[str, Any] = {"quick": args.quick, "app_instances": instances}
    results: dict[str, Any] = {}
    try:
        with LocalStack(state_dir=work / "stack", port=0, plans_dir=plans_dir, timers=False) as stack:
            bench = Bench(stack, plans_dir, args)
            out["cloud_model"] = bench.configure_cloud()
            stack.region_outage("eastus")
            for name in SCENARIOS:
                if name not in chosen:
                    continue
                print(f"rto: {name} …", file=sys.stderr, flush=True)
                started = time.monotonic()
                try:
                    results[name] = getattr(bench, name)()
                except Exception as exc:  # one scenario breaking does not hide the others' numbers
                    results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500], "met": False}
                results[name]["seconds"] = round(time.monotonic() - started, 1)
                print(f"rto: {name} done in {results[name]['seconds']} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.update(_headline(results))
    out["scenarios"] = results
    out["seconds"] = round(time.monotonic() - began, 1)
    out["met"] = all(v.get("met") for k, v in out.items() if isinstance(v, dict) and "met" in v and k != "scenarios")
    print(json.dumps(out, indent=2, default=str))
    return 0 if out["met"] else 1


def _app_instances(parser: argparse.ArgumentParser, durable: int | None) -> dict[str, int]:
    """The instances per scale group the stack will start, with the durable group's count set when asked
    (through DEVSTACK_ALWAYS_READY, which the stack reads when it starts)."""
    from devstack.host.worker_process import always_ready_from_settings

    if durable is not None and durable < 1:
        parser.error("--durable-instances must be at least 1")
    instances = always_ready_from_settings()
    if durable is not None:
        instances["durable"] = durable
        os.environ["DEVSTACK_ALWAYS_READY"] = ",".join(f"{group}={count}" for group, count in instances.items())
    return instances


def _headline(results: dict[str, Any]) -> dict[str, Any]:
    """The four figures of the issue, each with its target and `met`."""
    head: dict[str, Any] = {}
    cp = results.get("critical_path")
    if cp is not None:
        head["rto_vs_critical_path"] = {
            "demo_worst_ratio": (cp.get("demo") or {}).get("worst_ratio"),
            "generated_worst_ratio": (cp.get("generated") or {}).get("worst_ratio"),
            "worst_ratio": cp.get("worst_ratio"),
            "target": f"<= {TARGETS['worst_ratio']} (steps >= {MIN_RATIO_STEP_SECONDS:g} s)",
            "met": bool(cp.get("met")),
        }
    ro = results.get("region_outage")
    if ro is not None and "error" not in ro:
        first = ro["alert_to_first_cloud_call_s"]
        rto = ro["rto_s"]
        head["region_outage"] = {
            "plans": ro["plans"],
            "alert_to_first_cloud_call_p50_s": first["p50"],
            "alert_to_first_cloud_call_p99_s": first["p99"],
            "target_p99_s": f"<= {TARGETS['first_call_p99_s']}",
            "slowest_rto_over_single": rto["slowest_over_single"],
            "target_rto_ratio": f"<= {TARGETS['rto_ratio']}",
            "all_succeeded": ro["statuses"].get("Succeeded", 0) == ro["plans"],
            "met": bool(ro["met"]),
        }
    elif ro is not None:
        head["region_outage"] = {"error": ro["error"], "met": False}
    us = results.get("unreachable_source")
    if us is not None and "error" not in us:
        head["unreachable_source_s"] = {
            "value": us["unreachable_source_s"],
            "probe_bound_s": us["probe_bound_s"],
            "target": f"<= {us['target_s']} (probe bound + {TARGETS['unreachable_slack_s']:g} s)",
            "met": bool(us["met"]),
        }
    elif us is not None:
        head["unreachable_source_s"] = {"error": us["error"], "met": False}
    shares: dict[str, Any] = {}
    if cp is not None and "error" not in cp:
        shares["generated"] = (cp.get("generated") or {}).get("overhead", {}).get("share")
        shares["demo (info: blob steps and health probes are not cloud operations)"] = (
            (cp.get("demo") or {}).get("overhead", {}).get("share")
        )
    if ro is not None and "error" not in ro:
        shares["region_outage_single_plan"] = ro["single_plan_alone"]["overhead"].get("share")
    if shares:
        measured = [v for k, v in shares.items() if not k.startswith("demo")]
        head["orchestration_overhead"] = {
            **{f"share_{k}": v for k, v in shares.items()},
            "target": f"<= {TARGETS['overhead_share']}",
            "met": bool(measured) and all(v is not None and v <= TARGETS["overhead_share"] for v in measured),
        }
    return head


if __name__ == "__main__":
    raise SystemExit(main())
