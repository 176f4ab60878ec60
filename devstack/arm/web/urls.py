"""Microsoft.Web routes (paths as azure-mgmt-web 11.0.1 builds them; operations AppServicePlans_Get,
_ListByResourceGroup, _CreateOrUpdate, _Update of AppServicePlans.json and WebApps_Get, _Start, _Stop of
WebApps.json, specification/web/resource-manager/Microsoft.Web/stable/2025-05-01/; the scale's status URL as
CreateOrUpdateAppServicePlan.json gives it)."""

from __future__ import annotations

from ..routing import Router, resource_group_scope
from .models import API_VERSIONS, WEB
from .responses import WebResponses

_RG = resource_group_scope(WEB)
_PLAN = _RG + "/serverfarms/{name}"
_SITE = _RG + "/sites/{name}"


def register(router: Router, responses: WebResponses) -> None:
    add, r = router.provider(WEB, API_VERSIONS).add, responses
    add("GET", _RG + "/serverfarms", r.list_plans_by_resource_group, "serverfarms")
    add("GET", _PLAN, r.get_plan, "serverfarms")
    add("PUT", _PLAN, r.put_plan, "serverfarms")
    add("PATCH", _PLAN, r.patch_plan, "serverfarms")
    add("GET", _PLAN + "/operationresults/{operationId}", r.plan_operation, "serverfarms/operationresults")
    add("GET", _SITE, r.get_site, "sites")
    add("POST", _SITE + "/start", r.start_site, "sites")
    add("POST", _SITE + "/stop", r.stop_site, "sites")
