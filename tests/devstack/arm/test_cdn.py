"""The emulator's Microsoft.Cdn (Azure Front Door Standard/Premium) through azure-mgmt-cdn 14.1.0 (api-version
2026-10-01): the spec's own examples (spec_examples/cdn/2026-10-01, see its README), the long-running origin
writes, the refusals, and Front Door's origin health as Azure Monitor's OriginHealthPercentage reports it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.cdn.models import (
    AFDOriginGroup,
    AFDOriginUpdateParameters,
    HealthProbeParameters,
    LoadBalancingSettingsParameters,
    ProfileUpdateParameters,
)

from devstack.arm import ArmEmulator
from tests.arm_fixtures import arm_client

from .arm_helpers import SUB, error_code, raw_and_model, undeclared_keys
from .test_arm_spec_examples import differences

EXAMPLES = Path(__file__).parent / "spec_examples" / "cdn" / "2026-10-01"
EXAMPLE_SUB = "subid"
PROFILE_ID = f"/subscriptions/{SUB}/resourceGroups/shop-global/providers/Microsoft.Cdn/profiles/shop-fd"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def cdn(arm: ArmEmulator) -> Iterator[CdnManagementClient]:
    with arm_client(CdnManagementClient, arm, SUB) as client:
        yield client


@pytest.fixture
def example_cdn(arm: ArmEmulator) -> Iterator[CdnManagementClient]:
    """The examples' subscription ("subid"), resource groups and profile1 (origingroup1 with origin1 as the
    update example finds it)."""
    arm.seed(
        {
            "subscription_id": EXAMPLE_SUB,
            "resource_groups": [{"name": "RG", "location": "eastus"}, {"name": "RG1", "location": "eastus"}],
            "front_door": {
                "profiles": [
                    {
                        "name": "profile1",
                        "resource_group": "RG",
                        "sku": "Premium_AzureFrontDoor",
                        "endpoints": ["endpoint1"],
                    },
                ]
            },
        }
    )
    with arm_client(CdnManagementClient, arm, EXAMPLE_SUB) as client:
        yield client


def metrics(arm: ArmEmulator, query: dict[str, str], profile_id: str = PROFILE_ID) -> requests.Response:
    return requests.get(
        f"{arm.url}{profile_id}/providers/Microsoft.Insights/metrics",
        params={"api-version": "2023-10-01", **query},
        headers={"Authorization": "Bearer devstack"},
        verify=str(arm.ca_path),
        timeout=10,
    )


def origin_health(arm: ArmEmulator, group: str = "web") -> dict[str, float]:
    response = metrics(
        arm, {"metricnames": "OriginHealthPercentage", "$filter": f"OriginGroup eq '{group}' and Origin eq '*'"}
    )
    assert response.status_code == 200, response.text
    series = response.json()["value"][0]["timeseries"]
    return {s["metadatavalues"][0]["value"]: s["data"][-1]["average"] for s in series}


# -- the spec's examples ---------------------------------------------------------------------------------------


def test_profiles_list_answers_as_the_example(example_cdn: CdnManagementClient, arm: ArmEmulator) -> None:
    arm.seed(
        {
            "subscription_id": EXAMPLE_SUB,
            "front_door": {
                "profiles": [
                    {"name": name, "resource_group": "RG1", "sku": "Premium_AzureFrontDoor"}
                    for name in ("profile1", "profile2")
                ]
            },
        }
    )
    expected = example("Profiles_List.json")["responses"]["200"]["body"]["value"]
    listed = [p for p in example_cdn.profiles.list() if p.id and "/RG1/" in p.id]
    raw = [p.as_dict() for p in listed]

    # frontDoorId is the profile's own; the example's 30 s origin timeout is its choice, not the default (60 s).
    skip = {"properties.frontDoorId", "properties.originResponseTimeoutSeconds"}
    assert [d for e, a in zip(expected, raw, strict=True) for d in differences(e, a, "", skip)] == []
    assert all(undeclared_keys(p) == [] for p in listed) and raw


def test_origin_group_get_answers_as_the_example(example_cdn: CdnManagementClient) -> None:
    spec = example("AFDOriginGroups_Get.json")
    properties = spec["responses"]["200"]["body"]["properties"]
    body = AFDOriginGroup(
        load_balancing_settings=LoadBalancingSettingsParameters(
            **{"sample_size": 3, "successful_samples_required": 3, "additional_latency_in_milliseconds": 1000}
        ),
        health_probe_settings=HealthProbeParameters(
            probe_path="/path1", probe_protocol="Http", probe_request_type="HEAD", probe_interval_in_seconds=10
        ),
        traffic_restoration_time_to_healed_or_new_endpoints_in_minutes=5,
    )
    example_cdn.afd_origin_groups.begin_create("RG", "profile1", "origingroup1", body).result()

    raw, model = raw_and_model(example_cdn.afd_origin_groups.get, "RG", "profile1", "origingroup1")

    # Origin authentication (managed identity to the origin) is not modelled; the group is deployed by now.
    skip = {"properties.authentication", "properties.deploymentStatus"}
    assert differences(spec["responses"]["200"]["body"], raw, "", skip) == []
    assert properties["healthProbeSettings"] == raw["properties"]["healthProbeSettings"]
    assert undeclared_keys(model) == []


def test_origin_update_answers_202_then_the_resource_as_the_example(
    example_cdn: CdnManagementClient, arm: ArmEmulator
) -> None:
    spec = example("AFDOrigins_Update.json")
    example_cdn.afd_origin_groups.begin_create("RG", "profile1", "origingroup1", AFDOriginGroup()).result()
    with arm.estate.lock:  # origin1 as the example finds it: its host header set, no priority or weight
        profile = arm.cdn.profile(EXAMPLE_SUB, "RG", "profile1")
        group = arm.cdn.origin_group(profile, "origingroup1")
    body = {
        "properties": {"hostName": "old.example.com", "originHostHeader": "host1.foo.com", "enabledState": "Disabled"}
    }
    example_cdn.afd_origins.begin_create("RG", "profile1", "origingroup1", "origin1", body).result()
    arm.configure(default_operation_seconds=60)

    parameters = spec["parameters"]["originUpdateProperties"]
    initial = example_cdn.afd_origins._update_initial(  # the SDK's own first request, to see the 202
        "RG", "profile1", "origingroup1", "origin1", parameters, cls=lambda response, _body, _headers: response
    ).http_response
    initial.read()

    assert initial.status_code == 202
    assert differences(spec["responses"]["202"]["body"], initial.json()) == [
        "properties.deploymentStatus: 'InProgress' != 'NotStarted'"
    ]  # the example's 202 shows a deployment not started; here it starts with the update
    status_url = initial.headers["Azure-AsyncOperation"]
    assert re.search(
        r"/resourcegroups/RG/providers/Microsoft.Cdn/operationresults/[0-9a-f-]+\?api-version=2026-10-01$", status_url
    )
    with arm.estate.lock:
        assert group.origins["origin1"].provisioning_state == "Updating"

    arm.finish_operations()
    raw, model = raw_and_model(example_cdn.afd_origins.get, "RG", "profile1", "origingroup1", "origin1")
    # Deployed to the edge by now: the example's 200 was recorded before its deployment started.
    assert differences(spec["responses"]["200"]["body"], raw, "", {"properties.deploymentStatus"}) == []
    assert raw["properties"]["deploymentStatus"] == "Succeeded"
    assert undeclared_keys(model) == []


def test_endpoints_list_answers_as_the_example(example_cdn: CdnManagementClient) -> None:
    spec = example("AFDEndpoints_ListByProfile.json")["responses"]["200"]["body"]["value"]
    listed = list(example_cdn.afd_endpoints.list_by_profile("RG", "profile1"))

    assert len(listed) == 1
    # The host name's 16-character suffix is the endpoint's own.
    assert differences(spec[0], listed[0].as_dict(), "", {"properties.hostName"}) == []
    assert re.fullmatch(r"endpoint1-[0-9a-f]{16}\.z01\.azurefd\.net", listed[0].host_name)
    assert undeclared_keys(listed[0]) == []


# -- behaviour -------------------------------------------------------------------------------------------------


def test_an_origin_update_is_a_long_running_operation_the_sdk_follows(
    cdn: CdnManagementClient, arm: ArmEmulator
) -> None:
    poller = cdn.afd_origins.begin_update(
        "shop-global", "shop-fd", "web", "shop-eus", AFDOriginUpdateParameters(enabled_state="Disabled")
    )
    assert cdn.afd_origins.get("shop-global", "shop-fd", "web", "shop-eus").provisioning_state == "Updating"

    origin = poller.result()

    assert origin.enabled_state == "Disabled" and origin.provisioning_state == "Succeeded"
    assert origin.priority == 1 and origin.weight == 1000  # a PATCH changes only what it sends


def test_bad_origin_writes_are_refused(cdn: CdnManagementClient) -> None:
    with pytest.raises(HttpResponseError) as bad_priority:
        cdn.afd_origins.begin_update("shop-global", "shop-fd", "web", "shop-eus", {"properties": {"priority": 6}})
    with pytest.raises(ResourceNotFoundError) as missing:
        cdn.afd_origins.get("shop-global", "shop-fd", "web", "nowhere")
    with pytest.raises(HttpResponseError) as same_host:
        cdn.afd_origins.begin_update(
            "shop-global", "shop-fd", "web", "shop-wus", {"properties": {"hostName": "shop-eus.example.com"}}
        )
    with pytest.raises(HttpResponseError) as classic:
        cdn.profiles.begin_create(
            "shop-global", "classic", {"location": "global", "sku": {"name": "Standard_Microsoft"}}
        )

    assert bad_priority.value.status_code == 400 and error_code(bad_priority.value) == "InvalidRequestContent"
    assert error_code(missing.value) == "ResourceNotFound"
    assert same_host.value.status_code == 400 and "already used" in str(same_host.value)
    assert classic.value.status_code == 400


def test_a_tags_only_profile_update_completes_at_once(cdn: CdnManagementClient) -> None:
    profile = cdn.profiles.begin_update(
        "shop-global", "shop-fd", ProfileUpdateParameters(tags={"owner": "dr"})
    ).result()

    assert profile.tags == {"owner": "dr"} and cdn.profiles.get("shop-global", "shop-fd").tags == {"owner": "dr"}


def test_origin_health_follows_region_outages_and_target_health(cdn: CdnManagementClient, arm: ArmEmulator) -> None:
    assert origin_health(arm) == {"shop-eus.example.com": 100.0, "shop-wus.example.com": 100.0}

    arm.region_outage("eastus")
    assert origin_health(arm) == {"shop-eus.example.com": 0.0, "shop-wus.example.com": 100.0}
    arm.set_target_health("shop-wus.example.com", healthy=False)
    assert origin_health(arm) == {"shop-eus.example.com": 0.0, "shop-wus.example.com": 0.0}
    arm.region_restore("eastus")
    arm.set_target_health("shop-wus.example.com", healthy=True)
    assert origin_health(arm) == {"shop-eus.example.com": 100.0, "shop-wus.example.com": 100.0}


def test_a_disabled_or_deploying_origin_has_no_health_data(cdn: CdnManagementClient, arm: ArmEmulator) -> None:
    arm.configure(default_operation_seconds=60)
    cdn.afd_origins.begin_update(
        "shop-global", "shop-fd", "web", "shop-eus", {"properties": {"enabledState": "Disabled"}}
    )
    assert origin_health(arm) == {"shop-wus.example.com": 100.0}  # shop-eus: disabled, Front Door stops probing it

    cdn.afd_origins.begin_update(
        "shop-global", "shop-fd", "web", "shop-eus", {"properties": {"enabledState": "Enabled"}}
    )
    assert origin_health(arm) == {"shop-wus.example.com": 100.0}  # enabled but not deployed yet
    arm.finish_operations()
    assert origin_health(arm) == {"shop-eus.example.com": 100.0, "shop-wus.example.com": 100.0}


def test_metrics_answer_the_monitor_shape_and_refuse_other_metrics(arm: ArmEmulator) -> None:
    response = metrics(arm, {"metricnames": "OriginHealthPercentage", "interval": "PT1M"})
    body = response.json()
    assert set(body) >= {"cost", "timespan", "interval", "value", "namespace", "resourceregion"}
    metric = body["value"][0]
    assert metric["name"]["value"] == "OriginHealthPercentage" and metric["unit"] == "Percent"
    assert metric["id"].endswith("/providers/Microsoft.Insights/metrics/OriginHealthPercentage")

    assert origin_health(arm, group="other") == {}
    refused = metrics(arm, {"metricnames": "RequestCount"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "BadRequest"
    wrong_version = requests.get(
        f"{arm.url}{PROFILE_ID}/providers/Microsoft.Insights/metrics",
        params={"api-version": "2026-10-01", "metricnames": "OriginHealthPercentage"},
        headers={"Authorization": "Bearer devstack"},
        verify=str(arm.ca_path),
        timeout=10,
    )
    assert wrong_version.status_code == 400 and wrong_version.json()["error"]["code"] == "NoRegisteredProviderFound"


def test_the_example_estate_declares_front_door_and_its_endpoint_host(
    cdn: CdnManagementClient, arm: ArmEmulator
) -> None:
    endpoint = cdn.afd_endpoints.get("shop-global", "shop-fd", "shop")
    origins = {
        o.name: (o.host_name, o.priority) for o in cdn.afd_origins.list_by_origin_group("shop-global", "shop-fd", "web")
    }

    assert origins == {"shop-eus": ("shop-eus.example.com", 1), "shop-wus": ("shop-wus.example.com", 2)}
    assert arm.estate.hostname_of(f"{PROFILE_ID}/afdEndpoints/shop") == endpoint.host_name
