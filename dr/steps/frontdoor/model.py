"""What the Front Door switch reads and remembers: views of an origin group and its origins (read from the SDK
once, in :mod:`.arm`), the origin settings a switch manages, Front Door's health readings, and the step's state.

Invariant: plain frozen values, no I/O and no SDK type: the planner and the tests build them by hand.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ...azure_lro import OperationRef
from ...errors import NotFoundError
from ..base import IsoTime

# AFDOrigin.priority: "Must be between 1 and 5" (openapi.json 2026-10-01); an origin without one counts as 1.
TOP_PRIORITY = 1


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class OriginSetting(Frozen):
    """The origin fields a switch manages; None means "leave as it is"."""

    enabled_state: str | None = None
    priority: int | None = None

    def changes_from(self, current: OriginSetting) -> OriginSetting:
        return OriginSetting(
            enabled_state=self.enabled_state
            if self.enabled_state is not None and self.enabled_state != current.enabled_state
            else None,
            priority=self.priority if self.priority is not None and self.priority != current.priority else None,
        )

    @property
    def empty(self) -> bool:
        return self.enabled_state is None and self.priority is None

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class OriginView(Frozen):
    name: str
    host_name: str
    enabled_state: str = "Enabled"
    priority: int | None = None
    weight: int | None = None
    http_port: int = 80
    https_port: int = 443
    origin_host_header: str | None = None
    enforce_certificate_name_check: bool = True
    provisioning_state: str | None = None
    deployment_status: str | None = None

    @property
    def setting(self) -> OriginSetting:
        return OriginSetting(enabled_state=self.enabled_state, priority=self.priority)

    @property
    def rank(self) -> int:
        return self.priority or TOP_PRIORITY

    def describe(self) -> str:
        return f"{self.name} ({self.host_name}, priority {self.rank}, {self.enabled_state})"


class ProbeSettings(Frozen):
    """The origin group's healthProbeSettings: how Front Door probes each enabled origin."""

    path: str = "/"
    protocol: str = "Http"
    request_type: str = "HEAD"
    interval_seconds: int | None = None


class OriginGroupView(Frozen):
    id: str
    subscription: str
    resource_group: str
    profile: str
    name: str
    probe: ProbeSettings | None = None
    sample_size: int | None = None
    successful_samples_required: int | None = None
    origins: tuple[OriginView, ...] = ()
    profile_tags: dict[str, str] = Field(default_factory=dict)

    @property
    def profile_id(self) -> str:
        return self.id.rsplit("/", 2)[0]

    def origin(self, name: str) -> OriginView:
        for origin in self.origins:
            if origin.name.lower() == name.lower():
                return origin
        known = ", ".join(origin.name for origin in self.origins) or "none"
        raise NotFoundError(
            f"Front Door origin group {self.name!r} has no origin {name!r} (origins: {known})", code="OriginNotFound"
        )

    def with_settings(self, settings: dict[str, OriginSetting]) -> OriginGroupView:
        origins = []
        for origin in self.origins:
            setting = settings.get(origin.name)
            origins.append(origin.model_copy(update=setting.fields()) if setting is not None else origin)
        return self.model_copy(update={"origins": tuple(origins)})


class HealthReading(Frozen):
    """Front Door's own view of its origins (OriginHealthPercentage): per origin name, the latest percentage, or
    None when it has no data point (not probed: disabled, just enabled, probes off). ``readable`` False: the
    metric could not be read at all (``reason`` says why)."""

    percent: dict[str, float | None] = Field(default_factory=dict)
    readable: bool = True
    reason: str = ""

    def of(self, name: str) -> float | None:
        return self.percent.get(name)


class PendingPatch(Frozen):
    origin: str
    operation: OperationRef


class FrontDoorState(BaseModel):
    """What the switch remembers between begin, poll and teardown (small: a few names and URLs)."""

    model_config = ConfigDict(frozen=True)

    origin_group_id: str = Field(description="The group switched: production, or the drill's test profile's.")
    switched_at: IsoTime
    verify_deadline: IsoTime
    pending: list[PendingPatch] = Field(default_factory=list, description="PATCHes begin started.")
    original: dict[str, OriginSetting] | None = Field(None, description="A drill's baseline: what teardown restores.")
    facts: dict[str, Any] = Field(default_factory=dict, description="begin's detail, carried into poll's report.")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
