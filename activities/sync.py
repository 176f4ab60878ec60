"""Activity of the standing sync: which blob steps to sync."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from dr.settings import get_settings
from dr.sync import sync_targets

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity="list_sync_targets")
def list_sync_targets(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return sync_targets(get_settings(), datetime.fromisoformat(payload["now"]))
