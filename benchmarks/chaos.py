"""Chaos suite: hostile alert bodies, duplicate deliveries, admission races, injected faults and host kills,
measured on the local stack over loopback HTTP. Prints one JSON document (targets next to the values).

    .venv/bin/python benchmarks/chaos.py                      # everything (make chaos)
    .venv/bin/python benchmarks/chaos.py --only fuzz,races --scale 0.1

Scenarios (each with its own time bound and request count; a scenario that hits its bound stops and says
`timed_out`):
- fuzz: random/truncated/mutated/off-schema alert bodies POSTed to /api/alerts.
- duplicates: each alert delivered 6 times at once; one run per alert, never a 5xx.
- races: two different alerts for one plan at the same moment (and an operator start racing an alert).
- faults: ~20% 429/500/503 on blob calls (fault proxy) and ARM calls (emulator), failovers and drills.
- kills: SIGKILL of the host process (a subprocess on its own state dir) at random points of runs.

Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devstack.alert_samples import STORAGE_ID, alert  # noqa: E402
from devstack.demo.runner import CONTAINERS, Api  # noqa: E402
from devstack.faultproxy import Rule  # noqa: E402
from devstack.stack import DEMO_ESTATE, DEMO_PLAN, LocalStack  # noqa: E402

LOOPBACK = "127.0.0.1"
TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")
ALERT_PREFIX = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.AlertsManagement/alerts/"
SCENARIOS = ("fuzz", "duplicates", "races", "faults", "kills")
# Time bound (seconds) per scenario at --scale 1; smaller scales shrink them too (never below a floor).
BOUNDS = {"fuzz": 150.0, "duplicates": 45.0, "races": 75.0, "faults": 1000.0, "kills": 240.0}
FLOORS = {"fuzz": 30.0, "duplicates": 20.0, "races": 30.0, "faults": 90.0, "kills": 90.0}
SIDE_EFFECT_KINDS = ("database.geo_restore", "database.create", "failover_group")


def _assert_loopback(url: str) -> None:
    if not re.match(rf"^https?://{re.escape(LOOPBACK)}:\d+(/|$)", url):
        raise SystemExit(f"chaos: refusing to talk to {url!r}: loopback ({LOOPBACK}) only")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def small_plan(name: str, rule: str, apps_url: str) -> str:
    """A plan that parks in approval (nothing runs until approved): cheap to start by the hundred."""
    return (
        f"name: {name}\n"
        f"description: chaos suite plan {name}\n"
        f"trigger:\n  alert_rules: [{rule}]\n"
        "approval: {required: true, timeout: PT1H, on_timeout: abort}\n"
        "steps:\n"
        "  - id: verify\n    kind: health_check\n"
        f"    url: {apps_url}/westus/health\n    expect_status: 200\n"
    )


class Suite:
    def __init__(self, stack: LocalStack, plans_dir: Path, scale: float, seed: int) -> None:
        assert stack.info is not None
        assert stack.apps is not None
        self.stack = stack
        self.info = stack.info
        self.plans_dir = plans_dir
        self.scale = scale
        self.rng = random.Random(seed)
        self.apps_url = stack.apps.url
        _assert_loopback(self.info.host_url)
        self.api = Api(self.info.host_url, self.info.function_key)
        self._local = threading.local()

    # -- helpers -------------------------------------------------------------------------------------
    def n(self, full: int, minimum: int = 1) -> int:
        return max(minimum, round(full * self.scale))

    def bound(self, scenario: str) -> float:
        return max(FLOORS[scenario], BOUNDS[scenario] * min(1.0, self.scale * 2))

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["x-functions-key"] = self.info.function_key
            self._local.session = session
        return session

    def post(self, path: str, data: bytes | None = None, json_body: Any = None, url: str | None = None) -> int:
        """Status code of a POST, or -1 when no HTTP answer came back."""
        try:
            response = self.session().post(
                f"{url or self.info.host_url}{path}",
                data=data,
                json=json_body,
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
        except requests.RequestException:
            return -1
        self._local.last = response
        return response.status_code

    def write_plans(self, texts: dict[str, str]) -> None:
        """The plans folder holds exactly these plans (the app reads it when a run starts)."""
        for old in self.plans_dir.glob("*.yaml"):
            if old.stem not in texts:
                old.unlink()
        for name, text in texts.items():
            (self.plans_dir / f"{name}.yaml").write_text(text)

    def runs_of(self, plan: str, api: Api | None = None) -> list[dict[str, Any]]:
        body = (api or self.api).json("GET", f"/api/recoveries?plan={plan}&limit=500&days=1", (200,))
        return [run for run in body["runs"] if run.get("plan") == plan]

    def cancel(self, run_id: str, api: Api | None = None) -> None:
        with contextlib.suppress(requests.RequestException):
            (api or self.api).call(
                "POST", f"/api/recoveries/{run_id}/cancel", json={"by": "chaos", "reason": "chaos", "hard": True}
            )

    def cancel_active(self, plan: str) -> None:
        for run in self.runs_of(plan):
            if run["runtime_status"] not in TERMINAL:
                self.cancel(run["id"])

    # -- fuzz ----------------------------------------------------------------------------------------
    def fuzz(self) -> dict[str, Any]:
        total = self.n(10_000, 50)
        deadline = time.monotonic() + self.bound("fuzz")
        plan = "chaos-fuzz"
        self.write_plans({plan: small_plan(plan, "shop-primary-down", self.apps_url)})
        statuses: Counter[str] = Counter()
        by_kind: dict[str, Counter[str]] = {}
        started_by_invalid: list[str] = []
        admitted_invalid = 0  # accepted as valid, refused only because a run already held the plan
        valid_started = 0
        lock = threading.Lock()
        bodies = [self._fuzz_body(i) for i in range(total)]
        sent = 0

        def one(item: tuple[str, bytes, bool]) -> None:
            nonlocal admitted_invalid, valid_started, sent
            if time.monotonic() > deadline:
                return
            kind, body, valid = item
            status = self.post("/api/alerts", data=body)
            response = getattr(self._local, "last", None) if status != -1 else None
            text = response.text if response is not None else ""
            run_id = None
            if status == 202 and response is not None:
                run_id = response.json().get("id")
            with lock:
                sent += 1
                statuses[str(status)] += 1
                by_kind.setdefault(kind, Counter())[str(status)] += 1
                if status == 202:
                    if valid:
                        valid_started += 1
                    else:
                        started_by_invalid.append(kind)
                elif status == 200 and not valid and "in progress" in text:
                    admitted_invalid += 1
            if run_id:
                self.cancel(run_id)  # frees the plan so the next accepted body can show itself

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, bodies))
        five_xx = sum(count for status, count in statuses.items() if status.startswith("5"))
        invalid_kinds = Counter(started_by_invalid)
        met = five_xx == 0 and not started_by_invalid and admitted_invalid == 0 and statuses.get("-1", 0) == 0
        return {
            "bodies": total,
            "sent": sent,
            "timed_out": sent < total,
            "seconds": round(time.monotonic() - started, 1),
            "by_status": dict(sorted(statuses.items())),
            "five_xx": five_xx,
            "no_answer": statuses.get("-1", 0),
            "runs_started_by_invalid": len(started_by_invalid),
            "invalid_admitted_but_plan_busy": admitted_invalid,
            "runs_started_by_invalid_by_kind": dict(invalid_kinds.most_common()),
            "valid_or_ambiguous_started": valid_started,
            "five_xx_by_kind": {
                kind: sum(c for s, c in counts.items() if s.startswith("5"))
                for kind, counts in sorted(by_kind.items())
                if any(s.startswith("5") for s in counts)
            },
            "targets": {"five_xx": 0, "runs_started_by_invalid": 0, "no_answer": 0},
            "met": met,
        }

    def _fuzz_body(self, i: int) -> tuple[str, bytes, bool]:  # noqa: PLR0911, PLR0912, PLR0915
        """(kind, raw body, valid?) — every kind except `valid` is a body the webhook must refuse."""
        rng = self.rng
        alert_id = f"{ALERT_PREFIX}fuzz-{i}-{rng.getrandbits(32):08x}"
        base = alert("Platform", alertId=alert_id, firedDateTime=_now_iso())
        text = json.dumps(base)
        kinds = [
            "random_bytes",
            "truncated",
            "mutated",
            "deep_nesting",
            "duplicate_keys",
            "nan_infinity",
            "utf8_bom",
            "utf16_utf32",
            "invalid_utf8",
            "lone_surrogate",
            "naive_date",
            "epoch_date",
            "whitespace_id",
            "wrong_types",
            "empty_or_scalar",
            "huge",
            "valid",
        ]
        weights = [8, 8, 12, 6, 8, 6, 5, 5, 6, 6, 6, 5, 6, 6, 3, 0.5, 3]
        kind = rng.choices(kinds, weights)[0]
        essentials = base["data"]["essentials"]
        if kind == "valid":
            return kind, text.encode(), True
        if kind == "random_bytes":
            return kind, rng.randbytes(rng.randint(0, 4096)), False
        if kind == "truncated":
            return kind, text.encode()[: rng.randint(0, len(text) - 1)], False
        if kind == "mutated":
            raw = bytearray(text.encode())
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(raw))
                op = rng.random()
                if op < 0.4:
                    raw[pos] = rng.choice(b'{}[]",:\\0123456789aeflnrstu \x00\x7f')
                elif op < 0.7:
                    del raw[pos]
                else:
                    raw.insert(pos, rng.choice(b'{}[]",:'))
            mutated = bytes(raw)
            try:  # a mutation that still parses may be a legitimate alert: not counted as hostile
                json.loads(mutated)
            except ValueError:
                pass
            else:
                return "mutated_still_json", mutated, True
            return kind, mutated, False
        if kind == "deep_nesting":
            depth = rng.choice([1000, 2000, 5000, 20000])
            opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
            nested = opener * depth + "1" + closer * depth
            if rng.random() < 0.5:
                return kind, nested.encode(), False
            return (
                kind,
                text.replace('"customProperties": {', f'"customProperties": {{"deep": {nested}, ', 1).encode(),
                False,
            )
        if kind == "duplicate_keys":
            key, bad, good = rng.choice(
                [
                    ("monitorCondition", "Resolved", "Fired"),
                    ("alertRule", "other-rule", "shop-primary-down"),
                    ("severity", "Sev4", "Sev1"),
                ]
            )
            dup = f'"{key}": "{bad}", "{key}": "{good}"'
            return kind, re.sub(rf'"{key}": "[^"]*"', dup, text, count=1).encode(), False
        if kind == "nan_infinity":
            token = rng.choice(["NaN", "Infinity", "-Infinity"])
            where = rng.choice(["metricValue", "severity", "customProperties"])
            if where == "metricValue":
                return kind, re.sub(r'"metricValue": [0-9.]+', f'"metricValue": {token}', text, count=1).encode(), False
            if where == "severity":
                return kind, text.replace('"severity": "Sev1"', f'"severity": {token}', 1).encode(), False
            return kind, text.replace('"team": "shop"', f'"team": {token}', 1).encode(), False
        if kind == "utf8_bom":
            return kind, codecs.BOM_UTF8 + text.encode(), False
        if kind == "utf16_utf32":
            return kind, text.encode(rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32"])), False
        if kind == "invalid_utf8":
            encoded = text.encode()
            junk: bytes = rng.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf"])
            pos = encoded.index(b"shop-primary-down") if rng.random() < 0.5 else encoded.index(b'"team": "') + 9
            return kind, encoded[:pos] + junk + encoded[pos:], False
        if kind == "lone_surrogate":
            field = rng.choice(["severity", "alertRule", "alertId", "team"])
            escaped = rng.choice(["\\ud800", "\\udfff", "\\udc00x"])
            if field == "team":
                return kind, text.replace('"team": "shop"', f'"team": "shop{escaped}"', 1).encode(), False
            value = essentials[field]
            return kind, text.replace(f'"{field}": "{value}"', f'"{field}": "{value}{escaped}"', 1).encode(), False
        if kind == "naive_date":
            essentials["firedDateTime"] = datetime.now(UTC).strftime(
                rng.choice(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
            )
            return kind, json.dumps(base).encode(), False
        if kind == "epoch_date":
            epoch = int(time.time())
            essentials["firedDateTime"] = rng.choice([epoch, epoch * 1000, str(epoch), 0, -1])
            return kind, json.dumps(base).encode(), False
        if kind == "whitespace_id":
            essentials["alertId"] = rng.choice(["", " ", "   ", "\t", "\n", "\u00a0", "\u2003 "])
            return kind, json.dumps(base).encode(), False
        if kind == "wrong_types":
            choice = rng.randrange(6)
            if choice == 0:
                essentials["alertTargetIDs"] = STORAGE_ID.lower()
            elif choice == 1:
                essentials["alertRule"] = ["shop-primary-down"]
            elif choice == 2:
                del base["data"]["essentials"]
            elif choice == 3:
                base["schemaId"] = "somethingElse"
            elif choice == 4:
                essentials["monitorCondition"] = True
            else:
                base["data"] = [base["data"]]
            return kind, json.dumps(base).encode(), False
        if kind == "empty_or_scalar":
            return kind, rng.choice([b"", b"null", b"[]", b"{}", b"0", b'"x"', b"true", b" "]), False
        # huge: a valid-looking alert padded to 1-8 MB
        padding = "x" * rng.choice([1, 2, 4, 8]) * 1024 * 1024
        base["data"]["customProperties"]["padding"] = padding
        return "huge", json.dumps(base).encode(), False

    # -- duplicates ----------------------------------------------------------------------------------
    def duplicates(self) -> dict[str, Any]:
        alerts_n, deliveries = self.n(100, 3), 6
        deadline = time.monotonic() + self.bound("duplicates")
        statuses: Counter[str] = Counter()
        runs = 0
        alerts_with_no_run = 0
        alerts_with_extra_runs = 0
        done = 0
        started = time.monotonic()
        with ThreadPoolExecutor(deliveries) as pool:
            for i in range(alerts_n):
                if time.monotonic() > deadline:
                    break
                plan = f"chaos-dup-{i:03d}"
                self.write_plans({plan: small_plan(plan, plan, self.apps_url)})
                body = json.dumps(
                    alert(
                        "Platform",
                        rule=plan,
                        alertId=f"{ALERT_PREFIX}dup-{i}-{self.rng.getrandbits(32):08x}",
                        firedDateTime=_now_iso(),
                    )
                ).encode()
                barrier = threading.Barrier(deliveries)

                def deliver(_: int, body: bytes = body, barrier: threading.Barrier = barrier) -> int:
                    barrier.wait(10)
                    return self.post("/api/alerts", data=body)

                for status in pool.map(deliver, range(deliveries)):
                    statuses[str(status)] += 1
                found = len(self.runs_of(plan))
                runs += found
                alerts_with_no_run += found == 0
                alerts_with_extra_runs += found > 1
                self.cancel_active(plan)
                done += 1
        five_xx = sum(c for s, c in statuses.items() if s.startswith("5"))
        return {
            "alerts": alerts_n,
            "deliveries_per_alert": deliveries,
            "alerts_sent": done,
            "timed_out": done < alerts_n,
            "seconds": round(time.monotonic() - started, 1),
            "by_status": dict(sorted(statuses.items())),
            "runs": runs,
            "alerts_with_no_run": alerts_with_no_run,
            "alerts_with_extra_runs": alerts_with_extra_runs,
            "five_xx": five_xx,
            "targets": {"runs": done, "five_xx": 0},
            "met": five_xx == 0 and runs == done and statuses.get("-1", 0) == 0,
        }

    # -- races ---------------------------------------------------------------------------------------
    def races(self) -> dict[str, Any]:
        pairs = {"alert_vs_alert": self.n(100, 5), "operator_vs_alert": self.n(50, 3)}
        deadline = time.monotonic() + self.bound("races")
        results: dict[str, dict[str, int]] = {}
        statuses: Counter[str] = Counter()
        started = time.monotonic()
        timed_out = False
        with ThreadPoolExecutor(2) as pool:
            for race, trials in pairs.items():
                counts = {"trials": 0, "double_runs": 0, "no_run": 0}
                for i in range(trials):
                    if time.monotonic() > deadline:
                        timed_out = True
                        break
                    plan = f"chaos-race-{race[:2]}-{i:03d}"
                    self.write_plans({plan: small_plan(plan, plan, self.apps_url)})
                    barrier = threading.Barrier(2)

                    def contender(
                        k: int, plan: str = plan, barrier: threading.Barrier = barrier, race: str = race
                    ) -> int:
                        if race == "operator_vs_alert" and k == 0:
                            request: dict[str, Any] = {
                                "json_body": {"plan": plan, "mode": "failover", "reason": "race"}
                            }
                            path = "/api/recoveries"
                        else:
                            document = alert(
                                "Platform",
                                rule=plan,
                                alertId=f"{ALERT_PREFIX}race-{plan}-{k}",
                                firedDateTime=_now_iso(),
                            )
                            request, path = {"data": json.dumps(document).encode()}, "/api/alerts"
                        barrier.wait(10)
                        return self.post(path, **request)

                    for status in pool.map(contender, range(2)):
                        statuses[str(status)] += 1
                    found = [r for r in self.runs_of(plan) if r.get("mode") in (None, "failover")]
                    counts["trials"] += 1
                    counts["double_runs"] += len(found) > 1
                    counts["no_run"] += not found
                    self.cancel_active(plan)
                results[race] = counts
        double = sum(r["double_runs"] for r in results.values())
        five_xx = sum(c for s, c in statuses.items() if s.startswith("5"))
        return {
            **results,
            "timed_out": timed_out,
            "seconds": round(time.monotonic() - started, 1),
            "by_status": dict(sorted(statuses.items())),
            "double_runs": double,
            "five_xx": five_xx,
            "targets": {"double_runs": 0, "five_xx": 0, "no_run": 0},
            "met": double == 0 and five_xx == 0 and all(r["no_run"] == 0 for r in results.values()),
        }

    # -- the demo plan: failovers and drills ------------------------------------------------------------
    def prepare_demo(self) -> None:
        self.write_plans({"shop-demo": DEMO_PLAN.read_text().replace("${APPS}", self.apps_url)})
        if not getattr(self, "_seeded", False):
            self._seed_blobs()
            self._seeded = True

    def _seed_blobs(self) -> None:
        """The demo's containers with fewer, smaller blobs than `make demo` (runs take seconds, not a minute)."""
        from azure.storage.blob import ContentSettings

        service = self.stack.blob_service("primary")
        for container_name, count in (("images", 48), ("invoices", 16)):
            container = service.get_container_client(container_name)
            if not container.exists():
                container.create_container()
            for n in range(count):
                name = f"chaos/{n:04d} café.png" if container_name == "images" else f"2026/11/invoice-{n:05d}.pdf"
                settings = ContentSettings(content_type="application/octet-stream")
                data = self.rng.randbytes(self.rng.choice([512, 4096, 32 * 1024]))
                container.upload_blob(name, data, content_settings=settings, metadata={"n": str(n)}, overwrite=True)

    def reset_world(self) -> None:
        """Production as before any failover: the ARM estate re-seeded, the secondary's copies removed."""
        arm = self.stack.arm
        assert arm is not None
        self.stack.region_restore("eastus")
        arm.reset()
        arm.seed(DEMO_ESTATE)
        for kind in (
            "database.geo_restore",
            "database.create",
            "database.delete",
            "failover_group.failover",
            "failover_group.force_failover",
            "failover_group.try_planned_before_forced_failover",
        ):
            with contextlib.suppress(Exception):  # an unknown kind on this emulator: keep its default
                arm.set_operation_duration(kind, 1.0)
        secondary = self.stack.blob_service("secondary")
        for container in list(CONTAINERS) + [f"{c}-drill" for c in CONTAINERS]:
            client = secondary.get_container_client(container)
            if client.exists():
                for blob in client.list_blobs():
                    client.delete_blob(blob.name)

    def start_demo_run(self, api: Api, mode: str, i: int) -> str | None:
        if mode == "drill":
            response = api.call(
                "POST", "/api/recoveries", json={"plan": "shop-demo", "mode": "drill", "reason": "chaos"}
            )
        else:
            document = alert(
                "Resource Health",
                alertId=f"{ALERT_PREFIX}chaos-{mode}-{i}-{self.rng.getrandbits(32):08x}",
                firedDateTime=_now_iso(),
                alertTargetIDs=[STORAGE_ID.lower()],
            )
            response = api.call("POST", "/api/alerts", json=document)
        if response.status_code != 202:
            return None
        return str(response.json()["id"])

    def follow(
        self, get_api: Callable[[], Api], run_id: str, deadline: float, on_tick: Callable[[], None] | None = None
    ) -> dict[str, Any] | None:
        """Poll the run (approving when asked) until it ends; None when the deadline passes first."""
        approved = False
        while time.monotonic() < deadline:
            if on_tick is not None:
                on_tick()
            api = get_api()
            try:
                response = api.call("GET", f"/api/recoveries/{run_id}")
                if response.status_code == 200:
                    view = response.json()
                    if view.get("phase") == "awaiting_approval" and not approved:
                        decided = api.call(
                            "POST", f"/api/recoveries/{run_id}/approve", json={"by": "chaos", "reason": "chaos"}
                        )
                        approved = decided.status_code == 202
                    if view["runtime_status"] in TERMINAL and view.get("phase") in ("done", None):
                        return dict(view)
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.3)
        return None

    def side_effects(self) -> Counter[str]:
        assert self.stack.arm is not None
        return Counter(op.kind for op in self.stack.arm.operations())

    def check_blobs(self, mode: str, before: dict[str, dict[str, Any]] | None) -> int:
        """Blobs lost or different: after a failover every primary blob is on the secondary with the same
        content; after a drill production's secondary containers are unchanged."""
        primary = self.stack.blob_service("primary")
        secondary = self.stack.blob_service("secondary")
        if mode == "drill":
            after = _listing(secondary, list(CONTAINERS))
            flat_before = {f"{c}/{n}": v for c, blobs in (before or {}).items() for n, v in blobs.items()}
            flat_after = {f"{c}/{n}": v for c, blobs in after.items() for n, v in blobs.items()}
            return sum(1 for key in set(flat_before) | set(flat_after) if flat_before.get(key) != flat_after.get(key))
        source = _listing(primary, list(CONTAINERS))
        target = _listing(secondary, list(CONTAINERS))
        return sum(
            1
            for container, blobs in source.items()
            for name, digest in blobs.items()
            if target.get(container, {}).get(name) != digest
        )

    def run_record(
        self, mode: str, run_id: str | None, view: dict[str, Any] | None, before: Any, **extra: Any
    ) -> dict[str, Any]:
        """One run's line in the faults and kills results: its outcome, blobs checked, side effects counted."""
        dup_total, dup = self.duplicate_count(self.side_effects())
        return {
            "mode": mode,
            "run": run_id,
            **extra,
            "runtime_status": view.get("runtime_status") if view else None,
            "status": view.get("status") if view else None,
            "blobs_lost_or_different": self.check_blobs(mode, before) if view else None,
            "duplicate_side_effects": dup_total,
            "duplicated": dup,
        }

    def duplicate_count(self, effects: Counter[str]) -> tuple[int, dict[str, int]]:
        dup = {k: c for k, c in effects.items() if c > 1 and k.startswith(SIDE_EFFECT_KINDS)}
        return sum(c - 1 for c in dup.values()), dup

    # -- faults --------------------------------------------------------------------------------------
    def faults(self) -> dict[str, Any]:
        per_mode = self.n(15, 1)
        deadline = time.monotonic() + self.bound("faults")
        self.prepare_demo()
        rate = 0.2
        results: list[dict[str, Any]] = []
        started = time.monotonic()
        plan_order = [m for pair in zip(["failover"] * per_mode, ["drill"] * per_mode, strict=True) for m in pair]
        proxy, arm = self.stack.proxy, self.stack.arm
        assert proxy is not None
        assert arm is not None
        injected = Counter[str]()
        for i, mode in enumerate(plan_order):
            if time.monotonic() > deadline - 20:
                break
            self.reset_world()
            before = _listing(self.stack.blob_service("secondary"), list(CONTAINERS)) if mode == "drill" else None
            blob_rule = proxy.add_rule(_RandomStatusRule(self.rng, rate))
            restore_take = _random_arm_faults(arm, self.rng, rate, injected)
            try:
                run_id = self.start_demo_run(self.api, mode, i)
                view = self.follow(lambda: self.api, run_id, deadline) if run_id else None
            finally:
                restore_take()
                proxy.clear_rules()
            injected["blob"] += blob_rule.hits
            results.append(self.run_record(mode, run_id, view, before))
            if run_id and view is None:
                self.cancel(run_id)
        succeeded = sum(1 for r in results if r["status"] == "Succeeded")
        lost_total = sum(r["blobs_lost_or_different"] or 0 for r in results)
        dup_total = sum(r["duplicate_side_effects"] for r in results)
        return {
            "fault_rate": rate,
            "planned": {"failovers": per_mode, "drills": per_mode},
            "ran": dict(Counter(r["mode"] for r in results)),
            "timed_out": len(results) < len(plan_order) or any(r["status"] is None for r in results),
            "seconds": round(time.monotonic() - started, 1),
            "faults_injected": dict(injected),
            "succeeded": succeeded,
            "by_status": dict(Counter(f"{r['mode']}:{r['status']}" for r in results)),
            "blobs_lost_or_different": lost_total,
            "duplicate_side_effects": dup_total,
            "runs": results,
            "targets": {"succeeded": len(plan_order), "blobs_lost_or_different": 0, "duplicate_side_effects": 0},
            "met": succeeded == len(plan_order) and lost_total == 0 and dup_total == 0,
        }

    # -- kills ---------------------------------------------------------------------------------------
    def kills(self) -> dict[str, Any]:
        total = self.n(20, 2)
        deadline = time.monotonic() + self.bound("kills")
        self.prepare_demo()
        state = Path(tempfile.mkdtemp(prefix="chaos-kills-", dir=self.stack.state_dir))
        key = "chaos-kill-key"
        host = _HostProcess(state, key)
        results: list[dict[str, Any]] = []
        kills_done = 0
        started = time.monotonic()
        try:
            host.start()
            for i in range(total):
                if time.monotonic() > deadline - 15:
                    break
                mode = "failover" if i % 2 == 0 else "drill"
                self.reset_world()
                before = _listing(self.stack.blob_service("secondary"), list(CONTAINERS)) if mode == "drill" else None
                run_id = None
                for _ in range(20):
                    try:
                        run_id = self.start_demo_run(host.api(), mode, 1000 + i)
                        break
                    except requests.RequestException:
                        host.ensure_running()
                        time.sleep(0.3)
                kills_planned = self.rng.randint(1, 3)
                kill_at = [time.monotonic() + self.rng.uniform(0.2, 4.0)]
                kills_left = [kills_planned]

                def tick(kill_at: list[float] = kill_at, kills_left: list[int] = kills_left) -> None:
                    nonlocal kills_done
                    if kills_left[0] > 0 and time.monotonic() >= kill_at[0]:
                        host.kill()
                        kills_done += 1
                        kills_left[0] -= 1
                        host.start()
                        kill_at[0] = time.monotonic() + self.rng.uniform(0.2, 4.0)

                view = self.follow(host.api, run_id, deadline, on_tick=tick) if run_id else None
                results.append(self.run_record(mode, run_id, view, before, kills=kills_planned - kills_left[0]))
                if run_id and view is None:
                    self.cancel(run_id, host.api())
        finally:
            host.stop()
        completed = sum(1 for r in results if r["status"] == "Succeeded")
        dup_total = sum(r["duplicate_side_effects"] for r in results)
        lost_total = sum(r["blobs_lost_or_different"] or 0 for r in results)
        return {
            "planned_runs": total,
            "ran": len(results),
            "timed_out": len(results) < total or any(r["status"] is None for r in results),
            "seconds": round(time.monotonic() - started, 1),
            "sigkills": kills_done,
            "completed": completed,
            "blobs_lost_or_different": lost_total,
            "duplicate_side_effects": dup_total,
            "runs": results,
            "targets": {"completed": total, "duplicate_side_effects": 0, "blobs_lost_or_different": 0},
            "met": completed == total and dup_total == 0 and lost_total == 0,
        }


def _listing(service: Any, containers: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for container in containers:
        client = service.get_container_client(container)
        if client.exists():
            found[container] = {
                b.name: (b.size, bytes(b.content_settings.content_md5 or b"").hex()) for b in client.list_blobs()
            }
    return found


class _RandomStatusRule(Rule):
    """A fault-proxy rule taking a random share of requests with a random 429/500/503 (the proxy has counted
    rules only: this is the probabilistic one the suite needs)."""

    def __init__(self, rng: random.Random, rate: float) -> None:
        super().__init__("status")
        self._rng = rng
        self._rate = rate

    def matches(self, method: str, account: str, path: str) -> bool:
        if self._rng.random() >= self._rate:
            return False
        self.status = self._rng.choice([429, 500, 503])
        return True


def _random_arm_faults(arm: Any, rng: random.Random, rate: float, injected: Counter[str]) -> Callable[[], None]:
    """~rate of ARM data-plane requests answered 429/500/503 (the emulator's faults are counted, not
    probabilistic: the registry's `take` is wrapped in this process). Returns the undo."""
    from devstack.arm import Fault

    registry = arm.control.fault_registry
    original = registry.take
    ids = iter(range(1, 10**9))

    def take(method: str, path: str) -> Any:
        found = original(method, path)
        if found is not None or rng.random() >= rate:
            return found
        status = rng.choice([429, 500, 503])
        injected[f"arm_{status}"] += 1
        return Fault(id=f"chaos-{next(ids)}", path="*", status=status)

    registry.take = take

    def undo() -> None:
        registry.take = original

    return undo


class _HostProcess:
    """The app on `python -m devstack.host` in a subprocess (its settings: this process's environment, which
    LocalStack filled in), on one state dir across SIGKILLs."""

    def __init__(self, state_dir: Path, key: str) -> None:
        self.state_dir = state_dir
        self.key = key
        self.process: subprocess.Popen[str] | None = None
        self.url: str | None = None
        self._api: Api | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "devstack.host",
            "--app-dir",
            str(ROOT),
            "--host",
            LOOPBACK,
            "--port",
            "0",
            "--state-dir",
            str(self.state_dir),
            "--no-timers",
            "--log-level",
            "WARNING",
        ]
        env = {**os.environ, "DEVSTACK_FUNCTION_KEY": self.key}
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            found = re.search(r"Host listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                _assert_loopback(self.url)
                self._api = Api(self.url, self.key)
                threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
                return
        raise RuntimeError("the host subprocess did not start")

    @staticmethod
    def _drain(process: subprocess.Popen[str]) -> None:
        if process.stdout is not None:
            for _ in process.stdout:
                pass

    def api(self) -> Api:
        assert self._api is not None
        return self._api

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/chaos.py", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--scale", type=float, default=1.0, help="sizes (and time bounds) scaled; 0.1 = quick")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown or not chosen:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    os.environ.setdefault("DR_STEP_POLL_MIN_SECONDS", "0.5")
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    plans_dir = work / "plans"
    plans_dir.mkdir()
    began = time.monotonic()
    out: dict[str, Any] = {"scale": args.scale, "seed": args.seed, "scenarios": {}}
    try:
        with LocalStack(state_dir=work / "stack", port=0, plans_dir=plans_dir, timers=False) as stack:
            suite = Suite(stack, plans_dir, args.scale, args.seed)
            for name in SCENARIOS:
                if name not in chosen:
                    continue
                print(f"chaos: {name} …", file=sys.stderr, flush=True)
                try:
                    out["scenarios"][name] = getattr(suite, name)()
                except Exception as exc:  # one scenario breaking does not hide the others' numbers
                    out["scenarios"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500], "met": False}
                print(f"chaos: {name} done: {json.dumps(out['scenarios'][name])}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["seconds"] = round(time.monotonic() - began, 1)
    out["met"] = all(s.get("met") for s in out["scenarios"].values())
    print(json.dumps(out, indent=2))
    return 0 if out["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
