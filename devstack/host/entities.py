"""Durable entities as the extension runs them for an out-of-process (Python) app: wire formats and ids.

An entity is an instance whose id is its scheduler id, `@<name lowercased>@<key>`. Orchestrators and
clients send it operation requests; the host runs the queued requests as one batch through the entity
function and persists the state it returns; a caller that waits (CALL_ENTITY) gets the operation's result
back as an EventRaised named after the request id. The formats below are the extension's:

- scheduler id: `EntityId.GetSchedulerIdFromEntityId` (Azure/azure-functions-durable-extension:
  src/WebJobs.Extensions.DurableTask/EntityScheduler/EntityId.cs), mirrored by the SDK's
  `EntityId.get_scheduler_id` (azure-functions-durable-python: azure/durable_functions/models/utils/
  entity_utils.py);
- request message (EventSent.Input, the entity's queue): `RequestMessage` (extension:
  src/WebJobs.Extensions.DurableTask/EntityScheduler/RequestMessage.cs: op, signal, input, id, parent,
  parentExecution, due; defaults omitted), sent as an event named "op" (or "op@<due>" for a scheduled
  signal: EntityScheduler/EntityMessageEventNames.cs);
- the batch the entity function gets: `EntityContextToString` (extension:
  src/WebJobs.Extensions.DurableTask/Bindings/EntityTriggerAttributeBindingProvider.cs: self{name,key},
  exists, state, batch[{name, input, isSignal}]), read by the SDK's `DurableEntityContext.from_json`;
- what the function returns: `OutOfProcResult` (extension: src/WebJobs.Extensions.DurableTask/Listener/
  TaskEntityShim.cs: entityExists, entityState, results[{result, isError, duration}], signals[{target,
  name, input}]), written by the SDK's `EntityState.to_json` (azure/durable_functions/models/entities/
  EntityState.py, OperationResult.py);
- the response to a caller: `ResponseMessage` (extension: EntityScheduler/ResponseMessage.cs: result,
  exceptionType "Error" on failure; TaskEntityShim.ExecuteOutOfProcBatch), read by the SDK's
  `ResponseMessage.from_dict` (azure/durable_functions/models/entities/ResponseMessage.py).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

REQUEST_EVENT_NAME = "op"

# Request ids are deterministic like the extension's (DurableOrchestrationContext.NewGuid in
# src/WebJobs.Extensions.DurableTask/ContextImplementations/DurableOrchestrationContext.cs: a name-based
# UUID of "<instance id>_<orchestration time, round-trip format>_<counter>", one counter per replay). The
# UUID is built the way the SDK's `new_uuid` builds it (azure-functions-durable-python:
# azure/durable_functions/models/DurableOrchestrationContext.py); the value only has to be stable.
_GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_OID, "9e952958-5e33-4daf-827f-2fa12937b875")


class EntityIdError(ValueError):
    pass


def scheduler_id(name: str, key: str) -> str:
    return f"@{name.lower()}@{key}"


def parse_scheduler_id(instance_id: str) -> tuple[str, str]:
    """`@name@key` -> (name, key); the key may itself contain `@`."""
    if not instance_id.startswith("@") or instance_id.count("@") < 2:
        raise EntityIdError(f"'{instance_id}' is not an entity id (expected @name@key)")
    name, _, key = instance_id[1:].partition("@")
    if not name:
        raise EntityIdError(f"'{instance_id}' is not an entity id (empty entity name)")
    return name, key


def is_entity_id(instance_id: str) -> bool:
    return instance_id.startswith("@")


def round_trip_time(at: datetime) -> str:
    """.NET's "o" format for a UTC time (seven fractional digits)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def new_request_id(instance_id: str, now: datetime, counter: int) -> str:
    return str(uuid.uuid5(_GUID_NAMESPACE, f"{instance_id}_{round_trip_time(now)}_{counter}"))


def request_event_name(due: datetime | None) -> str:
    # EntityMessageEventNames.ScheduledRequestMessageEventName: $"op@{scheduledUtc:o}".
    return REQUEST_EVENT_NAME if due is None else f"{REQUEST_EVENT_NAME}@{round_trip_time(due)}"


def operation_input(sdk_json: str | None) -> str | None:
    """The request's `input` for an operation input the SDK serialized (an action's `input`, a client's
    body): the extension serializes that JSON text once more (RequestMessage.SetInput), so the entity's
    `get_input()` decodes twice (azure/durable_functions/models/DurableEntityContext.py, get_input)."""
    return None if sdk_json is None else json.dumps(sdk_json)


def request_message(
    *,
    operation: str,
    input_: str | None,
    request_id: str,
    signal: bool,
    parent_instance: str | None,
    parent_execution: str | None,
    due: datetime | None = None,
) -> dict[str, Any]:
    """RequestMessage as the extension serializes it (default values left out)."""
    message: dict[str, Any] = {"op": operation}
    if signal:
        message["signal"] = True
    if input_ is not None:
        message["input"] = input_
    message["id"] = request_id
    if parent_instance is not None:
        message["parent"] = parent_instance
    if parent_execution is not None:
        message["parentExecution"] = parent_execution
    if due is not None:
        message["due"] = round_trip_time(due)
    return message


def batch_context(name: str, key: str, exists: bool, state: str | None, requests: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "self": {"name": name, "key": key},
            "exists": exists,
            "state": state,
            "batch": [
                {"name": r.get("op"), "input": r.get("input"), "isSignal": bool(r.get("signal"))} for r in requests
            ],
        }
    )


@dataclass
class OperationResult:
    result: str | None
    is_error: bool
    duration_ms: int = 0


@dataclass
class BatchResult:
    exists: bool
    state: str | None
    results: list[OperationResult]
    signals: list[dict[str, Any]] = field(default_factory=list)


class EntityResultError(ValueError):
    """The entity function returned something that is not the out-of-proc result schema."""


def parse_batch_result(text: str, count: int) -> BatchResult:
    try:
        data = json.loads(text)
        results = [
            OperationResult(
                result=r.get("result"), is_error=bool(r.get("isError")), duration_ms=int(r.get("duration") or 0)
            )
            for r in data["results"]
        ]
        parsed = BatchResult(
            exists=bool(data.get("entityExists")),
            state=data.get("entityState"),
            results=results,
            signals=[s for s in data.get("signals") or [] if isinstance(s, dict)],
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        # TaskEntityShim: "Out of proc orchestrators must return a valid JSON schema."
        raise EntityResultError("Out of proc orchestrators must return a valid JSON schema.") from error
    if len(parsed.results) != count:
        raise EntityResultError(
            f"the entity function returned {len(parsed.results)} results for a batch of {count} operations"
        )
    return parsed


def failed_batch(exists: bool, state: str | None, count: int, message: str) -> BatchResult:
    """Every operation of the batch failed with `message`, the state unchanged (TaskEntityShim's handling
    of a batch that timed out: all results errors, state as before, no signals)."""
    return BatchResult(exists, state, [OperationResult(json.dumps(message), True) for _ in range(count)])


def response_input(result: OperationResult) -> str:
    """EventRaised.Input of the response to a caller: the serialized ResponseMessage."""
    message: dict[str, Any] = {"result": result.result}
    if result.is_error:
        message["exceptionType"] = "Error"
    return json.dumps(message)


def response_is_error(input_json: Any) -> bool:
    # The SDK treats a response as an exception when it has `exceptionType` (ResponseMessage.from_dict).
    try:
        return isinstance(input_json, str) and "exceptionType" in json.loads(input_json)
    except (ValueError, TypeError):
        return False


def signal_request(signal: dict[str, Any], parent_instance: str, request_id: str) -> tuple[str, dict[str, Any]]:
    """An entity's own outgoing signal (OutOfProcResult.Signal) as (target id, request): sent with the
    entity as parent and no execution id (TaskEntityShim.ExecuteOutOfProcBatch)."""
    target = signal.get("target") or {}
    target_id = scheduler_id(str(target.get("name", "")), str(target.get("key", "")))
    input_ = signal.get("input")
    return target_id, request_message(
        operation=str(signal.get("name", "")),
        input_=input_ if isinstance(input_, str) or input_ is None else json.dumps(input_),
        request_id=request_id,
        signal=True,
        parent_instance=parent_instance,
        parent_execution=None,
    )
