"""`make demo`: a whole failover (or drill) of the demo shop on the local stack, watched over HTTP.

Failover: seed the estate, run the standing blob sync once, change some primary blobs afterwards (the data
a real outage loses), take East US down (SQL, Traffic Manager, the app, the primary storage account), POST a
Resource Health alert to /api/alerts, follow the run on the status API, approve it, and print a summary.
Drill: start a drill over the operator API, then check that production is untouched and teardown removed
everything the drill created. Failback: the failover, then writes in West US, East US back, re-protect and the
failback, then the end state checked with real clients. Runs are followed with drctl's watch; the HTML report's
path comes before the last line, the path of the JSON report.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, cast

import requests

from devstack.alert_samples import STORAGE_ID, alert
from devstack.stack import DEMO_DIR, DEMO_ESTATE, ROOT, LocalStack
from drctl.client import Api as DrctlApi
from drctl.watch import follow

PLAN = "shop-demo"
PRIMARY_REGION = "eastus"
SECONDARY_REGION = "westus"
CONTAINERS = {"images": 240, "invoices": 60}
SQL_RG = "shop-wus"
SQL_SERVER = "shop-wus"
TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")

Say = Callable[[str], None]


@dataclass
class DemoResult:
    mode: str
    run_id: str
    report: dict[str, Any]
    report_path: Path
    html_path: Path | None = None
    synced_at: datetime | None = None
    changed_after_sync: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    prediction: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.report.get("status") == "Succeeded" and all(self.checks.values())


class Api:
    """The operator's view: plain HTTP with the function key, as curl would do it."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["x-functions-key"] = key

    @classmethod
    def for_stack(cls, stack: LocalStack) -> Api:
        """The operator's API of a running local stack."""
        assert stack.info is not None, "the stack is not running"
        return cls(stack.info.host_url, stack.info.function_key)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.url}{path}", timeout=60, **kwargs)

    def json(self, method: str, path: str, expect: tuple[int, ...], **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None


# -- the estate ---------------------------------------------------------------------------------------


def seed_blobs(stack: LocalStack) -> int:
    """A few hundred blobs of varied names, sizes, content settings and metadata on the primary."""
    from azure.storage.blob import ContentSettings

    rng = random.Random(7)
    service = stack.blob_service("primary")
    total = 0
    for container_name, count in CONTAINERS.items():
        container = service.get_container_client(container_name)
        container.create_container()
        for n in range(count):
            if container_name == "images":
                folder = rng.choice(["products", "banners", "users/avatars"])
                name = f"{folder}/{n:04d} {rng.choice(['café', 'shoe', 'bag'])}.png"
                size = rng.choice([512, 2048, 16 * 1024, 200 * 1024])
                settings = ContentSettings(content_type="image/png", cache_control="public, max-age=86400")
            else:
                name = f"2026/{rng.randint(1, 11):02d}/invoice-{n:05d}.pdf"
                size = rng.choice([4 * 1024, 40 * 1024])
                settings = ContentSettings(content_type="application/pdf", content_disposition="attachment")
            container.upload_blob(
                name, rng.randbytes(size), content_settings=settings, metadata={"origin": "demo", "n": str(n)}
            )
            total += 1
    return total


def change_primary(stack: LocalStack) -> list[str]:
    """Writes after the last sync: the data a regional outage loses."""
    service = stack.blob_service("primary")
    images = service.get_container_client("images")
    invoices = service.get_container_client("invoices")
    names = [blob.name for blob in images.list_blobs()][:5]
    for name in names:
        images.upload_blob(name, b"edited after the last sync", overwrite=True)
    added = [f"2026/11/late-invoice-{n}.pdf" for n in range(3)]
    for name in added:
        invoices.upload_blob(name, b"%PDF-1.7 late", overwrite=True)
    return [f"images/{n}" for n in names] + [f"invoices/{n}" for n in added]


def snapshot_secondary(stack: LocalStack, containers: list[str]) -> dict[str, dict[str, str]]:
    service = stack.blob_service("secondary")
    snapshot: dict[str, dict[str, str]] = {}
    for container in containers:
        client = service.get_container_client(container)
        if client.exists():
            snapshot[container] = {b.name: str(b.etag) for b in client.list_blobs()}
    return snapshot


# -- running and watching -----------------------------------------------------------------------------


def run_standing_sync(api: Api, say: Say) -> datetime:
    """Run the timer-triggered sync now (func's admin route), and wait for it."""
    started = datetime.now(UTC)
    api.json("POST", "/admin/functions/standing_sync_timer", (202,), json={"input": ""})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = api.call("GET", "/runtime/webhooks/durabletask/instances/standing-sync")
        if status.status_code in (200, 202) and status.json().get("runtimeStatus") in TERMINAL:
            body = status.json()
            if body["runtimeStatus"] != "Completed" or body["output"].get("failed"):
                raise RuntimeError(f"standing sync did not succeed: {json.dumps(body.get('output'))[:500]}")
            for step in body["output"]["steps"]:
                say(f"  sync {step['plan']}/{step['step']}: {step['status']} — {step['summary']}")
            return started
        time.sleep(0.3)
    raise RuntimeError("standing sync did not finish within 300 s")


class Console:
    """The demo's own output: lines on stdout, and drctl's live table of a run when stdout is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


class _Lines(io.TextIOBase):
    """A text stream that hands each complete line to ``say`` (drctl's watch writes its changes here)."""

    def __init__(self, say: Say) -> None:
        self.say = say
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.say(line)
        return len(text)


def watch(
    api: Api,
    run_id: str,
    say: Say,
    *,
    approver: str = "demo-approver",
    why: str = "East US is down; failing over",
    timeout: float = 600,
) -> dict[str, Any]:
    """Follow the run with drctl's watch (a live table on a terminal, a line per change otherwise), approving
    when the run asks; returns the final view (with the report)."""
    function_key = str(api.session.headers["x-functions-key"])

    def approve(view: Any) -> None:
        api.json("POST", f"/api/recoveries/{run_id}/approve", (202,), json={"by": approver, "reason": why})
        say(f"  approved by {approver}")

    stream = say.stream if isinstance(say, Console) else cast(TextIO, _Lines(say))  # a TextIO in all but name
    view = follow(
        DrctlApi(api.url, key=function_key), run_id, stream, interval=0.4, timeout=timeout, on_approval=approve
    )
    return view.model_dump(mode="json")


def summary_table(report: dict[str, Any]) -> list[str]:
    lines = [f"  {'step':<10} {'kind':<25} {'status':<10} {'duration':>9}  detail", "  " + "-" * 96]
    for step in report["steps"]:
        duration = "-"
        if step["started_at"] and step["finished_at"]:
            seconds = (_time(step["finished_at"]) - _time(step["started_at"])).total_seconds()
            duration = f"{seconds:.1f}s"
        detail = step["detail"].get("summary") or (step["detail"].get("error") or {}).get("message", "")
        lines.append(f"  {step['id']:<10} {step['kind']:<25} {step['status']:<10} {duration:>9}  {str(detail)[:60]}")
    rto = report.get("rto_seconds")
    restored = report.get("service_restored_seconds")
    rpo = report.get("rpo_estimate_seconds")
    lines.append("  " + "-" * 96)
    lines.append(
        f"  status {report['status']} · RTO {_seconds(rto)} (trigger → last step done) · service restored "
        f"{_seconds(restored)} (trigger → traffic switched and verified)"
    )
    lines.append(f"  data at risk (RPO) {_seconds(rpo) if rpo is not None else 'unknown: a data store cannot tell'}")
    for store in report.get("rpo_by_store", []):
        lines.append(f"    {store['step']:<10} {_seconds(store['seconds']):>9} {str(store['basis'])[:80]}")
    cost = report.get("drill_cost")
    if cost and cost.get("resources"):
        lines.append(f"  drill footprint: {cost['resource_minutes']:.2f} resource-minutes")
        for item in cost["resources"]:
            state = "removed" if item["removed_at"] else "STILL STANDING"
            lines.append(f"    {item['type']:<15} {str(item['name'])[-60:]:<60} {item['minutes']:6.2f} min {state}")
    for warning in report.get("warnings", [])[:5]:
        lines.append(f"  warning: {warning[:110]}")
    return lines


def _seconds(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "n/a"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- what-if: readiness and the prediction before the outage, compared with the run after ------------------

HISTORY_KEPT = 20


def import_history(stack: LocalStack, state_dir: Path, say: Say) -> int:
    """Reports of this plan from earlier demo runs on this machine (the state dirs beside this one, which
    `make demo` keeps under .devstack), copied into this stack's reports container: what a long-lived reports
    container holds in Azure, and what the what-if reads its measured step times from. The newest
    HISTORY_KEPT, by file time."""
    found = [
        path
        for path in state_dir.resolve().parent.glob("demo-*/reports/*.json")
        if state_dir.resolve() not in path.resolve().parents and path.name.startswith(f"{PLAN}--")
    ]
    found.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    container = stack.blob_service("secondary").get_container_client("dr-reports")
    if found and not container.exists():
        container.create_container()
    for path in reversed(found[:HISTORY_KEPT]):  # oldest first: the blobs' times keep the runs' order
        container.upload_blob(f"runs/{path.name}", path.read_bytes(), overwrite=True)
    shown = len(found[:HISTORY_KEPT])
    say(
        f"plan history: {shown} report(s) of earlier demo runs imported into the reports container"
        if shown
        else "plan history: none (first demo on this machine): steps no run has measured are predicted from Azure's "
        "documented figures, which the emulator (about a second per operation) does not follow; this run's "
        "measurements calibrate the next demo's prediction"
    )
    return shown


def what_if(api: Api, say: Say) -> dict[str, Any]:
    """POST /api/recoveries {"mode": "what_if"}: readiness and the predicted RTO/RPO of a failover now."""
    body = api.json(
        "POST", "/api/recoveries", (200,), json={"plan": PLAN, "mode": "what_if", "reason": "demo: before the outage"}
    )
    failed = body["detail"].get("failed_checks") or []
    say(
        f"readiness of {PLAN}: {'READY' if body['ready'] else 'NOT READY'} "
        f"({sum(map(len, body['checks'].values()))} checks)"
    )
    for line in failed[:5]:
        say(f"  failed: {line[:110]}")
    say(
        f"what-if (a failover now): RTO {_seconds(body['predicted_rto_seconds'])} on "
        f"{' -> '.join(body['critical_path'])}"
        f" (+ orchestrator {body['detail']['orchestrator_seconds']:g} s: {body['detail']['orchestrator_basis'][:70]})"
    )
    for step in body["steps"]:
        say(f"    {step['step']:<10} {_seconds(step['seconds']):>9}  {step['basis'][:90]}")
    say(
        f"  service restored {_seconds(body['predicted_service_restored_seconds'])}, every client following within "
        f"{_seconds(body['predicted_clients_follow_seconds'])} (DNS TTL)"
    )
    uncalibrated = body["uncalibrated_steps"]
    say(
        f"  not yet measured on this estate (Azure's documented or assumed figures): {', '.join(uncalibrated)}"
        if uncalibrated
        else "  every step's time is measured by this plan's past runs"
    )
    rpo = body["predicted_rpo_seconds"]
    say(f"  RPO {_seconds(rpo) if rpo is not None else 'unknown'}, bound by {body['rpo_bound_by']}")
    for store in body["stores"]:
        say(f"    {store['step']:<10} {_seconds(store['seconds']):>9}  {store['basis'][:90]}")
    return dict(body)


def comparison(prediction: dict[str, Any] | None, report: dict[str, Any]) -> list[str]:
    """Predicted (before the outage) vs measured (the run's report) RTO and RPO."""
    if prediction is None:
        return []
    lines = ["  predicted vs measured:"]
    rto_p, rto_m = prediction.get("predicted_rto_seconds"), report.get("rto_seconds")
    ratio = f" (measured / predicted {rto_m / rto_p:.2f})" if rto_p and rto_m else ""
    lines.append(f"    RTO  predicted {_seconds(rto_p):>9}  measured {_seconds(rto_m):>9}{ratio}")
    restored_p, restored_m = (
        prediction.get("predicted_service_restored_seconds"),
        report.get("service_restored_seconds"),
    )
    lines.append(f"    service restored  predicted {_seconds(restored_p):>9}  measured {_seconds(restored_m):>9}")
    rpo_p, rpo_m = prediction.get("predicted_rpo_seconds"), report.get("rpo_estimate_seconds")
    lines.append(
        f"    RPO  predicted {_seconds(rpo_p) if rpo_p is not None else 'unknown':>9} (bound by "
        f"{prediction.get('rpo_bound_by')})  measured {_seconds(rpo_m) if rpo_m is not None else 'unknown':>9}"
    )
    predicted = {store["step"]: store for store in prediction.get("stores", [])}
    for store in report.get("rpo_by_store", []):
        before = predicted.get(store["step"], {}).get("seconds")
        lines.append(
            f"      {store['step']:<10} predicted {_seconds(before) if before is not None else 'unknown':>9}  "
            f"measured {_seconds(store['seconds']) if store['seconds'] is not None else 'unknown':>9}"
        )
    return lines


# -- the two scenarios --------------------------------------------------------------------------------


def outage_alert() -> dict[str, Any]:
    """The Resource Health alert of the primary region's outage (a fresh alert id each second)."""
    fired = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return alert(
        "Resource Health",
        alertId=f"/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.AlertsManagement/alerts/demo-{int(time.time())}",
        firedDateTime=fired,
        alertTargetIDs=[STORAGE_ID.lower()],
    )


def post_outage_alert(api: Api) -> str:
    """Post the outage alert; the run it started."""
    return str(api.json("POST", "/api/alerts", (202,), json=outage_alert())["id"])


def failover(stack: LocalStack, api: Api, say: Say, state_dir: Path) -> DemoResult:
    say(f"seeded {seed_blobs(stack)} blobs on the primary (containers {', '.join(CONTAINERS)})")
    say("standing sync (the timer's job between disasters):")
    synced_at = run_standing_sync(api, say)
    time.sleep(1.1)  # blob Last-Modified has 1-second resolution
    changed = change_primary(stack)
    say(f"{len(changed)} primary blobs changed after the sync (the data the outage will cost)")
    import_history(stack, state_dir, say)
    prediction = what_if(api, say)
    stack.region_outage(PRIMARY_REGION)
    say(f"OUTAGE: {PRIMARY_REGION} is down (SQL, Traffic Manager endpoints, app, primary storage account)")
    run_id = post_outage_alert(api)
    say(f"alert 'shop-primary-down' posted → run {run_id}")
    view = watch(api, run_id, say)
    report = view["report"] or api.json("GET", f"/api/recoveries/{run_id}/report", (200,))
    return DemoResult(
        "failover", run_id, report, Path(), synced_at=synced_at, changed_after_sync=changed, prediction=prediction
    )


def drill(stack: LocalStack, api: Api, say: Say) -> DemoResult:
    say(f"seeded {seed_blobs(stack)} blobs on the primary (containers {', '.join(CONTAINERS)})")
    run_standing_sync(api, say)
    sql = stack.sql_client()
    before = {
        "secondary": snapshot_secondary(stack, list(CONTAINERS)),
        "fog": sql.failover_groups.get(SQL_RG, SQL_SERVER, "shop-fog").replication_role,
        "tm": _endpoints(stack, "shop"),
        "tm_drill": _endpoints(stack, "shop-drill"),
        "databases": sorted(db.name for db in sql.databases.list_by_server(SQL_RG, SQL_SERVER)),
    }
    started = api.json(
        "POST", "/api/recoveries", (202,), json={"plan": PLAN, "mode": "drill", "reason": "weekly drill"}
    )
    run_id = started["id"]
    say(f"drill started → run {run_id}")
    view = watch(api, run_id, say)
    report = view["report"] or api.json("GET", f"/api/recoveries/{run_id}/report", (200,))
    secondary = stack.blob_service("secondary")
    checks = {
        "production blobs on the secondary unchanged": snapshot_secondary(stack, list(CONTAINERS))
        == before["secondary"],
        "drill containers deleted": not any(secondary.get_container_client(f"{c}-drill").exists() for c in CONTAINERS),
        "failover group untouched": sql.failover_groups.get(SQL_RG, SQL_SERVER, "shop-fog").replication_role
        == before["fog"],
        "production Traffic Manager profile untouched": _endpoints(stack, "shop") == before["tm"],
        "test profile restored": _endpoints(stack, "shop-drill") == before["tm_drill"],
        "drill database deleted": sorted(db.name for db in sql.databases.list_by_server(SQL_RG, SQL_SERVER))
        == before["databases"],
    }
    for check, passed in checks.items():
        say(f"  {'✔' if passed else '✘'} {check}")
    return DemoResult("drill", run_id, report, Path(), checks=checks)


def write_during_outage(stack: LocalStack) -> dict[str, bytes]:
    """What the application writes in West US while it serves from there: new invoices and changed images.
    Returns container/name -> bytes (what the failback must bring home)."""
    service = stack.blob_service("secondary")
    written: dict[str, bytes] = {}
    for n in range(4):
        name, data = f"2026/11/outage-invoice-{n}.pdf", f"%PDF-1.7 written in westus during the outage {n}".encode()
        service.get_container_client("invoices").upload_blob(name, data, overwrite=True)
        written[f"invoices/{name}"] = data
    images = service.get_container_client("images")
    for name in [blob.name for blob in images.list_blobs()][10:13]:
        data = b"re-edited in westus during the outage"
        images.upload_blob(name, data, overwrite=True)
        written[f"images/{name}"] = data
    return written


def failback(stack: LocalStack, api: Api, say: Say, state_dir: Path) -> DemoResult:
    """Fail over (the failover scenario), write in West US while it serves, bring East US back, re-protect
    (the standing sync now runs West US → East US), fail back, and check the end state with real clients."""
    out = failover(stack, api, say, state_dir)
    if out.report.get("status") != "Succeeded":
        raise RuntimeError(f"the failover before the failback ended {out.report.get('status')}")
    for line in summary_table(out.report):
        say(line)
    assert stack.arm is not None
    # Azure takes minutes to rejoin a stale old primary; the demo has seconds.
    stack.arm.configure(sql_stale_primary_reconnect_seconds=1.0)
    written = write_during_outage(stack)
    say(f"{len(written)} blobs written in {SECONDARY_REGION} while it served")
    time.sleep(1.1)
    stack.region_restore(PRIMARY_REGION)
    # A primary blob changed after its West US copy (someone fixed it in East US): the failback keeps it.
    kept_name = next(name for name in written if name.startswith("images/")).split("/", 1)[1]
    kept = b"fixed in eastus after the outage (newer)"
    stack.blob_service("primary").get_container_client("images").upload_blob(kept_name, kept, overwrite=True)
    say(f"RESTORED: {PRIMARY_REGION} is back; images/{kept_name} was changed there since (a conflict)")
    say(f"  shop-eus rejoined failover group shop-fog as {_wait_for_rejoin(stack)} (it was the stale old primary)")
    plan = api.json("GET", f"/api/plans/{PLAN}", (200,))
    estate = plan.get("estate") or {}
    say(f"plan {PLAN}: active {estate.get('active_region')}, protection {estate.get('protection_direction')}")
    say("re-protect: the standing sync now copies West US → East US:")
    run_standing_sync(api, say)
    started = api.json(
        "POST",
        "/api/recoveries",
        (202,),
        json={"plan": PLAN, "mode": "failback", "reason": "East US healthy again: going home"},
    )
    run_id = started["id"]
    say(f"failback started → run {run_id} (waits for the primary's health, then for approval)")
    view = watch(api, run_id, say, why="East US is healthy again; failing back")
    report = view["report"] or api.json("GET", f"/api/recoveries/{run_id}/report", (200,))
    checks = failback_checks(stack, api, written, kept_name, kept)
    for check, passed in checks.items():
        say(f"  {'✔' if passed else '✘'} {check}")
    return DemoResult("failback", run_id, report, Path(), checks=checks)


def _wait_for_rejoin(stack: LocalStack, timeout: float = 60) -> str:
    """The old primary left stale by the forced failover reads the group as Primary until it rejoins as
    secondary; a failback's pre-flight refuses until then (what an operator watches for)."""
    groups = stack.sql_client().failover_groups
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        role = groups.get("shop-eus", "shop-eus", "shop-fog").replication_role
        if role != "Primary":  # the SDK's roles are case-insensitive string enums
            return str(getattr(role, "value", role))
        time.sleep(0.5)
    raise RuntimeError(f"shop-eus did not rejoin failover group shop-fog within {timeout:.0f} s")


def failback_checks(
    stack: LocalStack, api: Api, written: dict[str, bytes], kept_name: str, kept: bytes
) -> dict[str, bool]:
    """The end state of a failback, read with real clients (Azurite, the ARM emulator's SDK view, the app)."""
    primary = stack.blob_service("primary")

    def primary_bytes(path: str) -> bytes | None:
        container, name = path.split("/", 1)
        blob = primary.get_container_client(container).get_blob_client(name)
        return blob.download_blob().readall() if blob.exists() else None

    home = {path: data for path, data in written.items() if path != f"images/{kept_name}"}
    fog = stack.sql_client().failover_groups.get("shop-eus", "shop-eus", "shop-fog")
    public = requests.get(f"{stack.info.apps_url}/shop/health", timeout=10) if stack.info else None
    plan = api.json("GET", f"/api/plans/{PLAN}", (200,))
    return {
        "data written in West US during the outage is in East US": all(
            primary_bytes(path) == data for path, data in home.items()
        ),
        "the East US blob changed after its copy was kept (conflict reported)": primary_bytes(f"images/{kept_name}")
        == kept,
        "traffic on East US (shop-eus enabled, shop-wus disabled)": [
            (name, status) for name, status, _ in _endpoints(stack, "shop")
        ]
        == [("shop-eus", "Enabled"), ("shop-wus", "Disabled")],
        "the public name answers from East US": public is not None
        and public.status_code == 200
        and "eastus" in public.text,
        "failover group primary in East US": fog.replication_role == "Primary",
        "plan state: primary active, protection East US → West US": (plan.get("estate") or {}).get("active")
        == "primary",
    }


def _endpoints(stack: LocalStack, profile: str) -> list[tuple[str, str, int | None]]:
    found = stack.traffic_client().profiles.get("shop-global", profile)
    return sorted((e.name, e.endpoint_status, e.priority) for e in found.endpoints or [])


# -- the edge demo: Front Door, its DNS bypass through Traffic Manager, and the Cosmos DB catalogue ------------

EDGE_DIR = DEMO_DIR / "edge"
EDGE_PLAN = "edge-demo"
EDGE_GROUP = "shop-global"


def edge(stack: LocalStack, api: Api, say: Say, mode: str) -> DemoResult:
    """The edge plan (devstack/demo/edge/): a failover with East US down behind Front Door, or a drill; then
    the world read with the real management clients."""
    from azure.mgmt.cdn import CdnManagementClient
    from azure.mgmt.cosmosdb import CosmosDBManagementClient
    from azure.mgmt.dns import DnsManagementClient

    def world() -> dict[str, Any]:
        with (
            stack._arm_client(CdnManagementClient) as cdn,
            stack._arm_client(DnsManagementClient) as dns,
            stack._arm_client(CosmosDBManagementClient) as cosmos,
        ):
            origins = cdn.afd_origins.list_by_origin_group(EDGE_GROUP, "shop-fd", "web")
            account = cosmos.database_accounts.get("shop-eus", "shop-catalog")
            return {
                "www": dns.record_sets.get(EDGE_GROUP, "shop.example.com", "www", "CNAME").cname_record.cname,
                "origins": sorted((o.name, o.enabled_state) for o in origins),
                "catalog": account.properties.write_locations[0].location_name,
            }

    before = world()
    say(f"www.shop.example.com → {before['www']} · catalogue written in {before['catalog']}")
    if mode == "failover":
        stack.region_outage(PRIMARY_REGION)
        say(f"OUTAGE: {PRIMARY_REGION} is down behind Front Door (origins, Cosmos DB region, app)")
    started = api.json(
        "POST", "/api/recoveries", (202,), json={"plan": EDGE_PLAN, "mode": mode, "reason": f"edge demo: {mode}"}
    )
    say(f"{mode} started → run {started['id']}")
    view = watch(api, started["id"], say)
    report = view["report"] or api.json("GET", f"/api/recoveries/{started['id']}/report", (200,))
    after = world()
    if mode == "failover":
        checks = {
            "www.shop.example.com points at the Traffic Manager profile (Front Door bypassed)": after["www"]
            == "shop-devstack.trafficmanager.net",
            "Front Door routes to West US": after["origins"] == [("shop-eus", "Disabled"), ("shop-wus", "Enabled")],
            "the catalogue is written in West US": after["catalog"] == "West US",
        }
    else:
        checks = {"production untouched (record, origins, catalogue)": after == before}
    for check, passed in checks.items():
        say(f"  {'✔' if passed else '✘'} {check}")
    return DemoResult(f"edge {mode}", started["id"], report, Path(), checks=checks)


def run_demo(mode: str, *, state_dir: Path, say: Say = print, plan: str = PLAN) -> DemoResult:
    say(f"starting the local stack in {state_dir} …")
    estate = EDGE_DIR / "estate.yaml" if plan == EDGE_PLAN else DEMO_ESTATE
    plans = state_dir / "plans" if plan == EDGE_PLAN else None
    if plans is not None:
        plans.mkdir(parents=True, exist_ok=True)
    with LocalStack(state_dir=state_dir, timers=False, estate=estate, plans_dir=plans) as stack:
        assert stack.info is not None
        assert stack.host is not None
        azurite = stack.info.storage_accounts["primary"].blob_endpoint.rsplit("/", 1)[0]
        say(f"  host {stack.info.host_url} · ARM emulator {stack.info.arm_url} · Azurite via {azurite}")
        api = Api.for_stack(stack)
        scenarios = {"failover": failover, "failback": failback}
        if plans is not None:  # the edge plan names the stack's application server, known once it listens
            assert stack.apps is not None
            (plans / "edge.yaml").write_text((EDGE_DIR / "plan.yaml").read_text().replace("${APPS}", stack.apps.url))
            result = edge(stack, api, say, mode)
        elif mode in scenarios:
            result = scenarios[mode](stack, api, say, state_dir)
        else:
            result = drill(stack, api, say)
        # The readable copy, as the app serves it (GET /api/recoveries/{id}/report.html: with the plan).
        page = api.call("GET", f"/api/recoveries/{result.run_id}/report.html")
    reports = state_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    result.report_path = (reports / f"{result.run_id}.json").resolve()
    result.report_path.write_text(json.dumps(result.report, indent=2))
    if page.status_code == 200:
        result.html_path = result.report_path.with_suffix(".html")
        result.html_path.write_bytes(page.content)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("failover", "drill", "failback"), default="failover")
    parser.add_argument(
        "--plan", choices=(PLAN, EDGE_PLAN), default=PLAN, help=f"{EDGE_PLAN}: Front Door, its DNS bypass, Cosmos DB"
    )
    parser.add_argument("--state-dir", type=Path, default=None, help="default: .devstack/demo-<mode>-<time>")
    args = parser.parse_args(argv)
    os.environ.setdefault("DR_STEP_POLL_MIN_SECONDS", "0.5")
    state_dir = args.state_dir or ROOT / ".devstack" / f"demo-{args.mode}-{datetime.now(UTC):%Y%m%dT%H%M%S}"

    say = Console(sys.stdout)
    try:
        result = run_demo(args.mode, state_dir=state_dir, say=say, plan=args.plan)
    except Exception as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    say("")
    say(f"{args.mode} of plan {args.plan}:")
    for line in summary_table(result.report):
        say(line)
    for line in comparison(result.prediction, result.report):
        say(line)
    say(f"HTML report (opens offline): {result.html_path or 'not available'}")
    say(str(result.report_path))
    return 0 if result.ok else 1
