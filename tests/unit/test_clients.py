"""The app's clients, built once from one settings object: in Azure (no devstack token) a management client
is built with the app's Azure credential, which the same cache builds: that must not wait on itself."""

from __future__ import annotations

import threading

from dr.clients import Clients
from dr.settings import Settings


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
