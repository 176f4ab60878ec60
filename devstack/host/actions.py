"""The orchestrator state the SDK's `handle` returns: typed models and how to get them out of a call.

`handle(context)` returns the state JSON (`isDone`, `actions`, `output`, `error`, `customStatus`,
`schemaVersion`); when the orchestrator raised, it raises an exception whose message ends with
`$OutOfProcData$:` followed by the same JSON.
"""

from __future__ import annotations

from datetime import timedelta
from enum import IntEnum
from typing import Any

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
    # CallSubOrchestrator(WithRetry): the SDK sends `version` (azure-functions-durable-python:
    # azure/durable_functions/models/actions/CallSubOrchestratorAction.py).
    version: str | None = None
    # CallEntity / SignalEntity: `instanceId` is the entity's scheduler id (`@name@key`), `operation` the
    # operation name (azure/durable_functions/models/actions/CallEntityAction.py, SignalEntityAction.py).
    operation: str | None = None


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


def episode_output(state_json: str | None, error_message: str | None, stack_trace: str | None) -> EpisodeOutput:
    """What one call of the orchestrator's `handle` produced, from the function's return value (the state
    JSON) or from its exception: the SDK raises with the state JSON after `$OutOfProcData$:`."""
    if error_message is None:
        if state_json is None:
            raise TypeError("the orchestrator returned no state JSON")
        return EpisodeOutput(state=OrchestratorState.model_validate_json(state_json))
    marker = error_message.find(OUT_OF_PROC_MARKER)
    if marker < 0:
        # An error inside the SDK itself (no state attached).
        return EpisodeOutput(state=OrchestratorState(), error=error_message, error_details=stack_trace)
    state = OrchestratorState.model_validate_json(error_message[marker + len(OUT_OF_PROC_MARKER) :])
    return EpisodeOutput(state=state, error=state.error or error_message[:marker].strip(), error_details=stack_trace)
