"""What the kinds that call Azure management SDKs share: the parts of a resource id a call takes, and the text of a
value read from an SDK model.

Invariant: a value read from an SDK model leaves the mapping as the text ARM writes on the wire
(``"Primary"``), never as an enum member, whose ``str()`` is ``"ReplicationRole.PRIMARY"``. Importing this module
imports no SDK (a kind's models hold refs and stay SDK-free).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class ArmRef(BaseModel):
    """The parts of an ARM resource id a management call takes: ``name`` is the top-level resource's (a server, an
    account, a plan, a profile, a zone), ``child`` the name of the first resource under it (a database, a failover
    group, an origin group), None when the id names none. ``id`` is the id as parsed."""

    model_config = ConfigDict(frozen=True)

    id: str
    subscription: str
    resource_group: str
    name: str
    child: str | None = None

    @classmethod
    def parse(cls, resource_id: str) -> Self:
        from azure.mgmt.core.tools import parse_resource_id

        parts = parse_resource_id(resource_id)
        child = parts.get("child_name_1")
        return cls(
            id=resource_id,
            subscription=str(parts["subscription"]),
            resource_group=str(parts["resource_group"]),
            name=str(parts["name"]),
            child=str(child) if child is not None else None,
        )


def wire_text(value: Any) -> str | None:
    """An SDK enum member (a str subclass) or a plain string, as its wire text; None stays None."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
