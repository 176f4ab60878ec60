"""Microsoft.Network/dnsZones routes (paths as azure-mgmt-dns 9.0.0 builds them for api-version 2018-05-01;
operations Zones_* and RecordSets_* of specification/dns/resource-manager/Microsoft.Network/stable/2018-05-01/
dns.json). `recordsets` and `all` are registered before `{recordType}`: the router takes the first match."""

from __future__ import annotations

from ..routing import Router, resource_group_scope, subscription_scope
from .models import API_VERSIONS, NETWORK
from .responses import DnsResponses

_RG = resource_group_scope(NETWORK)
_ZONE = _RG + "/dnsZones/{zoneName}"
_RECORD = _ZONE + "/{recordType}/{relativeRecordSetName}"


def register(router: Router, responses: DnsResponses) -> None:
    add, r = router.provider(NETWORK, API_VERSIONS).add, responses
    add("GET", subscription_scope(NETWORK) + "/dnszones", r.list_zones, "dnszones")
    add("GET", _RG + "/dnsZones", r.list_zones, "dnszones")
    add("GET", _ZONE, r.get_zone, "dnszones")
    add("PUT", _ZONE, r.put_zone, "dnszones")
    add("PATCH", _ZONE, r.patch_zone, "dnszones")
    add("DELETE", _ZONE, r.delete_zone, "dnszones")
    add("GET", _ZONE + "/recordsets", r.list_record_sets, "dnszones/recordsets")
    add("GET", _ZONE + "/all", r.list_record_sets, "dnszones/all")
    add("GET", _ZONE + "/{recordType}", r.list_record_sets, "dnszones/recordsets")
    add("GET", _RECORD, r.get_record_set, "dnszones/recordsets")
    add("PUT", _RECORD, r.put_record_set, "dnszones/recordsets")
    add("PATCH", _RECORD, r.patch_record_set, "dnszones/recordsets")
    add("DELETE", _RECORD, r.delete_record_set, "dnszones/recordsets")
