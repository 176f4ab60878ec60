"""The what-if on the demo estate, end to end: the first demo on a machine predicts from Azure's documented
figures and says which steps are not measured; a second demo, with the first's report in its reports
container, predicts the failover's RTO from the plan's own measured step times within a factor of 1.5, and
names the data store that bounds the RPO."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.demo.runner import run_demo

pytestmark = pytest.mark.slow


def test_the_demo_estate_predicts_its_failover_once_one_run_measured_it(tmp_path: Path) -> None:
    said: list[str] = []
    first = run_demo("failover", state_dir=tmp_path / "demo-first", say=said.append)
    assert first.report["status"] == "Succeeded" and first.prediction is not None
    # Nothing measured yet: the geo-restore's documented 12 h and the failover group's 30 s, said as such.
    assert {"orders-db", "shop-db", "traffic"} <= set(first.prediction["uncalibrated_steps"])
    assert any("plan history: none" in line for line in said)

    said.clear()
    second = run_demo("failover", state_dir=tmp_path / "demo-second", say=said.append)
    assert second.report["status"] == "Succeeded" and second.prediction is not None
    assert any("plan history: 1 report(s)" in line for line in said)
    predicted, measured = second.prediction["predicted_rto_seconds"], second.report["rto_seconds"]
    # Every step on the critical path is measured; the blob steps' copy rate is still Blob storage's documented
    # target (the last failover found the primary down and copied nothing), and they are listed as such.
    assert second.prediction["critical_path"][-2:] == ["traffic", "verify"]
    assert not set(second.prediction["critical_path"]) & set(second.prediction["uncalibrated_steps"])
    assert 1 / 1.5 <= measured / predicted <= 1.5, (predicted, measured)
    restored = second.prediction["predicted_service_restored_seconds"]
    assert 1 / 1.5 <= second.report["service_restored_seconds"] / restored <= 1.5, (restored, second.report)
    # The RPO: the geo-restore's backup age bounds it (the failover group's loss is unknown only after a forced
    # failover, which the pre-outage prediction cannot know: the primary still answers then).
    assert second.prediction["rpo_bound_by"] == "orders-db"
    # The run's own pre-flight predicted from the same history (the preflight activity reads it).
    assert not {"orders-db", "shop-db", "traffic"} & set(second.report["predicted"]["uncalibrated_steps"])
