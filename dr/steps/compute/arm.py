"""Microsoft.Web through azure-mgmt-web: read a plan and its apps into plain views, start a plan's scale as an ARM
long-running operation (:mod:`dr.azure_lro`) and look at it once per call, start and stop apps.

Invariant: the only module of the kind that calls the SDK; every call is bounded (``ARM_CALL_OPTIONS``) and every
Azure error leaves as a :mod:`dr.errors` error saying what was being done, except where a caller must tell answers
apart (None for "the plan is busy with another operation").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ...azure_lro import ARM_CALL_OPTIONS, OperationRef, OperationStatus, check_operation, start_operation
from ...clients import get_clients
from ...errors import NotFoundError, azure_errors, from_azure_error
from ..sdk import ArmRef, wire_text
from .planner import PlanView, SiteState, SiteView

if TYPE_CHECKING:
    from azure.mgmt.web import WebSiteManagementClient


class WebRef(ArmRef):
    """A Microsoft.Web id: an App Service plan or an app."""


def client(ref: WebRef) -> WebSiteManagementClient:
    return get_clients().web(ref.subscription)


def _get(ref: WebRef, operations: Callable[[WebSiteManagementClient], Any], what: str, not_found_code: str) -> Any:
    """GET the resource ``ref`` names through the client's ``operations`` group; NotFoundError when there is none."""
    with azure_errors(what):
        try:
            return operations(client(ref)).get(ref.resource_group, ref.name, **ARM_CALL_OPTIONS)
        except ResourceNotFoundError:
            raise NotFoundError(
                f"{what}: not found in resource group {ref.resource_group}", code=not_found_code
            ) from None


def read_plan(plan_id: str) -> tuple[PlanView, Any]:
    """The plan as a view, and the SDK model (what a scale sends back with its new capacity)."""
    ref = WebRef.parse(plan_id)
    plan = _get(ref, lambda web: web.app_service_plans, f"read App Service plan {ref.name}", "PlanNotFound")
    properties = plan.properties
    sku = plan.sku
    view = PlanView(
        id=plan_id,
        name=ref.name,
        location=plan.location,
        sku=sku.name if sku is not None else None,
        tier=sku.tier if sku is not None else None,
        capacity=int(sku.capacity or 0) if sku is not None else 0,
        workers=properties.number_of_workers if properties is not None else None,
        max_workers=properties.maximum_number_of_workers if properties is not None else None,
        provisioning_state=wire_text(properties.provisioning_state) if properties is not None else None,
    )
    return view, plan


def read_site(site_id: str) -> SiteView:
    ref = WebRef.parse(site_id)
    site = _get(ref, lambda web: web.web_apps, f"read app {ref.name}", "AppNotFound")
    properties = site.properties
    return SiteView(id=site_id, name=ref.name, state=properties.state if properties else None, location=site.location)


def start_scale(plan_id: str, plan: Any, capacity: int) -> OperationRef | None:
    """PUT the plan as read with ``sku.capacity`` changed (what `az appservice plan update --number-of-workers`
    does). None: ARM answered 409, the plan is busy with another operation."""
    ref = WebRef.parse(plan_id)
    plan.sku.capacity = capacity
    what = f"scale App Service plan {ref.name} to {capacity} instance(s)"
    try:
        return start_operation(client(ref).app_service_plans.begin_create_or_update, ref.resource_group, ref.name, plan)
    except HttpResponseError as exc:
        if exc.status_code == 409:
            return None
        raise from_azure_error(exc, what=what) from exc


def set_site_state(site_id: str, state: SiteState) -> None:
    """WebApps_Start or WebApps_Stop (synchronous: 200 once done; a repeated call changes nothing)."""
    ref = WebRef.parse(site_id)
    apps = client(ref).web_apps
    call = apps.start if state == "Running" else apps.stop
    with azure_errors(f"{'start' if state == 'Running' else 'stop'} app {ref.name}"):
        call(ref.resource_group, ref.name, **ARM_CALL_OPTIONS)


def operation_status(plan_id: str, operation: OperationRef) -> OperationStatus:
    ref = WebRef.parse(plan_id)
    with azure_errors(f"look at the scale of App Service plan {ref.name}"):
        return check_operation(client(ref), operation, endpoint=get_clients().settings.arm_endpoint)
