"""Activities of failover and failback runs: the primary-health probe a failback waits on, and the plan's
state (which side serves, which way protection runs) recorded when a failover or failback ends."""

from __future__ import annotations

import azure.durable_functions as df

from dr.clients import get_clients
from dr.failback import probe_primary as probe_primary_once
from dr.plan_state import record_plan_state as store_plan_state

# Binding annotations are plain classes (dict, list): the Functions Python runtime refuses a builtin
# generic alias such as dict[str, Any] at load ("invalid non-type annotation"), and the worker then
# loads no function of the app at all.
bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity="probe_primary")
def probe_primary(payload: dict) -> dict:
    return probe_primary_once(payload)


@bp.activity_trigger(input_name="payload", activity="record_plan_state")
def record_plan_state(payload: dict) -> dict:
    return store_plan_state(get_clients(), payload)
