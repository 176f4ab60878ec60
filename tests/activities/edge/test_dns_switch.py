"""The dns_record_switch step kind against the ARM emulator: the record as Azure DNS holds it (target, TTL, etag,
metadata) and what the run reports (TTL as the expected convergence, checks, errors)."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.arm import ArmEmulator
from dr.errors import NotFoundError, PermanentError, PreconditionError, TransientError
from dr.plan import DnsRecordSwitchStep
from dr.steps import get_kind
from tests.activities.kind_calls import KindCalls
from tests.arm_fixtures import Clock
from tests.health_server import HealthUrls

from .conftest import FD_HOST, GROUP, SUB, TM_HOST, ZONE_ID, context, seed_zone

KIND = get_kind("dns_record_switch")


def step(health: HealthUrls | None = None, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "dns",
        "kind": "dns_record_switch",
        "zone_id": ZONE_ID,
        "record": "www",
        "from_target": FD_HOST,
        "to_target": TM_HOST,
        "probe_timeout": "PT2S",
        "verify_window": "PT1M",
    }
    if health is not None:
        values["health_url"] = health.url("/tm/health")
    values.update(fields)
    return DnsRecordSwitchStep.model_validate(values).model_dump(mode="json")


def record(arm: ArmEmulator, name: str = "www") -> tuple[str, int, dict[str, str], str] | None:
    with arm.estate.lock:
        zone = arm.dns.zone(SUB, GROUP, "shop.example.com")
        found = zone.records.get(("CNAME", name))
        return None if found is None else (found.data["cname"], found.ttl, dict(found.metadata), found.etag)


CALLS = KindCalls(KIND, context)
begin, poll, checks = CALLS.begin, CALLS.poll, CALLS.checks


def www(ttl: int = 120, target: str = FD_HOST) -> dict[str, Any]:
    return {"name": "www", "target": target, "ttl": ttl}


def test_failover_points_the_record_at_the_target_under_its_etag_and_reports_the_ttl(
    arm: ArmEmulator, clock: Clock, health: HealthUrls
) -> None:
    seed_zone(arm, www(ttl=120))
    etag_before = record(arm)[3]  # type: ignore[index]

    started = begin(step(health))

    target, ttl, _, etag = record(arm)  # type: ignore[misc]
    assert (target, ttl) == (TM_HOST, 120) and etag != etag_before
    assert started.detail["target_before"] == FD_HOST and started.detail["expected_dns_convergence_seconds"] == 120
    assert started.detail["etag_checked"] is True and started.detail["clients_follow_by"] == "2026-03-02T12:02:00Z"
    verified = poll(step(health), started.state, now=clock.advance(5))
    assert verified.done and verified.detail["target"] == TM_HOST


def test_a_record_already_on_the_target_is_left_alone(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_zone(arm, www(target=TM_HOST))
    etag = record(arm)[3]  # type: ignore[index]

    progress = begin(step(health))

    assert progress.detail["already_switched"] is True and record(arm)[3] == etag  # type: ignore[index]
    assert checks(step(health))["record"].message.endswith("nothing to switch")


def test_a_record_someone_pointed_elsewhere_is_refused_unless_forced(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_zone(arm, www(target="maintenance.example.net"))

    with pytest.raises(PreconditionError) as refused:
        begin(step(health))
    assert refused.value.code == "RecordPointsElsewhere" and record(arm)[0] == "maintenance.example.net"  # type: ignore[index]
    assert checks(step(health))["record"].status == "failed"

    begin(step(health), force=True)
    assert record(arm)[0] == TM_HOST  # type: ignore[index]


def test_a_concurrent_change_between_read_and_write_is_not_overwritten(
    arm: ArmEmulator, health: HealthUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_zone(arm, www())
    from dr.steps.dns import arm as dns_arm
    from dr.steps.dns import step as dns_step

    real_read = dns_arm.read_cname

    def read_then_someone_writes(zone_id: str, name: str) -> dns_arm.RecordView:
        seen = real_read(zone_id, name)
        seed_zone(arm, {"name": name, "target": "someone.example.net", "ttl": 30})  # lands before our write
        return seen

    monkeypatch.setattr(dns_step, "read_cname", read_then_someone_writes)

    with pytest.raises(TransientError) as raced:
        begin(step(health))

    assert raced.value.code == "RecordChangedConcurrently"
    assert record(arm)[0] == "someone.example.net"  # type: ignore[index]


def test_a_missing_record_or_zone_fails_with_what_to_do(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_zone(arm)

    with pytest.raises(NotFoundError, match="create it pointing at"):
        begin(step(health))
    missing_zone = checks(step(health, zone_id=ZONE_ID.replace("shop.example.com", "nope.example.com")))
    assert missing_zone["zone_exists"].status == "failed" and "correct zone_id" in missing_zone["zone_exists"].message


def test_an_unhealthy_target_is_refused_before_the_switch(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_zone(arm, www())
    health.fail("/tm/health")

    with pytest.raises(PreconditionError) as refused:
        begin(step(health))

    assert refused.value.code == "TargetUnhealthy" and record(arm)[0] == FD_HOST  # type: ignore[index]
    assert checks(step(health))["target_healthy"].status == "failed"


def test_verification_fails_when_someone_reverts_the_record(arm: ArmEmulator, clock: Clock, health: HealthUrls) -> None:
    seed_zone(arm, www())
    started = begin(step(health))
    seed_zone(arm, www())  # reverted by hand

    with pytest.raises(PermanentError) as failed:
        poll(step(health), started.state, now=clock.advance(5))

    assert failed.value.code == "RecordChangedAfterSwitch"


def test_the_checks_report_the_ttl_as_the_convergence_the_what_if_model_uses(
    arm: ArmEmulator, health: HealthUrls
) -> None:
    seed_zone(arm, www(ttl=300))

    found = checks(step(health))

    assert found["dns_convergence"].facts["expected_dns_convergence_seconds"] == 300
    assert found["zone_exists"].status == found["record"].status == found["target_healthy"].status == "passed"


def test_a_read_only_drill_changes_nothing(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_zone(arm, www())
    etag = record(arm)[3]  # type: ignore[index]

    progress = begin(step(health), mode="drill", run_id="edge--drill--dns1")

    assert progress.done and progress.detail["mode"] == "drill (read only)"
    assert progress.detail["would_change"] == f"point it at {TM_HOST}" and record(arm)[3] == etag  # type: ignore[index]


def test_a_drill_creates_its_own_record_and_teardown_deletes_it(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_zone(arm, www())
    fields = step(health, drill_record="www-drill")
    run = "edge--drill--dns2"

    progress = begin(fields, mode="drill", run_id=run)

    target, _, metadata, _ = record(arm, "www-drill")  # type: ignore[misc]
    assert target == TM_HOST and metadata == {"dr_drill_run": run, "dr_drill_baseline": "absent"}
    assert record(arm)[0] == FD_HOST  # type: ignore[index]
    c = context(fields, mode="drill", run_id=run)
    assert KIND.teardown(c, c.params(), progress.state)["teardown"] == "deleted"
    assert record(arm, "www-drill") is None


def test_a_drill_on_an_existing_drill_record_restores_it(arm: ArmEmulator, health: HealthUrls) -> None:
    seed_zone(arm, www(), {"name": "www-drill", "target": FD_HOST, "ttl": 30, "metadata": {"owner": "ops"}})
    fields = step(health, drill_record="www-drill")
    run = "edge--drill--dns3"

    progress = begin(fields, mode="drill", run_id=run)
    c = context(fields, mode="drill", run_id=run)
    answer = KIND.teardown(c, c.params(), progress.state)

    assert answer == {"teardown": "restored", "record": "www-drill.shop.example.com", "target": FD_HOST}
    assert record(arm, "www-drill")[:3] == (FD_HOST, 30, {"owner": "ops"})  # type: ignore[index]
    other = context(fields, mode="drill", run_id="edge--drill--other")
    assert KIND.teardown(other, other.params(), {})["teardown"].startswith("nothing to undo")
