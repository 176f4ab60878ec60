"""Microsoft.Web state and behaviour: App Service plans (their SKU and instance count) and the apps on them (their
running state).

Shapes follow api-version 2025-05-01, the version azure-mgmt-web 11.0.1 sends (its _configuration.py); spec files
in Azure/azure-rest-api-specs, specification/web/resource-manager/Microsoft.Web/stable/2025-05-01/:
- AppServicePlans.json: AppServicePlans_Get (200; 404 an error response), AppServicePlans_CreateOrUpdate (PUT,
  200/202, x-ms-long-running-operation: a scale-out is asynchronous; the 202 of CreateOrUpdateAppServicePlan.json
  carries `location` and `azure-asyncoperation` .../serverfarms/{name}/operationresults/{id} and the plan with the
  requested SKU), AppServicePlans_Update (PATCH, 200/202). The plan answers `sku.capacity` (the instances asked
  for), `numberOfWorkers` (the instances there: GetAppServicePlan.json), `maximumNumberOfWorkers`, `status`,
  `provisioningState` (InProgress while a scale runs), `numberOfSites`.
- WebApps.json: WebApps_Get (200; 404), WebApps_Start and WebApps_Stop (POST .../start|stop, 200, no body);
  SiteProperties.state ("Current state of the app", GetWebApp.json: "Running").
The examples give locations as display names ("East US"): plans and apps answer the location as they were given
it, `geoRegion` as its display name.

Limits the spec does not state (so the error codes here are this emulator's): the instances a tier allows
(maximumNumberOfWorkers: 20 for Premium in GetAppServicePlan.json; the App Service limits page for the others);
a plan busy with a scale refuses another change (409); Consumption (Dynamic) and Flex Consumption plans scale by
themselves and refuse a capacity.

Region outage: a plan's or app's requests need its region's Microsoft.Web: they time out (504 GatewayTimeout) as
Microsoft.Sql's do. Traffic Manager AzureEndpoints that target an app follow its region and default host name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import errors, resources
from ..errors import ArmError, bad_request
from ..estate import Estate, ProviderDefaults, normalize_location
from ..ids import key, provider_id
from ..lro import Operation, iso

WEB = "Microsoft.Web"
API_VERSIONS = ("2022-09-01", "2023-01-01", "2023-12-01", "2024-04-01", "2024-11-01", "2025-03-01", "2025-05-01")
PLAN_SCALE = "serverfarm.scale"
OPERATION_KINDS = (PLAN_SCALE,)

# maximumNumberOfWorkers by SKU tier (lower case); 0: the platform scales the plan by itself. Premium's 20 is
# GetAppServicePlan.json's; the others the "App Service limits" table (maximum instances per tier) of
# https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits, and
# ElasticPremium the Functions Premium plan's (MicrosoftDocs/azure-docs includes/functions-limits.md).
MAX_WORKERS: dict[str, int] = {
    "free": 1,
    "shared": 1,
    "basic": 3,
    "standard": 10,
    "premium": 20,
    "premiumv2": 30,
    "premiumv3": 30,
    "premium0v3": 30,
    "premiummv3": 30,
    "elasticpremium": 20,
    "isolated": 100,
    "isolatedv2": 100,
    "dynamic": 0,
    "flexconsumption": 0,
}
DISPLAY_NAMES: dict[str, str] = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "centralus": "Central US",
    "northeurope": "North Europe",
    "westeurope": "West Europe",
}
SITE_STATES = ("Running", "Stopped")


def display_name(location: str) -> str:
    return DISPLAY_NAMES.get(normalize_location(location), location)


def plan_busy(name: str) -> ArmError:
    return ArmError(409, "Conflict", f"Cannot modify App Service plan '{name}': another operation is in progress.")


@dataclass
class AppServicePlan:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    sku: dict[str, Any]
    """name, tier, size, family, capacity (the instances asked for)."""
    workers: int
    """numberOfWorkers: the instances there (catches up with sku.capacity when a scale finishes)."""
    kind: str = "app"
    reserved: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    pending: Operation | None = None

    @property
    def id(self) -> str:
        return provider_id(self.subscription_id, self.resource_group, WEB, "serverfarms", self.name)

    @property
    def tier(self) -> str:
        return str(self.sku.get("tier") or "")

    @property
    def max_workers(self) -> int:
        return MAX_WORKERS.get(self.tier.lower(), 30)

    @property
    def capacity(self) -> int:
        return int(self.sku.get("capacity") or 0)

    def to_resource(self, backend: WebBackend) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "status": "Ready",
            "maximumNumberOfWorkers": self.max_workers,
            "numberOfWorkers": self.workers,
            "geoRegion": display_name(self.location),
            "numberOfSites": len(backend.sites_on(self)),
            "isSpot": False,
            "reserved": self.reserved,
            "targetWorkerCount": 0,
            "targetWorkerSizeId": 0,
            "provisioningState": "InProgress" if self.pending is not None else "Succeeded",
            "asyncScalingEnabled": False,
            "resourceGroup": self.resource_group,
        }
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Web/serverfarms",
            "kind": self.kind,
            "location": self.location,
            "tags": self.tags,
            "properties": properties,
            "sku": dict(self.sku),
        }


@dataclass
class Site:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    plan: AppServicePlan
    state: str = "Running"
    kind: str = "app"
    tags: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None

    @property
    def id(self) -> str:
        return provider_id(self.subscription_id, self.resource_group, WEB, "sites", self.name)

    @property
    def default_host_name(self) -> str:
        return f"{self.name}.azurewebsites.net".lower()

    def to_resource(self) -> dict[str, Any]:
        host, scm = self.default_host_name, f"{self.name}.scm.azurewebsites.net".lower()
        properties: dict[str, Any] = {
            "state": self.state,
            "hostNames": [host],
            "repositorySiteName": self.name,
            "usageState": "Normal",
            "enabled": True,
            "enabledHostNames": [host, scm],
            "availabilityState": "Normal",
            "hostNameSslStates": [
                {"name": host, "sslState": "Disabled", "hostType": "Standard"},
                {"name": scm, "sslState": "Disabled", "hostType": "Repository"},
            ],
            "serverFarmId": self.plan.id,
            "reserved": self.plan.reserved,
            "isXenon": False,
            "hyperV": False,
            "scmSiteAlsoStopped": False,
            "clientAffinityEnabled": True,
            "clientCertEnabled": False,
            "clientCertMode": "Required",
            "hostNamesDisabled": False,
            "containerSize": 0,
            "dailyMemoryTimeQuota": 0,
            "resourceGroup": self.resource_group,
            "defaultHostName": host,
            "httpsOnly": False,
            "redundancyMode": "None",
            "storageAccountRequired": False,
            "keyVaultReferenceIdentity": "SystemAssigned",
            "outboundVnetRouting": dict.fromkeys(
                ("allTraffic", "applicationTraffic", "contentShareTraffic", "imagePullTraffic", "backupRestoreTraffic"),
                False,
            ),
            "sku": self.plan.tier,
        }
        if self.last_modified is not None:
            properties["lastModifiedTimeUtc"] = iso(self.last_modified)
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Web/sites",
            "kind": self.kind,
            "location": self.location,
            "tags": self.tags,
            "properties": properties,
        }


class WebBackend(ProviderDefaults):
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.plans: dict[tuple[str, ...], AppServicePlan] = {}
        self.sites: dict[tuple[str, ...], Site] = {}

    # -- Provider protocol ---------------------------------------------------------------------------------
    def reset(self) -> None:
        self.plans.clear()
        self.sites.clear()

    def drop_resource_group(self, subscription_id: str, name: str) -> None:
        resources.drop_resource_group(self.sites, subscription_id, name)
        resources.drop_resource_group(self.plans, subscription_id, name)

    def location_of(self, resource_id: str) -> str | None:
        found = self._by_id(resource_id)
        return found.location if found is not None else None

    def hostname_of(self, resource_id: str) -> str | None:
        found = self._by_id(resource_id)
        return found.default_host_name if isinstance(found, Site) else None

    def _by_id(self, resource_id: str) -> AppServicePlan | Site | None:
        return resources.by_id(self.sites, resource_id, WEB, "sites") or resources.by_id(
            self.plans, resource_id, WEB, "serverfarms"
        )

    # -- look-ups (a resource in a region that is down times out at the gateway) ------------------------------
    def plan(self, subscription_id: str, resource_group: str, name: str) -> AppServicePlan:
        found = resources.existing(self.estate, self.plans, subscription_id, resource_group, name, f"{WEB}/serverfarms")
        self.estate.require_region(found.location, WEB)
        return found

    def site(self, subscription_id: str, resource_group: str, name: str) -> Site:
        found = resources.existing(self.estate, self.sites, subscription_id, resource_group, name, f"{WEB}/sites")
        self.estate.require_region(found.location, WEB)
        return found

    def sites_on(self, plan: AppServicePlan) -> list[Site]:
        return [site for site in self.sites.values() if site.plan is plan]

    # -- plans ---------------------------------------------------------------------------------------------
    def add_plan(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        location: str,
        sku: dict[str, Any],
        *,
        kind: str = "app",
        reserved: bool = False,
        tags: dict[str, str] | None = None,
    ) -> AppServicePlan:
        group = self.estate.resource_group(subscription_id, resource_group)
        sku = {k: v for k, v in sku.items() if v is not None}
        plan = AppServicePlan(
            subscription_id=subscription_id,
            resource_group=group.name,
            name=name,
            location=location,
            sku=sku,
            workers=0,
            kind=kind,
            reserved=reserved,
            tags=dict(tags or {}),
        )
        self._check_capacity(plan, plan.capacity)
        plan.workers = plan.capacity
        self.plans[key(subscription_id, group.name, name)] = plan
        return plan

    def put_plan(
        self, subscription_id: str, resource_group: str, name: str, body: dict[str, Any]
    ) -> tuple[AppServicePlan, Operation | None]:
        """AppServicePlans_CreateOrUpdate: a new plan is there at once; a changed instance count of an existing
        plan is a scale that runs as an operation (the plan reads InProgress, numberOfWorkers catches up)."""
        sku = body.get("sku") or {}
        existing = self.plans.get(key(subscription_id, resource_group, name))
        if existing is None:
            location = body.get("location")
            if not location:
                raise errors.location_required()
            self.estate.require_region(str(location), WEB)
            plan = self.add_plan(
                subscription_id,
                resource_group,
                name,
                str(location),
                {"capacity": 1, **sku},
                kind=str(body.get("kind") or "app"),
                reserved=bool((body.get("properties") or {}).get("reserved", False)),
                tags=body.get("tags"),
            )
            return plan, None
        self.estate.require_region(existing.location, WEB)
        if existing.pending is not None:
            raise plan_busy(existing.name)
        if body.get("tags") is not None:
            existing.tags = dict(body["tags"])
        wanted = {**existing.sku, **{k: v for k, v in sku.items() if v is not None}}
        capacity = int(wanted.get("capacity") or existing.capacity)
        self._check_capacity(existing, capacity)
        existing.sku = wanted
        if capacity == existing.workers:
            return existing, None
        plan = existing

        def complete() -> None:
            plan.workers = plan.capacity

        def settle() -> None:
            plan.pending = None

        def finished() -> None:
            complete()
            settle()

        operation = self.estate.start_operation(
            kind=PLAN_SCALE,
            subscription_id=plan.subscription_id,
            resource_group=plan.resource_group,
            location=plan.location,
            namespace=WEB,
            url_noun="serverfarms",
            complete=finished,
            abandon=settle,
            result=lambda: plan.to_resource(self),
        )
        plan.pending = operation
        return plan, operation

    def patch_plan(self, plan: AppServicePlan, body: dict[str, Any]) -> AppServicePlan:
        """AppServicePlans_Update: what this emulator models of an AppServicePlanPatchResource (kind, tags)."""
        if plan.pending is not None:
            raise plan_busy(plan.name)
        if body.get("kind"):
            plan.kind = str(body["kind"])
        if body.get("tags") is not None:
            plan.tags = dict(body["tags"])
        return plan

    def _check_capacity(self, plan: AppServicePlan, capacity: int) -> None:
        if plan.max_workers == 0:
            if capacity > 1:
                raise bad_request(
                    f"The {plan.tier} plan '{plan.name}' is scaled by the platform: its instance count cannot be set."
                )
            return
        if not 1 <= capacity <= plan.max_workers:
            raise bad_request(
                f"The requested instance count {capacity} for App Service plan '{plan.name}' is outside 1 to "
                f"{plan.max_workers}, the maximum of the {plan.tier} tier."
            )

    # -- sites ---------------------------------------------------------------------------------------------
    def add_site(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        plan: AppServicePlan,
        *,
        location: str | None = None,
        state: str = "Running",
        kind: str = "app",
        tags: dict[str, str] | None = None,
    ) -> Site:
        group = self.estate.resource_group(subscription_id, resource_group)
        if state not in SITE_STATES:
            raise bad_request(f"state must be one of {', '.join(SITE_STATES)}, got {state!r}")
        site = Site(
            subscription_id=subscription_id,
            resource_group=group.name,
            name=name,
            location=location or plan.location,
            plan=plan,
            state=state,
            kind=kind,
            tags=dict(tags or {}),
            last_modified=self.estate.now(),
        )
        self.sites[key(subscription_id, group.name, name)] = site
        return site

    def set_state(self, site: Site, state: str) -> Site:
        """WebApps_Start / WebApps_Stop: done when they answer (200); a repeated call changes nothing."""
        if site.state != state:
            site.state = state
            site.last_modified = self.estate.now()
        return site
