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


class DurableHttpApi:
    def __init__(self, core: EngineCore, *, task_hub: str, key: str) -> None:
        self._core = core
        self._task_hub = task_hub
        self._key = key

    async def handle(self, request: web.Request, subpath: str) -> web.Response:
        segments = [unquote(s) for s in subpath.strip("/").split("/")] if subpath.strip("/") else []
        query = {k.lower(): v for k, v in request.query.items()}
        method = request.method.upper()
        try:
            if segments and segments[0].lower() == "orchestrators" and len(segments) in (2, 3):
                if method != "POST":
                    return _empty(404)
                return await self._start(request, query, segments[1], segments[2] if len(segments) == 3 else None)
            if segments and segments[0].lower() == "instances":
                return await self._instances(request, query, method, segments[1:])
            if segments and segments[0].lower() == "entities" and len(segments) in (2, 3):
                key = segments[2] if len(segments) == 3 else ""
                return await self._entities(request, query, method, segments[1], key)
            return _empty(404)
        except (InvalidInstanceIdError, FunctionNotFoundError) as error:
            return _error(400, "One or more of the arguments submitted is incorrect", error, "System.ArgumentException")
        except InstanceAlreadyExistsError as error:
            return _error(
                500,
                "Something went wrong while processing your request",
                error,
                "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException",
            )

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
        self, request: web.Request, query: dict[str, str], name: str, instance_id: str | None
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
        new_id = self._core.start_instance(name, input_json, instance_id, version=query.get("version"))
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

    async def _instances(
        self, request: web.Request, query: dict[str, str], method: str, rest: list[str]
    ) -> web.Response:
        if not rest or rest == [""]:
            if method == "GET":
                return self._list(request, query)
            if method == "DELETE":
                return self._purge_where(query)
            return _empty(404)
        instance_id = rest[0]
        if len(rest) == 1:
            if method == "GET":
                return self._status(request, query, instance_id)
            if method == "DELETE":
                deleted = self._core.purge(instance_id)
                return web.json_response({"instancesDeleted": deleted}) if deleted else _empty(404)
            return _empty(404)
        if method != "POST":
            return _empty(404)
        operation = rest[1].lower()
        if len(rest) == 3 and operation == "raiseevent":
            return await self._raise_event(request, instance_id, rest[2])
        if len(rest) != 2:
            return _empty(404)
        reason = query.get("reason")
        try:
            if operation == "terminate":
                self._core.terminate(instance_id, reason)
            elif operation == "suspend":
                self._core.suspend(instance_id, reason)
            elif operation == "resume":
                self._core.resume(instance_id, reason)
            elif operation == "restart":
                new_id = self._core.restart(instance_id, new_instance_id=_bool(query, "restartWithNewInstanceId", True))
                return self._check_status_response(request, new_id)
            elif operation == "rewind":
                status = self._core.get_status(instance_id)
                if status is None:
                    return _empty(404)
                return web.json_response("Rewind is not supported by the devstack host.", status=501)
            else:
                return _empty(404)
        except InstanceNotFoundError:
            return _empty(404)
        except InstanceGoneError:
            return _empty(410)
        return _empty(202)

    def _status(self, request: web.Request, query: dict[str, str], instance_id: str) -> web.Response:
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

    def _list(self, request: web.Request, query: dict[str, str]) -> web.Response:
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

    def _purge_where(self, query: dict[str, str]) -> web.Response:
        created_from = _time(query.get("createdtimefrom"))
        if created_from is None:
            return web.json_response("Please provide value for 'createdTimeFrom' parameter.", status=400)
        deleted = self._core.purge_where(
            created_from=created_from,
            created_to=_time(query.get("createdtimeto")),
            statuses=_statuses(query.get("runtimestatus")),
        )
        return web.json_response({"instancesDeleted": deleted}) if deleted else _empty(404)

    async def _raise_event(self, request: web.Request, instance_id: str, event_name: str) -> web.Response:
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

    async def _entities(
        self, request: web.Request, query: dict[str, str], method: str, name: str, key: str
    ) -> web.Response:
        """`entities/{entityName}/{entityKey?}` as HttpApiHandler serves it: GET reads an entity's state
        (200 with the state, 404 when it does not exist), POST signals operation `?op=` (DELETE signals
        "delete"), 202 once queued. The SDK's read_entity_state and signal_entity call these
        (azure/durable_functions/models/DurableOrchestrationClient.py, RpcManagementOptions.to_url)."""
        if key == "$":  # EmptyEntityKeySymbol
            key = ""
        try:
            if method == "GET":
                if not key:
                    return _error(501, "Listing entities is not supported by the devstack host.")
                exists, state = self._core.read_entity_state(name, key)
                if not exists:
                    return _empty(404)
                return web.Response(status=200, text=state or "null", content_type="application/json")
            if method not in ("POST", "DELETE"):
                return _empty(404)
            operation = "delete" if method == "DELETE" else query.get("op", "")
            raw = await request.read()
            input_json: str | None = None
            if raw:
                text = raw.decode("utf-8")
                if request.content_type.lower() == "application/json":
                    try:
                        input_json = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
                    except ValueError as error:
                        return _error(400, f"Could not parse JSON content: {error}")
                else:
                    input_json = json.dumps(text)  # a plain string input
            self._core.signal_entity(name, key, operation, input_json)
            return _empty(202)
        except FunctionNotFoundError as error:
            # The entity route answers an ArgumentException with 400 and its message.
            return _error(400, str(error))


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
