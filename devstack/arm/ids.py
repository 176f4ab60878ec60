"""ARM resource ids: build them in ARM's casing, parse them case-insensitively."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<rest>.+?)/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ResourceId:
    subscription_id: str
    resource_group: str
    namespace: str
    segments: tuple[tuple[str, str], ...]
    """(type, name) pairs: (('servers', 'shop-eus'), ('databases', 'shop'))."""

    def type_is(self, namespace: str, *types: str) -> bool:
        return self.namespace.lower() == namespace.lower() and tuple(t.lower() for t, _ in self.segments) == tuple(
            t.lower() for t in types
        )

    def name(self, index: int = -1) -> str:
        return self.segments[index][1]


def parse_resource_id(resource_id: str) -> ResourceId | None:
    found = _ID.match(resource_id.strip())
    if found is None:
        return None
    parts = found.group("rest").split("/")
    if len(parts) % 2:
        return None
    segments = tuple((parts[i], parts[i + 1]) for i in range(0, len(parts), 2))
    return ResourceId(found.group("sub"), found.group("rg"), found.group("ns"), segments)


def resource_group_id(subscription_id: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def provider_id(subscription_id: str, resource_group: str, namespace: str, *segments: str) -> str:
    """`segments` alternate type and name: provider_id(s, rg, 'Microsoft.Sql', 'servers', 'x')."""
    return f"{resource_group_id(subscription_id, resource_group)}/providers/{namespace}/" + "/".join(segments)


def key(*parts: str) -> tuple[str, ...]:
    """Dictionary key for case-insensitive ARM names."""
    return tuple(p.lower() for p in parts)
