"""The notify activity: a run's message to the webhook its plan names (dr.notify; never raises for the webhook)."""

from __future__ import annotations

import azure.durable_functions as df

from dr.notify import NOTIFY_ACTIVITY, NotifyRequest, send
from dr.settings import get_settings

# Binding annotations are plain classes (dict, list): the Functions Python runtime refuses a builtin
# generic alias such as dict[str, Any] at load ("invalid non-type annotation"), and the worker then
# loads no function of the app at all.
bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity=NOTIFY_ACTIVITY)
def notify(payload: dict) -> dict:
    return send(NotifyRequest.model_validate(payload), get_settings()).model_dump(mode="json")
