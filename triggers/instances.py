"""The Durable client behind dr.admission's RunStore, and instance queries that read every page.

``DurableRuns`` is the one place the triggers talk to the Durable client binding about recovery runs: status,
queries, start, terminate, the approval event; it answers plain ``RunSnapshot`` values, so what admission
and the views decide never sees an SDK type.

The Durable extension answers an instance query one page at a time (100 instances unless ``top`` says
otherwise) and puts the token for the next page in the ``x-ms-continuation-token`` response header; the
next request sends it back in a request header of the same name (HttpApiHandler in
Azure/azure-functions-durable-extension; Microsoft Learn, *HTTP API reference*, "Get all instances
status"). azure-functions-durable 1.7.0's ``DurableOrchestrationClient.get_status_by`` sends one request
and returns its page: past 100 instances (step sub-orchestrations count too) the run list is truncated
and the "failover already in progress" guard can miss a running failover.

So the query goes to the same client binding's RPC endpoint (``rpcBaseUrl``, the URL the SDK itself
uses, built by the SDK's own ``RpcManagementOptions``) and follows the header until it is absent or
empty. The Azure Storage backend ends with ``bnVsbA==`` (base64 of "null") rather than no token
(azure-functions-durable-extension issue 1174): that ends the query too, as does a token seen before. The
devstack host pages as the extension does (no header on its last page); a backend that does not page
answers once with no header: one request.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp
import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.RpcManagementOptions import RpcManagementOptions

from dr.admission import ACTIVE_STATUSES, PLAN_LOCK_ENTITY, RunSnapshot, with_live_steps
from dr.errors import ConflictError, TransientError
from dr.graph import RUN_GRAPH_ENTITY
from dr.run import APPROVAL_EVENT, RECOVERY_ORCHESTRATOR, ApprovalDecision, RunInput

CONTINUATION_HEADER = "x-ms-continuation-token"
_NO_MORE_PAGES = frozenset({"", "null", "bnVsbA=="})
MAX_PAGES = 10_000  # a guard against a backend that hands out tokens forever (1M instances at 100 a page)


def _rpc_base_url(client: df.DurableOrchestrationClient) -> str:
    # The SDK keeps its bindings private; the RPC base URL is the one public fact the query needs.
    bindings: Any = getattr(client, "_orchestration_bindings", None)
    base = getattr(bindings, "rpc_base_url", None)
    if not base:
        raise TransientError("the Durable client binding has no RPC endpoint (rpcBaseUrl)", code="NoDurableRpc")
    return str(base)


async def query_instances(
    client: df.DurableOrchestrationClient,
    *,
    created_time_from: datetime | None = None,
    created_time_to: datetime | None = None,
    runtime_status: list[df.OrchestrationRuntimeStatus] | None = None,
    instance_id_prefix: str | None = None,
    page_size: int | None = None,
) -> list[DurableOrchestrationStatus]:
    """``get_status_by`` over every page. ``page_size`` sets ``top`` (the backend's default otherwise)."""
    options = RpcManagementOptions(
        created_time_from=created_time_from,
        created_time_to=created_time_to,
        runtime_status=runtime_status,
        instance_id_prefix=instance_id_prefix,
    )
    url = options.to_url(_rpc_base_url(client))
    if page_size is not None:
        url += ("&" if "?" in url else "?") + f"top={int(page_size)}"
    statuses: list[DurableOrchestrationStatus] = []
    seen: set[str] = set()
    token: str | None = None
    timeout = aiohttp.ClientTimeout(total=240, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for _ in range(MAX_PAGES):
            page, token = await _page(session, url, token)
            statuses.extend(DurableOrchestrationStatus.from_json(item) for item in page)
            if token is None or token.strip() in _NO_MORE_PAGES or token in seen:
                return statuses
            seen.add(token)
    raise TransientError(f"instance query did not end after {MAX_PAGES} pages", code="DurableQueryEndless")


async def _page(session: aiohttp.ClientSession, url: str, token: str | None) -> tuple[list[Any], str | None]:
    headers = {CONTINUATION_HEADER: token} if token else {}
    try:
        async with session.get(url, headers=headers) as response:
            if response.status != 200:
                raise TransientError(
                    f"instance query answered HTTP {response.status}", code=f"DurableQueryHttp{response.status}"
                )
            page = await response.json(content_type=None)
            return list(page or []), response.headers.get(CONTINUATION_HEADER)
    except aiohttp.ClientError as exc:
        raise TransientError(f"instance query failed: {type(exc).__name__}", code="DurableQueryFailed") from exc


def _snapshot(status: DurableOrchestrationStatus) -> RunSnapshot:
    return RunSnapshot(
        instance_id=str(status.instance_id),
        name=status.name,
        runtime_status=status.runtime_status.value if status.runtime_status else "Unknown",
        created=status.created_time,
        updated=status.last_updated_time,
        input=status.input_,
        custom_status=status.custom_status,
        output=status.output,
    )


class DurableRuns:
    """dr.admission.RunStore over a Durable client binding, and the commands the triggers send to runs."""

    def __init__(self, client: df.DurableOrchestrationClient) -> None:
        self._client = client

    async def status(self, instance_id: str, *, show_input: bool = False) -> RunSnapshot | None:
        status = await self._client.get_status(instance_id, show_input=show_input)
        if not status or status.runtime_status is None:  # the SDK answers a 404 with an empty status
            return None
        return await self._live(_snapshot(status))

    async def _live(self, run: RunSnapshot) -> RunSnapshot:
        """A recovery run whose steps are running, with each step's state from its graph entity."""
        custom = run.custom() if run.is_recovery and run.active else None
        if custom is None or custom.phase not in ("running", "canceling"):
            return run
        return with_live_steps(run, await self.read_graph(run.instance_id))

    async def signal_graph(self, run_id: str, operation: str, request: dict[str, Any]) -> None:
        await self._client.signal_entity(df.EntityId(RUN_GRAPH_ENTITY, run_id), operation, request)

    async def read_graph(self, run_id: str) -> Any:
        return await self._entity_state(df.EntityId(RUN_GRAPH_ENTITY, run_id))

    async def active(self, instance_id_prefix: str) -> list[RunSnapshot]:
        statuses = await query_instances(
            self._client,
            runtime_status=[df.OrchestrationRuntimeStatus(s) for s in ACTIVE_STATUSES],
            instance_id_prefix=instance_id_prefix,
        )
        return [await self._live(_snapshot(s)) for s in statuses]

    async def created_between(
        self, start: datetime, end: datetime, instance_id_prefix: str | None = None
    ) -> list[RunSnapshot]:
        statuses = await query_instances(
            self._client, created_time_from=start, created_time_to=end, instance_id_prefix=instance_id_prefix
        )
        return [await self._live(_snapshot(s)) for s in statuses]

    async def terminate(self, instance_id: str, reason: str) -> None:
        await self._client.terminate(instance_id, reason)

    async def start(self, instance_id: str, run: RunInput) -> None:
        """Start recovery run ``instance_id`` (admission has been asked first). ConflictError (code
        InstanceExists) when an instance of that id is running: the backend refuses it atomically."""
        try:
            await self._client.start_new(RECOVERY_ORCHESTRATOR, instance_id, run.model_dump(mode="json"))
        except Exception as exc:
            if "already exists" in str(exc):
                raise ConflictError(f"run {instance_id} already exists", code="InstanceExists") from None
            raise

    async def signal_lock(self, plan_name: str, operation: str, request: dict[str, Any]) -> None:
        await self._client.signal_entity(df.EntityId(PLAN_LOCK_ENTITY, plan_name), operation, request)

    async def read_lock(self, plan_name: str) -> Any:
        return await self._entity_state(df.EntityId(PLAN_LOCK_ENTITY, plan_name))

    async def _entity_state(self, entity: df.EntityId) -> Any:
        """An entity's state as stored, decoded (None when the entity does not exist or is not JSON)."""
        state = await self._client.read_entity_state(entity)
        if not state.entity_exists:
            return None
        value = state.entity_state
        if isinstance(value, str | bytes):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        return value

    async def raise_event(self, instance_id: str, name: str, data: dict[str, Any]) -> None:
        """ConflictError (code InstanceEnded) when the instance ended or does not exist (HTTP 410/404 from the
        extension): it may have finished between the caller's look at it and this event."""
        try:
            await self._client.raise_event(instance_id, name, data)
        except Exception as exc:  # the SDK raises a bare Exception with the extension's message
            if "is gone" in str(exc) or "No instance with ID" in str(exc):
                raise ConflictError(f"{instance_id} ended meanwhile: {exc}", code="InstanceEnded") from None
            raise

    async def raise_approval(self, instance_id: str, decision: ApprovalDecision) -> None:
        await self._client.raise_event(instance_id, APPROVAL_EVENT, decision.model_dump())
