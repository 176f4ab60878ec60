"""A run's cancel, forwarded to the first steps it started: the operator API raises it to the steps it sees
running, and a cancel that crosses the episode starting the first steps can miss them (dr.graph)."""

from __future__ import annotations

import azure.durable_functions as df

from dr.admission import ForwardCancelInput, raise_cancel_to_steps

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity="forward_cancel")
@bp.durable_client_input(client_name="client")
async def forward_cancel(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    # Imported here, not at load: function_app imports the activities first, and importing the triggers'
    # modules ahead of the step kinds made each HTTP worker's first settings read cost ~0.14 s more, past what
    # dr.settings.warm_settings_reader pays at load (py-spy on the first alert of benchmarks/rto.py's lone plan).
    from triggers.instances import DurableRuns

    request = ForwardCancelInput.model_validate(payload)
    await raise_cancel_to_steps(DurableRuns(client), request.run_id, request.steps, request.cancel)
    return {"steps": request.steps}
