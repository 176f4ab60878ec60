"""Long-running operations the ARM way.

A mutating call answers 202 with `Azure-AsyncOperation` (status resource), `Location` (result resource)
and `Retry-After`. The operation runs for a configurable duration per kind; it completes lazily, when a
request (or a control call) observes the estate after its deadline. Completion runs the provider's
`complete` callback, which applies the change or raises `ArmError`: then the operation is Failed with that
error and `abandon` undoes what the start left behind (e.g. the half-restored database).

The SDK poller (azure-mgmt-core ARMPolling) GETs the Azure-AsyncOperation URL until Succeeded/Failed,
then GETs the resource (PUT/PATCH) or the Location URL (POST) for the final body.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import ArmError
from .routing import ArmRequest, ArmResponse


class OperationStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a Z, as ARM writes timestamps."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Operation:
    id: str
    kind: str
    subscription_id: str
    resource_group: str
    location: str
    namespace: str
    """'Microsoft.Sql', ... (names the status URLs)."""
    url_noun: str
    """'database', 'server', 'failoverGroup': Microsoft.Sql's status URLs are named per resource kind."""
    started_at: datetime
    deadline: datetime
    complete: Callable[[], None]
    abandon: Callable[[], None]
    result: Callable[[], Any]
    """Body of the Location URL once Succeeded (None -> 204, e.g. after a delete)."""
    planned_failure: ArmError | None = None
    status: OperationStatus = OperationStatus.IN_PROGRESS
    error: ArmError | None = None
    ended_at: datetime | None = None
    final_body: Any = None

    @property
    def done(self) -> bool:
        return self.status is not OperationStatus.IN_PROGRESS

    def finish(self, now: datetime) -> None:
        if self.done:
            return
        try:
            if self.planned_failure is not None:
                raise self.planned_failure
            self.complete()
            self.final_body = self.result()
            self.status = OperationStatus.SUCCEEDED
        except ArmError as exc:
            self.error = exc
            self.status = OperationStatus.FAILED
            self.abandon()
        self.ended_at = now

    def async_operation_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"{self.namespace}/locations/{self.location}/{self.url_noun}AzureAsyncOperation/{self.id}"
        )

    def location_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"{self.namespace}/locations/{self.location}/{self.url_noun}OperationResults/{self.id}"
        )

    def subscription_path(self, noun: str) -> str:
        """A status URL on the subscription, as Cosmos DB, PostgreSQL and Storage hand them out:
        `/subscriptions/{s}/providers/{namespace}/locations/{location}/{noun}/{id}`."""
        return (
            f"/subscriptions/{self.subscription_id}/providers/{self.namespace}/locations/{self.location}"
            f"/{noun}/{self.id}"
        )

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.async_operation_path(),
            "name": self.id,
            "status": self.status.value,
            "startTime": iso(self.started_at),
        }
        if self.ended_at is not None:
            body["endTime"] = iso(self.ended_at)
        if self.error is not None:
            body["error"] = self.error.error_body()
        return body


@dataclass
class OperationStore:
    """Every operation the emulator started, by id, plus the knobs that shape new ones."""

    operations: dict[str, Operation] = field(default_factory=dict)
    planned_failures: dict[str, list[ArmError]] = field(default_factory=dict)

    def start(
        self,
        *,
        kind: str,
        now: datetime,
        duration_seconds: float,
        subscription_id: str,
        resource_group: str,
        location: str,
        namespace: str,
        url_noun: str,
        complete: Callable[[], None],
        abandon: Callable[[], None] | None = None,
        result: Callable[[], Any] | None = None,
    ) -> Operation:
        queued = self.planned_failures.get(kind)
        planned = queued.pop(0) if queued else None
        operation = Operation(
            id=str(uuid.uuid4()),
            kind=kind,
            subscription_id=subscription_id,
            resource_group=resource_group,
            location=location,
            namespace=namespace,
            url_noun=url_noun,
            started_at=now,
            deadline=now + timedelta(seconds=duration_seconds),
            complete=complete,
            abandon=abandon or (lambda: None),
            result=result or (lambda: None),
            planned_failure=planned,
        )
        self.operations[operation.id] = operation
        return operation

    def plan_failure(self, kind: str, error: ArmError, count: int = 1) -> None:
        self.planned_failures.setdefault(kind, []).extend([error] * count)

    def advance(self, now: datetime) -> None:
        """Finish every operation whose deadline has passed, oldest first (their effects can depend on
        each other: a failover group's databases exist once its create has finished)."""
        due = sorted(
            (op for op in self.operations.values() if not op.done and op.deadline <= now),
            key=lambda op: op.deadline,
        )
        for operation in due:
            operation.finish(now)

    def finish_all(self, now: datetime) -> None:
        for operation in sorted(self.operations.values(), key=lambda op: op.deadline):
            operation.finish(now)

    def in_flight(self) -> list[Operation]:
        return [op for op in self.operations.values() if not op.done]

    def get(self, operation_id: str) -> Operation | None:
        return self.operations.get(operation_id.lower()) or self.operations.get(operation_id)

    def clear(self) -> None:
        self.operations.clear()
        self.planned_failures.clear()


def retry_after(seconds: int) -> dict[str, str]:
    """The Retry-After header of a 202 or a running status. 0 leaves it out: the SDK treats 0 as absent anyway
    and falls back to its polling_interval."""
    return {"Retry-After": str(seconds)} if seconds > 0 else {}


def accepted_at(
    request: ArmRequest,
    retry_after_seconds: int,
    *,
    status_path: str | None = None,
    location_path: str | None = None,
    body: Any = None,
    **query: str,
) -> ArmResponse:
    """202 Accepted with the polling headers a provider's spec examples give: `Azure-AsyncOperation` (the status
    resource) and/or `Location` (the result), each left out when its path is None."""
    headers: dict[str, str] = {}
    if status_path is not None:
        headers["Azure-AsyncOperation"] = request.url_for(status_path, **query)
    if location_path is not None:
        headers["Location"] = request.url_for(location_path, **query)
    return ArmResponse(202, body, headers | retry_after(retry_after_seconds))


def accepted(request: ArmRequest, operation: Operation, retry_after_seconds: int) -> ArmResponse:
    """202 Accepted with the headers ARMPolling follows, on Microsoft.Sql's per-resource-kind status URLs."""
    return accepted_at(
        request,
        retry_after_seconds,
        status_path=operation.async_operation_path(),
        location_path=operation.location_path(),
    )


def status_response(operation: Operation, retry_after_seconds: int, *, status_path: str | None = None) -> ArmResponse:
    """The Azure-AsyncOperation URL (`status_path`, when the provider's is not Microsoft.Sql's, is its id). While
    running it repeats Retry-After: the poller takes its next delay from the latest response, and without the
    header it waits its full polling_interval."""
    body = operation.status_body()
    if status_path is not None:
        body["id"] = status_path
    return ArmResponse(200, body, {} if operation.done else retry_after(retry_after_seconds))


def result_response(
    request: ArmRequest, operation: Operation, retry_after_seconds: int, *, location_path: str | None = None
) -> ArmResponse:
    """The Location URL: 202 while running, the final resource (or 204) when done, the error if failed."""
    if not operation.done:
        return accepted_at(request, retry_after_seconds, location_path=location_path or operation.location_path())
    if operation.error is not None:
        return ArmResponse(operation.error.status, operation.error.envelope())
    if operation.final_body is None:
        return ArmResponse(204)
    return ArmResponse(200, operation.final_body)
