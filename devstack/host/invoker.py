"""The host's side of an invocation: the InvocationRequest the Functions host sends the worker for each
trigger, and what it makes of the InvocationResponse. The worker side is Microsoft's runtime (`worker.py`).

What goes into a request, per binding, follows the Functions host's conversion of trigger values to
TypedData (azure-functions-host, src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs):
an HTTP request becomes RpcHttp, its body bytes because the runtime announces RpcHttpBodyOnly and
RawHttpBodyBytes; strings (the Durable extension's orchestration and entity contexts, the durableClient
binding's JSON) go as `string`; JSON values (an activity's input, a TimerInfo) as `json`.

Fake activities that tests register under real names (`activity_overrides`) are plain Python callables and
are called directly (`call_override`), not through the runtime: they are not part of the app.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import random
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import web

from .indexer import FunctionInfo, IndexedApp

_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}


class InvocationFailed(Exception):
    """The function raised (or the runtime could not bind it): the runtime's RpcException."""

    def __init__(self, message: str, stack_trace: str) -> None:
        super().__init__(message)
        self.message = message
        self.stack_trace = stack_trace


@dataclass(frozen=True)
class Invocation:
    """A successful InvocationResponse: the `$return` value and the named output bindings."""

    return_value: Any  # TypedData, or None when the function has no return binding
    outputs: dict[str, Any]  # output binding name -> TypedData


class Invoker:
    """Builds InvocationRequests for one app and sends them to the runtime."""

    def __init__(self, app: IndexedApp) -> None:
        self.app = app
        self.protos = app.loaded.protos

    # -- TypedData the host sends ---------------------------------------------------------------------

    def string(self, text: str) -> Any:
        return self.protos.TypedData(string=text)

    def json(self, text: str) -> Any:
        return self.protos.TypedData(json=text)

    def http(
        self,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        route_params: Mapping[str, str],
        body: bytes,
    ) -> Any:
        rpc_http = self.protos.RpcHttp(
            method=method, url=url, headers=dict(headers), query=dict(query), params=dict(route_params)
        )
        if body:  # the host sets a body only when the request has content
            rpc_http.body.CopyFrom(self.protos.TypedData(bytes=body))
        return self.protos.TypedData(http=rpc_http)

    # -- invocation -----------------------------------------------------------------------------------

    def request(self, info: FunctionInfo, inputs: Mapping[str, Any]) -> Any:
        """The StreamingMessage carrying the InvocationRequest, built in place (a hot path: a message set
        as a field would be copied)."""
        message = self.protos.StreamingMessage(request_id=_random_hex(128))
        call = message.invocation_request
        guid = _random_hex(128)
        call.invocation_id = f"{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:]}"
        call.function_id = info.function_id
        for name, data in inputs.items():
            call.input_data.add(name=name, data=data)
        call.trace_context.trace_parent = f"00-{_random_hex(128)}-{_random_hex(64)}-01"
        return message

    async def invoke(self, info: FunctionInfo, inputs: Mapping[str, Any]) -> Invocation:
        """Invoke a function through the runtime from a host coroutine."""
        response = await self.app.loaded.invoke_here(self.request(info, inputs))
        return self._result(response)

    def _result(self, response: Any) -> Invocation:
        if response.result.status != self.protos.StatusResult.Success:
            exception = response.result.exception
            raise InvocationFailed(exception.message or response.result.result, exception.stack_trace)
        return_value = response.return_value if response.HasField("return_value") else None
        outputs = {binding.name: binding.data for binding in response.output_data}
        return Invocation(return_value=return_value, outputs=outputs)


def _random_hex(bits: int) -> str:
    # Ids need only be unique: random bits, without uuid4's system call per id.
    return f"{random.getrandbits(bits):0{bits // 4}x}"


# -- what the host makes of the results ------------------------------------------------------------------


def typed_text(data: Any) -> str | None:
    """The text of a string/json TypedData (None when unset)."""
    if data is None:
        return None
    kind = data.WhichOneof("data")
    if kind in ("string", "json"):
        return str(getattr(data, kind))
    if kind == "bytes":
        return bytes(data.bytes).decode("utf-8")
    if kind is None:
        return None
    raise TypeError(f"expected string or JSON data from the function, got {kind}")


def web_response(data: Any) -> web.Response:
    """An HTTP output binding's value as the host answers it."""
    kind = data.WhichOneof("data")
    if kind != "http":
        # A function that returned a plain value on an HTTP output: the host answers 200 with it.
        text = typed_text(data)
        return web.Response(status=200, text=text or "")
    rpc_http = data.http
    body_kind = rpc_http.body.WhichOneof("data")
    if body_kind == "bytes":
        body: bytes = bytes(rpc_http.body.bytes)
    elif body_kind in ("string", "json"):
        body = str(getattr(rpc_http.body, body_kind)).encode("utf-8")
    else:
        body = b""
    headers = {name: value for name, value in rpc_http.headers.items() if name.lower() not in _HOP_BY_HOP}
    response = web.Response(status=int(rpc_http.status_code or 200), body=body, headers=headers)
    for cookie in rpc_http.cookies:
        response.headers.add("Set-Cookie", _set_cookie(cookie))
    return response


def _set_cookie(cookie: Any) -> str:
    jar: SimpleCookie = SimpleCookie()
    jar[cookie.name] = cookie.value
    morsel = jar[cookie.name]
    if cookie.HasField("domain"):
        morsel["domain"] = cookie.domain.value
    if cookie.HasField("path"):
        morsel["path"] = cookie.path.value
    if cookie.HasField("secure") and cookie.secure.value:
        morsel["secure"] = True
    if cookie.HasField("http_only") and cookie.http_only.value:
        morsel["httponly"] = True
    if cookie.HasField("max_age"):
        morsel["max-age"] = str(int(cookie.max_age.value))
    same_site = {1: "Lax", 2: "Strict", 3: "None"}.get(int(cookie.same_site))
    if same_site:
        morsel["samesite"] = same_site
    return morsel.OutputString()


# -- test fakes --------------------------------------------------------------------------------------------


async def call_user_function(function: Callable[..., Any], kwargs: dict[str, Any], executor: Executor) -> Any:
    """Await an async function here; run a sync one on the executor (keeping context variables)."""
    if inspect.iscoroutinefunction(function):
        return await function(**kwargs)
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    result = await loop.run_in_executor(executor, functools.partial(context.run, function, **kwargs))
    if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
        return await result
    return result


def call_override(
    override: Callable[..., Any], binding_name: str, value: Any
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """Fake activities may name their parameter anything: pass the input by the binding's name if the fake
    accepts it, else as its first parameter."""
    try:
        parameters = list(inspect.signature(override).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    if any(p.name == binding_name for p in parameters) or any(p.kind is p.VAR_KEYWORD for p in parameters):
        return override, {binding_name: value}
    if not parameters:
        return override, {}
    first = parameters[0].name
    return override, {first: value}
