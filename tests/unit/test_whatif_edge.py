"""The what-if models of the edge kinds: dns_record_switch predicts the record's TTL (clients follow within it),
front_door_origins has no documented figure and says so (never a made-up number)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dr.plan import parse_plan
from dr.steps.base import Check
from dr.whatif import ASSUMED_DNS_WRITE_SECONDS, predict

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ZONE = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/dnsZones/shop.example.com"
GROUP = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Cdn/profiles/shop-fd/originGroups/web"
DNS_STEP = {
    "id": "bypass",
    "kind": "dns_record_switch",
    "zone_id": ZONE,
    "record": "www",
    "from_target": "shop-abc.z01.azurefd.net",
    "to_target": "shop.trafficmanager.net",
}
FRONT_DOOR_STEP = {
    "id": "origins",
    "kind": "front_door_origins",
    "origin_group_id": GROUP,
    "from_origins": ["shop-eus"],
    "to_origins": ["shop-wus"],
}


def convergence(ttl: int, *, switched: bool = False) -> list[Check]:
    return [
        Check.passed(
            "dns_convergence", "ttl", ttl_seconds=ttl, expected_dns_convergence_seconds=ttl, already_switched=switched
        )
    ]


def test_the_dns_switch_is_predicted_from_the_record_ttl() -> None:
    plan = parse_plan({"name": "edge", "steps": [DNS_STEP]})

    evaluation = predict(plan, {"bypass": convergence(300)}, now=NOW)

    (step,) = evaluation.steps
    # The step writes the record; resolvers' caches expire after it, within the TTL.
    assert step.seconds == ASSUMED_DNS_WRITE_SECONDS and "TTL, 300 s" in step.basis
    assert step.clients_follow_seconds == 300
    assert evaluation.predicted_rto_seconds is not None
    assert evaluation.predicted_clients_follow_seconds == pytest.approx(evaluation.predicted_rto_seconds + 300)


def test_a_record_already_switched_costs_next_to_nothing_and_an_unread_one_is_unknown() -> None:
    plan = parse_plan({"name": "edge", "steps": [DNS_STEP]})

    assert predict(plan, {"bypass": convergence(300, switched=True)}, now=NOW).steps[0].seconds == 1.0
    unknown = predict(plan, {"bypass": []}, now=NOW)
    assert unknown.steps[0].seconds is None and unknown.predicted_rto_seconds is None


def test_front_door_has_no_documented_figure_and_the_rto_is_unknown() -> None:
    plan = parse_plan({"name": "edge", "steps": [FRONT_DOOR_STEP, {**DNS_STEP, "after": ["origins"]}]})

    evaluation = predict(plan, {"bypass": convergence(60)}, now=NOW)

    origins = next(step for step in evaluation.steps if step.step == "origins")
    assert origins.seconds is None and origins.basis.startswith("unknown")
    assert evaluation.predicted_rto_seconds is None and evaluation.stores == []
