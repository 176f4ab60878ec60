"""The source authorizer builds copy-source URLs by hand: they must be the URLs the SDK itself gives a blob."""

from __future__ import annotations

import base64

import pytest
from azure.storage.blob.aio import BlobServiceClient

from dr.blobsync.transport import SourceAuthorizer

NAMES = ["small/0000001.bin", "a b/c#d?e%f", "ü/ñ~x", "+plus&amp=;", "dir//double/", "quote'\"<>"]


@pytest.mark.parametrize("account_url", ["http://127.0.0.1:10000/primary", "https://primary.blob.core.windows.net"])
@pytest.mark.parametrize("name", NAMES)
def test_blob_urls_are_the_sdks_own(account_url: str, name: str) -> None:
    key = base64.b64encode(b"k" * 64).decode()
    service = BlobServiceClient(account_url, credential={"account_name": "primary", "account_key": key})

    assert SourceAuthorizer(service, "bench-src").blob_url(name) == service.get_blob_client("bench-src", name).url
