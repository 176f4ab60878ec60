"""Which side of a plan serves, and which way its data is protected: written when a failover or a failback
ends, read by the failback (which failover to undo), the standing sync (re-protect: after a failover the blob
sync runs secondary → primary), the alert webhook (anti-flap) and ``GET /api/plans/{name}``.

Stored as ``plan-state/<plan>.json`` in the reports container (on the secondary side, like the reports). A
plan never failed over has no record: its primary serves, protected primary → secondary.

What serves follows the traffic steps: a run whose every traffic step succeeded moved the service; one whose
traffic steps all did nothing (failed before switching, not started) left it where it was; anything between
is ``split`` and says so, for an operator to look at before anything else runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .clients import Clients
from .durations import format_duration, iso
from .errors import NotFoundError
from .plan import Plan, PlanRegions
from .report import get_json, put_json, read_report

PLAN_STATE_PREFIX = "plan-state/"
HISTORY_KEPT = 20

Side = Literal["primary", "secondary", "split"]
Protection = Literal["primary_to_secondary", "secondary_to_primary", "none"]


class Switch(BaseModel):
    """One run that moved (or tried to move) the service."""

    run_id: str
    mode: str
    status: str
    at: datetime
    active_after: Side


class PlanState(BaseModel):
    plan: str
    active: Side = "primary"
    active_region: str
    protection: Protection = "primary_to_secondary"
    protection_direction: str = Field(description="e.g. 'eastus → westus' (none while split).")
    since: datetime | None = None
    last_switch_at: datetime | None = Field(None, description="When a run last moved the service (anti-flap).")
    last_switch_run: str | None = None
    failover_run_id: str | None = Field(None, description="While failed over: the failover a failback undoes.")
    history: list[Switch] = Field(default_factory=list)

    @classmethod
    def initial(cls, plan: Plan) -> PlanState:
        """A plan no run has moved: the primary serves."""
        return cls.of(plan.name, plan.regions)

    @classmethod
    def of(cls, plan_name: str, regions: PlanRegions) -> PlanState:
        return _with_side(cls(plan=plan_name, active_region="", protection_direction=""), regions, "primary")

    def summary(self) -> dict[str, Any]:
        """What a plan listing shows."""
        return {
            "active": self.active,
            "active_region": self.active_region,
            "protection": self.protection,
            "protection_direction": self.protection_direction,
            "since": iso(self.since) if self.since else None,
            "failover_run_id": self.failover_run_id,
        }


def _with_side(state: PlanState, regions: PlanRegions, side: Side) -> PlanState:
    serving, standby = (
        (regions.primary, regions.secondary) if side == "primary" else (regions.secondary, regions.primary)
    )
    if side == "split":
        update: dict[str, Any] = {
            "active_region": f"split between {regions.primary} and {regions.secondary}",
            "protection": "none",
            "protection_direction": "none: the service is split; check the traffic steps of the last run",
        }
    else:
        update = {
            "active_region": serving,
            "protection": f"{side}_to_{'secondary' if side == 'primary' else 'primary'}",
            "protection_direction": f"{serving} → {standby}",
        }
    return state.model_copy(update={"active": side, **update})


def side_after(mode: str, traffic_statuses: list[str], before: Side) -> Side:
    """Which side serves after a failover or failback whose traffic steps ended with these statuses: all
    switched, the other side; none switched (refused, failed before switching, not started), where it was;
    some of several, split."""
    switched = [status == "succeeded" for status in traffic_statuses]
    if switched and all(switched):
        return "secondary" if mode == "failover" else "primary"
    return "split" if any(switched) else before


def after_run(
    previous: PlanState,
    regions: PlanRegions,
    *,
    run_id: str,
    mode: str,
    status: str,
    traffic_statuses: list[str],
    at: datetime,
) -> PlanState:
    """The state a failover or failback leaves (pure: the orchestrator computes it, an activity stores it)."""
    side = side_after(mode, traffic_statuses, previous.active)
    state = _with_side(previous, regions, side)
    moved = side != previous.active
    update: dict[str, Any] = {
        "history": [*previous.history, Switch(run_id=run_id, mode=mode, status=status, at=at, active_after=side)][
            -HISTORY_KEPT:
        ]
    }
    if moved:
        update.update(since=at, last_switch_at=at, last_switch_run=run_id)
    if side == "secondary" and mode == "failover":
        update["failover_run_id"] = run_id
    elif side == "primary":
        update["failover_run_id"] = None
    return state.model_copy(update=update)


def anti_flap(state: PlanState | None, plan: Plan, now: datetime) -> tuple[str, datetime] | None:
    """Why an alert may not start a run of this plan now, and until when (None: it may)."""
    if state is None or state.last_switch_at is None:
        return None
    until = state.last_switch_at + plan.cooldown
    if now >= until:
        return None
    return (
        f"plan {plan.name!r} switched to {state.active_region} at {iso(state.last_switch_at)} (run "
        f"{state.last_switch_run}); its cool-down of {format_duration(plan.cooldown)} lasts until {iso(until)}: "
        "an alert starts no run before then (an operator can start one over the API; it waits for approval)",
        until,
    )


def blob_name(plan_name: str) -> str:
    return f"{PLAN_STATE_PREFIX}{plan_name}.json"


def read_plan_state(clients: Clients, plan_name: str, regions: PlanRegions) -> PlanState:
    """The stored state, or the initial one when no run has moved the plan."""
    raw = get_json(clients, blob_name(plan_name), what=f"state of plan {plan_name!r}")
    if raw is None:
        return PlanState.of(plan_name, regions)
    return PlanState.model_validate_json(raw)


def write_plan_state(clients: Clients, state: PlanState) -> str:
    return put_json(
        clients, blob_name(state.plan), state, what=f"state of plan {state.plan!r}", metadata={"plan": state.plan}
    )


class RecordPlanStateInput(BaseModel):
    """record_plan_state's input: how a failover or failback ended."""

    plan: str
    run_id: str
    mode: str
    status: str
    traffic_statuses: list[str]
    at: datetime
    regions: PlanRegions


def record_plan_state(clients: Clients, payload: dict[str, Any]) -> dict[str, Any]:
    """The activity: the plan's state after the run, stored (writes are replayed: the same run twice records
    one switch), and returned as the report's ``estate_after``."""
    request = RecordPlanStateInput.model_validate(payload)
    previous = read_plan_state(clients, request.plan, request.regions)
    if any(switch.run_id == request.run_id for switch in previous.history):
        return previous.summary()
    state = after_run(
        previous,
        request.regions,
        run_id=request.run_id,
        mode=request.mode,
        status=request.status,
        traffic_statuses=request.traffic_statuses,
        at=request.at,
    )
    write_plan_state(clients, state)
    return state.summary()


def failover_to_undo(clients: Clients, plan: Plan) -> tuple[PlanState, dict[str, Any] | None]:
    """The plan's state and, while it is failed over, the report of the failover a failback would undo
    (None: the report is missing)."""
    state = read_plan_state(clients, plan.name, plan.regions)
    if state.failover_run_id is None:
        return state, None
    try:
        return state, read_report(clients, state.failover_run_id)
    except NotFoundError:
        return state, None


def alert_refusal_by_state(
    plan: Plan, direction: str, state: PlanState, now: datetime
) -> tuple[str, datetime | None] | None:
    """Why an alert asking for ``direction`` starts no run of the plan in this state (and until when), or None.

    Anti-flap first: within the cool-down after a failover or failback nothing starts from an alert. Then
    the direction must make sense: a failover of a plan already served by its secondary would flap back and
    forth on every alert; a failback of a plan served by its primary has nothing to undo."""
    flapping = anti_flap(state, plan, now)
    if flapping is not None:
        return flapping
    if direction == "failover" and state.active == "secondary":
        return (
            f"plan {plan.name!r} is already failed over: {state.active_region} serves since "
            f"{iso(state.since) if state.since else 'an unknown time'} (run {state.failover_run_id}); to go back, "
            "start a failback (POST /api/recoveries, mode failback)",
            None,
        )
    if direction == "failover" and state.active == "split":
        return (f"plan {plan.name!r} is split between its regions: an operator decides the next run", None)
    if direction == "failback" and state.active != "secondary":
        return (f"plan {plan.name!r} is served by {state.active_region}: there is no failover to undo", None)
    return None
