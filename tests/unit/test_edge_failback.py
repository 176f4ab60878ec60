"""The edge plan's way home (dr.failback): Front Door's origins and the DNS record are switched back, each
pointed where the failover found it, and the catalogue's writes return to the region they left."""

from __future__ import annotations

from pathlib import Path

import yaml

from dr.failback import FailoverToUndo, failback_plan
from dr.plan import DnsRecordSwitchStep, FrontDoorOriginsStep, parse_plan

ROOT = Path(__file__).resolve().parents[2]
APPS = "http://127.0.0.1:9"


def test_the_edge_failback_swaps_origins_and_points_the_record_back() -> None:
    plan = parse_plan(yaml.safe_load((ROOT / "devstack/demo/edge/plan.yaml").read_text().replace("${APPS}", APPS)))
    failover = FailoverToUndo(
        run_id="edge-demo--failover--op-1",
        steps={step.id: {"id": step.id, "kind": step.kind, "status": "succeeded"} for step in plan.steps}
        | {
            "catalog": {
                "id": "catalog",
                "kind": "cosmos_failover",
                "status": "succeeded",
                "detail": {"original_write_region": "East US"},
            }
        },
    )

    derived = failback_plan(plan, failover).plan

    origins, bypass = derived.step("origins"), derived.step("bypass")
    assert isinstance(origins, FrontDoorOriginsStep) and isinstance(bypass, DnsRecordSwitchStep)
    assert (origins.from_origins, origins.to_origins) == (["shop-wus"], ["shop-eus"])
    assert origins.health_url == f"{APPS}/eastus/health" and origins.drill_profile_id is None
    assert bypass.to_target.endswith(".z01.azurefd.net") and bypass.from_target == "shop-devstack.trafficmanager.net"
    assert bypass.health_url is None and bypass.drill_record is None
    catalog = derived.step("catalog")
    assert (catalog.target_region, catalog.failover_mode) == ("East US", "planned")  # type: ignore[attr-defined]
