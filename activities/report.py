"""The report activities: write a run report, and read a stored one back (a teardown retry rewrites it)."""

from __future__ import annotations

import azure.durable_functions as df

from dr.clients import get_clients
from dr.report import ReadReportInput, WriteReportInput
from dr.report import read_report as load_report
from dr.report import write_report as store_report

# Binding annotations are plain classes (dict, list): the Functions Python runtime refuses a builtin
# generic alias such as dict[str, Any] at load ("invalid non-type annotation"), and the worker then
# loads no function of the app at all.
bp = df.Blueprint()


@bp.activity_trigger(input_name="payload", activity="write_report")
def write_report(payload: dict) -> str:
    request = WriteReportInput.model_validate(payload)
    return store_report(get_clients(), request.report, request.plan)


@bp.activity_trigger(input_name="payload", activity="read_report")
def read_report(payload: dict) -> dict:
    """The stored report of a run (a teardown retry rewrites it); NotFoundError when there is none."""
    return load_report(get_clients(), ReadReportInput.model_validate(payload).instance_id)
