"""Microsoft.Authorization permissions handlers: read the scope from the path, answer one page of the
caller's permissions there (`PermissionGetResult`), with a nextLink while more remain."""

from __future__ import annotations

from ..errors import ArmError
from ..routing import ArmRequest, ArmResponse
from .models import PAGE_SIZE, AuthorizationBackend, Permission

SKIP_TOKEN = "$skipToken"


class AuthorizationResponses:
    def __init__(self, backend: AuthorizationBackend) -> None:
        self.backend = backend

    def list_for_resource_group(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        return self._page(request, self.backend.for_resource_group(p["subscriptionId"], p["resourceGroupName"]))

    def list_for_resource(self, request: ArmRequest) -> ArmResponse:
        p = request.params
        path: list[str] = []
        while f"segment{len(path)}" in p:
            path.append(p[f"segment{len(path)}"])
        permissions = self.backend.for_resource(
            p["subscriptionId"], p["resourceGroupName"], p["resourceProviderNamespace"], path
        )
        return self._page(request, permissions)

    @staticmethod
    def _page(request: ArmRequest, permissions: list[Permission]) -> ArmResponse:
        token = request.query.get(SKIP_TOKEN, "0")
        if not token.isdigit():
            raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is not valid.")
        start = int(token)
        body: dict[str, object] = {
            "value": [permission.to_resource() for permission in permissions[start : start + PAGE_SIZE]]
        }
        if start + PAGE_SIZE < len(permissions):
            body["nextLink"] = request.url_for(request.path, **{SKIP_TOKEN: str(start + PAGE_SIZE)})
        return ArmResponse(200, body)
