"""A run's cancel, forwarded to the first steps it started: the operator API raises it to the steps it sees
running, and a cancel that crosses the episode starting the first steps can miss them (dr.graph)."""

from __future__ import annotations

import azure.durable_functions as df

from dr.admission import ForwardCancelInput, raise_cancel_to_steps
from triggers.instances import DurableRuns

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity="forward_cancel")
@bp.durable_client_input(client_name="client")
async def forward_cancel(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    request = ForwardCancelInput.model_validate(payload)
    await raise_cancel_to_steps(DurableRuns(client), request.run_id, request.steps, request.cancel)
    return {"steps": request.steps}
