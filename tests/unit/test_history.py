"""dr/history.py: a plan's stored reports (real Azurite), newest first and bounded, and the drill RTO
regression rule (more than 25 % over the median of the previous five drills, at least three)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from devstack.azurite import Azurite
from dr.clients import get_clients, reset_for_tests
from dr.history import REGRESSION_EVENT, latest_regression, plan_reports, regression_log_line, rto_regressions

START = datetime(2026, 1, 1, 3, tzinfo=UTC)


def report(plan: str, n: int, *, mode: str = "drill", rto: float | None = 100.0) -> dict[str, Any]:
    started = START + timedelta(days=n)
    return {
        "instance_id": f"{plan}--{mode}--op-{started:%Y%m%dT%H%M%S}-{n:06x}",
        "plan": plan,
        "mode": mode,
        "status": "Succeeded" if rto is not None else "Failed",
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(seconds=rto or 5)).isoformat(),
        "rto_seconds": rto,
    }


def newest_first(*rtos: float | None, plan: str = "shop") -> list[dict[str, Any]]:
    """Drills with these RTOs, oldest first as given; returned newest first (as plan_reports answers)."""
    return list(reversed([report(plan, n, rto=rto) for n, rto in enumerate(rtos)]))


def test_a_drill_more_than_25_percent_over_the_median_of_the_previous_five_regressed() -> None:
    reports = newest_first(500.0, 100.0, 120.0, 90.0, 100.0, 110.0, 126.0)  # the 500 s is not in the five
    found = latest_regression("shop", reports)
    assert found is not None
    assert (found.run_id, found.rto_seconds, found.baseline_median_seconds, found.ratio) == (
        reports[0]["instance_id"],
        126.0,
        100.0,
        1.26,
    )
    assert found.baseline_runs == [r["instance_id"] for r in reports[1:6]]
    line = json.loads(regression_log_line(found, now=START))
    assert line["event"] == REGRESSION_EVENT == "DrDrillRtoRegression"
    assert {"plan", "run_id", "rto_seconds", "baseline_median_seconds", "baseline_runs", "ratio"} <= set(line)


def test_no_regression_at_25_percent_with_too_few_drills_or_for_a_drill_without_rto() -> None:
    assert latest_regression("shop", newest_first(100.0, 100.0, 100.0, 100.0, 100.0, 125.0)) is None
    assert latest_regression("shop", newest_first(100.0, 100.0, 300.0)) is None  # two before it
    assert latest_regression("shop", newest_first(100.0, 100.0, 100.0, 300.0)) is not None  # three
    # Failed drills (no RTO) and failovers neither regress nor count in the baseline.
    mixed = newest_first(100.0, None, 100.0, 100.0, 300.0)
    mixed.insert(0, report("shop", 9, mode="failover", rto=900.0))
    assert latest_regression("shop", mixed) is not None
    older = rto_regressions("shop", newest_first(100.0, 100.0, 100.0, 300.0, 100.0))
    assert list(older) == [report("shop", 3)["instance_id"]]  # an older drill's regression, by id


@pytest.fixture
def reports_account(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DR_REPORTS_ACCOUNT_URL", azurite.url_for("secondary"))
    monkeypatch.setenv(
        "DR_STORAGE_CONNECTION_STRINGS", json.dumps({"secondary": azurite.connection_string("secondary")})
    )
    container = f"reports-{datetime.now().strftime('%H%M%S%f')}"
    monkeypatch.setenv("DR_REPORTS_CONTAINER", container)
    reset_for_tests()
    service = BlobServiceClient.from_connection_string(azurite.connection_string("secondary"))
    yield service.get_container_client(container)
    reset_for_tests()


def test_plan_reports_are_the_plans_own_newest_first_and_bounded(reports_account: Any) -> None:
    assert plan_reports(get_clients(), "shop") == []  # no container yet: no history
    reports_account.create_container()
    written = [report("shop", n) for n in range(8)] + [report("shop", 8, mode="failover")]
    others = [report("shop-eu", 1), report("shop--x", 2)]  # a name that shares the prefix is another plan
    for document in written + others:
        reports_account.upload_blob(f"runs/{document['instance_id']}.json", json.dumps(document).encode())
    reports_account.upload_blob("runs/not-a-run.json", b"{}")

    found = plan_reports(get_clients(), "shop", limit=4)
    assert [r["instance_id"] for r in found] == [r["instance_id"] for r in reversed(written)][:4]
    drills = plan_reports(get_clients(), "shop", mode="drill", limit=20)
    assert [r["instance_id"] for r in drills] == [r["instance_id"] for r in reversed(written[:8])]
    assert plan_reports(get_clients(), "shop-eu")[0]["instance_id"] == others[0]["instance_id"]
