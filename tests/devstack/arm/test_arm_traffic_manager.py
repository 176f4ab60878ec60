"""Traffic Manager through the real azure-mgmt-trafficmanager client: profiles, endpoints, monitor
statuses that follow emulated health and region outages, and the DNS answer (resolve)."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.trafficmanager import TrafficManagerManagementClient
from azure.mgmt.trafficmanager.models import DnsConfig, Endpoint, MonitorConfig, Profile

from devstack.arm import ArmEmulator

from .arm_helpers import SUB, error_code, raw_and_model, undeclared_keys

PROFILE_ID = f"/subscriptions/{SUB}/resourceGroups/shop-global/providers/Microsoft.Network/trafficManagerProfiles/shop"
FQDN = "shop-devstack.trafficmanager.net"


def statuses(tm: TrafficManagerManagementClient) -> tuple[str, dict[str, str]]:
    profile = tm.profiles.get("shop-global", "shop")
    return profile.monitor_config.profile_monitor_status, {e.name: e.endpoint_monitor_status for e in profile.endpoints}


def weighted_profile(name: str, weights: dict[str, int]) -> Profile:
    return Profile(
        location="global",
        traffic_routing_method="Weighted",
        dns_config=DnsConfig(relative_name=name, ttl=10),
        monitor_config=MonitorConfig(protocol="HTTPS", port=443, path="/health"),
        endpoints=[
            Endpoint(
                name=endpoint,
                type="Microsoft.Network/trafficManagerProfiles/externalEndpoints",
                target=f"{endpoint}.example.com",
                weight=weight,
            )
            for endpoint, weight in weights.items()
        ],
    )


# -- shapes ------------------------------------------------------------------------------------------------


def test_profile_and_endpoint_bodies_round_trip_through_sdk_models(
    tm: TrafficManagerManagementClient,
) -> None:
    raw_profile, profile = raw_and_model(tm.profiles.get, "shop-global", "shop")
    raw_endpoint, endpoint = raw_and_model(tm.endpoints.get, "shop-global", "shop", "ExternalEndpoints", "shop-eus")

    for raw, model in ((raw_profile, profile), (raw_endpoint, endpoint)):
        assert model.as_dict() == raw
        assert type(model)(model.as_dict()).as_dict() == raw
        assert undeclared_keys(model) == []


# -- profiles ----------------------------------------------------------------------------------------------


def test_profile_get_shows_dns_and_monitor_config(tm: TrafficManagerManagementClient) -> None:
    profile = tm.profiles.get("shop-global", "shop")

    assert profile.id == PROFILE_ID
    assert profile.location == "global"
    assert profile.traffic_routing_method == "Priority"
    assert (profile.dns_config.relative_name, profile.dns_config.fqdn, profile.dns_config.ttl) == (
        "shop-devstack",
        FQDN,
        30,
    )
    monitor = profile.monitor_config
    assert (monitor.protocol, monitor.port, monitor.path) == ("HTTPS", 443, "/health")
    assert (
        monitor.interval_in_seconds,
        monitor.timeout_in_seconds,
        monitor.tolerated_number_of_failures,
    ) == (
        30,
        10,
        3,
    )
    assert monitor.profile_monitor_status == "Online"
    assert [(e.name, e.priority, e.target) for e in profile.endpoints] == [
        ("shop-eus", 1, "shop-eus.example.com"),
        ("shop-wus", 2, "shop-wus.example.com"),
    ]


def test_profile_lists(tm: TrafficManagerManagementClient) -> None:
    assert [p.name for p in tm.profiles.list_by_resource_group("shop-global")] == ["shop"]
    assert [p.name for p in tm.profiles.list_by_subscription()] == ["shop"]
    assert list(tm.profiles.list_by_resource_group("shop-eus")) == []


def test_profile_create_update_delete(tm: TrafficManagerManagementClient) -> None:
    created = tm.profiles.create_or_update("shop-global", "blue-green", weighted_profile("blue-green", {"blue": 1}))

    assert created.dns_config.fqdn == "blue-green.trafficmanager.net"
    assert created.endpoints[0].weight == 1
    updated = tm.profiles.update("shop-global", "blue-green", Profile(dns_config=DnsConfig(ttl=120)))
    assert updated.dns_config.ttl == 120
    assert updated.traffic_routing_method == "Weighted"  # PATCH leaves the rest alone
    tm.profiles.delete("shop-global", "blue-green")
    with pytest.raises(ResourceNotFoundError) as caught:
        tm.profiles.get("shop-global", "blue-green")
    assert error_code(caught.value) == "ResourceNotFound"
    assert "Microsoft.Network/trafficManagerProfiles/blue-green" in str(caught.value)


def test_profile_validation_errors(tm: TrafficManagerManagementClient) -> None:
    with pytest.raises(HttpResponseError) as no_dns:
        tm.profiles.create_or_update(
            "shop-global", "bad", Profile(location="global", traffic_routing_method="Priority")
        )
    with pytest.raises(HttpResponseError) as regional:
        tm.profiles.create_or_update(
            "shop-global", "bad", Profile(location="eastus", traffic_routing_method="Priority")
        )
    with pytest.raises(HttpResponseError) as taken:
        tm.profiles.create_or_update("shop-global", "copycat", weighted_profile("shop-devstack", {"a": 1}))

    assert (no_dns.value.status_code, error_code(no_dns.value)) == (400, "BadRequest")
    assert error_code(regional.value) == "LocationNotAvailableForResourceType"
    assert taken.value.status_code == 409


# -- endpoints ---------------------------------------------------------------------------------------------


def test_endpoint_create_patch_delete(tm: TrafficManagerManagementClient) -> None:
    created = tm.endpoints.create_or_update(
        "shop-global",
        "shop",
        "ExternalEndpoints",
        "shop-neu",
        Endpoint(target="shop-neu.example.com", endpoint_location="northeurope", priority=3),
    )
    assert created.id == f"{PROFILE_ID}/externalEndpoints/shop-neu"
    assert created.type == "Microsoft.Network/trafficManagerProfiles/externalEndpoints"
    assert created.endpoint_monitor_status == "Online"

    patched = tm.endpoints.update(
        "shop-global", "shop", "ExternalEndpoints", "shop-neu", Endpoint(endpoint_status="Disabled")
    )
    assert (patched.endpoint_status, patched.endpoint_monitor_status) == ("Disabled", "Disabled")
    assert patched.target == "shop-neu.example.com"  # PATCH keeps what it does not name

    tm.endpoints.delete("shop-global", "shop", "ExternalEndpoints", "shop-neu")
    with pytest.raises(ResourceNotFoundError):
        tm.endpoints.get("shop-global", "shop", "ExternalEndpoints", "shop-neu")


def test_duplicate_priority_is_rejected(tm: TrafficManagerManagementClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        tm.endpoints.create_or_update(
            "shop-global", "shop", "ExternalEndpoints", "dup", Endpoint(target="dup.example.com", priority=1)
        )

    assert error_code(caught.value) == "BadRequest"
    assert [e.name for e in tm.profiles.get("shop-global", "shop").endpoints] == ["shop-eus", "shop-wus"]


def test_azure_endpoint_takes_location_and_target_from_the_resource(
    tm: TrafficManagerManagementClient, arm: ArmEmulator
) -> None:
    site_id = f"/subscriptions/{SUB}/resourceGroups/shop-wus/providers/Microsoft.Web/sites/shop-wus-app"
    arm.seed(
        {
            "subscription_id": SUB,
            "resources": [{"id": site_id, "location": "westus", "hostname": "shop-wus-app.azurewebsites.net"}],
        }
    )
    endpoint = tm.endpoints.create_or_update(
        "shop-global", "shop", "AzureEndpoints", "app-wus", Endpoint(target_resource_id=site_id, priority=5)
    )

    assert endpoint.target == "shop-wus-app.azurewebsites.net"
    assert endpoint.endpoint_location == "westus"
    arm.region_outage("westus")
    assert tm.endpoints.get("shop-global", "shop", "AzureEndpoints", "app-wus").endpoint_monitor_status == "Degraded"


# -- monitor status follows health --------------------------------------------------------------------------


def test_region_outage_degrades_its_endpoints(tm: TrafficManagerManagementClient, arm: ArmEmulator) -> None:
    arm.region_outage("East US")  # display names and short names are the same region

    assert statuses(tm) == ("Degraded", {"shop-eus": "Degraded", "shop-wus": "Online"})
    arm.region_restore("eastus")
    assert statuses(tm) == ("Online", {"shop-eus": "Online", "shop-wus": "Online"})


def test_target_health_set_down_degrades_the_endpoint(tm: TrafficManagerManagementClient, arm: ArmEmulator) -> None:
    arm.set_target_health("shop-wus.example.com", healthy=False)

    assert statuses(tm)[1]["shop-wus"] == "Degraded"
    arm.set_target_health("shop-wus.example.com", healthy=True)
    assert statuses(tm)[1]["shop-wus"] == "Online"


def test_disabled_endpoints_and_profile(tm: TrafficManagerManagementClient) -> None:
    for name in ("shop-eus", "shop-wus"):
        tm.endpoints.update("shop-global", "shop", "ExternalEndpoints", name, Endpoint(endpoint_status="Disabled"))
    assert statuses(tm) == ("Inactive", {"shop-eus": "Disabled", "shop-wus": "Disabled"})

    tm.endpoints.update("shop-global", "shop", "ExternalEndpoints", "shop-wus", Endpoint(endpoint_status="Enabled"))
    tm.profiles.update("shop-global", "shop", Profile(profile_status="Disabled"))
    assert statuses(tm) == ("Disabled", {"shop-eus": "Disabled", "shop-wus": "Inactive"})


def test_newly_enabled_endpoint_is_checking_for_a_while(tm: TrafficManagerManagementClient, arm: ArmEmulator) -> None:
    arm.configure(endpoint_checking_seconds=0.3)
    tm.endpoints.update("shop-global", "shop", "ExternalEndpoints", "shop-wus", Endpoint(endpoint_status="Disabled"))
    tm.endpoints.update("shop-global", "shop", "ExternalEndpoints", "shop-wus", Endpoint(endpoint_status="Enabled"))

    assert statuses(tm) == ("CheckingEndpoints", {"shop-eus": "Online", "shop-wus": "CheckingEndpoint"})
    time.sleep(0.35)
    assert statuses(tm)[1]["shop-wus"] == "Online"


# -- DNS answers -----------------------------------------------------------------------------------


def test_resolve_priority_follows_failover(tm: TrafficManagerManagementClient, arm: ArmEmulator) -> None:
    assert arm.resolve(FQDN).target == "shop-eus.example.com"

    arm.region_outage("eastus")
    answer = arm.resolve(PROFILE_ID)
    assert (answer.endpoint, answer.target, answer.fail_open) == ("shop-wus", "shop-wus.example.com", False)

    # The DR switch: disable the primary; after the region comes back, DNS stays on the secondary.
    tm.endpoints.update("shop-global", "shop", "ExternalEndpoints", "shop-eus", Endpoint(endpoint_status="Disabled"))
    arm.region_restore("eastus")
    assert arm.resolve(FQDN).endpoint == "shop-wus"
    assert arm.resolve(FQDN).ttl == 30


def test_resolve_fails_open_when_every_endpoint_is_degraded(arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    arm.region_outage("westus")

    answer = arm.resolve(FQDN)
    assert (answer.endpoint, answer.fail_open) == ("shop-eus", True)


def test_resolve_has_no_answer_without_enabled_endpoints(tm: TrafficManagerManagementClient, arm: ArmEmulator) -> None:
    tm.profiles.update("shop-global", "shop", Profile(profile_status="Disabled"))

    assert arm.resolve(FQDN).endpoint is None


def test_resolve_weighted_spreads_by_weight(tm: TrafficManagerManagementClient, arm: ArmEmulator) -> None:
    tm.profiles.create_or_update("shop-global", "canary", weighted_profile("canary", {"stable": 9, "canary": 1}))

    picks = Counter(arm.resolve("canary.trafficmanager.net").endpoint for _ in range(400))
    assert set(picks) == {"stable", "canary"}
    assert picks["stable"] > picks["canary"] * 3
    arm.set_target_health("stable.example.com", healthy=False)
    assert {arm.resolve("canary.trafficmanager.net").endpoint for _ in range(20)} == {"canary"}
