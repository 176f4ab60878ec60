"""Request bodies of the control API that are not models of their own (a fault is a `FaultSpec`, a seed an
`EstateSeed`, settings `EmulatorSettings` fields)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TargetHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="An endpoint's target host name, or its targetResourceId.")
    healthy: bool


class OperationFailure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="Operation kind, e.g. 'database.geo_restore' (see OPERATION_KINDS).")
    code: str = "OperationTimedOut"
    message: str | None = None
    status: int = Field(500, description="HTTP status the error carries (seen on the Location URL).")
    count: int = Field(1, ge=1)


class ReplicationLag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_id: str
    seconds: float | None = Field(None, ge=0)
