"""Azure Monitor common alert schema: what an action-group webhook posts, and which plans it starts.

Only ``data.essentials`` is common to every monitoring service; ``alertContext`` differs per service and is
kept as received (with a short, service-aware summary for the run's trigger facts). Unknown fields are
tolerated: Azure adds fields without notice and the alert endpoint must not refuse a real outage.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InvalidInputError
from .plan import Plan

COMMON_ALERT_SCHEMA_ID = "azureMonitorCommonAlertSchema"
MAX_ALERT_BYTES = 256 * 1024  # Azure's own cap on common-schema payloads

MONITORING_SERVICES = (
    "Platform",
    "Log Alerts V2",
    "Log Analytics",
    "Application Insights",
    "Activity Log - Administrative",
    "Activity Log - Policy",
    "Activity Log - Autoscale",
    "Activity Log - Security",
    "ServiceHealth",
    "Resource Health",
    "Smart Detector",
    "Prometheus",
)


class Essentials(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    alert_id: str = Field(alias="alertId", min_length=1)
    alert_rule: str = Field(alias="alertRule", min_length=1)
    severity: str
    signal_type: str | None = Field(None, alias="signalType")
    monitor_condition: Literal["Fired", "Resolved"] = Field(alias="monitorCondition")
    monitoring_service: str = Field(alias="monitoringService")
    alert_target_ids: list[str] = Field(default_factory=list, alias="alertTargetIDs")
    configuration_items: list[str] = Field(default_factory=list, alias="configurationItems")
    origin_alert_id: str | None = Field(None, alias="originAlertId")
    fired_date_time: datetime = Field(alias="firedDateTime")
    resolved_date_time: datetime | None = Field(None, alias="resolvedDateTime")
    description: str | None = None


class AlertData(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    essentials: Essentials
    alert_context: dict[str, Any] | None = Field(None, alias="alertContext")
    custom_properties: dict[str, Any] | None = Field(None, alias="customProperties")


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    schema_id: str = Field(alias="schemaId")
    data: AlertData

    @property
    def essentials(self) -> Essentials:
        return self.data.essentials

    def facts(self) -> dict[str, Any]:
        """What a run records about the alert that started it (small, no secrets)."""
        essentials = self.essentials
        return {
            "source": "alert",
            "alert_id": essentials.alert_id,
            "alert_rule": essentials.alert_rule,
            "severity": essentials.severity,
            "monitoring_service": essentials.monitoring_service,
            "signal_type": essentials.signal_type,
            "target_ids": essentials.alert_target_ids[:10],
            "fired_at": essentials.fired_date_time.isoformat().replace("+00:00", "Z"),
            "context": summarize_context(essentials.monitoring_service, self.data.alert_context or {}),
        }


def parse_alert_body(body: bytes) -> Alert:
    """Validate a webhook body; every failure is an InvalidInputError saying exactly what was wrong."""
    if len(body) > MAX_ALERT_BYTES:
        raise InvalidInputError(
            f"alert body is {len(body)} bytes; the common alert schema caps payloads at {MAX_ALERT_BYTES}",
            code="PayloadTooLarge",
        )
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"alert body is not valid JSON: {exc}", code="MalformedJson") from None
    if not isinstance(document, dict):
        raise InvalidInputError("alert body must be a JSON object", code="MalformedAlert")
    schema_id = document.get("schemaId")
    if schema_id != COMMON_ALERT_SCHEMA_ID:
        raise InvalidInputError(
            f"schemaId is {schema_id!r}; enable the common alert schema on the action group "
            f"(expected {COMMON_ALERT_SCHEMA_ID!r})",
            code="UnsupportedSchema",
        )
    try:
        return Alert.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()[:10])
        raise InvalidInputError(
            f"alert is missing or has invalid essentials: {problems}", code="MalformedAlert"
        ) from None


def summarize_context(service: str, context: dict[str, Any]) -> dict[str, Any]:
    """A few facts an operator wants to see, per monitoring service (the full context stays in Azure)."""
    try:
        if service == "Platform":
            conditions = (context.get("condition") or {}).get("allOf") or []
            return {
                "conditions": [
                    {k: c.get(k) for k in ("metricName", "operator", "threshold", "metricValue") if k in c}
                    for c in conditions[:5]
                    if isinstance(c, dict)
                ]
            }
        if service in ("Log Alerts V2", "Log Analytics", "Application Insights"):
            conditions = (context.get("condition") or {}).get("allOf") or []
            return {
                "conditions": [
                    {k: c.get(k) for k in ("metricMeasureColumn", "operator", "threshold", "metricValue") if k in c}
                    for c in conditions[:5]
                    if isinstance(c, dict)
                ]
            }
        if service in ("ServiceHealth", "Resource Health") or service.startswith("Activity Log"):
            properties = context.get("properties") or {}
            keys = ("title", "incidentType", "region", "currentHealthStatus", "previousHealthStatus", "cause")
            summary = {k: properties[k] for k in keys if k in properties}
            if "operationName" in context:
                summary["operationName"] = context["operationName"]
            return summary
        if service == "Smart Detector":
            return {k: context[k] for k in ("DetectionSummary", "SmartDetectorName") if k in context}
    except (AttributeError, TypeError):
        pass  # a context shaped unlike the documented one is not a reason to refuse the alert
    return {}


# -- matching and identity --------------------------------------------------------------------------


def plan_matches(plan: Plan, alert: Alert) -> bool:
    """Any listed criterion matches (rule name, or a target id under a listed resource id prefix); then
    the severity filter, when the plan has one. ARM resource ids compare case-insensitively."""
    criteria = plan.trigger
    essentials = alert.essentials
    if criteria.severities and essentials.severity not in criteria.severities:
        return False
    if essentials.alert_rule in criteria.alert_rules:
        return True
    targets = [target.lower().rstrip("/") for target in essentials.alert_target_ids]
    for prefix in criteria.target_resource_ids:
        wanted = prefix.lower().rstrip("/")
        if any(target == wanted or target.startswith(wanted + "/") for target in targets):
            return True
    return False


def matching_plans(plans: dict[str, Plan], alert: Alert) -> list[Plan]:
    return [plan for name, plan in sorted(plans.items()) if plan_matches(plan, alert)]


def alert_fingerprint(alert_id: str) -> str:
    """Stable, instance-id-safe token for one alert instance (Azure's alertId is a resource path)."""
    return hashlib.sha256(alert_id.encode()).hexdigest()[:20]
