"""Azure Monitor common alert schema: what an action-group webhook posts, and which plans it starts.

Only ``data.essentials`` is common to every monitoring service; ``alertContext`` differs per service and is
kept as received (with a short, service-aware summary for the run's trigger facts). Unknown fields are
tolerated: Azure adds fields without notice and the alert endpoint must not refuse a real outage.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidInputError
from .plan import Plan, TriggerCriteria

COMMON_ALERT_SCHEMA_ID = "azureMonitorCommonAlertSchema"
MAX_ALERT_BYTES = 256 * 1024  # Azure's own cap on common-schema payloads
# The common alert schema nests a few levels (data.alertContext.condition.allOf[].dimensions[]); a body
# nested deeper is not an alert, and refusing it before parsing keeps every later walk well inside the stack.
MAX_ALERT_DEPTH = 32
# Byte-order marks: Azure Monitor posts UTF-8 without one; a BOM (or UTF-16/32) is not its webhook.
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_text(value: Any) -> Any:
    """Alert times are ISO 8601 strings (with a zone, checked by AwareDatetime), never epoch numbers."""
    if isinstance(value, datetime):
        return value
    # A string of digits would pass as epoch seconds: an ISO 8601 date-time starts with its date.
    if not isinstance(value, str) or not _ISO_DATE_TIME.match(value):
        raise ValueError("must be an ISO 8601 date-time string with a time zone")
    return value


AlertTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]

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
    fired_date_time: AlertTime = Field(alias="firedDateTime")
    resolved_date_time: AlertTime | None = Field(None, alias="resolvedDateTime")
    description: str | None = None

    @field_validator("alert_id", "alert_rule", "severity", "monitoring_service")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


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


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise InvalidInputError(f"body has duplicate key {key!r}", code="MalformedJson")
        document[key] = value
    return document


def _no_constant(name: str) -> Any:
    raise InvalidInputError(f"body has {name}, which is not JSON", code="MalformedJson")


def _nesting_depth_exceeds(text: str, limit: int) -> bool:
    """True when arrays/objects nest deeper than ``limit`` (brackets inside strings do not count)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _check_text(value: Any, what: str) -> None:
    """Every string (keys too) must be encodable as UTF-8: a lone surrogate (``"\\ud800"``) is refused."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInputError(
                    f"{what} has a lone surrogate (invalid Unicode) in {path}", code="MalformedJson"
                ) from None
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, f"{path} key"))
                safe_key = key.encode("utf-8", "backslashreplace").decode()
                stack.append((child, f"{path}.{safe_key}".lstrip(".")))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def decode_alert_json(body: bytes, what: str = "alert body", max_bytes: int = MAX_ALERT_BYTES) -> Any:
    """Strict JSON: UTF-8 without a BOM, no duplicate keys, no NaN/Infinity, bounded nesting, no lone
    surrogates. Every refusal is an InvalidInputError saying what was wrong."""
    if len(body) > max_bytes:
        raise InvalidInputError(f"{what} is {len(body)} bytes; the limit is {max_bytes}", code="PayloadTooLarge")
    if body.startswith(_BOMS):
        raise InvalidInputError(
            f"{what} starts with a byte-order mark: the body must be UTF-8 without a BOM",
            code="UnsupportedEncoding",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid UTF-8 (byte {exc.start}): the body must be UTF-8",
            code="UnsupportedEncoding",
        ) from None
    if "\x00" in text:  # UTF-16/32 without a BOM decodes as UTF-8 with NULs between the ASCII
        raise InvalidInputError(
            f"{what} has NUL characters (UTF-16/32?): the body must be UTF-8", code="UnsupportedEncoding"
        )
    if _nesting_depth_exceeds(text, MAX_ALERT_DEPTH):
        raise InvalidInputError(
            f"{what} nests arrays/objects deeper than {MAX_ALERT_DEPTH} levels", code="MalformedJson"
        )
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{what} is not valid JSON: {exc}", code="MalformedJson") from None
    except RecursionError:  # unreachable after the depth check; never a 500
        raise InvalidInputError(f"{what} nests too deeply", code="MalformedJson") from None
    _check_text(document, what)
    return document


def parse_alert_body(body: bytes) -> Alert:
    """Validate a webhook body; every failure is an InvalidInputError saying exactly what was wrong."""
    document = decode_alert_json(body)
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
    return alert_direction(plan, alert) is not None


def alert_direction(plan: Plan, alert: Alert) -> Literal["failover", "failback"] | None:
    """What an alert asks of a plan: its trigger matches (the primary is in trouble: failover), or its
    failback trigger does (the secondary is: failback, which dr.plan_state allows only while failed over)."""
    if criteria_match(plan.trigger, alert):
        return "failover"
    if plan.failback.trigger is not None and criteria_match(plan.failback.trigger, alert):
        return "failback"
    return None


def criteria_match(criteria: TriggerCriteria, alert: Alert) -> bool:
    """Any listed criterion matches (rule name, or a target id under a listed resource id prefix); then
    the severity filter, when there is one. ARM resource ids compare case-insensitively."""
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
