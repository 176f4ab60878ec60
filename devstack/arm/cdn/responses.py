"""Microsoft.Cdn handlers: parse, call the backend, shape the response; and the profile's Azure Monitor metrics.

Long-running writes answer 202 with the resource as it now reads (provisioningState Creating/Updating) and an
`Azure-AsyncOperation` header on `/subscriptions/{s}/resourcegroups/{rg}/providers/Microsoft.Cdn/
operationresults/{id}`, as AFDOrigins_Update.json (2026-10-01) shows; the SDK's ARMPolling follows it, then
GETs the resource.

Metrics (`Metrics_List`, specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/
metrics_API.json, response shape as its GetMetric.json example): only OriginHealthPercentage of a profile,
split by the Origin dimension (the origin's host name) and filtered by `OriginGroup eq '<name>'` when asked.
One data point, for the minute now falls in, averaging Front Door's probes of that minute.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from ..errors import bad_request
from ..estate import Estate
from ..lro import Operation, accepted_at, iso, status_response
from ..routing import ArmRequest, ArmResponse
from .bodies import EndpointBody, OriginBody, OriginGroupBody, ProfileBody
from .models import CDN, CdnBackend, CdnProfile

ORIGIN_HEALTH = "OriginHealthPercentage"
METRIC_API_VERSIONS = ("2018-01-01", "2019-07-01", "2021-05-01", "2023-10-01")
_FILTER_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


class CdnResponses:
    def __init__(self, estate: Estate, backend: CdnBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _profile(self, request: ArmRequest) -> CdnProfile:
        p = request.params
        return self.backend.profile(p["subscriptionId"], p["resourceGroupName"], p["profileName"])

    def _accepted(self, request: ArmRequest, profile: CdnProfile, operation: Operation, body: Any) -> ArmResponse:
        path = (
            f"/subscriptions/{profile.subscription_id}/resourcegroups/{profile.resource_group}/providers/{CDN}"
            f"/operationresults/{operation.id}"
        )
        return accepted_at(request, self.estate.settings.retry_after_seconds, status_path=path, body=body)

    def operation_status(self, request: ArmRequest) -> ArmResponse:
        operation = self.estate.find_operation(request.params["operationId"])
        return status_response(operation, self.estate.settings.retry_after_seconds)

    # -- profiles ------------------------------------------------------------------------------------
    def get_profile(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self._profile(request).to_resource())

    def list_profiles(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        subscription = self.estate.subscription(p["subscriptionId"])
        group = p.get("resourceGroupName")
        profiles = self.backend.profiles_in(subscription.id, group)
        return ArmResponse(200, {"value": [profile.to_resource() for profile in profiles]})

    def put_profile(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        existed = self.backend.find(p["subscriptionId"], p["resourceGroupName"], p["profileName"]) is not None
        profile = self.backend.put_profile(
            p["subscriptionId"], p["resourceGroupName"], p["profileName"], request.parse(ProfileBody)
        )
        return ArmResponse(200 if existed else 201, profile.to_resource())

    def patch_profile(self, request: ArmRequest) -> ArmResponse:
        profile = self.backend.patch_profile(self._profile(request), request.parse(ProfileBody))
        return ArmResponse(200, profile.to_resource())

    # -- endpoints -----------------------------------------------------------------------------------
    def get_endpoint(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        return ArmResponse(200, self.backend.endpoint(profile, request.params["endpointName"]).to_resource(profile))

    def list_endpoints(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        return ArmResponse(200, {"value": [e.to_resource(profile) for e in profile.endpoints.values()]})

    def put_endpoint(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        creating = request.params["endpointName"].lower() not in profile.endpoints
        endpoint = self.backend.put_endpoint(profile, request.params["endpointName"], request.parse(EndpointBody))
        operation = self.backend.start_deployment(profile, endpoint, kind="cdn.endpoint.write", creating=creating)
        return self._accepted(request, profile, operation, endpoint.to_resource(profile))

    # -- origin groups -------------------------------------------------------------------------------
    def get_origin_group(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        group = self.backend.origin_group(profile, request.params["originGroupName"])
        return ArmResponse(200, group.to_resource(profile))

    def list_origin_groups(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        return ArmResponse(200, {"value": [g.to_resource(profile) for g in profile.origin_groups.values()]})

    def put_origin_group(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        name = request.params["originGroupName"]
        creating = name.lower() not in profile.origin_groups
        group = self.backend.put_origin_group(profile, name, request.parse(OriginGroupBody))
        operation = self.backend.start_deployment(profile, group, kind="cdn.origin_group.write", creating=creating)
        return self._accepted(request, profile, operation, group.to_resource(profile))

    def patch_origin_group(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        group = self.backend.origin_group(profile, request.params["originGroupName"])
        self.backend.patch_origin_group(group, request.parse(OriginGroupBody))
        operation = self.backend.start_deployment(profile, group, kind="cdn.origin_group.write", creating=False)
        return self._accepted(request, profile, operation, group.to_resource(profile))

    # -- origins -------------------------------------------------------------------------------------
    def get_origin(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        group = self.backend.origin_group(profile, request.params["originGroupName"])
        origin = self.backend.origin(profile, group, request.params["originName"])
        return ArmResponse(200, origin.to_resource(profile, group))

    def list_origins(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        group = self.backend.origin_group(profile, request.params["originGroupName"])
        return ArmResponse(200, {"value": [o.to_resource(profile, group) for o in group.origins.values()]})

    def put_origin(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        group = self.backend.origin_group(profile, request.params["originGroupName"])
        name = request.params["originName"]
        creating = name.lower() not in group.origins
        origin = self.backend.put_origin(profile, group, name, request.parse(OriginBody))
        operation = self.backend.start_deployment(profile, origin, kind="cdn.origin.write", creating=creating)
        return self._accepted(request, profile, operation, origin.to_resource(profile, group))

    def patch_origin(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        group = self.backend.origin_group(profile, request.params["originGroupName"])
        origin = self.backend.origin(profile, group, request.params["originName"])
        self.backend.patch_origin(profile, group, origin, request.parse(OriginBody))
        operation = self.backend.start_deployment(profile, origin, kind="cdn.origin.write", creating=False)
        return self._accepted(request, profile, operation, origin.to_resource(profile, group))

    def delete_origin(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        group = self.backend.origin_group(profile, request.params["originGroupName"])
        origin = group.origins.get(request.params["originName"].lower())
        if origin is None:
            return ArmResponse(204)
        operation = self.backend.start_origin_delete(profile, group, origin)
        return self._accepted(request, profile, operation, None)

    # -- Azure Monitor metrics of a profile ------------------------------------------------------------
    def metrics(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        names = [name.strip() for name in request.query.get("metricnames", "").split(",") if name.strip()]
        unknown = [name for name in names if name.lower() != ORIGIN_HEALTH.lower()]
        if not names or unknown:
            raise bad_request(
                f"Failed to find metric configuration for provider: {CDN}, resource Type: profiles, metric: "
                f"{', '.join(unknown) or '(none)'}. Valid metrics here: {ORIGIN_HEALTH}",
            )
        wanted_group = _filter_value(request.query.get("$filter", ""), "OriginGroup")
        now = self.estate.now()
        minute = now.replace(second=0, microsecond=0)
        timespan = request.query.get("timespan") or f"{iso(now - timedelta(hours=1))}/{iso(now)}"
        series = [
            {
                "metadatavalues": [
                    {"name": {"value": "origin", "localizedValue": "origin"}, "value": health.host_name}
                ],
                "data": [{"timeStamp": iso(minute), "average": health.percent}],
            }
            for health in self.backend.origin_health(profile)
            if health.percent is not None
            and (wanted_group in (None, "*") or health.origin_group.lower() == wanted_group.lower())
        ]
        body = {
            "cost": 0,
            "timespan": timespan,
            "interval": request.query.get("interval", "PT1M"),
            "value": [
                {
                    "id": f"{profile.id}/providers/Microsoft.Insights/metrics/{ORIGIN_HEALTH}",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": ORIGIN_HEALTH, "localizedValue": "Origin Health Percentage"},
                    "displayDescription": "The percentage of successful health probes from AFD to origins.",
                    "unit": "Percent",
                    "timeseries": series,
                    "errorCode": "Success",
                }
            ],
            "namespace": "microsoft.cdn/profiles",
            "resourceregion": "global",
        }
        return ArmResponse(200, body)


def _filter_value(text: str, dimension: str) -> str | None:
    """The value of `<dimension> eq '<value>'` in an OData metrics filter of `and`ed clauses, if there is one."""
    for clause in re.split(r"\s+and\s+", text, flags=re.IGNORECASE):
        found = _FILTER_CLAUSE.match(clause)
        if found and found.group(1).lower() == dimension.lower():
            return found.group(2)
    return None
