"""dr.azure_lro against the emulator's real LRO protocol: start returns at once, one look per check, both
ways ARM offers to follow an operation (Azure-AsyncOperation and Location)."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.sql.models import Database

from devstack.arm import ArmEmulator
from dr.azure_lro import OperationRef, check_operation, start_operation
from dr.clients import get_clients
from dr.errors import TransientError, from_azure_error

from .conftest import SUB


def begin_create(name: str) -> OperationRef:
    client = get_clients().sql(SUB)
    return start_operation(
        client.databases.begin_create_or_update, "shop-wus", "shop-wus", name, Database(location="westus")
    )


def test_start_returns_the_status_urls_without_waiting(arm: ArmEmulator) -> None:
    began = time.perf_counter()
    ref = begin_create("fresh")
    assert time.perf_counter() - began < 2.0  # the operation runs "an hour": nothing waited for it
    assert ref.initial_status_code == 202
    assert ref.status_url is not None
    assert ref.location_url is not None
    assert ref.retry_after_seconds == 1.0
    assert not ref.completed_at_once


@pytest.mark.parametrize("follow", ["status_url", "location_url"])
def test_one_look_per_check_until_succeeded(arm: ArmEmulator, follow: str) -> None:
    full = begin_create("fresh")
    ref = OperationRef(initial_status_code=202, **{follow: getattr(full, follow)})
    client = get_clients().sql(SUB)
    arm.clear_requests()

    assert check_operation(client, ref, endpoint=arm.url).status == "InProgress"
    assert len(arm.requests()) == 1
    arm.finish_operations()
    assert check_operation(client, ref, endpoint=arm.url).status == "Succeeded"


@pytest.mark.parametrize("follow", ["status_url", "location_url"])
def test_a_failed_operation_carries_arms_code_and_message(arm: ArmEmulator, follow: str) -> None:
    arm.fail_next_operation("database.create", "ProvisioningDisabled", "Creating databases is disabled.", status=400)
    full = begin_create("fresh")
    ref = OperationRef(initial_status_code=202, **{follow: getattr(full, follow)})
    arm.finish_operations()

    status = check_operation(get_clients().sql(SUB), ref, endpoint=arm.url)

    assert status.status == "Failed"
    assert status.error_code == "ProvisioningDisabled"
    assert status.error_message == "Creating databases is disabled."


def test_a_throttled_check_raises_for_the_caller_to_retry(arm: ArmEmulator) -> None:
    ref = begin_create("fresh")
    arm.inject_fault("*AzureAsyncOperation*", method="GET", status=503, count=2, retry_after=0)

    with pytest.raises(HttpResponseError) as raised:
        check_operation(get_clients().sql(SUB), ref, endpoint=arm.url)
    assert isinstance(from_azure_error(raised.value, what="check"), TransientError)


def test_an_operation_arm_forgot_is_unknown(arm: ArmEmulator) -> None:
    ref = begin_create("fresh")
    assert ref.status_url is not None
    operation_id = ref.status_url.split("?")[0].rsplit("/", 1)[-1]
    forgotten = OperationRef(
        initial_status_code=202,
        status_url=ref.status_url.replace(operation_id, "00000000-dead-beef-0000-000000000000"),
    )
    assert check_operation(get_clients().sql(SUB), forgotten, endpoint=arm.url).status == "Unknown"
