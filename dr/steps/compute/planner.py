"""app_scale's decisions, pure: which resources a run touches (or only reads), the instance count it wants, why a
plan cannot be scaled, and when the read-back says the work is done.

Invariant: nothing here calls Azure; the plan and apps come in as the plain views :mod:`.arm` reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from ...azure_lro import OperationRef

SiteState = Literal["Running", "Stopped"]
# Plans the platform scales by itself (Consumption, Flex Consumption): they take no instance count.
SELF_SCALING_TIERS = frozenset({"dynamic", "flexconsumption"})


class PlanView(BaseModel):
    id: str
    name: str
    location: str | None = None
    sku: str | None = None
    tier: str | None = None
    capacity: int = 0
    workers: int | None = None
    max_workers: int | None = None
    provisioning_state: str | None = None

    @property
    def scaling(self) -> bool:
        return (self.provisioning_state or "").lower() == "inprogress"

    def facts(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sku": self.sku,
            "tier": self.tier,
            "capacity": self.capacity,
            "workers": self.workers,
            "maximum_workers": self.max_workers,
            "provisioning_state": self.provisioning_state,
        }


class SiteView(BaseModel):
    id: str
    name: str
    state: str | None = None
    location: str | None = None


class PlanTarget(BaseModel):
    """The plan a run scales (or, read-only, would scale): what it was and what the run wants."""

    id: str
    live: bool
    desired: int
    before_capacity: int
    before_workers: int | None = None
    changed: bool = False
    operation: OperationRef | None = None
    waiting_while_busy: bool = False


class SiteTarget(BaseModel):
    id: str
    name: str
    live: bool
    desired: SiteState
    before: str | None = None
    changed: bool = False


def desired_capacity(scale: Literal["at_least", "exactly"], wanted: int, current: int) -> int:
    """at_least never scales down (a failover only adds capacity); exactly is what it says (a failback's)."""
    return max(current, wanted) if scale == "at_least" else wanted


def scale_problem(plan: PlanView, desired: int) -> str | None:
    """Why ``plan`` cannot be set to ``desired`` instances (None: it can)."""
    tier = (plan.tier or "").lower()
    if tier in SELF_SCALING_TIERS:
        return (
            f"App Service plan {plan.name} is {plan.tier}: the platform scales it by itself and it takes no "
            "instance count; list its function apps in site_ids instead"
        )
    if plan.max_workers and desired > plan.max_workers:
        return (
            f"App Service plan {plan.name} ({plan.sku}) allows at most {plan.max_workers} instances, not {desired}: "
            "lower instance_count or move the plan to a larger tier first"
        )
    return None


def plan_converged(plan: PlanView, desired: int) -> bool:
    """The read-back that ends a scale: the capacity asked for, nothing running, and the workers there."""
    return plan.capacity == desired and not plan.scaling and (plan.workers is None or plan.workers >= desired)


def site_converged(site: SiteView, desired: SiteState) -> bool:
    return (site.state or "").lower() == desired.lower()


def describe_plan_change(plan: PlanView, desired: int) -> str:
    return f"scale App Service plan {plan.name} from {plan.capacity} to {desired} instance(s)"


def describe_site_change(site: SiteView, desired: SiteState) -> str:
    verb = "start" if desired == "Running" else "stop"
    return f"{verb} app {site.name} (now {site.state or 'unknown'})"
