"""History events in the Durable extension's schema (DurableTask.Core's event JSON).

Events are plain dicts with PascalCase keys, exactly what the extension hands to the out-of-process SDK
in the orchestration context's `history` array. `IsPlayed` is not stored: it is decided per episode
(every event from an earlier episode is played).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as EventType

from .clock import format_history_time

Event = dict[str, Any]

__all__ = ["Event", "EventType", "history_for_status", "make_event"]


def make_event(event_type: EventType, at: datetime, *, event_id: int = -1, **fields: Any) -> Event:
    event: Event = {"EventType": int(event_type), "EventId": event_id, "Timestamp": format_history_time(at)}
    event.update(fields)
    return event


def execution_started(
    at: datetime,
    *,
    instance_id: str,
    execution_id: str,
    name: str,
    input_json: str | None,
    parent: dict[str, Any] | None,
    version: str | None = None,
) -> Event:
    # Version: the start request's `version` or host.json `defaultVersion` (null when neither is set); the
    # SDK's DurableOrchestrationContext reads `context.version` from this event on every replay
    # (azure-functions-durable-python: azure/durable_functions/models/DurableOrchestrationContext.py,
    # _extract_version_from_history).
    return make_event(
        EventType.EXECUTION_STARTED,
        at,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        Name=name,
        Version=version,
        Input=input_json,
        ParentInstance=parent,
        Tags=None,
    )


def orchestrator_started(at: datetime) -> Event:
    return make_event(EventType.ORCHESTRATOR_STARTED, at)


def orchestrator_completed(at: datetime) -> Event:
    return make_event(EventType.ORCHESTRATOR_COMPLETED, at)


def execution_completed(at: datetime, *, status: str, result_json: str | None) -> Event:
    return make_event(EventType.EXECUTION_COMPLETED, at, OrchestrationStatus=status, Result=result_json)


def task_scheduled(at: datetime, *, task_id: int, name: str, input_json: str | None) -> Event:
    return make_event(EventType.TASK_SCHEDULED, at, event_id=task_id, Name=name, Version="", Input=input_json)


def task_completed(at: datetime, *, task_id: int, result_json: str | None) -> Event:
    return make_event(EventType.TASK_COMPLETED, at, TaskScheduledId=task_id, Result=result_json)


def task_failed(at: datetime, *, task_id: int, reason: str, details: str | None) -> Event:
    return make_event(EventType.TASK_FAILED, at, TaskScheduledId=task_id, Reason=reason, Details=details)


def timer_created(at: datetime, *, timer_id: int, fire_at: datetime) -> Event:
    return make_event(EventType.TIMER_CREATED, at, event_id=timer_id, FireAt=format_history_time(fire_at))


def timer_fired(at: datetime, *, timer_id: int, fire_at: str) -> Event:
    return make_event(EventType.TIMER_FIRED, at, TimerId=timer_id, FireAt=fire_at)


def sub_orchestration_created(
    at: datetime, *, task_id: int, name: str, instance_id: str, input_json: str | None, version: str | None = None
) -> Event:
    return make_event(
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        at,
        event_id=task_id,
        Name=name,
        Version=version,
        InstanceId=instance_id,
        Input=input_json,
    )


def sub_orchestration_completed(at: datetime, *, task_id: int, result_json: str | None) -> Event:
    return make_event(EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED, at, TaskScheduledId=task_id, Result=result_json)


def sub_orchestration_failed(at: datetime, *, task_id: int, reason: str, details: str | None) -> Event:
    return make_event(
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        at,
        TaskScheduledId=task_id,
        Reason=reason,
        Details=details,
    )


def event_raised(at: datetime, *, name: str, input_json: str | None) -> Event:
    return make_event(EventType.EVENT_RAISED, at, Name=name, Input=input_json)


def event_sent(at: datetime, *, event_id: int, instance_id: str, name: str, input_json: str | None) -> Event:
    """A message sent to another instance (an entity operation): DurableTask.Core's EventSentEvent takes
    the sequence number as its EventId (Azure/durabletask: src/DurableTask.Core/TaskOrchestrationContext.cs,
    SendEvent; src/DurableTask.Core/History/EventSentEvent.cs)."""
    return make_event(EventType.EVENT_SENT, at, event_id=event_id, InstanceId=instance_id, Name=name, Input=input_json)


def execution_terminated(at: datetime, *, reason: str | None) -> Event:
    return make_event(EventType.EXECUTION_TERMINATED, at, Input=reason)


def execution_suspended(at: datetime, *, reason: str | None) -> Event:
    return make_event(EventType.EXECUTION_SUSPENDED, at, Reason=reason)


def execution_resumed(at: datetime, *, reason: str | None) -> Event:
    return make_event(EventType.EXECUTION_RESUMED, at, Reason=reason)


def _json_value(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


_EPISODE_MARKERS = (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED)
_SCHEDULING = (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED)
# A completion -> the kind of event that scheduled it.
_SCHEDULED_BY = {
    EventType.TASK_COMPLETED: EventType.TASK_SCHEDULED,
    EventType.TASK_FAILED: EventType.TASK_SCHEDULED,
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
}
_WITH_RESULT = (
    EventType.TASK_COMPLETED,
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
    EventType.EXECUTION_COMPLETED,
)
# Fields of the raw history the status API does not show, per kind (EventId and IsPlayed: none shows).
_NOT_SHOWN = {
    EventType.TASK_SCHEDULED: ("Version",),
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: ("Version",),
    **dict.fromkeys(_SCHEDULED_BY, ("TaskScheduledId",)),
    EventType.EXECUTION_STARTED: ("OrchestrationInstance", "ParentInstance", "Version", "Tags"),
    EventType.TIMER_FIRED: ("TimerId",),
}


def history_for_status(events: list[Event], *, show_input: bool, show_output: bool) -> list[dict[str, Any]]:
    """The `historyEvents` array of the status API: what the extension derives from the raw history.

    Episode markers are dropped, event types become names, and each completion is merged with the event
    that scheduled it (FunctionName, ScheduledTime, Input).
    """
    scheduled: dict[tuple[int, int], Event] = {}
    merged_away: set[int] = set()
    view: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(events):
        kind = EventType(raw["EventType"])
        if kind in _EPISODE_MARKERS:
            continue
        hidden = ("EventId", "IsPlayed", *_NOT_SHOWN.get(kind, ()))
        item = {k: v for k, v in raw.items() if k not in hidden}
        item["EventType"] = _pascal(kind)
        if kind in _SCHEDULING:
            scheduled[(int(kind), raw["EventId"])] = {"index": index, **raw}
        elif kind in _SCHEDULED_BY:
            origin = scheduled.get((int(_SCHEDULED_BY[kind]), raw.get("TaskScheduledId", -2)))
            if origin is not None:
                # Input as scheduled: dropped below unless show_input.
                item |= {
                    "ScheduledTime": origin["Timestamp"],
                    "FunctionName": origin.get("Name"),
                    "Input": origin.get("Input"),
                }
                merged_away.add(origin["index"])
        elif kind is EventType.EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name", None)
        if kind in _WITH_RESULT:
            if show_output:
                item["Result"] = _json_value(item.get("Result"))
            else:
                item.pop("Result", None)
        if not show_input:
            item.pop("Input", None)
        view.append((index, item))
    return [item for index, item in view if index not in merged_away]


def _pascal(kind: EventType) -> str:
    names = {
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: "SubOrchestrationInstanceCreated",
        EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "SubOrchestrationInstanceCompleted",
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: "SubOrchestrationInstanceFailed",
    }
    return names.get(kind) or "".join(part.capitalize() for part in kind.name.split("_"))
