"""Microsoft.Web through azure-mgmt-web: read a plan and its apps into plain views, start a plan's scale as an ARM
long-running operation (:mod:`dr.azure_lro`) and look at it once per call, start and stop apps.

Invariant: the only module of the kind that calls the SDK; every call is bounded (``ARM_CALL_OPTIONS``) and every
Azure error leaves as a :mod:`dr.errors` error saying what was being done, except where a caller must tell answers
apart (None for "the plan is busy with another operation").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from pydantic import BaseModel, ConfigDict

from ...azure_lro import ARM_CALL_OPTIONS, OperationRef, OperationStatus, check_operation, start_operation
from ...clients import get_clients
from ...errors import NotFoundError, azure_errors, from_azure_error
from ..sdk import wire_text
from .planner import PlanView, SiteState, SiteView

if TYPE_CHECKING:
    from azure.mgmt.web import WebSiteManagementClient


class WebRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, resource_id: str) -> WebRef:
        from azure.mgmt.core.tools import parse_resource_id

        parts = parse_resource_id(resource_id)
        return cls(subscription=parts["subscription"], resource_group=parts["resource_group"], name=parts["name"])


def client(ref: WebRef) -> WebSiteManagementClient:
    return get_clients().web(ref.subscription)


def read_plan(plan_id: str) -> tuple[PlanView, Any]:
    """The plan as a view, and the SDK model (what a scale sends back with its new capacity)."""
    ref = WebRef.parse(plan_id)
    what = f"read App Service plan {ref.name}"
    with azure_errors(what):
        try:
            plan = client(ref).app_service_plans.get(ref.resource_group, ref.name, **ARM_CALL_OPTIONS)
        except ResourceNotFoundError:
            raise NotFoundError(
                f"{what}: not found in resource group {ref.resource_group}", code="PlanNotFound"
            ) from None
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
    what = f"read app {ref.name}"
    with azure_errors(what):
        try:
            site = client(ref).web_apps.get(ref.resource_group, ref.name, **ARM_CALL_OPTIONS)
        except ResourceNotFoundError:
            raise NotFoundError(
                f"{what}: not found in resource group {ref.resource_group}", code="AppNotFound"
            ) from None
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
