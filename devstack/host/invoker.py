"""Call user functions the way the Python worker does: bindings as keyword arguments, an optional
`context` argument, async functions on the event loop and sync ones on a thread pool."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from azure.functions import _abc as functions_abc

from .indexer import FunctionInfo


class _TraceContext(functions_abc.TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(functions_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(functions_abc.Context):
    """The `context: func.Context` argument a function may declare."""

    def __init__(self, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._local = threading.local()
        self._local.invocation_id = self._invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> functions_abc.TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> functions_abc.RetryContext:
        return _RetryContext()


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


async def invoke(info: FunctionInfo, kwargs: dict[str, Any], executor: Executor, function_directory: str = "") -> Any:
    if info.wants_context:
        kwargs = {**kwargs, "context": InvocationContext(info.name, function_directory)}
    return await call_user_function(info.user_function, kwargs, executor)


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
