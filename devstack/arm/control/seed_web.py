"""The estate format's `web:` section (see devstack/arm/example_estate.yaml): App Service plans and the apps on
them. An app named here is a Microsoft.Web site: Traffic Manager AzureEndpoints may target it by id."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..estate import Estate
from ..seeding import References, SeedModel, seeded_provider
from ..web.models import AppServicePlan, WebBackend


class PlanSkuSeed(SeedModel):
    name: str = "P1v3"
    tier: str = "PremiumV3"
    size: str | None = None
    family: str | None = None
    capacity: int = Field(1, ge=0)


class AppServicePlanSeed(SeedModel):
    name: str
    resource_group: str
    location: str | None = Field(None, description="Defaults to the resource group's.")
    sku: PlanSkuSeed = Field(default_factory=PlanSkuSeed)
    kind: str = "app"
    tags: dict[str, str] = Field(default_factory=dict)


class SiteSeed(SeedModel):
    name: str
    resource_group: str
    plan: str = Field(description="The plan's name, or 'resource-group/name'.")
    state: Literal["Running", "Stopped"] = "Running"
    kind: str = "app"
    tags: dict[str, str] = Field(default_factory=dict)


class WebSeed(SeedModel):
    plans: list[AppServicePlanSeed] = Field(default_factory=list)
    sites: list[SiteSeed] = Field(default_factory=list)

    def apply(self, estate: Estate, subscription_id: str) -> None:
        apply_web_seed(estate, subscription_id, self)


def apply_web_seed(estate: Estate, subscription_id: str, seed: WebSeed) -> None:
    backend = seeded_provider(estate, WebBackend, "Microsoft.Web", needed=bool(seed.plans or seed.sites))
    if backend is None:
        return
    plans: References[AppServicePlan] = References()
    for plan_seed in seed.plans:
        location = plan_seed.location or estate.resource_group(subscription_id, plan_seed.resource_group).location
        sku = plan_seed.sku.model_dump()
        sku["size"] = sku["size"] or sku["name"]
        plan = backend.add_plan(
            subscription_id,
            plan_seed.resource_group,
            plan_seed.name,
            location,
            sku,
            kind=plan_seed.kind,
            tags=plan_seed.tags,
        )
        plans.add(plan_seed.resource_group, plan_seed.name, plan)
    for site_seed in seed.sites:
        found = plans.get(site_seed.plan)
        if found is None:
            raise ValueError(f"site {site_seed.name!r} names plan {site_seed.plan!r}, which the seed does not define")
        backend.add_site(
            subscription_id,
            site_seed.resource_group,
            site_seed.name,
            found,
            state=site_seed.state,
            kind=site_seed.kind,
            tags=site_seed.tags,
        )
