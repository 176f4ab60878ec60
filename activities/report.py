"""The report writer activity."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from dr.clients import get_clients
from dr.report import write_report as store_report
from dr.run import RunReport

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity="write_report")
def write_report(payload: dict[str, Any]) -> str:
    return store_report(get_clients(), RunReport.model_validate(payload["report"]))
