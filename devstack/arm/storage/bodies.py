"""Request bodies Microsoft.Storage/storageAccounts accepts here, as azure-mgmt-storage 25.3.0 serializes them
(StorageAccountUpdateParameters of specification/storage/resource-manager/Microsoft.Storage/stable/2026-09-01/
openapi.json): the SKU and tags. Other properties are accepted and ignored (the emulator models no network rules,
encryption or access tiers)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class SkuBody(_Body):
    name: str


class AccountUpdateBody(_Body):
    sku: SkuBody | None = None
    tags: dict[str, str] | None = None
