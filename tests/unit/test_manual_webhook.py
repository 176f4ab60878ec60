"""manual and webhook without I/O: plan validation (clear errors, no secret echoed), what the approver reads,
how a failback reverses them, the prediction that must not crash on them, the manual kind's decisions, the
status URL template, and who may confirm a step (dr.confirmation.admit_confirmation, with an in-memory store)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dr.admission import RunSnapshot
from dr.confirmation import StepConfirmation, admit_confirmation, with_confirmation, with_timeout
from dr.errors import ConflictError, NotFoundError, PermanentError, PlanError, StepTimeoutError
from dr.failback import FailoverToUndo, failback_plan
from dr.plan import ManualStep, WebhookStep, parse_plan
from dr.preview import describe_step
from dr.run import RECOVERY_ORCHESTRATOR, STEP_ORCHESTRATOR, RunInput, StepCustomStatus
from dr.steps import spec_of
from dr.steps.base import StepContext
from dr.steps.manual import Manual
from dr.steps.webhook import fill_template
from dr.whatif import predict

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RUN_ID = "shop--failover--op-20261130T120000-abc123"


def manual(**fields: Any) -> dict[str, Any]:
    return {"id": "call", "kind": "manual", "instructions": "Call the bank", **fields}


def webhook(**fields: Any) -> dict[str, Any]:
    return {"id": "standby", "kind": "webhook", "url_setting": "DR_WEBHOOK_STANDBY", **fields}


def plan(*steps: dict[str, Any], **fields: Any) -> Any:
    return parse_plan({"name": "shop", "steps": list(steps), **fields})


# -- plan validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (manual(instructions="  "), "step 'call', field 'instructions': instructions must say what the person does"),
        (manual(on_timeout="proceed"), "step 'call', field 'on_timeout'"),
        (manual(drill="confirm_later"), "step 'call', field 'drill'"),
        (webhook(url_setting="DR_NOTIFY_OPS"), "must name an app setting DR_WEBHOOK_<NAME>"),
        (webhook(drill="skip", drill_url_setting="DR_WEBHOOK_DRILL"), "drill: skip calls nothing"),
        (webhook(drill_url_setting="DR_WEBHOOK_STANDBY"), "drill_url_setting must name another setting"),
        (webhook(request_timeout="PT5M"), "request_timeout must be between 1 s and 60 s"),
        (
            webhook(status={"url": "https://x/{job}", "field": "status", "done": ["ok"]}),
            "status url names {job}",
        ),
        (
            webhook(status={"url": "https://x/{run_id}", "field": "status", "done": ["OK"], "failed": ["ok"]}),
            "status value(s) ok are in both done and failed",
        ),
        (webhook(status={"url": "https://x/", "field": "a..b", "done": ["ok"]}), "field 'status.field'"),
    ],
)
def test_bad_steps_are_refused_with_what_is_wrong(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError) as refused:
        plan(raw)
    assert message in str(refused.value)


def test_a_url_in_place_of_the_setting_is_refused_without_echoing_it() -> None:
    secret = "https://prod-00.eastus.logic.azure.com/workflows/x/triggers/manual/run?sig=SECRETSIG"
    with pytest.raises(PlanError) as refused:
        plan(webhook(url_setting=secret))
    assert "SECRETSIG" not in str(refused.value) and "DR_WEBHOOK_<NAME>" in str(refused.value)


def test_defaults() -> None:
    step_manual, step_webhook = plan(manual(), webhook(after=["call"])).steps
    assert isinstance(step_manual, ManualStep) and isinstance(step_webhook, WebhookStep)
    assert (step_manual.timeout, step_manual.on_timeout, step_manual.drill) == (timedelta(hours=1), "fail", "confirm")
    assert step_webhook.drill_calls is False
    assert WebhookStep.model_validate(webhook(drill_url_setting="DR_WEBHOOK_D")).drill_calls is True
    assert spec_of("manual").waits_for_confirmation and not spec_of("webhook").waits_for_confirmation
    assert spec_of("webhook").settles_on_cancel and not spec_of("manual").settles_on_cancel


# -- what the approver reads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "mode", "expected"),
    [
        (manual(), "failover", "wait up to PT1H (then fail) for a person to confirm: Call the bank"),
        (
            manual(on_timeout="continue", timeout="PT10M"),
            "drill",
            "wait up to PT10M (then go on without it) for a person to confirm: Call the bank "
            "(drill: a person confirms the rehearsal)",
        ),
        (
            manual(drill="skip"),
            "drill",
            "report, without waiting, that a failover would wait up to PT1H (then fail) for a person to confirm: "
            "Call the bank (drill: skip)",
        ),
        (
            webhook(),
            "failover",
            "call the webhook in app setting DR_WEBHOOK_STANDBY with the run's context and follow its job if it "
            "answers 202",
        ),
        (
            webhook(),
            "drill",
            "report, without calling, that a failover would call the webhook in DR_WEBHOOK_STANDBY (drill: skip)",
        ),
        (
            webhook(drill_url_setting="DR_WEBHOOK_DRILL"),
            "drill",
            "call the drill webhook in DR_WEBHOOK_DRILL and follow its job if it answers 202 "
            "(drill: DR_WEBHOOK_STANDBY not called)",
        ),
    ],
)
def test_each_mode_reads_as_one_sentence(raw: dict[str, Any], mode: str, expected: str) -> None:
    assert describe_step(plan(raw).steps[0], mode) == expected  # type: ignore[arg-type]


# -- failback ------------------------------------------------------------------------------------------------


def _failover(*step_ids: str) -> FailoverToUndo:
    return FailoverToUndo.model_validate(
        {"run_id": RUN_ID, "steps": {i: {"id": i, "kind": "x", "status": "succeeded"} for i in step_ids}}
    )


def test_a_failback_calls_the_failback_webhook_and_asks_the_person_again() -> None:
    source = plan(
        manual(),
        webhook(failback_url_setting="DR_WEBHOOK_STANDBY_HOME", drill_url_setting="DR_WEBHOOK_D", after=["call"]),
        failback={"primary_health": {"urls": ["https://shop-eus.example.com/health"]}},
    )
    derived = failback_plan(source, _failover("call", "standby")).plan
    call, standby = derived.steps
    assert isinstance(call, ManualStep) and call.instructions == "Call the bank"
    assert isinstance(standby, WebhookStep)
    assert standby.url_setting == "DR_WEBHOOK_STANDBY_HOME" and standby.drill_url_setting is None

    plain = plan(webhook(), failback={"primary_health": {"urls": ["https://shop-eus.example.com/health"]}})
    (again,) = failback_plan(plain, _failover("standby")).plan.steps
    assert isinstance(again, WebhookStep) and again.url_setting == "DR_WEBHOOK_STANDBY"


def test_the_prediction_says_unknown_rather_than_crashing() -> None:
    evaluation = predict(plan(webhook(), manual(after=["standby"])), {}, now=T0)
    assert {step.step: step.basis for step in evaluation.steps} == {
        "standby": "unknown: no model for kind webhook",
        "call": "unknown: no model for kind manual",
    }
    assert evaluation.stores == []  # neither kind moves data


# -- the manual kind's decisions -----------------------------------------------------------------------------


def _context(step: ManualStep, mode: str = "failover") -> StepContext:
    return StepContext(run_id=RUN_ID, plan_name="shop", mode=mode, step=step, started_at=T0, now=T0)  # type: ignore[arg-type]


def test_the_manual_kind_decides_on_what_the_step_heard() -> None:
    step = ManualStep.model_validate(manual(timeout="PT30M", on_timeout="continue"))
    kind, ctx = Manual("manual"), _context(step)
    waiting = kind.begin(ctx, step)
    assert waiting.done is False and "Call the bank" in waiting.summary
    heard = T0 + timedelta(minutes=4)
    said = StepConfirmation(by="ana", reason="done", outcome="done", at=heard)
    done = kind.poll(ctx, step, with_confirmation(waiting.state, said, heard), [])
    assert done.done and done.detail["waited_seconds"] == 240 and done.detail["confirmed_by"] == "ana"
    assert kind.poll(ctx, step, with_confirmation(waiting.state, said, heard), []) == done  # repeated: the same
    gone_on = kind.poll(ctx, step, with_timeout(waiting.state, T0 + timedelta(minutes=30)), [])
    assert gone_on.done and gone_on.warnings and gone_on.detail["outcome"] == "timed_out"
    assert kind.poll(ctx, step, waiting.state, []).done is False  # nothing heard yet: still waiting

    failing = ManualStep.model_validate(manual())
    strict = kind.begin(_context(failing), failing).state
    with pytest.raises(StepTimeoutError, match="nobody confirmed within PT1H"):
        kind.poll(_context(failing), failing, with_timeout(strict, T0), [])
    refused = with_confirmation(waiting.state, StepConfirmation(by="bo", outcome="failed", at=heard), heard)
    with pytest.raises(PermanentError, match="bo reported the runbook item failed: no reason given"):
        kind.poll(ctx, step, refused, [])


# -- the status URL template ---------------------------------------------------------------------------------


def test_the_status_url_is_filled_from_the_run_and_the_answer() -> None:
    ctx = _context(ManualStep.model_validate(manual()))
    template = "https://jobs.example.com/{plan}/{response.JobIds.0}?run={run_id}&mode={mode}"
    filled = fill_template(template, ctx, {"JobIds": ["a b/1"]})
    assert filled == f"https://jobs.example.com/shop/a%20b%2F1?run={RUN_ID.replace(':', '%3A')}&mode=failover"
    with pytest.raises(PermanentError, match="no value at 'JobIds.3'"):
        fill_template("https://x/{response.JobIds.3}", ctx, {"JobIds": ["a"]})


# -- who may confirm -----------------------------------------------------------------------------------------


class Store:
    """The few RunStore queries admission reads, in memory."""

    def __init__(self, *snapshots: RunSnapshot) -> None:
        self.snapshots = {snapshot.instance_id: snapshot for snapshot in snapshots}

    async def status(self, instance_id: str, *, show_input: bool = False) -> RunSnapshot | None:
        return self.snapshots.get(instance_id)


def _run(status: str = "Running") -> RunSnapshot:
    run = RunInput(
        plan=plan(manual(), webhook(after=["call"])),
        mode="failover",
        trigger={"source": "operator"},
        requested_at=T0,
    )
    return RunSnapshot(RUN_ID, RECOVERY_ORCHESTRATOR, status, input=run.model_dump(mode="json"))


def _step(status: str = "Running", waiting: bool = True) -> RunSnapshot:
    custom = StepCustomStatus(
        step="call", summary="waiting", calls=1, waiting={"instructions": "x"} if waiting else None
    )
    return RunSnapshot(f"{RUN_ID}:call", STEP_ORCHESTRATOR, status, custom_status=custom.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("store", "step_id", "error", "code"),
    [
        (Store(), "call", NotFoundError, "RunNotFound"),
        (Store(_run()), "../x", NotFoundError, "StepNotFound"),
        (Store(_run()), "nope", NotFoundError, "StepNotFound"),
        (Store(_run("Completed")), "call", ConflictError, "RunEnded"),
        (Store(_run()), "standby", ConflictError, "NotAManualStep"),
        (Store(_run()), "call", ConflictError, "StepNotStarted"),
        (Store(_run(), _step("Completed")), "call", ConflictError, "StepEnded"),
        (Store(_run(), _step(waiting=False)), "call", ConflictError, "StepDecided"),
    ],
)
def test_a_confirmation_is_admitted_only_while_the_step_waits(
    store: Store, step_id: str, error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as refused:
        asyncio.run(admit_confirmation(store, RUN_ID, step_id))  # type: ignore[arg-type]
    assert refused.value.code == code  # type: ignore[attr-defined]


def test_a_waiting_step_or_one_still_beginning_takes_it() -> None:
    assert asyncio.run(admit_confirmation(Store(_run(), _step()), RUN_ID, "call")) == f"{RUN_ID}:call"  # type: ignore[arg-type]
    beginning = RunSnapshot(f"{RUN_ID}:call", STEP_ORCHESTRATOR, "Running")
    assert asyncio.run(admit_confirmation(Store(_run(), beginning), RUN_ID, "call")) == f"{RUN_ID}:call"  # type: ignore[arg-type]
