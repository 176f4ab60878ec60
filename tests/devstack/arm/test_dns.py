"""The emulator's Azure DNS (Microsoft.Network/dnsZones) through azure-mgmt-dns 9.0.0 (api-version 2018-05-01):
the spec's own examples (spec_examples/dns/2018-05-01, see its README), etag concurrency (If-Match,
If-None-Match, 412), and the CNAME rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns.models import ARecord, CnameRecord, RecordSet, Zone

from devstack.arm import ArmEmulator
from tests.arm_fixtures import arm_client

from .arm_helpers import SUB, error_code
from .test_arm_spec_examples import differences

EXAMPLES = Path(__file__).parent / "spec_examples" / "dns" / "2018-05-01"
EXAMPLE_SUB = "subid"
ZONE = ("shop-global", "shop.example.com")


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def raw(operation: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON body the service answered (the SDK's own request)."""
    response = operation(*args, cls=lambda pipeline, _model, _headers: pipeline.http_response, **kwargs)
    return response.status_code, response.json()


@pytest.fixture
def dns(arm: ArmEmulator) -> Iterator[DnsManagementClient]:
    with arm_client(DnsManagementClient, arm, SUB) as client:
        yield client


@pytest.fixture
def example_dns(arm: ArmEmulator) -> Iterator[DnsManagementClient]:
    arm.seed(
        {
            "subscription_id": EXAMPLE_SUB,
            "resource_groups": [{"name": "rg1", "location": "eastus"}],
            "dns": {"zones": [{"name": "zone1", "resource_group": "rg1", "tags": {"key1": "value1"}}]},
        }
    )
    with arm_client(DnsManagementClient, arm, EXAMPLE_SUB) as client:
        yield client


def cname(target: str, ttl: int = 60) -> RecordSet:
    return RecordSet(ttl=ttl, cname_record=CnameRecord(cname=target))


# -- the spec's examples ---------------------------------------------------------------------------------------


def test_get_zone_answers_as_the_example(example_dns: DnsManagementClient) -> None:
    spec = example("GetZone.json")["responses"]["200"]["body"]

    status, body = raw(example_dns.zones.get, "rg1", "zone1")

    # The etag is the zone's own; 10,000 record sets is Azure DNS's documented limit (the example shows 5,000).
    assert status == 200
    assert differences(spec, body, "", {"etag", "properties.maxNumberOfRecordSets"}) == []


def test_create_then_replace_a_cname_answers_201_then_200_as_the_example(example_dns: DnsManagementClient) -> None:
    spec = example("CreateOrUpdateCNAMERecordset.json")
    parameters = spec["parameters"]["parameters"]

    created = raw(example_dns.record_sets.create_or_update, "rg1", "zone1", "record1", "CNAME", parameters)
    replaced = raw(example_dns.record_sets.create_or_update, "rg1", "zone1", "record1", "CNAME", parameters)

    assert created[0] == 201 and replaced[0] == 200
    assert differences(spec["responses"]["201"]["body"], created[1], "", {"etag"}) == []
    assert differences(spec["responses"]["200"]["body"], replaced[1], "", {"etag"}) == []
    assert created[1]["etag"] != replaced[1]["etag"]  # every write is a new version


def test_patch_changes_only_what_it_sends_as_the_example(example_dns: DnsManagementClient) -> None:
    create = example("CreateOrUpdateCNAMERecordset.json")["parameters"]["parameters"]
    example_dns.record_sets.create_or_update("rg1", "zone1", "record1", "CNAME", create)
    spec = example("PatchCNAMERecordset.json")

    status, body = raw(
        example_dns.record_sets.update, "rg1", "zone1", "record1", "CNAME", spec["parameters"]["parameters"]
    )

    assert status == 200
    assert differences(spec["responses"]["200"]["body"], body, "", {"etag"}) == []


# -- etags -----------------------------------------------------------------------------------------------------


def test_a_stale_if_match_is_412_and_overwrites_nothing(dns: DnsManagementClient) -> None:
    before = dns.record_sets.get(*ZONE, "www", "CNAME")
    dns.record_sets.create_or_update(*ZONE, "www", "CNAME", cname("someone.else.net"), if_match=before.etag)

    with pytest.raises(HttpResponseError) as stale:
        dns.record_sets.create_or_update(*ZONE, "www", "CNAME", cname("mine.trafficmanager.net"), if_match=before.etag)

    assert stale.value.status_code == 412 and error_code(stale.value) == "PreconditionFailed"
    assert dns.record_sets.get(*ZONE, "www", "CNAME").cname_record.cname == "someone.else.net"


def test_if_none_match_creates_only_and_if_match_needs_the_record(dns: DnsManagementClient) -> None:
    created = dns.record_sets.create_or_update(*ZONE, "drill", "CNAME", cname("a.example.net"), if_none_match="*")
    with pytest.raises(HttpResponseError) as exists:
        dns.record_sets.create_or_update(*ZONE, "drill", "CNAME", cname("b.example.net"), if_none_match="*")
    with pytest.raises(HttpResponseError) as missing:
        dns.record_sets.create_or_update(*ZONE, "nothere", "CNAME", cname("b.example.net"), if_match="*")
    matched = dns.record_sets.create_or_update(*ZONE, "drill", "CNAME", cname("c.example.net"), if_match="*")

    assert exists.value.status_code == 412 and missing.value.status_code == 412
    assert matched.cname_record.cname == "c.example.net" and matched.etag != created.etag


def test_delete_checks_the_etag_and_answers_204_when_gone(dns: DnsManagementClient, arm: ArmEmulator) -> None:
    record = dns.record_sets.create_or_update(*ZONE, "old", "CNAME", cname("a.example.net"))
    with pytest.raises(HttpResponseError) as stale:
        dns.record_sets.delete(*ZONE, "old", "CNAME", if_match="not-the-etag")
    dns.record_sets.delete(*ZONE, "old", "CNAME", if_match=record.etag)
    status = dns.record_sets.delete(
        *ZONE, "old", "CNAME", cls=lambda pipeline, _m, _h: pipeline.http_response.status_code
    )

    assert stale.value.status_code == 412
    assert status == 204
    with pytest.raises(ResourceNotFoundError):
        dns.record_sets.get(*ZONE, "old", "CNAME")


# -- the zone and the CNAME rules ------------------------------------------------------------------------------


def test_a_new_zone_holds_its_soa_and_ns_and_lists_every_record(dns: DnsManagementClient) -> None:
    dns.zones.create_or_update("shop-global", "new.example.org", Zone(location="global"))

    listed = {
        (r.name, r.type.rsplit("/", 1)[-1])
        for r in dns.record_sets.list_all_by_dns_zone("shop-global", "new.example.org")
    }
    by_type = [r.name for r in dns.record_sets.list_by_type("shop-global", "new.example.org", "NS")]

    assert listed == {("@", "SOA"), ("@", "NS")} and by_type == ["@"]
    assert dns.zones.get("shop-global", "new.example.org").number_of_record_sets == 2


def test_cname_records_stand_alone(dns: DnsManagementClient) -> None:
    with pytest.raises(ResourceExistsError) as apex:
        dns.record_sets.create_or_update(*ZONE, "@", "CNAME", cname("a.example.net"))
    with pytest.raises(ResourceExistsError) as beside_cname:
        dns.record_sets.create_or_update(
            *ZONE, "www", "A", RecordSet(ttl=60, a_records=[ARecord(ipv4_address="10.0.0.1")])
        )
    dns.record_sets.create_or_update(*ZONE, "api", "A", RecordSet(ttl=60, a_records=[ARecord(ipv4_address="10.0.0.1")]))
    with pytest.raises(ResourceExistsError) as beside_a:
        dns.record_sets.create_or_update(*ZONE, "api", "CNAME", cname("a.example.net"))
    with pytest.raises(HttpResponseError) as bad_address:
        dns.record_sets.create_or_update(
            *ZONE, "bad", "A", {"properties": {"TTL": 60, "ARecords": [{"ipv4Address": "300.1.1.1"}]}}
        )

    assert apex.value.status_code == beside_cname.value.status_code == beside_a.value.status_code == 409
    assert bad_address.value.status_code == 400


def test_dns_is_global_a_region_outage_does_not_touch_it(dns: DnsManagementClient, arm: ArmEmulator) -> None:
    arm.region_outage("eastus")
    arm.region_outage("westus")

    record = dns.record_sets.get(*ZONE, "www", "CNAME")
    dns.record_sets.create_or_update(
        *ZONE, "www", "CNAME", cname("shop-devstack.trafficmanager.net"), if_match=record.etag
    )

    assert dns.record_sets.get(*ZONE, "www", "CNAME").cname_record.cname == "shop-devstack.trafficmanager.net"


def test_the_example_estate_points_www_at_the_front_door_endpoint(dns: DnsManagementClient, arm: ArmEmulator) -> None:
    record = dns.record_sets.get(*ZONE, "www", "CNAME")
    endpoint = (
        f"/subscriptions/{SUB}/resourceGroups/shop-global/providers/Microsoft.Cdn/profiles/shop-fd/afdEndpoints/shop"
    )

    assert record.ttl == 60 and record.cname_record.cname == arm.estate.hostname_of(endpoint)
    assert record.fqdn == "www.shop.example.com"
