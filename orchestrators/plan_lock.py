"""The per-plan failover lock, a Durable entity (dr.admission.PLAN_LOCK_ENTITY, key = the plan's name).

The backend runs an entity's operations one at a time, so "acquire" is an atomic compare-and-set; the
operations themselves are dr.admission.plan_lock_operation (this function only adapts the entity context).
"""

from __future__ import annotations

import azure.durable_functions as df

from dr.admission import PLAN_LOCK_ENTITY, plan_lock_operation

bp = df.Blueprint()


@bp.entity_trigger(context_name="context", entity_name=PLAN_LOCK_ENTITY)
def plan_lock(context: df.DurableEntityContext) -> None:
    state = context.get_state(dict)
    context.set_state(plan_lock_operation(state, context.operation_name or "", context.get_input()))
