"""blob_backup against real Azure storage: the paths Azurite cannot exercise (Put Blob From URL, a
user-delegation SAS from the identity, Copy Blob left ``pending``). Skipped unless the environment says so:

    DR_LIVE_TESTS=1
    credentials for DefaultAzureCredential (AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET, or
        DR_LIVE_CREDENTIAL=default for az login / a managed identity); the identity needs Storage Blob Data
        Contributor on both accounts (user-delegation keys come with it)
    DR_LIVE_BLOB_SOURCE_URL   https://<account>.blob.core.windows.net   }  in two regions, ideally;
    DR_LIVE_BLOB_TARGET_URL   https://<account>.blob.core.windows.net   }  containers dr-live-* are made and deleted
"""

from __future__ import annotations

import contextlib
import gzip
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContentSettings

from dr.clients import reset_for_tests
from dr.plan import BlobBackupStep
from dr.steps import get_kind
from dr.steps.base import StepContext, StepProgress

pytestmark = pytest.mark.live
BLOB = get_kind("blob_backup")


def _require() -> tuple[str, str]:
    env = os.environ
    if env.get("DR_LIVE_TESTS") != "1":
        pytest.skip("live Azure tests run only with DR_LIVE_TESTS=1")
    has_principal = env.get("AZURE_TENANT_ID") and env.get("AZURE_CLIENT_ID")
    if env.get("DR_LIVE_CREDENTIAL") != "default" and not (
        has_principal and (env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_FEDERATED_TOKEN_FILE"))
    ):
        pytest.skip("no Azure credentials (see the module docstring)")
    missing = [name for name in ("DR_LIVE_BLOB_SOURCE_URL", "DR_LIVE_BLOB_TARGET_URL") if not env.get(name)]
    if missing:
        pytest.skip(f"set {', '.join(missing)} to run this live test")
    return env["DR_LIVE_BLOB_SOURCE_URL"].rstrip("/"), env["DR_LIVE_BLOB_TARGET_URL"].rstrip("/")


@pytest.fixture
def live_accounts(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BlobServiceClient, BlobServiceClient, str]]:
    source_url, target_url = _require()
    from azure.identity import DefaultAzureCredential

    monkeypatch.delenv("DR_STORAGE_CONNECTION_STRINGS", raising=False)
    reset_for_tests()
    credential = DefaultAzureCredential()
    source, target = BlobServiceClient(source_url, credential), BlobServiceClient(target_url, credential)
    name = f"dr-live-{uuid.uuid4().hex[:10]}"
    source.create_container(name)
    try:
        yield source, target, name
    finally:
        for service in (source, target):
            with contextlib.suppress(Exception):
                service.delete_container(name)
        reset_for_tests()


def drive(step: BlobBackupStep, deadline: float = 900) -> StepProgress:
    now = datetime.now(UTC)
    ctx = StepContext(
        run_id=f"live-{uuid.uuid4().hex[:8]}",
        plan_name="live",
        mode="failover",
        step=step.model_dump(mode="json"),
        started_at=now,
        now=now,
    )
    progress = BLOB.begin(ctx, step)
    ends = time.monotonic() + deadline
    while not progress.done:
        assert time.monotonic() < ends, "the sync did not finish in time"
        ctx = ctx.model_copy(update={"now": datetime.now(UTC)})
        results: list[dict[str, Any]] = [BLOB.work(ctx, step, item) for item in progress.work]
        if not progress.work and progress.poll_after_seconds:
            time.sleep(progress.poll_after_seconds)  # a pending Copy Blob, as the durable timer would wait
        progress = BLOB.poll(ctx, step, progress.state, results)
    return progress


def test_live_sync_uses_put_blob_from_url_and_finishes_pending_copies(
    live_accounts: tuple[BlobServiceClient, BlobServiceClient, str],
) -> None:
    source, target, name = live_accounts
    container = source.get_container_client(name)
    container.upload_blob(
        "site/index.html", b"<h1>live</h1>", metadata={"owner": "web"}, content_settings=ContentSettings("text/html")
    )
    script = gzip.compress(b"console.log(1)" * 100)
    container.upload_blob(
        "site/app.js", script, content_settings=ContentSettings("text/javascript", content_encoding="gzip")
    )
    pages = container.get_blob_client("disk/page.vhd")
    pages.create_page_blob(size=1024)  # not a block blob: Copy Blob, which Azure may leave pending
    pages.upload_page(b"\x01" * 512, offset=0, length=512)
    step = BlobBackupStep.model_validate(
        {
            "id": "live",
            "kind": "blob_backup",
            "source": {"account_url": source.url.rstrip("/"), "container": name},
            "target": {"account_url": target.url.rstrip("/"), "container": name},
        }
    )

    first = drive(step)

    assert first.detail["copied"] == 3
    assert first.detail["verified"] == 3
    assert "put_blob_from_url" in first.detail["copy_method"]
    copied = target.get_container_client(name)
    page = copied.get_blob_client("site/index.html").get_blob_properties()
    assert page.content_settings.content_type == "text/html"
    assert page.metadata["owner"] == "web"
    assert copied.get_blob_client("site/app.js").download_blob(decompress=False).readall() == script
    assert drive(step).detail["copied"] == 0
