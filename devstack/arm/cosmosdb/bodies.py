"""Request bodies Microsoft.DocumentDB/databaseAccounts accepts, as azure-mgmt-cosmosdb 10.0.0 serializes them
(definitions FailoverPolicies, FailoverPolicy and RegionForOnlineOffline of
specification/cosmos-db/resource-manager/Microsoft.DocumentDB/DocumentDB/stable/2026-03-15/openapi.json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class FailoverPolicyBody(_Body):
    location_name: str = Field(min_length=1)
    failover_priority: int = Field(ge=0)


class FailoverPoliciesBody(_Body):
    failover_policies: list[FailoverPolicyBody]


class RegionBody(_Body):
    """RegionForOnlineOffline: `region` is required."""

    region: str = Field(min_length=1)
