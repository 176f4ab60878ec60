"""What the traffic switch reads and remembers: views of a Traffic Manager profile (read from the SDK once, in
:mod:`.arm`), the endpoint settings a switch manages, the tags it writes, and its state between calls.

Invariant: plain frozen values, no I/O and no SDK type: the planner and the tests build them by hand.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ...errors import NotFoundError
from ...probe import StatusRange
from ..base import IsoTime

# Monitor statuses Traffic Manager leaves out of DNS answers.
NOT_SERVING = frozenset({"Degraded", "Stopped", "Inactive", "Disabled"})
# Monitor statuses that make a secondary unfit to receive traffic.
UNFIT_SECONDARY = frozenset({"Degraded", "Stopped"})
MAX_PRIORITY = 1000

TAG_LAST_FAILOVER = "dr-last-failover"
TAG_LAST_FAILOVER_RUN = "dr-last-failover-run"
TAG_LAST_FAILOVER_PLAN = "dr-last-failover-plan"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class EndpointSetting(Frozen):
    """The endpoint fields a switch manages; None means "leave as it is"."""

    status: str | None = None
    priority: int | None = None
    weight: int | None = None

    def changes_from(self, current: EndpointSetting) -> EndpointSetting:
        """The fields of this (desired) setting that differ from ``current``."""
        return EndpointSetting(
            status=self.status if self.status is not None and self.status != current.status else None,
            priority=self.priority if self.priority is not None and self.priority != current.priority else None,
            weight=self.weight if self.weight is not None and self.weight != current.weight else None,
        )

    def only(self, *fields: str) -> EndpointSetting:
        return EndpointSetting(**{field: getattr(self, field) for field in fields})

    @property
    def empty(self) -> bool:
        return self.status is None and self.priority is None and self.weight is None

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class EndpointView(Frozen):
    name: str
    endpoint_type: str
    status: str | None = None
    monitor_status: str | None = None
    priority: int | None = None
    weight: int | None = None
    target: str | None = None
    location: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def setting(self) -> EndpointSetting:
        return EndpointSetting(status=self.status, priority=self.priority, weight=self.weight)

    @property
    def serving(self) -> bool:
        return self.status == "Enabled" and self.monitor_status not in NOT_SERVING

    def describe(self, routing_method: str) -> str:
        """'shop-wus (priority 2, Enabled, Online)': the field that routes, status, monitor status."""
        routing = {"Priority": ("priority",), "Weighted": ("weight",)}.get(routing_method, ("priority", "weight"))
        facts = [f"{field} {getattr(self, field)}" for field in routing if getattr(self, field) is not None]
        return f"{self.name} ({', '.join([*facts, str(self.status), str(self.monitor_status)])})"


class MonitorView(Frozen):
    protocol: str = "HTTP"
    port: int | None = None
    path: str | None = None
    interval_seconds: int | None = None
    tolerated_failures: int | None = None
    timeout_seconds: int | None = None  # the probe timeout (timeoutInSeconds): part of how long a failover takes
    headers: dict[str, str] = Field(default_factory=dict)
    expected: tuple[StatusRange, ...] = ()


class ProfileView(Frozen):
    """What the step needs of a Traffic Manager profile (read from the SDK model once)."""

    id: str
    resource_group: str
    name: str
    routing_method: str
    status: str = "Enabled"
    ttl: int | None = None
    fqdn: str | None = None
    monitor: MonitorView = Field(default_factory=MonitorView)
    endpoints: tuple[EndpointView, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict)

    def endpoint(self, name: str) -> EndpointView:
        for endpoint in self.endpoints:
            if endpoint.name.lower() == name.lower():
                return endpoint
        known = ", ".join(endpoint.name for endpoint in self.endpoints) or "none"
        raise NotFoundError(
            f"Traffic Manager profile {self.name!r} has no endpoint {name!r} (endpoints: {known})",
            code="EndpointNotFound",
        )

    def with_settings(self, settings: dict[str, EndpointSetting]) -> ProfileView:
        """The profile as it would be with these endpoint settings applied."""
        endpoints = []
        for endpoint in self.endpoints:
            setting = settings.get(endpoint.name)
            endpoints.append(endpoint.model_copy(update=setting.fields()) if setting is not None else endpoint)
        return self.model_copy(update={"endpoints": tuple(endpoints)})


class TrafficState(BaseModel):
    """What the switch remembers between begin, poll and teardown (small: a few names and times)."""

    model_config = ConfigDict(frozen=True)

    profile_id: str = Field(description="The profile switched: production, or a drill's test profile.")
    switched_at: IsoTime
    verify_deadline: IsoTime = Field(description="switched_at + the plan's verify_window.")
    original: dict[str, EndpointSetting] | None = Field(
        None, description="A drill's test profile before the switch: what teardown puts back."
    )

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
