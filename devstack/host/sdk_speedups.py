"""A faster timestamp parser for the SDK's replay, with results identical to the one it replaces.

Every replay builds one `HistoryEvent` per history event, and `HistoryEvent.__init__` parses the event's
Timestamp with `dateutil.parser.parse`, a general-purpose parser that costs ~0.3 ms a call: 85% of a
replay's time, so long orchestrations replay in O(history) at a steep constant. The host writes every
timestamp in exactly one format (`%Y-%m-%dT%H:%M:%S.%fZ`); for that format this parser returns the very
same value dateutil returns (an aware datetime with `dateutil.tz.UTC`), and it hands anything else to
dateutil. Orchestration logic is untouched: only the name `dt_parse` in the SDK's HistoryEvent module is
rebound. Turn it off with `DEVSTACK_FAST_TIMESTAMPS=0`.
"""

from __future__ import annotations

import importlib
import os
import re
from datetime import datetime
from types import ModuleType
from typing import Any

from dateutil import tz
from dateutil.parser import parse as dateutil_parse

_HOST_FORMAT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z$")


def parse_timestamp(text: Any, *args: Any, **kwargs: Any) -> datetime:
    if not args and not kwargs and isinstance(text, str):
        match = _HOST_FORMAT.match(text)
        if match:
            year, month, day, hour, minute, second, micro = (int(g) for g in match.groups())
            return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz.UTC)
    return dateutil_parse(text, *args, **kwargs)


def install_fast_timestamps() -> bool:
    """Rebind the SDK's history timestamp parser (once per process). Returns whether it is active."""
    if os.environ.get("DEVSTACK_FAST_TIMESTAMPS", "1") == "0":
        return False
    # The package re-exports the class under the module's name, so fetch the module itself.
    module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    if not isinstance(module, ModuleType) or not hasattr(module, "dt_parse"):
        return False
    setattr(module, "dt_parse", parse_timestamp)  # noqa: B010 - mypy cannot see the module's global
    return True
