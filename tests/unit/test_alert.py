from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.alert_samples import CONTEXTS, PRIMARY_RG, alert
from dr.alert import MAX_ALERT_BYTES, alert_fingerprint, matching_plans, parse_alert_body, plan_matches
from dr.errors import InvalidInputError
from dr.plan import parse_plan


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize("service", sorted(CONTEXTS))
def test_every_monitoring_service_parses_with_its_facts(service: str) -> None:
    parsed = parse_alert_body(body(alert(service)))
    facts = parsed.facts()
    assert facts["monitoring_service"] == service
    assert facts["alert_rule"] == "shop-primary-down"
    assert facts["fired_at"].startswith("2026-11-28T07:00:24")
    assert isinstance(facts["context"], dict)


def test_service_specific_summaries() -> None:
    metric = parse_alert_body(body(alert("Platform"))).facts()["context"]
    assert metric["conditions"][0]["metricName"] == "Availability"
    health = parse_alert_body(body(alert("Resource Health"))).facts()["context"]
    assert health["currentHealthStatus"] == "Unavailable"
    service_health = parse_alert_body(body(alert("ServiceHealth"))).facts()["context"]
    assert service_health["region"] == "East US"


def test_unknown_fields_are_tolerated() -> None:
    document = alert()
    document["data"]["essentials"]["brandNewField"] = {"x": 1}
    document["data"]["somethingElse"] = [1, 2]
    document["extra"] = True
    assert parse_alert_body(body(document)).essentials.alert_rule == "shop-primary-down"


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        (b"{not json", "MalformedJson", "not valid JSON"),
        (b"[1,2]", "MalformedAlert", "JSON object"),
        (
            body({"schemaId": "Microsoft.Insights/activityLogs", "data": {}}),
            "UnsupportedSchema",
            "common alert schema",
        ),
        (
            body({"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {}}}),
            "MalformedAlert",
            "alertId",
        ),
        (body(alert(monitorCondition="Maybe")), "MalformedAlert", "monitorCondition"),
        (b"\xff\xfe", "UnsupportedEncoding", "byte-order mark"),
    ],
)
def test_bad_bodies_say_what_is_wrong(raw: bytes, code: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        parse_alert_body(raw)
    assert excinfo.value.code == code
    assert fragment in excinfo.value.message


def test_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInputError, match="the limit is 262144") as excinfo:
        parse_alert_body(b" " * (MAX_ALERT_BYTES + 1))
    assert excinfo.value.code == "PayloadTooLarge"


def _plan(**trigger: Any) -> Any:
    return parse_plan(
        {"name": "p", "trigger": trigger, "steps": [{"id": "s", "kind": "health_check", "url": "http://x/h"}]}
    )


def test_matching_by_rule_by_target_prefix_and_severity() -> None:
    fired = parse_alert_body(body(alert(rule="other-rule")))
    assert plan_matches(_plan(alert_rules=["other-rule"]), fired)
    # ARM ids compare case-insensitively; a prefix must end at a path boundary.
    assert plan_matches(_plan(target_resource_ids=[PRIMARY_RG.upper()]), fired)
    assert not plan_matches(_plan(target_resource_ids=[PRIMARY_RG[:-1]]), fired)
    assert not plan_matches(_plan(alert_rules=["other-rule"], severities=["Sev0"]), fired)
    assert not plan_matches(_plan(alert_rules=["nope"]), fired)
    plans = {"a": _plan(alert_rules=["other-rule"]), "b": _plan(alert_rules=["x"])}
    assert [p.trigger.alert_rules for p in matching_plans(plans, fired)] == [["other-rule"]]


def test_fingerprint_is_stable_and_instance_id_safe() -> None:
    alert_id = alert()["data"]["essentials"]["alertId"]
    assert alert_fingerprint(alert_id) == alert_fingerprint(alert_id)
    assert alert_fingerprint(alert_id).isalnum()
    assert alert_fingerprint(alert_id) != alert_fingerprint(alert_id + "x")


# -- strict parsing (issue 15, items 1-3) -------------------------------------------------------------------


def _sample() -> str:
    return json.dumps(alert())


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        (b"[" * 1000 + b"]" * 1000, "MalformedJson", "deeper than 32"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "MalformedJson", "deeper than 32"),
        (
            _sample()
            .replace('"monitorCondition": "Fired"', '"monitorCondition": "Resolved", "monitorCondition": "Fired"')
            .encode(),
            "MalformedJson",
            "duplicate key 'monitorCondition'",
        ),
        (_sample().replace('{"team": "shop"}', '{"x": NaN}').encode(), "MalformedJson", "NaN"),
        (_sample().replace('{"team": "shop"}', '{"x": Infinity}').encode(), "MalformedJson", "Infinity"),
        (b"\xef\xbb\xbf" + _sample().encode(), "UnsupportedEncoding", "byte-order mark"),
        (_sample().encode("utf-16"), "UnsupportedEncoding", "byte-order mark"),
        (_sample().encode("utf-16-le"), "UnsupportedEncoding", "UTF-8"),
        (_sample().encode("utf-32-be"), "UnsupportedEncoding", "UTF-8"),
        (_sample().encode().replace(b"shop", b"sh\xffp", 1), "UnsupportedEncoding", "not valid UTF-8"),
        (_sample().replace('"team": "shop"', '"team": "\\ud800"').encode(), "MalformedJson", "lone surrogate"),
        (
            json.dumps(alert(severity="Sev\udc00")).encode(),
            "MalformedJson",
            "lone surrogate (invalid unicode) in data.essentials.severity",
        ),
        (json.dumps(alert(firedDateTime="2026-11-20T10:15:03")).encode(), "MalformedAlert", "firedDateTime"),
        (json.dumps(alert(firedDateTime=1763633703)).encode(), "MalformedAlert", "firedDateTime"),
        (json.dumps(alert(firedDateTime="1763633703")).encode(), "MalformedAlert", "firedDateTime"),
        (json.dumps(alert(resolvedDateTime="2026-11-20T10:15:03")).encode(), "MalformedAlert", "resolved"),
        (json.dumps(alert(alertId=" \t\n ")).encode(), "MalformedAlert", "alertId"),
    ],
)
def test_off_schema_bodies_are_refused_with_what_was_wrong(raw: bytes, code: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        parse_alert_body(raw)
    assert excinfo.value.code == code, excinfo.value.message
    assert fragment.lower() in excinfo.value.message.lower()


def test_nesting_inside_strings_and_a_real_alert_are_fine() -> None:
    document = alert()
    document["data"]["customProperties"] = {"note": "[[[[" * 100}
    assert parse_alert_body(json.dumps(document).encode()).essentials.fired_date_time.tzinfo is not None
