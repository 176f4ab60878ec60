"""Azure DNS state and behaviour: public zones and their record sets, with ARM's optimistic concurrency.

Shapes and rules follow api-version 2018-05-01, the version azure-mgmt-dns 9.0.0 sends (its
_configuration.py): spec file specification/dns/resource-manager/Microsoft.Network/stable/2018-05-01/dns.json
in Azure/azure-rest-api-specs and its examples (GetZone.json, CreateOrUpdateCNAMERecordset.json,
PatchCNAMERecordset.json, CreateOrUpdateARecordset.json).

- Every write of a zone or a record set gives it a new etag. ``If-Match: <etag>`` (RecordSets_CreateOrUpdate,
  _Update, _Delete, Zones_CreateOrUpdate: "Specify the last-seen etag value to prevent accidentally
  overwriting concurrent changes") fails with 412 PreconditionFailed when the etag is not the current one or
  the record set does not exist; ``If-Match: *`` requires it to exist. ``If-None-Match: *`` ("allow a new
  record set to be created, but prevent updating an existing record set") fails with 412 when it exists.
- RecordSets_CreateOrUpdate answers 201 when it created, 200 when it replaced; RecordSets_Update (PATCH)
  changes only what the body gives (PatchCNAMERecordset.json: metadata alone, TTL and CNAME kept) and 404s for
  a missing record set; RecordSets_Delete answers 200, or 204 when there was none.
- A new zone holds the SOA and NS record sets at its apex ("@"; GetZone.json: numberOfRecordSets 2); SOA
  cannot be created or deleted (the spec's recordType descriptions).
- CNAME (RFC 1034 3.6.2: a name with a CNAME has no other data): never at the apex, never beside a record
  set of another type of the same name (409 Conflict either way), and at most one target.
- Azure DNS is global: a region's outage does not touch it.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Any

from .. import errors, resources
from ..errors import ArmError, bad_request
from ..estate import Estate, ProviderDefaults
from ..ids import key, provider_id
from .bodies import RECORD_KEYS, RecordSetBody, ZoneBody

NETWORK = "Microsoft.Network"
API_VERSIONS = ("2016-04-01", "2017-09-01", "2017-10-01", "2018-03-01-preview", "2018-05-01", "2023-07-01-preview")
APEX = "@"
# Azure DNS limits ("Record sets per public DNS zone": 10,000), in
# https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits
MAX_RECORD_SETS = 10_000


def precondition_failed(what: str, wanted: str) -> ArmError:
    return ArmError(
        412,
        "PreconditionFailed",
        f"The condition '{wanted}' of the request is not met by {what}: it was changed (or created, or deleted) "
        "since its etag was read.",
    )


def record_type(segment: str) -> str:
    upper = segment.upper()
    if upper not in RECORD_KEYS:
        raise bad_request(f"The record type '{segment}' is not valid. Valid types are {', '.join(RECORD_KEYS)}.")
    return upper


def new_etag() -> str:
    return str(uuid.uuid4())


@dataclass
class RecordSet:
    name: str
    type: str
    ttl: int = 3600
    metadata: dict[str, str] = field(default_factory=dict)
    data: Any = None
    """The records as the type's key holds them (a list, or one object for CNAME and SOA)."""
    target_resource: str | None = None
    etag: str = field(default_factory=new_etag)

    def fqdn(self, zone: DnsZone) -> str:
        return zone.name if self.name == APEX else f"{self.name}.{zone.name}"

    def to_resource(self, zone: DnsZone) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "metadata": dict(self.metadata),
            "TTL": self.ttl,
            "fqdn": self.fqdn(zone),
            "provisioningState": "Succeeded",
        }
        if self.data is not None:
            properties[RECORD_KEYS[self.type]] = self.data
        if self.target_resource is not None:
            properties["targetResource"] = {"id": self.target_resource}
        return {
            "id": f"{zone.id}/{self.type}/{self.name}",
            "etag": self.etag,
            "name": self.name,
            "type": f"{NETWORK}/dnsZones/{self.type}",
            "properties": properties,
        }


@dataclass
class DnsZone:
    subscription_id: str
    resource_group: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    etag: str = field(default_factory=new_etag)
    records: dict[tuple[str, str], RecordSet] = field(default_factory=dict)
    """(type, lower-cased name) -> record set."""

    @property
    def id(self) -> str:
        return provider_id(self.subscription_id, self.resource_group, NETWORK, "dnsZones", self.name)

    @property
    def name_servers(self) -> list[str]:
        # Azure assigns each zone one numbered set of its four name server domains (GetZone.json: set 01).
        return [f"ns{i}-01.azure-dns.{tld}" for i, tld in enumerate(("com", "net", "org", "info"), start=1)]

    def to_resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "etag": self.etag,
            "location": "global",
            "name": self.name,
            "type": f"{NETWORK}/dnsZones",
            "properties": {
                "maxNumberOfRecordSets": MAX_RECORD_SETS,
                "numberOfRecordSets": len(self.records),
                "nameServers": self.name_servers,
                "zoneType": "Public",
            },
            "tags": dict(self.tags),
        }


def check_if_match(current_etag: str | None, if_match: str | None, what: str) -> None:
    """ARM's optimistic concurrency on an existing (or missing: None) resource."""
    if if_match is None:
        return
    wanted = if_match.strip().strip('"')
    if current_etag is None or wanted not in ("*", current_etag):
        raise precondition_failed(what, f"If-Match: {if_match}")


class DnsBackend(ProviderDefaults):
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.zones: dict[tuple[str, ...], DnsZone] = {}

    # -- Provider protocol ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.zones.clear()

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        resources.drop_resource_group(self.zones, subscription_id, name)

    # -- zones ---------------------------------------------------------------------------------------
    def find(self, subscription_id: str, resource_group: str, name: str) -> DnsZone | None:
        return self.zones.get(key(subscription_id, resource_group, name))

    def zone(self, subscription_id: str, resource_group: str, name: str) -> DnsZone:
        return resources.existing(self.estate, self.zones, subscription_id, resource_group, name, f"{NETWORK}/dnszones")

    def zones_in(self, subscription_id: str, resource_group: str | None = None) -> list[DnsZone]:
        return resources.in_scope(self.zones.values(), subscription_id, resource_group)

    def zone_by_name(self, name: str) -> DnsZone | None:
        wanted = name.rstrip(".").lower()
        return next((zone for zone in self.zones.values() if zone.name.lower() == wanted), None)

    def put_zone(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        body: ZoneBody,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> tuple[DnsZone, bool]:
        group = self.estate.resource_group(subscription_id, resource_group)
        existing = self.find(subscription_id, resource_group, name)
        check_if_match(existing.etag if existing else None, if_match, f"zone {name}")
        if existing is not None and if_none_match is not None and if_none_match.strip() == "*":
            raise precondition_failed(f"zone {name}", "If-None-Match: *")
        if body.location is None:
            raise errors.location_required()
        if body.location.lower() != "global":
            raise errors.location_not_available(body.location, f"{NETWORK}/dnszones", "global")
        if body.properties.zone_type == "Private":
            raise bad_request("Private zones are Microsoft.Network/privateDnsZones; this API serves public zones.")
        if existing is not None:
            existing.tags = dict(body.tags or {})
            existing.etag = new_etag()
            return existing, False
        zone = DnsZone(subscription_id, group.name, name.rstrip("."), tags=dict(body.tags or {}))
        servers = zone.name_servers
        zone.records[("SOA", APEX)] = RecordSet(
            APEX,
            "SOA",
            ttl=3600,
            data={
                "host": servers[0],
                "email": "azuredns-hostmaster.microsoft.com",
                "serialNumber": 1,
                "refreshTime": 3600,
                "retryTime": 300,
                "expireTime": 2419200,
                "minimumTTL": 300,
            },
        )
        zone.records[("NS", APEX)] = RecordSet(APEX, "NS", ttl=172800, data=[{"nsdname": s} for s in servers])
        self.zones[key(subscription_id, resource_group, name)] = zone
        return zone, True

    def patch_zone(self, zone: DnsZone, tags: dict[str, str] | None, *, if_match: str | None = None) -> DnsZone:
        check_if_match(zone.etag, if_match, f"zone {zone.name}")
        if tags is not None:
            zone.tags = dict(tags)
        zone.etag = new_etag()
        return zone

    def delete_zone(self, subscription_id: str, resource_group: str, name: str, *, if_match: str | None = None) -> bool:
        existing = self.find(subscription_id, resource_group, name)
        check_if_match(existing.etag if existing else None, if_match, f"zone {name}")
        return self.zones.pop(key(subscription_id, resource_group, name), None) is not None

    # -- record sets ---------------------------------------------------------------------------------
    def record_set(self, zone: DnsZone, type_segment: str, name: str) -> RecordSet:
        kind = record_type(type_segment)
        found = zone.records.get((kind, _name(name)))
        if found is None:
            raise errors.resource_not_found(f"{NETWORK}/dnszones/{zone.name}/{kind}/{name}", zone.resource_group)
        return found

    def record_sets(self, zone: DnsZone, type_segment: str | None = None) -> list[RecordSet]:
        kind = record_type(type_segment) if type_segment is not None else None
        found = [r for r in zone.records.values() if kind is None or r.type == kind]
        return sorted(found, key=lambda r: (r.name != APEX, r.name.lower(), r.type))

    def put_record_set(
        self,
        zone: DnsZone,
        type_segment: str,
        name: str,
        body: RecordSetBody,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> tuple[RecordSet, bool]:
        kind = record_type(type_segment)
        relative = _relative_name(name, zone)
        existing = zone.records.get((kind, relative.lower()))
        what = f"record set {kind}/{relative}"
        check_if_match(existing.etag if existing else None, if_match, what)
        if existing is not None and if_none_match is not None and if_none_match.strip() == "*":
            raise precondition_failed(what, "If-None-Match: *")
        if kind == "SOA" and existing is None:
            raise bad_request("SOA record sets are created with their zone and cannot be created.")
        self._check_coexistence(zone, kind, relative)
        record = RecordSet(existing.name if existing else relative, kind)
        props = body.properties
        record.ttl = props.ttl if props.ttl is not None else 3600
        record.metadata = dict(props.metadata or {})
        record.data = _record_data(kind, props.record_data())
        record.target_resource = props.target_resource.id if props.target_resource is not None else None
        if existing is None and len(zone.records) >= MAX_RECORD_SETS:
            raise ArmError(409, "Conflict", f"The zone {zone.name} already holds {MAX_RECORD_SETS} record sets.")
        zone.records[(kind, relative.lower())] = record
        return record, existing is None

    def patch_record_set(
        self, zone: DnsZone, type_segment: str, name: str, body: RecordSetBody, *, if_match: str | None = None
    ) -> RecordSet:
        record = self.record_set(zone, type_segment, name)
        check_if_match(record.etag, if_match, f"record set {record.type}/{record.name}")
        props = body.properties
        if props.ttl is not None:
            record.ttl = props.ttl
        if props.metadata is not None:
            record.metadata = dict(props.metadata)
        data = props.record_data()
        if data:
            record.data = _record_data(record.type, data)
        if props.target_resource is not None:
            record.target_resource = props.target_resource.id
        record.etag = new_etag()
        return record

    def delete_record_set(self, zone: DnsZone, type_segment: str, name: str, *, if_match: str | None = None) -> bool:
        kind = record_type(type_segment)
        existing = zone.records.get((kind, _name(name)))
        check_if_match(existing.etag if existing else None, if_match, f"record set {kind}/{name}")
        if kind == "SOA" or (kind == "NS" and _name(name) == APEX):
            raise bad_request(f"The {kind} record set at the zone apex is deleted with its zone only.")
        return zone.records.pop((kind, _name(name)), None) is not None

    def _check_coexistence(self, zone: DnsZone, kind: str, relative: str) -> None:
        if kind == "CNAME" and relative == APEX:
            raise ArmError(409, "Conflict", "A CNAME record set cannot be created at the zone apex ('@').")
        others = [r for (t, n), r in zone.records.items() if n == relative.lower() and t != kind]
        if others and (kind == "CNAME" or any(r.type == "CNAME" for r in others)):
            clash = ", ".join(sorted(r.type for r in others))
            raise ArmError(
                409,
                "Conflict",
                f"The record set {kind}/{relative} conflicts with the {clash} record set(s) of the same name: a CNAME "
                "record set cannot coexist with another record set of the same name.",
            )


def _name(name: str) -> str:
    return name.lower()


def _relative_name(name: str, zone: DnsZone) -> str:
    """The record set name relative to the zone ('www'; '@' for the apex, also when given as the zone name)."""
    trimmed = name.rstrip(".")
    if trimmed.lower() in (APEX, zone.name.lower()):
        return APEX
    if trimmed.lower().endswith("." + zone.name.lower()):
        raise bad_request(f"The record set name '{name}' must be relative to the zone '{zone.name}'.")
    return trimmed


def _record_data(kind: str, data: dict[str, Any]) -> Any:
    """The records of the path's type from the body; records of another type in it are refused."""
    wrong = sorted(k for k in data if k != RECORD_KEYS[kind])
    if wrong:
        raise bad_request(f"A record set of type {kind} cannot hold {', '.join(wrong)}.")
    value = data.get(RECORD_KEYS[kind])
    if kind == "CNAME" and value is not None and (not isinstance(value, dict) or not str(value.get("cname") or "")):
        raise bad_request("CNAMERecord needs a cname (the canonical name it points to).")
    if kind == "A" and value is not None:
        for record in value if isinstance(value, list) else []:
            try:
                ipaddress.IPv4Address(str(record.get("ipv4Address")))
            except ValueError:
                raise bad_request(f"'{record.get('ipv4Address')}' is not a valid IPv4 address.") from None
    return value
