"""End to end: the edge demo (devstack/demo/edge/: the Front Door bypass) on the whole local stack, driven only
over HTTP, then the world inspected with real clients (azure-mgmt-cdn and azure-mgmt-dns against the ARM
emulator, the app's public health).

Failover: East US goes down; the run moves Front Door's origin group to West US and points www.shop.example.com
from the Front Door endpoint to the pre-staged Traffic Manager profile, which answers from West US. Drill: the
test profile and a drill record are switched and put back; production is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.cosmosdb import CosmosDBManagementClient
from azure.mgmt.dns import DnsManagementClient

from devstack.demo.runner import Api, watch
from devstack.stack import DEMO_DIR, LocalStack
from tests.e2e.runs import stack_with_rendered_plan, start_run

pytestmark = pytest.mark.slow

EDGE = DEMO_DIR / "edge"
PLAN = "edge-demo"
GROUP = "shop-global"
ZONE = "shop.example.com"
TM_HOST = "shop-devstack.trafficmanager.net"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with stack_with_rendered_plan(tmp_path, EDGE) as running:
        yield running


def _run(stack: LocalStack, mode: str, reason: str) -> dict[str, Any]:
    api = Api.for_stack(stack)
    run_id = start_run(api, PLAN, mode, reason)
    view = watch(api, run_id, lambda _line: None, timeout=180)
    report = view["report"] or api.json("GET", f"/api/recoveries/{run_id}/report", (200,))
    assert isinstance(report, dict)
    return report


def _origins(stack: LocalStack, profile: str) -> dict[str, tuple[str, int | None]]:
    with stack._arm_client(CdnManagementClient) as cdn:
        return {
            o.name: (o.enabled_state, o.priority) for o in cdn.afd_origins.list_by_origin_group(GROUP, profile, "web")
        }


def _cname(stack: LocalStack, name: str) -> tuple[str, int] | None:
    with stack._arm_client(DnsManagementClient) as dns:
        names = {r.name: r for r in dns.record_sets.list_by_type(GROUP, ZONE, "CNAME")}
    record = names.get(name)
    return None if record is None else (record.cname_record.cname, record.ttl)


def _catalog_write_region(stack: LocalStack) -> str:
    with stack._arm_client(CosmosDBManagementClient) as cosmos:
        return str(cosmos.database_accounts.get("shop-eus", "shop-catalog").properties.write_locations[0].location_name)


def _front_door_host(stack: LocalStack) -> str:
    with stack._arm_client(CdnManagementClient) as cdn:
        return str(cdn.afd_endpoints.get(GROUP, "shop-fd", "shop").host_name)


def test_failover_bypasses_front_door_and_serves_from_west_us(stack: LocalStack) -> None:
    assert _cname(stack, "www") == (_front_door_host(stack), 60)  # the plan's from_target is the endpoint's host
    stack.region_outage("eastus")

    report = _run(stack, "failover", "East US down behind Front Door: bypass it")

    assert report["status"] == "Succeeded", report
    steps = {step["id"]: step for step in report["steps"]}
    assert {step["status"] for step in steps.values()} == {"succeeded"}
    assert steps["bypass"]["detail"]["expected_dns_convergence_seconds"] == 60
    assert steps["origins"]["detail"]["routed_to"] == ["shop-wus"]
    assert report["service_restored_seconds"] is not None

    # The world: the record on the Traffic Manager profile, Front Door's origins moved, the catalogue written in
    # West US, the public name healthy.
    assert _cname(stack, "www") == (TM_HOST, 60)
    assert _catalog_write_region(stack) == "West US"
    assert _origins(stack, "shop-fd") == {"shop-eus": ("Disabled", 1), "shop-wus": ("Enabled", 1)}
    assert stack.info is not None
    public = requests.get(f"{stack.info.apps_url}/shop/health", timeout=5)
    assert public.status_code == 200 and public.json()["region"] == "westus"


def test_drill_switches_the_test_profile_and_a_drill_record_then_puts_them_back(stack: LocalStack) -> None:
    production = (_origins(stack, "shop-fd"), _cname(stack, "www"), _catalog_write_region(stack))
    test_profile = _origins(stack, "shop-fd-drill")

    report = _run(stack, "drill", "quarterly edge drill")

    assert report["status"] == "Succeeded", report
    steps = {step["id"]: step for step in report["steps"]}
    assert steps["origins"]["detail"]["mode"] == "drill (test profile)"
    assert steps["bypass"]["detail"]["mode"] == "drill (drill record)"
    assert steps["bypass"]["detail"]["teardown"]["teardown"] == "deleted"
    assert steps["origins"]["detail"]["teardown"]["teardown"] == "restored"
    assert not report.get("left_behind")

    assert (_origins(stack, "shop-fd"), _cname(stack, "www"), _catalog_write_region(stack)) == production
    assert _origins(stack, "shop-fd-drill") == test_profile
    assert _cname(stack, "www-drill") is None
