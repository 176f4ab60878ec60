"""Microsoft.Network/dnsZones handlers: parse, call the backend with the request's conditional headers (If-Match,
If-None-Match), shape the response. All synchronous: dns.json marks only Zones_Delete long-running, and the
emulator deletes a zone at once (200)."""

from __future__ import annotations

from ..estate import Estate
from ..routing import ArmRequest, ArmResponse
from .bodies import RecordSetBody, ZoneBody
from .models import DnsBackend, DnsZone


class DnsResponses:
    def __init__(self, estate: Estate, backend: DnsBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _zone(self, request: ArmRequest) -> DnsZone:
        p = request.params
        return self.backend.zone(p["subscriptionId"], p["resourceGroupName"], p["zoneName"])

    # -- zones ---------------------------------------------------------------------------------------
    def get_zone(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self._zone(request).to_resource())

    def list_zones(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        subscription = self.estate.subscription(p["subscriptionId"])
        zones = self.backend.zones_in(subscription.id, p.get("resourceGroupName"))
        return ArmResponse(200, {"value": [zone.to_resource() for zone in zones]})

    def put_zone(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        zone, created = self.backend.put_zone(
            p["subscriptionId"],
            p["resourceGroupName"],
            p["zoneName"],
            request.parse(ZoneBody),
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        )
        return ArmResponse(201 if created else 200, zone.to_resource())

    def patch_zone(self, request: ArmRequest) -> ArmResponse:
        body = request.parse(ZoneBody)
        zone = self.backend.patch_zone(self._zone(request), body.tags, if_match=request.headers.get("if-match"))
        return ArmResponse(200, zone.to_resource())

    def delete_zone(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"])
        deleted = self.backend.delete_zone(
            p["subscriptionId"], p["resourceGroupName"], p["zoneName"], if_match=request.headers.get("if-match")
        )
        return ArmResponse(200) if deleted else ArmResponse(204)

    # -- record sets ---------------------------------------------------------------------------------
    def get_record_set(self, request: ArmRequest) -> ArmResponse:
        zone = self._zone(request)
        p = request.params
        return ArmResponse(
            200, self.backend.record_set(zone, p["recordType"], p["relativeRecordSetName"]).to_resource(zone)
        )

    def list_record_sets(self, request: ArmRequest) -> ArmResponse:
        zone = self._zone(request)
        records = self.backend.record_sets(zone, request.params.get("recordType"))
        return ArmResponse(200, {"value": [record.to_resource(zone) for record in records]})

    def put_record_set(self, request: ArmRequest) -> ArmResponse:
        zone = self._zone(request)
        p = request.params
        record, created = self.backend.put_record_set(
            zone,
            p["recordType"],
            p["relativeRecordSetName"],
            request.parse(RecordSetBody),
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        )
        return ArmResponse(201 if created else 200, record.to_resource(zone))

    def patch_record_set(self, request: ArmRequest) -> ArmResponse:
        zone = self._zone(request)
        p = request.params
        record = self.backend.patch_record_set(
            zone,
            p["recordType"],
            p["relativeRecordSetName"],
            request.parse(RecordSetBody),
            if_match=request.headers.get("if-match"),
        )
        return ArmResponse(200, record.to_resource(zone))

    def delete_record_set(self, request: ArmRequest) -> ArmResponse:
        zone = self._zone(request)
        p = request.params
        deleted = self.backend.delete_record_set(
            zone, p["recordType"], p["relativeRecordSetName"], if_match=request.headers.get("if-match")
        )
        return ArmResponse(200) if deleted else ArmResponse(204)
