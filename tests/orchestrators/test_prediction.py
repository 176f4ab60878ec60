"""Pre-flight's prediction in the run report: from the kinds' documented figures on a plan's first run, from
the plan's own measured step times (the preflight activity reads them) on the next."""

from __future__ import annotations

from devstack.host import DurableEngine
from dr.whatif import SQL_FAILOVER_SECONDS

from .conftest import FakeSteps, data_step, run_input


def test_the_next_run_predicts_from_what_the_last_one_measured(engine: DurableEngine, fake: FakeSteps) -> None:
    plan = [data_step("db", failover_mode="forced")]

    first = engine.wait(engine.start("recovery", run_input(plan))).output
    assert first["status"] == "Succeeded"
    assert first["predicted"]["uncalibrated_steps"] == ["db"]  # nothing measured yet: Azure's documented 30 s
    assert first["predicted"]["rto_seconds"] >= SQL_FAILOVER_SECONDS

    second = engine.wait(engine.start("recovery", run_input(plan))).output
    assert second["predicted"]["uncalibrated_steps"] == []
    # The first run's own step time (the fakes finish at once) and its measured overhead, not 30 s.
    assert second["predicted"]["rto_seconds"] < SQL_FAILOVER_SECONDS
    assert second["predicted"]["rto_seconds"] <= first["rto_seconds"] + 1


def test_unreadable_history_leaves_the_prediction_to_the_models(engine: DurableEngine, fake: FakeSteps) -> None:
    fake.history_unreadable = True
    report = engine.wait(engine.start("recovery", run_input([data_step("db", failover_mode="forced")]))).output
    assert report["status"] == "Succeeded"
    assert report["predicted"]["uncalibrated_steps"] == ["db"]
    assert "reports container unreachable" in report["predicted"]["history_error"]
