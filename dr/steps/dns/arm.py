"""Azure DNS through azure-mgmt-dns (api-version 2018-05-01): read a zone and a CNAME record set into a
:class:`RecordView`, write or delete a record set under ARM's optimistic concurrency (If-Match / If-None-Match).

Invariant: the only module of the kind that touches the SDK; every Azure error leaves it as a :mod:`dr.errors`
error saying what was being done; a 412 (the record changed since it was read) is a TransientError, so the
orchestrator's retry reads the record again and decides again.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from pydantic import BaseModel, ConfigDict, Field

from ...azure_lro import ARM_CALL_OPTIONS
from ...clients import get_clients
from ...errors import TransientError, azure_errors, from_azure_error
from ...plan import dns_name
from ..sdk import ArmRef


class RecordView(BaseModel):
    """A record set as read: ``exists`` False when there is none of that name and type."""

    model_config = ConfigDict(frozen=True)

    zone: str
    name: str
    exists: bool
    target: str | None = None
    ttl: int | None = None
    etag: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.zone}"

    def points_at(self, host: str) -> bool:
        return self.target is not None and dns_name(self.target) == dns_name(host)


def _parts(zone_id: str) -> tuple[str, str, str]:
    """The zone's subscription, resource group and name."""
    ref = ArmRef.parse(zone_id)
    return ref.subscription, ref.resource_group, ref.name


def _client(subscription: str) -> Any:
    return get_clients().dns(subscription)


def read_zone(zone_id: str) -> dict[str, Any]:
    """The zone's facts (NotFoundError when it does not exist)."""
    subscription, group, name = _parts(zone_id)
    with azure_errors(f"read DNS zone {name}"):
        zone = _client(subscription).zones.get(group, name, **ARM_CALL_OPTIONS)
    return {"zone": zone.name, "name_servers": list(zone.name_servers or []), "record_sets": zone.number_of_record_sets}


def read_cname(zone_id: str, name: str) -> RecordView:
    subscription, group, zone = _parts(zone_id)
    with azure_errors(f"read CNAME {name}.{zone}"):
        try:
            record = _client(subscription).record_sets.get(group, zone, name, "CNAME", **ARM_CALL_OPTIONS)
        except ResourceNotFoundError:
            return RecordView(zone=zone, name=name, exists=False)
    cname = record.cname_record.cname if record.cname_record is not None else None
    return RecordView(
        zone=zone,
        name=name,
        exists=True,
        target=cname,
        ttl=record.ttl,
        etag=record.etag,
        metadata=dict(record.metadata or {}),
    )


def write_cname(
    zone_id: str,
    name: str,
    *,
    target: str,
    ttl: int,
    metadata: dict[str, str],
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> RecordView:
    """PUT the CNAME record set under the given condition; the record as written (its new etag)."""
    from azure.mgmt.dns.models import CnameRecord, RecordSet

    subscription, group, zone = _parts(zone_id)
    what = f"point CNAME {name}.{zone} at {target}"
    body = RecordSet(ttl=ttl, metadata=metadata, cname_record=CnameRecord(cname=target))
    with azure_errors(what):
        try:
            record = _client(subscription).record_sets.create_or_update(
                group, zone, name, "CNAME", body, if_match=if_match, if_none_match=if_none_match, **ARM_CALL_OPTIONS
            )
        except HttpResponseError as exc:
            raise _concurrent(exc, what) from exc
    return RecordView(
        zone=zone, name=name, exists=True, target=target, ttl=record.ttl, etag=record.etag, metadata=metadata
    )


def delete_cname(zone_id: str, name: str, *, if_match: str) -> bool:
    """Delete the record set if it still has the etag ``if_match``; False when it was gone already."""
    subscription, group, zone = _parts(zone_id)
    what = f"delete CNAME {name}.{zone}"
    with azure_errors(what):
        try:
            _client(subscription).record_sets.delete(group, zone, name, "CNAME", if_match=if_match, **ARM_CALL_OPTIONS)
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            raise _concurrent(exc, what) from exc
    return True


def _concurrent(exc: HttpResponseError, what: str) -> Exception:
    """412: someone changed the record since it was read; retried, the step reads it again."""
    if exc.status_code == 412:
        return TransientError(
            f"{what}: the record changed since it was read (412 PreconditionFailed on its etag): nothing was "
            "overwritten; it is read again on the retry",
            code="RecordChangedConcurrently",
        )
    return from_azure_error(exc, what=what)
