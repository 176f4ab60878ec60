"""A recovery run's step graph, a Durable entity (dr.graph.RUN_GRAPH_ENTITY, key = the run id): the backend runs
its operations one at a time, so exactly one finishing step learns that a dependent became ready. The
operations are dr.graph.run_graph_operation (this function only adapts the entity context)."""

from __future__ import annotations

import azure.durable_functions as df

from dr.graph import RUN_GRAPH_ENTITY, run_graph_operation

bp = df.Blueprint()


@bp.entity_trigger(context_name="context", entity_name=RUN_GRAPH_ENTITY)
def run_graph(context: df.DurableEntityContext) -> None:
    if context.operation_name == "delete":  # the run has recorded every outcome: nothing stays behind
        context.destruct_on_exit()
        return
    state, answer = run_graph_operation(context.get_state(dict), context.operation_name or "", context.get_input())
    context.set_state(state)
    context.set_result(answer)
