"""Files of the sync in the state container on the target account.

Layout, under ``blob-backup/<plan>/<step>/``::

    last-sync.json                    the last successful sync (SyncRecord): read at failover for the RPO
    last-attempt.json                 the last sync that found the source unreachable (SyncAttempt)
    runs/<run>/cursor-<token>.json    where the two listings stand between calls
    runs/<run>/chunk-<token>-<n>.json manifest chunks (the diff), one work item each
    runs/<run>/chunk-...result.json   a finished chunk's result (a repeated work item returns it as is)

Every file a call writes carries a token fresh to that call, so a repeated call (activities run at least
once) never overwrites what the accepted attempt's result refers to. A run deletes its folder when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from typing import TYPE_CHECKING, TypeVar

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from pydantic import BaseModel

from ..errors import from_azure_error
from .model import SyncAttempt, SyncRecord

if TYPE_CHECKING:
    from azure.storage.blob.aio import BlobServiceClient, ContainerClient

M = TypeVar("M", bound=BaseModel)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_BATCH = 256  # blobs per batch delete request (the service's limit)


def safe_segment(value: str) -> str:
    """A path segment made of safe characters; a short hash keeps distinct values distinct."""
    cleaned = _UNSAFE.sub("_", value)[:80]
    if cleaned == value:
        return value
    return f"{cleaned}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def step_folder(plan_name: str, step_id: str) -> str:
    return f"blob-backup/{safe_segment(plan_name)}/{safe_segment(step_id)}"


def run_folder(plan_name: str, step_id: str, run_id: str) -> str:
    return f"{step_folder(plan_name, step_id)}/runs/{safe_segment(run_id)}"


class StateStore:
    """JSON files in one folder of the state container."""

    def __init__(self, container: ContainerClient, folder: str) -> None:
        self.container = container
        self.folder = folder.rstrip("/")

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}"

    async def ensure(self) -> None:
        try:
            await self.container.create_container()
        except ResourceExistsError:
            pass
        except Exception as exc:
            raise from_azure_error(exc, what=f"create state container {self.container.container_name}") from exc

    async def write(self, name: str, model: BaseModel) -> None:
        data = model.model_dump_json(exclude_defaults=True).encode()
        try:
            await self.container.upload_blob(self.path(name), data, overwrite=True)
        except ResourceNotFoundError:  # the state container went away (deleted by hand): make it again
            await self.ensure()
            await self.container.upload_blob(self.path(name), data, overwrite=True)
        except Exception as exc:
            raise from_azure_error(exc, what=f"write sync state {self.path(name)}") from exc

    async def read(self, name: str, model: type[M]) -> M | None:
        try:
            downloader = await self.container.download_blob(self.path(name))
            return model.model_validate_json(await downloader.readall())
        except ResourceNotFoundError:
            return None
        except Exception as exc:
            raise from_azure_error(exc, what=f"read sync state {self.path(name)}") from exc

    async def delete_all(self) -> int:
        """Delete every file of the folder; the number deleted."""
        names = [blob.name async for blob in self.container.list_blobs(name_starts_with=self.folder + "/")]
        for start in range(0, len(names), _BATCH):
            batch = names[start : start + _BATCH]
            left = batch
            with contextlib.suppress(Exception):
                responses = await self.container.delete_blobs(*batch, raise_on_any_failure=False)
                statuses = [response.status_code async for response in responses]
                if len(statuses) == len(batch):
                    left = [name for name, status in zip(batch, statuses, strict=True) if status not in (202, 404)]
            # What the batch did not delete (Azurite answers 400 to each sub-request), one request each.
            await asyncio.gather(*(self._delete_one(name) for name in left))
        return len(names)

    async def _delete_one(self, name: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            await self.container.delete_blob(name)


def state_container(service: BlobServiceClient, name: str) -> ContainerClient:
    return service.get_container_client(name)


async def write_sync_record(service: BlobServiceClient, container_name: str, record: SyncRecord) -> None:
    store = StateStore(state_container(service, container_name), step_folder(record.plan, record.step))
    await store.write("last-sync.json", record)


async def read_sync_record(
    service: BlobServiceClient, container_name: str, plan_name: str, step_id: str
) -> SyncRecord | None:
    store = StateStore(state_container(service, container_name), step_folder(plan_name, step_id))
    return await store.read("last-sync.json", SyncRecord)


async def write_sync_attempt(service: BlobServiceClient, container_name: str, attempt: SyncAttempt) -> None:
    store = StateStore(state_container(service, container_name), step_folder(attempt.plan, attempt.step))
    await store.write("last-attempt.json", attempt)


async def read_sync_attempt(
    service: BlobServiceClient, container_name: str, plan_name: str, step_id: str
) -> SyncAttempt | None:
    store = StateStore(state_container(service, container_name), step_folder(plan_name, step_id))
    return await store.read("last-attempt.json", SyncAttempt)
