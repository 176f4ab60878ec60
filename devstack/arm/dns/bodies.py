"""Request bodies Microsoft.Network/dnsZones accepts, as azure-mgmt-dns 9.0.0 serializes them (api-version
2018-05-01; definitions Zone, ZoneProperties, ZoneUpdate, RecordSet, RecordSetProperties of
specification/dns/resource-manager/Microsoft.Network/stable/2018-05-01/dns.json in Azure/azure-rest-api-specs).

The record data keys keep the spec's spelling (``TTL``, ``ARecords``, ``CNAMERecord``, ``caaRecords``...); the
data itself is kept as sent, except what the emulator checks (an A record's address, a CNAME's target).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Record type (the path segment) -> the RecordSetProperties key that holds its records.
RECORD_KEYS: dict[str, str] = {
    "A": "ARecords",
    "AAAA": "AAAARecords",
    "CAA": "caaRecords",
    "CNAME": "CNAMERecord",
    "MX": "MXRecords",
    "NS": "NSRecords",
    "PTR": "PTRRecords",
    "SOA": "SOARecord",
    "SRV": "SRVRecords",
    "TXT": "TXTRecords",
}


class ResourceReferenceBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None


class RecordSetPropertiesBody(BaseModel):
    """The record data of every type stays in ``model_extra`` (checked against the path's type)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    metadata: dict[str, str] | None = None
    ttl: int | None = Field(None, alias="TTL", ge=0, le=2_147_483_647)
    target_resource: ResourceReferenceBody | None = Field(None, alias="targetResource")

    def record_data(self) -> dict[str, Any]:
        """The record keys the body carries (``{"CNAMERecord": {...}}``), read-only ones left out."""
        return {k: v for k, v in (self.model_extra or {}).items() if k in RECORD_KEYS.values() and v is not None}


class RecordSetBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    etag: str | None = None
    properties: RecordSetPropertiesBody = Field(default_factory=RecordSetPropertiesBody)


class ZonePropertiesBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    zone_type: Literal["Public", "Private"] | None = Field(None, alias="zoneType")


class ZoneBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    location: str | None = None
    tags: dict[str, str] | None = None
    etag: str | None = None
    properties: ZonePropertiesBody = Field(default_factory=ZonePropertiesBody)
