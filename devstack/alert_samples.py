# ruff: noqa: E501  (payloads copied in the documented shape, long ids included)
"""Common-alert-schema payloads shaped like the samples in Azure Monitor's documentation, one per
monitoring service. Tests and the demo build alerts from these."""

from __future__ import annotations

import copy
from typing import Any

SUB = "00000000-0000-0000-0000-000000000001"
PRIMARY_RG = f"/subscriptions/{SUB}/resourceGroups/shop-eus"
STORAGE_ID = f"{PRIMARY_RG}/providers/Microsoft.Storage/storageAccounts/shopeus"


def essentials(rule: str = "shop-primary-down", **overrides: Any) -> dict[str, Any]:
    base = {
        "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/b9569717-bc32-442f-add5-83a997729330",
        "alertRule": rule,
        "severity": "Sev1",
        "signalType": "Metric",
        "monitorCondition": "Fired",
        "monitoringService": "Platform",
        "alertTargetIDs": [STORAGE_ID.lower()],
        "configurationItems": ["shopeus"],
        "originAlertId": "3f2d4487-b0fc-4125-8bd5-7ad17384221e_PipeLineAlertRG_microsoft.insights_metricAlerts_WCUS-R2-Gen2_-117781227",
        "firedDateTime": "2026-11-28T07:00:24.3713213Z",
        "description": "Availability of the primary storage account dropped",
        "essentialsVersion": "1.0",
        "alertContextVersion": "1.0",
        "investigationLink": "https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/Investigation.ReactView/alertId/%2fsubscriptions%2f...",
    }
    base.update(overrides)
    return base


CONTEXTS: dict[str, tuple[str, dict[str, Any]]] = {
    "Platform": (
        "Metric",
        {
            "properties": None,
            "conditionType": "SingleResourceMultipleMetricCriteria",
            "condition": {
                "windowSize": "PT5M",
                "allOf": [
                    {
                        "metricName": "Availability",
                        "metricNamespace": "Microsoft.Storage/storageAccounts",
                        "operator": "LessThan",
                        "threshold": "99",
                        "timeAggregation": "Average",
                        "dimensions": [],
                        "metricValue": 41.5,
                        "webTestName": None,
                    }
                ],
                "windowStartTime": "2026-11-28T06:50:20.289Z",
                "windowEndTime": "2026-11-28T06:55:20.289Z",
            },
        },
    ),
    "Log Alerts V2": (
        "Log",
        {
            "properties": {"customKey1": "value1"},
            "conditionType": "LogQueryCriteria",
            "condition": {
                "windowSize": "PT10M",
                "allOf": [
                    {
                        "searchQuery": "requests | where success == false",
                        "metricMeasureColumn": None,
                        "targetResourceTypes": "['Microsoft.Web/sites']",
                        "operator": "GreaterThan",
                        "threshold": "10",
                        "timeAggregation": "Count",
                        "dimensions": [],
                        "metricValue": 312.0,
                        "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
                        "linkToSearchResultsUI": "https://portal.azure.com#@tenant/blade/...",
                    }
                ],
                "windowStartTime": "2026-11-28T06:50:20.289Z",
                "windowEndTime": "2026-11-28T07:00:20.289Z",
            },
        },
    ),
    "Activity Log - Administrative": (
        "Activity Log",
        {
            "authorization": {
                "action": "Microsoft.Compute/virtualMachines/restart/action",
                "scope": PRIMARY_RG,
            },
            "channels": "Operation",
            "claims": "{}",
            "caller": "user@contoso.com",
            "correlationId": "aaaa0000-bb11-2222-33cc-444444dddddd",
            "eventSource": "Administrative",
            "eventTimestamp": "2026-11-28T06:59:59.7711111+00:00",
            "eventDataId": "bbbb1111-cc22-3333-44dd-555555eeeeee",
            "level": "Informational",
            "operationName": "Microsoft.Compute/virtualMachines/restart/action",
            "operationId": "cccc2222-dd33-4444-55ee-666666ffffff",
            "status": "Succeeded",
            "subStatus": "",
            "submissionTimestamp": "2026-11-28T07:00:10.0000000+00:00",
        },
    ),
    "ServiceHealth": (
        "Activity Log",
        {
            "authorization": None,
            "channels": 1,
            "claims": None,
            "caller": None,
            "correlationId": "f3cf2430-1ee3-4158-8e35-7a1d615acfc7",
            "eventSource": 2,
            "eventTimestamp": "2026-11-28T06:59:06.1256685+00:00",
            "eventDataId": "2d76d9b5-a7b9-4ed7-b5b9-c7a2d87bbd8e",
            "level": 3,
            "operationName": "Microsoft.ServiceHealth/incident/action",
            "operationId": "ccb3e1e3-58e4-4f64-a06f-1b1f4a3c0a4c",
            "properties": {
                "title": "Storage - East US - Mitigated",
                "service": "Storage",
                "region": "East US",
                "communication": "<p>Starting at 06:30 UTC customers in East US ...</p>",
                "incidentType": "Incident",
                "trackingId": "XXX-YYY",
                "impactStartTime": "2026-11-28T06:30:00Z",
                "impactedServices": '[{"ImpactedRegions":[{"RegionName":"East US"}],"ServiceName":"Storage"}]',
                "defaultLanguageTitle": "Storage - East US",
                "stage": "Active",
                "communicationId": "11000001466525",
                "version": "0.1.1",
            },
            "status": "Active",
            "subStatus": None,
            "submissionTimestamp": "2026-11-28T06:59:08.7738376+00:00",
            "ResourceType": None,
        },
    ),
    "Resource Health": (
        "Activity Log",
        {
            "channels": "Admin, Operation",
            "correlationId": "a1be61fd-37ur-ba05-b827-cb874708babf",
            "eventSource": "ResourceHealth",
            "eventTimestamp": "2026-11-28T06:58:30.4466667+00:00",
            "eventDataId": "21b8ee6b-ef46-4fae-9f22-a0b8b5cdae0b",
            "level": "Informational",
            "operationName": "Microsoft.Resourcehealth/healthevent/Activated/action",
            "operationId": "ae1a2d25-6e0e-4d34-8d7f-bb70a32ce9b5",
            "properties": {
                "title": "Storage account is unavailable",
                "details": None,
                "currentHealthStatus": "Unavailable",
                "previousHealthStatus": "Available",
                "type": "Downtime",
                "cause": "PlatformInitiated",
            },
            "status": "Active",
            "submissionTimestamp": "2026-11-28T06:58:35.7500000+00:00",
            "Activity Log Event Description": "",
        },
    ),
    "Application Insights": (
        "Log",
        {
            "properties": {},
            "conditionType": "WebtestLocationAvailabilityCriteria",
            "condition": {
                "windowSize": "PT5M",
                "allOf": [
                    {
                        "metricName": "Failed Location",
                        "metricNamespace": None,
                        "operator": "GreaterThan",
                        "threshold": "2",
                        "timeAggregation": "Sum",
                        "dimensions": [],
                        "metricValue": 5,
                        "webTestName": "shop-availability",
                    }
                ],
                "windowStartTime": "2026-11-28T06:54:00Z",
                "windowEndTime": "2026-11-28T06:59:00Z",
            },
        },
    ),
    "Smart Detector": (
        "Log",
        {
            "DetectionSummary": "A degradation in the dependency duration over the last 24 hours",
            "FormattedOccurrenceTime": "2026-11-28T06:59:00Z",
            "DetectedValue": "568.0 ms",
            "NormalValue": "126.0 ms (over the last 7 days)",
            "PresentationInsightEventRequest": "/subscriptions/...",
            "SmartDetectorId": "DependencyPerformanceDegradationDetector",
            "SmartDetectorName": "Dependency Performance Degradation Detector",
            "AnalysisTimestamp": "2026-11-28T06:59:01.0000000Z",
        },
    ),
}


def alert(service: str = "Platform", *, rule: str = "shop-primary-down", **essential_overrides: Any) -> dict[str, Any]:
    signal_type, context = CONTEXTS[service]
    fields = essentials(rule, monitoringService=service, signalType=signal_type)
    fields.update(essential_overrides)
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": fields,
            "alertContext": copy.deepcopy(context),
            "customProperties": {"team": "shop"},
        },
    }
