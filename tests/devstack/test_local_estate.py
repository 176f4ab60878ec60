"""Your own estate on the local stack (`make serve ESTATE=... PLANS=...`): accounts by the names your plans use,
URLs onto the local application server (never a real host), outages of your regions, a drill that runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from devstack.local_estate import LocalEstate
from devstack.stack import LocalStack
from dr.errors import PlanError

SUB = "00000000-0000-0000-0000-0000000000c0"
PROFILE = (
    f"/subscriptions/{SUB}/resourceGroups/contoso-global/providers/Microsoft.Network/trafficManagerProfiles/contoso"
)

ESTATE = {
    "subscription_id": SUB,
    "resource_groups": [
        {"name": "contoso-eus", "location": "eastus"},
        {"name": "contoso-wus", "location": "westus"},
        {"name": "contoso-global", "location": "eastus"},
    ],
    "storage_accounts": [{"name": "contosoeus", "location": "eastus"}, {"name": "contosowus", "location": "westus"}],
    "traffic_manager": {
        "profiles": [
            {
                "name": "contoso",
                "resource_group": "contoso-global",
                "relative_name": "contoso-app",
                "monitor": {"protocol": "HTTPS", "port": 443, "path": "/health"},
                "endpoints": [
                    {"name": "app-eus", "target": "app-eus.contoso.com", "location": "eastus", "priority": 1},
                    {"name": "app-wus", "target": "app-wus.contoso.com", "location": "westus", "priority": 2},
                ],
            }
        ]
    },
}


def plan(**verify: Any) -> dict[str, Any]:
    return {
        "name": "contoso-dr",
        "steps": [
            {
                "id": "docs",
                "kind": "blob_backup",
                "source": {"account_url": "https://contosoeus.blob.core.windows.net", "container": "docs"},
                "target": {"account_url": "https://contosowus.blob.core.windows.net", "container": "docs"},
            },
            {
                "id": "traffic",
                "kind": "traffic_manager_failover",
                "profile_id": PROFILE,
                "from_endpoints": ["app-eus"],
                "to_endpoints": ["app-wus"],
                "health_url": "https://app-wus.contoso.com/health",
                "after": ["docs"],
            },
            {
                "id": "verify",
                "kind": "health_check",
                "url": "https://contoso-app.trafficmanager.net/health",
                "after": ["traffic"],
                **verify,
            },
        ],
        "drill": {
            "overrides": {
                "docs": {
                    "target": {"account_url": "https://contosowus.blob.core.windows.net", "container": "docs-drill"}
                }
            }
        },
    }


@pytest.fixture
def own(tmp_path: Path) -> tuple[Path, Path]:
    estate = tmp_path / "estate.yaml"
    estate.write_text(yaml.safe_dump(ESTATE))
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "contoso.yaml").write_text(yaml.safe_dump(plan()))
    return estate, plans


def test_accounts_regions_and_urls_come_from_the_estate_and_plans(own: tuple[Path, Path], tmp_path: Path) -> None:
    estate, plans = own
    local = LocalEstate.read(estate, plans)
    assert local.accounts == ["contosoeus", "contosowus"]
    assert local.account_regions == {"contosoeus": "eastus", "contosowus": "westus"}
    assert local.endpoint_regions == {"app-eus": "eastus", "app-wus": "westus"}
    assert local.public_names == {"contoso": PROFILE}
    (rendered,) = local.render_plans(plans, tmp_path / "out", "http://127.0.0.1:5000")
    steps = {step["id"]: step for step in yaml.safe_load(rendered.read_text())["steps"]}
    assert steps["traffic"]["health_url"] == "http://127.0.0.1:5000/westus/health"
    assert steps["verify"]["url"] == "http://127.0.0.1:5000/contoso/health"


def test_a_url_to_a_host_the_estate_does_not_know_is_refused(own: tuple[Path, Path], tmp_path: Path) -> None:
    estate, plans = own
    (plans / "contoso.yaml").write_text(yaml.safe_dump(plan(url="https://www.example.org/health")))
    with pytest.raises(PlanError, match=r"contoso.yaml: steps: url = https://www.example.org/health"):
        LocalEstate.read(estate, plans).render_plans(plans, tmp_path / "out", "http://127.0.0.1:5000")


@pytest.fixture
def stack(own: tuple[Path, Path], tmp_path: Path) -> Iterator[LocalStack]:
    estate, plans = own
    with LocalStack(state_dir=tmp_path / "stack", timers=False, estate=estate, own_plans=plans) as running:
        yield running


@pytest.mark.slow
def test_a_drill_of_your_own_plan_runs_and_your_regions_go_down(stack: LocalStack) -> None:
    assert stack.info is not None
    source = stack.blob_service("contosoeus").get_container_client("docs")
    source.create_container()
    for n in range(5):
        source.upload_blob(f"doc-{n}.txt", b"contoso")
    session = requests.Session()
    session.headers["x-functions-key"] = stack.info.function_key
    started = session.post(
        f"{stack.info.host_url}/api/recoveries", json={"plan": "contoso-dr", "mode": "drill", "reason": "rehearsal"}
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        view = session.get(f"{stack.info.host_url}/api/recoveries/{run_id}").json()
        if view["runtime_status"] == "Completed":
            break
        time.sleep(0.5)
    assert view["report"]["status"] == "Succeeded", view["report"]
    # The drill copied into the account your plan names, and tore its container down afterwards.
    steps = {step["id"]: step for step in view["report"]["steps"]}
    assert steps["docs"]["detail"]["copied"] == 5
    assert not stack.blob_service("contosowus").get_container_client("docs-drill").exists()

    stack.region_outage("eastus")
    assert stack.regions()["eastus"] is True
    health = requests.get(f"{stack.info.apps_url}/eastus/health", timeout=5)
    assert health.status_code == 503
    proxied = stack.info.storage_accounts["contosoeus"].blob_endpoint
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{proxied}?comp=list", timeout=5)
    stack.region_restore("eastus")
