"""Activity of the standing sync: which blob steps to sync."""

from __future__ import annotations

import azure.durable_functions as df

from dr.settings import get_settings
from dr.sync import sync_targets

# Binding annotations are plain classes (dict, list): the Functions Python runtime refuses a builtin
# generic alias such as dict[str, Any] at load ("invalid non-type annotation"), and the worker then
# loads no function of the app at all.
bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity="list_sync_targets")
def list_sync_targets(payload: dict) -> list:
    return sync_targets(get_settings(), payload)
