"""The tags a restore writes on what it creates (sql_geo_restore: a database; postgresql_promote: a server): the
run, its mode, plan and step, the source, and when it started. A later call reads them to recognise its own work
(a retried begin continues the restore instead of starting another) and never takes a drill's copy for a
failover's, nor the reverse.

Invariant: pure (nothing here calls Azure); a tag value holds at most 256 characters (ARM's limit), so a longer
source id is written as its SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Literal

from ..durations import iso
from .base import StepContext

TAG_RUN = "dr-run"
TAG_MODE = "dr-mode"
TAG_PLAN = "dr-plan"
TAG_STEP = "dr-step"
TAG_SOURCE = "dr-source"
TAG_STARTED = "dr-started"

RestoredBy = Literal["this_run", "earlier_run"]


def tag_value(text: str) -> str:
    lowered = text.lower()
    return lowered if len(lowered) <= 256 else "sha256:" + hashlib.sha256(lowered.encode()).hexdigest()


def restore_tags(ctx: StepContext, source_id: str) -> dict[str, str]:
    """The tags a restore of ``source_id`` by this run writes on what it creates."""
    return {
        TAG_RUN: ctx.run_id,
        TAG_MODE: ctx.mode,
        TAG_PLAN: ctx.plan_name,
        TAG_STEP: ctx.step_id,
        TAG_SOURCE: tag_value(source_id),
        TAG_STARTED: iso(ctx.now),
    }


def restores_source(tags: Mapping[str, str], source_id: str) -> bool:
    """The tags say a restore of ``source_id`` created the resource."""
    return tags.get(TAG_SOURCE) == tag_value(source_id)


def restored_by(ctx: StepContext, tags: Mapping[str, str]) -> RestoredBy | None:
    """Which run made a restore (its tags): this one, or an earlier run in the same mode; None: a run in another
    mode (a drill's copy is never a failover's result, nor the reverse)."""
    if tags.get(TAG_RUN) == ctx.run_id:
        return "this_run"
    return "earlier_run" if tags.get(TAG_MODE) == ctx.mode else None
