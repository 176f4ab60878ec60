"""Traffic Manager handlers: parse, call the backend, shape the response. All synchronous (no LROs)."""

from __future__ import annotations

from ..estate import Estate
from ..routing import ArmRequest, ArmResponse
from .bodies import EndpointBody, ProfileBody
from .models import TmProfile, TrafficManagerBackend


class TrafficManagerResponses:
    def __init__(self, estate: Estate, backend: TrafficManagerBackend) -> None:
        self.estate = estate
        self.backend = backend

    def _profile(self, request: ArmRequest) -> TmProfile:
        p = request.params
        return self.backend.profile(p["subscriptionId"], p["resourceGroupName"], p["profileName"])

    # -- profiles ------------------------------------------------------------------------------------
    def get_profile(self, request: ArmRequest) -> ArmResponse:
        return ArmResponse(200, self._profile(request).to_resource(self.estate))

    def list_profiles_by_resource_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        group = self.estate.resource_group(p["subscriptionId"], p["resourceGroupName"])
        profiles = self.backend.profiles_in(group.subscription_id, group.name)
        return ArmResponse(200, {"value": [profile.to_resource(self.estate) for profile in profiles]})

    def list_profiles(self, request: ArmRequest) -> ArmResponse:
        subscription = self.estate.subscription(request.params["subscriptionId"])
        profiles = self.backend.profiles_in(subscription.id)
        return ArmResponse(200, {"value": [profile.to_resource(self.estate) for profile in profiles]})

    def put_profile(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        body = request.parse(ProfileBody)
        profile, created = self.backend.put_profile(p["subscriptionId"], p["resourceGroupName"], p["profileName"], body)
        return ArmResponse(201 if created else 200, profile.to_resource(self.estate))

    def patch_profile(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        body = request.parse(ProfileBody)
        return ArmResponse(200, self.backend.patch_profile(profile, body).to_resource(self.estate))

    def delete_profile(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        deleted = self.backend.delete_profile(p["subscriptionId"], p["resourceGroupName"], p["profileName"])
        return ArmResponse(200, {}) if deleted else ArmResponse(204)

    # -- endpoints -----------------------------------------------------------------------------------
    def get_endpoint(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        p = request.params
        endpoint = self.backend.endpoint(profile, p["endpointType"], p["endpointName"])
        return ArmResponse(200, endpoint.to_resource(profile, self.estate))

    def put_endpoint(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        p = request.params
        body = request.parse(EndpointBody)
        endpoint, created = self.backend.put_endpoint(profile, p["endpointType"], p["endpointName"], body)
        return ArmResponse(201 if created else 200, endpoint.to_resource(profile, self.estate))

    def patch_endpoint(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        p = request.params
        endpoint = self.backend.endpoint(profile, p["endpointType"], p["endpointName"])
        body = request.parse(EndpointBody)
        return ArmResponse(200, self.backend.patch_endpoint(profile, endpoint, body).to_resource(profile, self.estate))

    def delete_endpoint(self, request: ArmRequest) -> ArmResponse:
        profile = self._profile(request)
        p = request.params
        deleted = self.backend.delete_endpoint(profile, p["endpointType"], p["endpointName"])
        return ArmResponse(200, {}) if deleted else ArmResponse(204)
