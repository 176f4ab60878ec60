"""Public models of the durable engine: runtime status, instance status, and the client-facing errors."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from .clock import format_status_time
from .history import Event, history_for_status


class RuntimeStatus(StrEnum):
    """OrchestrationRuntimeStatus, spelled as the status API spells it."""

    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    CANCELED = "Canceled"
    TERMINATED = "Terminated"
    PENDING = "Pending"
    SUSPENDED = "Suspended"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED, RuntimeStatus.CANCELED}
)


class InstanceStatus(BaseModel):
    """The status of one orchestration instance (what `GET instances/{id}` returns, as Python values)."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    input: Any = None
    output: Any = None
    custom_status: Any = None
    created_time: datetime
    last_updated_time: datetime
    parent_instance_id: str | None = None
    # The raw history of the current execution in the extension's event schema (EventType ints, ...).
    history: list[Event] | None = None

    def events_of_type(self, event_type: int) -> list[Event]:
        return [e for e in self.history or [] if e["EventType"] == int(event_type)]

    def to_api(
        self, *, show_input: bool = True, show_history: bool = False, show_history_output: bool = False
    ) -> dict[str, Any]:
        """The JSON payload of the extension's status API (StatusResponsePayload)."""
        payload: dict[str, Any] = {
            "name": self.name,
            "instanceId": self.instance_id,
            "runtimeStatus": self.runtime_status.value,
            "input": self.input if show_input else None,
            "customStatus": self.custom_status,
            "output": self.output,
            "createdTime": format_status_time(self.created_time),
            "lastUpdatedTime": format_status_time(self.last_updated_time),
        }
        if show_history and self.history is not None:
            payload["historyEvents"] = history_for_status(
                self.history, show_input=show_input, show_output=show_history_output
            )
        return payload


def parse_json_text(text: str | None) -> Any:
    """Stored inputs/outputs are JSON text; the status API shows them parsed (plain text stays text)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class DurableError(Exception):
    """Base of the errors the engine reports to clients."""


class InstanceNotFoundError(DurableError):
    pass


class InstanceAlreadyExistsError(DurableError):
    pass


class InstanceGoneError(DurableError):
    """The instance is in a terminal state, so the operation no longer applies (HTTP 410)."""


class FunctionNotFoundError(DurableError):
    pass


class InvalidInstanceIdError(DurableError):
    pass


def known_functions(kind: str, names: list[str]) -> str:
    """The tail of the extension's "doesn't exist" messages (DurableTaskExtension.GetInvalid*FunctionMessage)."""
    if not names:
        return f"No {kind} functions are currently registered!"
    return f"The following are the known {kind} functions: {', '.join(repr(n) for n in sorted(names))}."
