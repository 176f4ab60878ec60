"""Run reports as JSON blobs in the reports container (on the secondary side: it must outlive the outage), each
with a self-contained HTML copy beside it (``runs/<run id>.html``, dr.report_html) that opens without tools."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator

from .clients import Clients
from .errors import InvalidInputError, NotFoundError, azure_errors
from .report_html import render_report
from .run import RunReport, is_run_id

log = logging.getLogger("dr.report")


class StoredReport(RunReport):
    """A report as the write_report activity receives it: the run's keys and any top-level key a subclass of
    RunReport added (a teardown retry's ``left_behind``, dr.teardown.RetriedDrillReport), kept as sent."""

    model_config = ConfigDict(extra="allow")


class WriteReportInput(BaseModel):
    """write_report's input (the activity answers the report's URL)."""

    model_config = ConfigDict(frozen=True)

    # SerializeAsAny: a RunReport subclass travels with its own keys (pydantic would dump the declared
    # RunReport's alone); on the activity's side the JSON becomes a StoredReport, which keeps them.
    report: SerializeAsAny[RunReport]
    plan: dict[str, Any] | None = Field(None, description="The run's plan snapshot, for the HTML copy.")

    @field_validator("report", mode="before")
    @classmethod
    def _keep_added_keys(cls, value: Any) -> Any:
        return StoredReport.model_validate(value) if isinstance(value, dict) else value


class ReadReportInput(BaseModel):
    """read_report's input (the activity answers the stored report's JSON)."""

    model_config = ConfigDict(frozen=True)

    instance_id: str

    @field_validator("instance_id")
    @classmethod
    def _a_run_id(cls, value: str) -> str:
        if not is_run_id(value):  # never a storage name built from anything but a run id
            raise ValueError(f"{value!r} is not a recovery run id")
        return value


def report_blob_name(instance_id: str) -> str:
    return f"runs/{instance_id}.json"


def report_html_blob_name(instance_id: str) -> str:
    """The readable copy beside the JSON report (dr.report_html)."""
    return f"runs/{instance_id}.html"


HTML = "text/html; charset=utf-8"


def reports_container(clients: Clients) -> Any:
    """The reports container (run reports, plan evaluations) on DR_REPORTS_ACCOUNT_URL."""
    account_url = clients.settings.reports_account_url
    if not account_url:
        raise InvalidInputError("setting DR_REPORTS_ACCOUNT_URL is not set: nowhere to keep reports")
    return clients.blob_service(account_url).get_container_client(clients.settings.reports_container)


def put_json(clients: Clients, blob_name: str, document: BaseModel, *, what: str, metadata: dict[str, str]) -> str:
    """Write (or overwrite: writes are replayed) one JSON document in the reports container; its URL."""
    data = json.dumps(document.model_dump(mode="json"), indent=2).encode()
    return put_blob(clients, blob_name, data, "application/json", what=what, metadata=metadata)


def put_blob(
    clients: Clients, blob_name: str, data: bytes, content_type: str, *, what: str, metadata: dict[str, str]
) -> str:
    """Write (or overwrite) one document of the reports container; its URL."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import ContentSettings

    container = reports_container(clients)
    with azure_errors(what):
        with contextlib.suppress(ResourceExistsError):
            container.create_container()
        blob = container.get_blob_client(blob_name)
        blob.upload_blob(
            data, overwrite=True, content_settings=ContentSettings(content_type=content_type), metadata=metadata
        )
    return str(blob.url)


def get_json(clients: Clients, blob_name: str, *, what: str) -> bytes | None:
    """One document of the reports container, as stored (None: there is none)."""
    from azure.core.exceptions import ResourceNotFoundError

    blob = reports_container(clients).get_blob_client(blob_name)
    with azure_errors(what):
        try:
            return bytes(blob.download_blob().readall())
        except ResourceNotFoundError:
            return None


def write_report(clients: Clients, report: RunReport, plan: dict[str, Any] | None = None) -> str:
    """Write (or overwrite: a replayed activity writes the same report again) the JSON report, then its HTML copy;
    the JSON report's URL."""
    metadata = {"plan": report.plan, "status": report.status, "mode": report.mode}
    name = report_blob_name(report.instance_id)
    url = put_json(clients, name, report, what=f"write report of {report.instance_id}", metadata=metadata)
    try:
        page = render_report(report.model_dump(mode="json"), plan_snapshot=plan).encode()
    except Exception:  # the JSON report is the contract: a bug in its readable copy must not cost the run it
        log.exception("report of %s: the HTML copy could not be rendered", report.instance_id)
        return url
    what = f"write the HTML report of {report.instance_id}"
    put_blob(clients, report_html_blob_name(report.instance_id), page, HTML, what=what, metadata=metadata)
    return url


def read_report(clients: Clients, instance_id: str) -> dict[str, Any]:
    data = get_json(clients, report_blob_name(instance_id), what=f"read report of {instance_id}")
    if data is None:
        raise NotFoundError(f"run {instance_id!r} has no report (yet)", code="ReportNotFound")
    return dict(json.loads(data))
