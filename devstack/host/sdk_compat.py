"""Two adjustments to the Durable SDK for running it inside a local host; nothing about orchestration
logic changes.

1. Faster history timestamps. Every replay builds one `HistoryEvent` per history event, and
   `HistoryEvent.__init__` parses the Timestamp with `dateutil.parser.parse`, a general-purpose parser
   that costs ~0.3 ms a call: 85% of a replay's time. The host writes every timestamp in exactly one
   format (`%Y-%m-%dT%H:%M:%S.%fZ`); for that format `parse_timestamp` returns the very same value
   dateutil returns (an aware datetime with `dateutil.tz.UTC`) and hands anything else to dateutil. Only
   the name `dt_parse` in the SDK's HistoryEvent module is rebound. `DEVSTACK_FAST_TIMESTAMPS=0` turns it off.

2. One HTTP session per event loop for `DurableOrchestrationClient`. The SDK keeps a single aiohttp
   session per process, bound to the loop that created it: right for the worker (one loop per process),
   wrong for tests that run several hosts (each with its own loop) in one process.

Two more, on Microsoft's Python runtime (azure-functions-runtime), live in `worker.py` for the same reason
(a worker process holds one app; a test process loads several): the runtime's module-global function
registry is replaced by one registry per app, chosen per request (`AppScopedRegistry`), and while the
runtime imports an app's `function_app` another app's module of that name is set aside
(`_function_app_module_of`). Indexing, validation, binding conversion and invocation are untouched.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import weakref
from datetime import datetime
from types import ModuleType
from typing import Any

import aiohttp
from dateutil import tz
from dateutil.parser import parse as dateutil_parse

_HOST_FORMAT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z$")
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = weakref.WeakKeyDictionary()


def parse_timestamp(text: Any, *args: Any, **kwargs: Any) -> datetime:
    if not args and not kwargs and isinstance(text, str):
        match = _HOST_FORMAT.match(text)
        if match:
            year, month, day, hour, minute, second, micro = (int(g) for g in match.groups())
            return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz.UTC)
    return dateutil_parse(text, *args, **kwargs)


def _module(name: str) -> ModuleType:
    # Some SDK packages re-export a class under its module's name; fetch the module itself.
    return importlib.import_module(name)


def install_fast_timestamps() -> bool:
    """Rebind the SDK's history timestamp parser. Returns whether it is active."""
    if os.environ.get("DEVSTACK_FAST_TIMESTAMPS", "1") == "0":
        return False
    module = _module("azure.durable_functions.models.history.HistoryEvent")
    if not hasattr(module, "dt_parse"):
        return False
    setattr(module, "dt_parse", parse_timestamp)  # noqa: B010 - mypy cannot see the module's global
    return True


async def _session_for_this_loop() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        # The SDK's own settings for its localhost session.
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=240, sock_connect=10, sock_read=None),
            connector=aiohttp.TCPConnector(limit=30, limit_per_host=30, enable_cleanup_closed=True),
        )
        _sessions[loop] = session
    return session


async def close_session_for_this_loop() -> None:
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None and not session.closed:
        await session.close()


def install_session_per_loop() -> None:
    """Make the SDK's HTTP helpers use one session per running loop."""
    module = _module("azure.durable_functions.models.utils.http_utils")
    if hasattr(module, "_get_session") and hasattr(module, "_handle_request_error"):
        setattr(module, "_get_session", _session_for_this_loop)  # noqa: B010
        setattr(module, "_handle_request_error", close_session_for_this_loop)  # noqa: B010
