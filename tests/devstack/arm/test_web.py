"""The emulator's Microsoft.Web through azure-mgmt-web 11.0.1 (api-version 2025-05-01): the spec's own examples
(spec_examples/web, see its README), a plan's scale as a long-running operation, apps started and stopped, and a
region outage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import AppServicePlan, AppServicePlanPatchResource, SkuDescription

from devstack.arm import ArmEmulator, StaticTokenCredential
from tests.arm_fixtures import arm_client

from .arm_helpers import error_code, raw_and_model, undeclared_keys
from .test_arm_spec_examples import differences

EXAMPLES = Path(__file__).parent / "spec_examples" / "web" / "2025-05-01"
WEB_VERSION = "2025-05-01"  # azure-mgmt-web 11.0.1's default api-version
EXAMPLE_SUB = "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345"
SUB = "00000000-0000-0000-0000-0000000000e1"
P1 = {"name": "P1", "tier": "Premium", "size": "P1", "family": "P", "capacity": 1}


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def examples(arm: ArmEmulator) -> Iterator[WebSiteManagementClient]:
    """testrg123 as the examples describe it: plan testsf6141 (P1) with the four apps its numberOfSites counts, and
    app sitef6141 on plan DefaultAsp (Standard)."""
    arm.seed(
        {
            "subscription_id": EXAMPLE_SUB,
            "resource_groups": [{"name": "testrg123", "location": "eastus"}],
            "web": {
                "plans": [
                    {"name": "testsf6141", "resource_group": "testrg123", "location": "East US", "sku": P1},
                    {
                        "name": "DefaultAsp",
                        "resource_group": "testrg123",
                        "location": "East US",
                        "sku": {"name": "S1", "tier": "Standard"},
                    },
                ],
                "sites": [
                    *({"name": f"app{n}", "resource_group": "testrg123", "plan": "testsf6141"} for n in range(4)),
                    {"name": "sitef6141", "resource_group": "testrg123", "plan": "DefaultAsp"},
                ],
            },
        }
    )
    with arm_client(WebSiteManagementClient, arm, EXAMPLE_SUB) as client:
        yield client


@pytest.fixture
def web(arm: ArmEmulator) -> Iterator[WebSiteManagementClient]:
    arm.seed(
        {
            "subscription_id": SUB,
            "resource_groups": [{"name": "shop-wus", "location": "westus"}],
            "web": {
                "plans": [
                    {"name": "standby", "resource_group": "shop-wus", "sku": {"name": "P1v3", "tier": "PremiumV3"}}
                ],
                "sites": [
                    {"name": "shop-wus-app", "resource_group": "shop-wus", "plan": "standby", "state": "Stopped"}
                ],
            },
        }
    )
    with arm_client(WebSiteManagementClient, arm, SUB) as client:
        yield client


# -- the spec's examples ---------------------------------------------------------------------------------------


def test_get_app_service_plan_answers_as_the_example(examples: WebSiteManagementClient) -> None:
    spec = example("GetAppServicePlan.json")
    params = spec["parameters"]
    raw, model = raw_and_model(examples.app_service_plans.get, params["resourceGroupName"], params["name"])

    # The example's 19 workers under a capacity of 1 are made up: a plan here runs the instances it asked for.
    assert differences(spec["responses"]["200"]["body"], raw, skip={"properties.numberOfWorkers"}) == []
    assert raw["properties"]["numberOfWorkers"] == 1
    assert undeclared_keys(model) == []


def test_a_missing_plan_is_the_example_s_404(examples: WebSiteManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        examples.app_service_plans.get("testrg123", "nothere")

    assert missing.value.status_code == 404


def test_create_or_update_app_service_plan_answers_as_the_example(
    arm: ArmEmulator, examples: WebSiteManagementClient
) -> None:
    spec = example("CreateOrUpdateAppServicePlan.json")
    params = spec["parameters"]
    poller = examples.app_service_plans.begin_create_or_update(
        params["resourceGroupName"], "testsf6142", params["appServicePlan"]
    )
    initial = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]
    poller.result()
    raw, model = raw_and_model(examples.app_service_plans.get, params["resourceGroupName"], "testsf6142")

    expected = json.loads(json.dumps(spec["responses"]["200"]["body"]).replace("testsf6141", "testsf6142"))
    assert initial.status_code == 200  # a new plan is there at once (the example's 200)
    # The example's new plan counts 4 apps; a plan just created here has none.
    assert differences(expected, raw, skip={"properties.numberOfSites"}) == []
    assert undeclared_keys(model) == []


def test_a_scale_is_the_example_s_202_with_both_headers_then_the_new_count(
    arm: ArmEmulator, examples: WebSiteManagementClient
) -> None:
    spec = example("CreateOrUpdateAppServicePlan.json")
    plan = examples.app_service_plans.get("testrg123", "testsf6141")
    plan.sku.capacity = 3
    poller = examples.app_service_plans.begin_create_or_update("testrg123", "testsf6141", plan)
    initial = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]
    during = examples.app_service_plans.get("testrg123", "testsf6141")
    done = poller.result()

    shown = spec["responses"]["202"]["headers"]
    assert initial.status_code == 202
    for header in ("location", "azure-asyncoperation"):
        assert "/serverfarms/testsf6141/operationresults/" in initial.headers[header]
        assert "/serverfarms/testsf6141/operationresults/" in shown[header]
    body = initial.json()
    assert body["sku"]["capacity"] == 3  # the 202's body: the plan with the SKU asked for
    assert (during.properties.provisioning_state, during.properties.number_of_workers) == ("InProgress", 1)
    assert (done.sku.capacity, done.properties.number_of_workers) == (3, 3)
    assert done.properties.provisioning_state == "Succeeded"


def test_patch_app_service_plan_answers_as_the_example(examples: WebSiteManagementClient) -> None:
    spec = example("PatchAppServicePlan.json")
    params = spec["parameters"]
    raw, model = raw_and_model(
        examples.app_service_plans.update,
        params["resourceGroupName"],
        params["name"],
        AppServicePlanPatchResource(params["appServicePlan"]),
    )

    assert differences(spec["responses"]["200"]["body"], raw) == []
    assert undeclared_keys(model) == []


def test_get_web_app_answers_as_the_example(examples: WebSiteManagementClient) -> None:
    spec = example("GetWebApp.json")
    params = spec["parameters"]
    raw, model = raw_and_model(examples.web_apps.get, params["resourceGroupName"], params["name"])

    skip = {
        "properties.siteConfig",  # site configuration is not modelled (WebApps_Get returns it: the example shows it)
        "properties.lastModifiedTimeUtc",  # when the app was last changed
        "properties.customDomainVerificationId",  # generated per app
        "properties.outboundIpAddresses",  # the example's own addresses
        "properties.possibleOutboundIpAddresses",
        "properties.workloadProfileName",  # Container Apps hosting, not modelled
        "properties.resourceConfig",
    }
    assert differences(spec["responses"]["200"]["body"], raw, skip=skip) == []
    assert undeclared_keys(model) == []


# -- behaviour -------------------------------------------------------------------------------------------------


def test_start_and_stop_answer_200_and_change_the_state(arm: ArmEmulator, web: WebSiteManagementClient) -> None:
    web.web_apps.start("shop-wus", "shop-wus-app")
    started = web.web_apps.get("shop-wus", "shop-wus-app").properties.state
    web.web_apps.start("shop-wus", "shop-wus-app")  # again: nothing changes
    web.web_apps.stop("shop-wus", "shop-wus-app")

    assert started == "Running"
    assert web.web_apps.get("shop-wus", "shop-wus-app").properties.state == "Stopped"
    assert [r.status for r in arm.requests() if r.method == "POST"] == [200, 200, 200]


def test_a_plan_busy_with_a_scale_refuses_another_and_too_many_instances_are_refused(
    arm: ArmEmulator, web: WebSiteManagementClient
) -> None:
    arm.set_operation_duration("serverfarm.scale", 3600)
    body = AppServicePlan(location="westus", sku=SkuDescription(name="P1v3", tier="PremiumV3", capacity=2))
    web.app_service_plans.begin_create_or_update("shop-wus", "standby", body, polling=False)

    with pytest.raises(HttpResponseError) as busy:
        web.app_service_plans.begin_create_or_update("shop-wus", "standby", body, polling=False)
    assert busy.value.status_code == 409
    arm.finish_operations()

    body.sku.capacity = 31
    with pytest.raises(HttpResponseError) as too_many:
        web.app_service_plans.begin_create_or_update("shop-wus", "standby", body, polling=False)
    assert too_many.value.status_code == 400 and error_code(too_many.value) == "BadRequest"
    assert "1 to 30" in str(too_many.value)


def test_a_region_outage_times_out_at_the_gateway(arm: ArmEmulator, web: WebSiteManagementClient) -> None:
    arm.region_outage("westus")
    with arm_client(WebSiteManagementClient, arm, SUB, retry_total=0) as no_retry:
        with pytest.raises(HttpResponseError) as plan:
            no_retry.app_service_plans.get("shop-wus", "standby")
        with pytest.raises(HttpResponseError) as start:
            no_retry.web_apps.start("shop-wus", "shop-wus-app")

    assert plan.value.status_code == 504 and error_code(plan.value) == "GatewayTimeout"
    assert start.value.status_code == 504


def test_traffic_manager_follows_an_app_s_region_and_host_name(arm: ArmEmulator, web: WebSiteManagementClient) -> None:
    site_id = f"/subscriptions/{SUB}/resourceGroups/shop-wus/providers/Microsoft.Web/sites/shop-wus-app"

    with arm.estate.lock:
        assert arm.estate.location_of(site_id) == "westus"
        assert arm.estate.hostname_of(site_id) == "shop-wus-app.azurewebsites.net"


def test_the_examples_api_version_is_the_sdk_s() -> None:
    from azure.mgmt.web._configuration import WebSiteManagementClientConfiguration

    assert WebSiteManagementClientConfiguration(StaticTokenCredential(), SUB).api_version == WEB_VERSION
