"""The app's clients, built once from one settings object: in Azure (no devstack token) a management client
is built with the app's Azure credential, which the same cache builds: that must not wait on itself. Their
HTTP transports honour the environment's proxies, netrc and CA bundle as the SDK's default does, without
looking them up again on every request when there are none."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError

from dr.clients import SDK_HTTP_LOGGER, Clients
from dr.settings import Settings
from tests.health_server import health_server

AZURITE = "DefaultEndpointsProtocol=http;AccountName=primary;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/primary"
SUB = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No proxy, netrc or CA bundle in the environment, and a home without a netrc file."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "NETRC", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


def _transports(clients: Clients) -> tuple[object, object, object]:
    """The HTTP transports of a management client, a sync Blob client and an async Blob client."""

    def innermost(pipeline: object) -> object:
        transport = pipeline._transport  # type: ignore[attr-defined]
        while hasattr(transport, "_transport"):
            transport = transport._transport
        return transport

    async def async_transport() -> object:
        async with clients.async_session() as azure:
            return innermost(azure.blob_service("http://127.0.0.1:1/primary")._pipeline)

    management = innermost(clients.sql(SUB)._client._pipeline)
    blob = innermost(clients.blob_service("http://127.0.0.1:1/primary")._pipeline)
    return management, blob, asyncio.run(async_transport())


def _settings() -> Settings:
    return Settings(arm_token="t", arm_ca_bundle=None, storage_connection_strings={"primary": AZURITE})


def test_without_proxy_or_netrc_clients_do_not_look_them_up_and_keep_the_environments_ca_bundle(
    bare_env: pytest.MonkeyPatch,
) -> None:
    bare_env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/corporate.pem")
    management, blob, async_blob = _transports(Clients(_settings()))
    for transport in (management, blob, async_blob):
        assert transport._use_env_settings is False  # type: ignore[attr-defined]
    # requests would have verified with the bundle the environment names: the sync clients still do.
    assert management.connection_config.verify == "/etc/ssl/certs/corporate.pem"  # type: ignore[attr-defined]
    assert blob.connection_config.verify == "/etc/ssl/certs/corporate.pem"  # type: ignore[attr-defined]
    assert async_blob.connection_config.verify is True  # type: ignore[attr-defined]  # aiohttp never read it


@pytest.mark.parametrize("setting", ["HTTPS_PROXY", "https_proxy", "NO_PROXY", "NETRC"])
def test_a_proxy_or_netrc_setting_leaves_the_clients_trusting_the_environment(
    bare_env: pytest.MonkeyPatch, setting: str
) -> None:
    bare_env.setenv(setting, "http://proxy.example:3128")
    for transport in _transports(Clients(_settings())):
        assert transport._use_env_settings is True  # type: ignore[attr-defined]


def test_a_netrc_file_in_home_leaves_the_clients_trusting_the_environment(
    bare_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".netrc").write_text("machine example.com login a password b\n")
    for transport in _transports(Clients(_settings())):
        assert transport._use_env_settings is True  # type: ignore[attr-defined]


def test_a_management_client_is_built_with_the_azure_credential_without_waiting_on_itself() -> None:
    clients = Clients(Settings(arm_token=None, arm_ca_bundle=None))
    built: list[object] = []
    builder = threading.Thread(target=lambda: built.append(clients.sql("00000000-0000-0000-0000-000000000001")))
    builder.daemon = True  # a deadlocked builder must not keep the test process alive
    builder.start()
    builder.join(timeout=20)

    assert built, "building the SQL client with the app's Azure credential never finished"
    assert clients.sql("00000000-0000-0000-0000-000000000001") is built[0]  # built once
    assert clients.arm_credential() is clients.azure_credential()


@pytest.fixture
def storage_answering_404() -> Iterator[str]:
    with health_server() as server:
        server.status, server.body = 404, b""
        yield server.url("/primary")


def _sdk_http_records(settings: Settings, account_url: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    """What a container read logs through azure-core's HTTP policy, with the root logger at INFO as the
    Functions Python worker sets it."""
    caplog.clear()
    caplog.set_level(logging.INFO)
    container = Clients(settings).blob_service(account_url).get_container_client("photos")
    with pytest.raises(ResourceNotFoundError):
        container.get_container_properties()
    return [record.getMessage() for record in caplog.records if record.name == SDK_HTTP_LOGGER]


def test_sdk_requests_are_not_logged_unless_asked(
    storage_answering_404: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = AZURITE.replace("http://127.0.0.1:1/primary", storage_answering_404)
    monkeypatch.setattr(logging.getLogger(SDK_HTTP_LOGGER), "level", logging.NOTSET)  # restored after the test

    quiet = _sdk_http_records(
        Settings(storage_connection_strings={"primary": connection}), storage_answering_404, caplog
    )
    asked = _sdk_http_records(
        Settings(storage_connection_strings={"primary": connection}, sdk_http_logs=True), storage_answering_404, caplog
    )

    assert quiet == []
    assert any("Request URL" in message for message in asked)
    assert not any("AccountKey" in message or "a2V5" in message for message in asked)  # the key never
