"""The orchestrator state the SDK's `handle` returns: typed models and how to get them out of a call.

`handle(context)` returns the state JSON (`isDone`, `actions`, `output`, `error`, `customStatus`,
`schemaVersion`); when the orchestrator raised, it raises an exception whose message ends with
`$OutOfProcData$:` followed by the same JSON.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import timedelta
from enum import IntEnum
from typing import Any

from azure.functions import OrchestrationContext
from pydantic import BaseModel, ConfigDict, Field

OUT_OF_PROC_MARKER = "$OutOfProcData$:"


class ActionType(IntEnum):
    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    SCHEDULED_SIGNAL_ENTITY = 10
    WHEN_ANY = 11
    WHEN_ALL = 12


class RetryOptions(BaseModel):
    """The extension's retry options; the Python SDK sends only the first two, the rest are honoured."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    first_retry_interval_ms: float = Field(alias="firstRetryIntervalInMilliseconds")
    max_number_of_attempts: int = Field(alias="maxNumberOfAttempts")
    backoff_coefficient: float = Field(default=1.0, alias="backoffCoefficient")
    max_retry_interval_ms: float | None = Field(default=None, alias="maxRetryIntervalInMilliseconds")

    def delay(self, retry_index: int) -> timedelta:
        """Delay before retry `retry_index` (0-based), as DurableTask's RetryInterceptor computes it."""
        millis = self.first_retry_interval_ms * (self.backoff_coefficient**retry_index)
        if self.max_retry_interval_ms is not None:
            millis = min(millis, self.max_retry_interval_ms)
        return timedelta(milliseconds=max(millis, 0.0))


class Action(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    action_type: ActionType = Field(alias="actionType")
    function_name: str | None = Field(default=None, alias="functionName")
    input: Any = None
    fire_at: str | None = Field(default=None, alias="fireAt")
    is_canceled: bool = Field(default=False, alias="isCanceled")
    external_event_name: str | None = Field(default=None, alias="externalEventName")
    retry_options: RetryOptions | None = Field(default=None, alias="retryOptions")
    instance_id: str | None = Field(default=None, alias="instanceId")
    compound_actions: list[Action] | None = Field(default=None, alias="compoundActions")


class OrchestratorState(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    is_done: bool = Field(default=False, alias="isDone")
    actions: list[list[Action]] = Field(default_factory=list)
    output: Any = None
    error: str | None = None
    custom_status: Any = Field(default=None, alias="customStatus")
    schema_version: int = Field(default=0, alias="schemaVersion")

    @property
    def top_level_actions(self) -> list[Action]:
        """Schema v2+ sends one flat list (one entry per yield) nested in an outer list of length 1."""
        if self.schema_version >= 1:
            return self.actions[0] if self.actions else []
        return [action for group in self.actions for action in group]


class EpisodeOutput(BaseModel):
    """What one call of the orchestrator's `handle` produced."""

    state: OrchestratorState
    # Set when the orchestrator function raised: its message and a stack trace.
    error: str | None = None
    error_details: str | None = None


def call_handle(handle: Callable[[Any], Any], context_json: str) -> EpisodeOutput:
    """Call the orchestrator entry point exactly as the worker does (an OrchestrationContext with `.body`)."""
    try:
        raw = handle(OrchestrationContext(context_json))
    except Exception as exc:
        message = str(exc)
        details = "".join(traceback.format_exception(exc.__cause__ or exc))
        marker = message.find(OUT_OF_PROC_MARKER)
        if marker < 0:
            # An error inside the SDK itself (no state attached).
            return EpisodeOutput(state=OrchestratorState(), error=message or type(exc).__name__, error_details=details)
        state = OrchestratorState.model_validate_json(message[marker + len(OUT_OF_PROC_MARKER) :])
        return EpisodeOutput(state=state, error=state.error or message[:marker].strip(), error_details=details)
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8")
    if not isinstance(raw, str):
        raise TypeError(f"orchestrator handle returned {type(raw).__name__}, expected the state JSON string")
    return EpisodeOutput(state=OrchestratorState.model_validate_json(raw))
