"""The Durable extension's HTTP API, served by the devstack host.

Two mounts serve the same handler: `/runtime/webhooks/durabletask/` (the public webhook, which needs the
system key, as in Azure) and `/durabletask/` (the local RPC endpoint whose URL the durable client binding
carries as `rpcBaseUrl`, unauthenticated like the extension's loopback listener). Routes, status codes and
payloads follow the extension's HttpApiHandler so that `DurableOrchestrationClient` runs unmodified.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web

from .clock import parse_time
from .engine import EngineCore
from .models import (
    FunctionNotFoundError,
    InstanceAlreadyExistsError,
    InstanceGoneError,
    InstanceNotFoundError,
    InstanceStatus,
    InvalidInstanceIdError,
    RuntimeStatus,
)

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"
INSTANCE_PLACEHOLDER = "INSTANCEID"
CONNECTION_NAME = "Storage"


DEFAULT_PAGE_SIZE = 100


def management_urls(origin: str, task_hub: str, key: str, instance_id: str) -> dict[str, str]:
    """The HttpManagementPayload (`create_check_status_response` links) for one instance."""
    prefix = f"{origin}{WEBHOOK_PATH}/instances/{quote(instance_id, safe='')}"
    query = f"taskHub={quote(task_hub)}&connection={CONNECTION_NAME}&code={quote(key)}"
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{prefix}?{query}",
        "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{prefix}?{query}",
        "restartPostUri": f"{prefix}/restart?{query}",
        "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{prefix}/resume?reason={{text}}&{query}",
    }


def client_binding_json(origin: str, task_hub: str, key: str) -> str:
    """The `durableClient` input binding value the extension hands to a client function."""
    webhook = f"{origin}{WEBHOOK_PATH}"
    creation_prefix = f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"
    return json.dumps(
        {
            "taskHubName": task_hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{creation_prefix}?code={quote(key)}",
                "createAndWaitOnNewInstancePostUri": (
                    f"{creation_prefix}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}"
                    f"&code={quote(key)}"
                ),
            },
            "managementUrls": management_urls(origin, task_hub, key, INSTANCE_PLACEHOLDER),
            "baseUrl": webhook,
            "requiredQueryStringParameters": f"code={quote(key)}",
            "rpcBaseUrl": f"{origin}{RPC_PATH}/",
            "httpBaseUrl": origin,
        }
    )


def _error(
    status: int, message: str, exception: Exception | None = None, exception_type: str | None = None
) -> web.Response:
    body: dict[str, Any] = {"Message": message}
    if exception is not None:
        body["ExceptionMessage"] = str(exception)
        body["ExceptionType"] = exception_type or type(exception).__name__
        body["StackTrace"] = None
    return web.json_response(body, status=status)


def _empty(status: int) -> web.Response:
    return web.Response(status=status)


def _bool(query: dict[str, str], name: str, default: bool) -> bool:
    value = query.get(name.lower())
    if value is None or value.lower() not in ("true", "false"):
        return default
    return value.lower() == "true"


_Handler = Callable[..., Awaitable[web.Response]]
"""A route's handler: called with the request, the lower-cased query and the template's values by name."""
_Operation = Callable[[web.Request, dict[str, str], str], web.Response]
"""A lifecycle operation on an instance: called with the request, the lower-cased query and the instance ID."""


@dataclass(frozen=True)
class _Route:
    """One of the extension's route templates: literal segments match case-insensitively, `{name}` takes any
    segment, and a trailing `{name?}` may be absent (then its handler's default applies)."""

    method: str
    template: str
    handler: _Handler

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        parts = self.template.split("/")
        required = sum(not part.endswith("?}") for part in parts)
        if method != self.method or not required <= len(segments) <= len(parts):
            return None
        values: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=False):  # optional parts past the segments: absent
            if part.startswith("{"):
                values[part.strip("{?}")] = segment
            elif part.lower() != segment.lower():
                return None
        return values


class DurableHttpApi:
    def __init__(self, core: EngineCore, *, task_hub: str, key: str) -> None:
        self._core = core
        self._task_hub = task_hub
        self._key = key
        # HttpApiHandler's routes; any other path or method is a 404.
        self._routes = (
            _Route("POST", "orchestrators/{function_name}/{instance_id?}", self._start),
            _Route("GET", "instances", self._list),
            _Route("DELETE", "instances", self._purge_where),
            _Route("GET", "instances/{instance_id}", self._status),
            _Route("DELETE", "instances/{instance_id}", self._purge),
            _Route("POST", "instances/{instance_id}/raiseEvent/{event_name}", self._raise_event),
            _Route("POST", "instances/{instance_id}/{operation}", self._operate),
            _Route("GET", "entities/{entity_name}/{entity_key?}", self._read_entity),
            _Route("POST", "entities/{entity_name}/{entity_key?}", self._signal_entity),
            _Route("DELETE", "entities/{entity_name}/{entity_key?}", self._signal_entity),
        )
        self._operations: dict[str, _Operation] = {
            "terminate": self._terminate,
            "suspend": self._suspend,
            "resume": self._resume,
            "restart": self._restart,
            "rewind": self._rewind,
        }

    async def handle(self, request: web.Request, subpath: str) -> web.Response:
        segments = [unquote(s) for s in subpath.strip("/").split("/")] if subpath.strip("/") else []
        query = {k.lower(): v for k, v in request.query.items()}
        method = request.method.upper()
        found = self._route(method, segments)
        if found is None:
            return _empty(404)
        handler, values = found
        try:
            return await handler(request, query, **values)
        except (InvalidInstanceIdError, FunctionNotFoundError) as error:
            return _error(400, "One or more of the arguments submitted is incorrect", error, "System.ArgumentException")
        except InstanceAlreadyExistsError as error:
            return _error(
                500,
                "Something went wrong while processing your request",
                error,
                "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException",
            )

    def _route(self, method: str, segments: list[str]) -> tuple[_Handler, dict[str, str]] | None:
        for route in self._routes:
            if (values := route.match(method, segments)) is not None:
                return route.handler, values
        return None

    # -- routes -------------------------------------------------------------------------------------------

    def _origin(self, request: web.Request) -> str:
        return f"{request.url.scheme}://{request.url.raw_authority}"

    def _check_status_response(self, request: web.Request, instance_id: str) -> web.Response:
        payload = management_urls(self._origin(request), self._task_hub, self._key, instance_id)
        payload.pop("rewindPostUri")
        return web.json_response(
            payload, status=202, headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"}
        )

    async def _start(
        self, request: web.Request, query: dict[str, str], *, function_name: str, instance_id: str | None = None
    ) -> web.Response:
        raw = await request.read()
        input_json: str | None = None
        if raw.strip():
            try:
                input_json = json.dumps(json.loads(raw))
            except ValueError as error:
                return _error(400, "Invalid JSON content", error, "Newtonsoft.Json.JsonReaderException")
        # The start request's `version` query parameter, else host.json defaultVersion (HttpApiHandler
        # .HandleStartOrchestratorRequestAsync); the SDK's start_new(version=) sends it as `?version=`
        # (azure-functions-durable-python: azure/durable_functions/models/DurableOrchestrationClient.py).
        new_id = self._core.start_instance(function_name, input_json, instance_id, version=query.get("version"))
        timeout = _float(query.get("timeout"))
        interval = _float(query.get("pollinginterval"))
        if timeout is not None and interval is not None:
            return await self._wait_or_check(request, new_id, timeout, interval)
        return self._check_status_response(request, new_id)

    async def _wait_or_check(
        self, request: web.Request, instance_id: str, timeout: float, interval: float
    ) -> web.Response:
        deadline = time.monotonic() + timeout
        while True:
            status = self._core.get_status(instance_id)
            if status is not None and status.runtime_status.is_terminal:
                if status.runtime_status is RuntimeStatus.COMPLETED:
                    return web.json_response(status.output, status=200)
                return web.json_response(status.to_api(), status=200)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._check_status_response(request, instance_id)
            await asyncio.sleep(min(interval, remaining))

    async def _purge(self, request: web.Request, query: dict[str, str], *, instance_id: str) -> web.Response:
        deleted = self._core.purge(instance_id)
        return web.json_response({"instancesDeleted": deleted}) if deleted else _empty(404)

    async def _operate(
        self, request: web.Request, query: dict[str, str], *, instance_id: str, operation: str
    ) -> web.Response:
        """`instances/{instanceId}/{operation}`: 404 for an unknown operation or instance, 410 for an instance
        the operation no longer applies to."""
        operate = self._operations.get(operation.lower())
        if operate is None:
            return _empty(404)
        try:
            return operate(request, query, instance_id)
        except InstanceNotFoundError:
            return _empty(404)
        except InstanceGoneError:
            return _empty(410)

    def _terminate(self, request: web.Request, query: dict[str, str], instance_id: str) -> web.Response:
        self._core.terminate(instance_id, query.get("reason"))
        return _empty(202)

    def _suspend(self, request: web.Request, query: dict[str, str], instance_id: str) -> web.Response:
        self._core.suspend(instance_id, query.get("reason"))
        return _empty(202)

    def _resume(self, request: web.Request, query: dict[str, str], instance_id: str) -> web.Response:
        self._core.resume(instance_id, query.get("reason"))
        return _empty(202)

    def _restart(self, request: web.Request, query: dict[str, str], instance_id: str) -> web.Response:
        new_id = self._core.restart(instance_id, new_instance_id=_bool(query, "restartWithNewInstanceId", True))
        return self._check_status_response(request, new_id)

    def _rewind(self, request: web.Request, query: dict[str, str], instance_id: str) -> web.Response:
        if self._core.get_status(instance_id) is None:
            return _empty(404)
        return web.json_response("Rewind is not supported by the devstack host.", status=501)

    async def _status(self, request: web.Request, query: dict[str, str], *, instance_id: str) -> web.Response:
        show_history = _bool(query, "showHistory", False)
        show_output = _bool(query, "showHistoryOutput", False)
        show_input = _bool(query, "showInput", True)
        fail_on_failure = _bool(query, "returnInternalServerErrorOnFailure", False)
        status = self._core.get_status(instance_id, with_history=show_history)
        if status is None:
            return _empty(404)
        payload = status.to_api(show_input=show_input, show_history=show_history, show_history_output=show_output)
        running = status.runtime_status in (
            RuntimeStatus.RUNNING,
            RuntimeStatus.PENDING,
            RuntimeStatus.CONTINUED_AS_NEW,
            RuntimeStatus.SUSPENDED,
        )
        if running:
            return web.json_response(payload, status=202, headers={"Location": str(request.url), "Retry-After": "5"})
        failed = status.runtime_status is RuntimeStatus.FAILED
        return web.json_response(payload, status=500 if failed and fail_on_failure else 200)

    async def _list(self, request: web.Request, query: dict[str, str]) -> web.Response:
        statuses = _statuses(query.get("runtimestatus"))
        created_from = _time(query.get("createdtimefrom"))
        created_to = _time(query.get("createdtimeto"))
        # Pages of 100 unless `top` says otherwise, with the next page's token in x-ms-continuation-token:
        # OrchestrationStatusQueryCondition.PageSize ("The default value is 100 ... Always check the
        # continuation token"), azure-functions-durable-extension src/WebJobs.Extensions.DurableTask/
        # OrchestrationStatusQueryCondition.cs.
        top = _int(query.get("top")) or DEFAULT_PAGE_SIZE
        found, token = self._core.list_instances(
            statuses=statuses,
            created_from=created_from,
            created_to=created_to,
            prefix=query.get("instanceidprefix"),
            page_size=top,
            continuation=request.headers.get("x-ms-continuation-token") or None,
        )
        show_input = _bool(query, "showInput", True)
        response = web.json_response([_listed(s, show_input) for s in found])
        if token:
            response.headers["x-ms-continuation-token"] = token
        return response

    async def _purge_where(self, request: web.Request, query: dict[str, str]) -> web.Response:
        created_from = _time(query.get("createdtimefrom"))
        if created_from is None:
            return web.json_response("Please provide value for 'createdTimeFrom' parameter.", status=400)
        deleted = self._core.purge_where(
            created_from=created_from,
            created_to=_time(query.get("createdtimeto")),
            statuses=_statuses(query.get("runtimestatus")),
        )
        return web.json_response({"instancesDeleted": deleted}) if deleted else _empty(404)

    async def _raise_event(
        self, request: web.Request, query: dict[str, str], *, instance_id: str, event_name: str
    ) -> web.Response:
        status = self._core.get_status(instance_id)
        if status is None:
            return _empty(404)
        if status.runtime_status.is_terminal:
            return _empty(410)
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        raw = await request.read()
        try:
            # Like the extension: parse the body as one JSON token and store it re-serialized. (A client
            # that JSON-encodes a JSON string, as the Python SDK's raise_event does, delivers a string.)
            input_json = json.dumps(json.loads(raw))
        except ValueError as error:
            return _error(400, "Invalid JSON content", error, "Newtonsoft.Json.JsonReaderException")
        try:
            self._core.raise_event(instance_id, event_name, input_json)
        except InstanceGoneError:
            return _empty(410)
        return _empty(202)

    # `entities/{entityName}/{entityKey?}` as HttpApiHandler serves it: GET reads an entity's state, POST
    # signals operation `?op=` (DELETE signals "delete"). The SDK's read_entity_state and signal_entity call
    # these (azure/durable_functions/models/DurableOrchestrationClient.py, RpcManagementOptions.to_url).

    async def _read_entity(
        self, request: web.Request, query: dict[str, str], *, entity_name: str, entity_key: str = ""
    ) -> web.Response:
        """200 with the state, 404 when the entity does not exist."""
        key = _entity_key(entity_key)
        if not key:
            return _error(501, "Listing entities is not supported by the devstack host.")
        exists, state = self._core.read_entity_state(entity_name, key)
        if not exists:
            return _empty(404)
        return web.Response(status=200, text=state or "null", content_type="application/json")

    async def _signal_entity(
        self, request: web.Request, query: dict[str, str], *, entity_name: str, entity_key: str = ""
    ) -> web.Response:
        """202 once the signal is queued."""
        operation = "delete" if request.method.upper() == "DELETE" else query.get("op", "")
        text = (await request.read()).decode("utf-8") or None
        try:
            input_json = _entity_input(text, request.content_type)
        except ValueError as error:
            return _error(400, f"Could not parse JSON content: {error}")
        try:
            self._core.signal_entity(entity_name, _entity_key(entity_key), operation, input_json)
        except FunctionNotFoundError as error:
            # The entity route answers an ArgumentException with 400 and its message.
            return _error(400, str(error))
        return _empty(202)


def _entity_key(key: str) -> str:
    return "" if key == "$" else key  # "$": EmptyEntityKeySymbol


def _entity_input(text: str | None, content_type: str) -> str | None:
    """A signal's input: a JSON body re-serialized compactly (ValueError if it is not JSON), any other body
    as a plain string input."""
    if text is None:
        return None
    if content_type.lower() != "application/json":
        return json.dumps(text)
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


def _listed(status: InstanceStatus, show_input: bool) -> dict[str, Any]:
    return status.to_api(show_input=show_input)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _time(text: str | None) -> Any:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def _statuses(text: str | None) -> list[RuntimeStatus] | None:
    if not text:
        return None
    by_name = {s.value.lower(): s for s in RuntimeStatus}
    found = [by_name[p.strip().lower()] for p in text.split(",") if p.strip().lower() in by_name]
    return found or None
