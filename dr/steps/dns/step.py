"""The dns_record_switch step: check reports the rules, begin writes the record (once they pass), poll verifies,
teardown puts a drill record back. Azure from :mod:`.arm`.

Invariant: the record is only ever written under the etag it was read with (or If-None-Match: * when a drill
creates its record), so a concurrent change is never overwritten; a record on neither target is refused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from ...durations import format_duration, iso
from ...errors import DrError, NotFoundError, PermanentError, PreconditionError
from ...plan import DnsRecordSwitchStep
from ...probe import probe, redact_url
from ..base import Check, StepContext, StepKind, StepProgress, TeardownResult, refuse_sync
from .arm import RecordView, delete_cname, read_cname, read_zone, write_cname

META_DRILL_RUN = "dr_drill_run"
META_DRILL_BASELINE = "dr_drill_baseline"  # the target before the drill, or ABSENT when the drill created it
ABSENT = "absent"
DEFAULT_TTL = 300  # a drill record this run creates gets the production record's TTL, else this

Position = Literal["switched", "to_switch", "elsewhere", "missing", "create"]


def position(record: RecordView, params: DnsRecordSwitchStep, *, drill_record: bool) -> Position:
    """Where the record stands against the plan (pure)."""
    if not record.exists:
        return "create" if drill_record else "missing"
    if record.points_at(params.to_target):
        return "switched"
    if record.points_at(params.from_target):
        return "to_switch"
    return "elsewhere"


def refusal(record: RecordView, params: DnsRecordSwitchStep, where: Position, *, force: bool) -> DrError | None:
    """What begin refuses (None: it may go ahead)."""
    if where == "missing":
        return NotFoundError(
            f"CNAME {record.fqdn} does not exist: create it pointing at {params.from_target}, or correct record in "
            "the plan",
            code="RecordNotFound",
        )
    if where == "elsewhere" and not force:
        return PreconditionError(
            f"CNAME {record.fqdn} points at {record.target}, neither {params.from_target} (from_target) nor "
            f"{params.to_target} (to_target): someone changed it; check who and why, correct the plan, or start "
            "the run with force to overwrite it",
            code="RecordPointsElsewhere",
        )
    return None


class DnsRecordSwitch(StepKind[DnsRecordSwitchStep]):
    # -- check ----------------------------------------------------------------------------------------
    def check(self, ctx: StepContext, params: DnsRecordSwitchStep) -> list[Check]:
        if ctx.mode == "sync":
            return [Check.failed("mode", f"{params.kind} runs in a failover, failback or drill, not in the sync")]
        checks: list[Check] = []
        zone = params.zone_id.rsplit("/", 1)[-1]
        try:
            facts = read_zone(params.zone_id)
        except NotFoundError as error:
            return [
                Check.failed(
                    "zone_exists",
                    f"DNS zone {zone} (zone_id) was not found ({error.code}): correct zone_id in the plan, or check "
                    "the subscription and the orchestrator's read access",
                    zone_id=params.zone_id,
                )
            ]
        checks.append(
            Check.passed("zone_exists", f"DNS zone {zone} found ({facts['record_sets']} record sets)", **facts)
        )
        production = read_cname(params.zone_id, params.record)
        checks.append(self._record_check(production, params, drill_record=False, force=ctx.force))
        switching = production
        if ctx.is_drill and params.drill_record:
            switching = read_cname(params.zone_id, params.drill_record)
            checks.append(self._record_check(switching, params, drill_record=True, force=ctx.force))
        if params.health_url:
            checks.append(_target_check(params))
        ttl = production.ttl if production.exists else None
        if ttl is not None:
            checks.append(
                Check.passed(
                    "dns_convergence",
                    f"clients of {production.fqdn} follow the switch within its TTL, {ttl} s (resolvers may answer "
                    "from cache that long)",
                    ttl_seconds=ttl,
                    expected_dns_convergence_seconds=ttl,
                    already_switched=production.points_at(params.to_target),
                )
            )
        return checks

    def _record_check(
        self, record: RecordView, params: DnsRecordSwitchStep, *, drill_record: bool, force: bool
    ) -> Check:
        where = position(record, params, drill_record=drill_record)
        name = "drill_record" if drill_record else "record"
        facts = {"record": record.fqdn, "target": record.target, "ttl": record.ttl}
        error = refusal(record, params, where, force=force)
        if error is not None:
            return Check.failed(name, error.message, code=error.code, **facts)
        text = {
            "switched": f"CNAME {record.fqdn} already points at {params.to_target}: nothing to switch",
            "to_switch": f"CNAME {record.fqdn} points at {params.from_target} (TTL {record.ttl} s): the switch moves "
            f"it to {params.to_target}",
            "elsewhere": f"CNAME {record.fqdn} points at {record.target}: forced, the switch overwrites it",
            "create": f"drill record {record.fqdn} does not exist: the drill creates it on {params.to_target} and "
            "deletes it at teardown",
        }[where]
        return Check.passed(name, text, **facts)

    # -- begin ----------------------------------------------------------------------------------------
    def begin(self, ctx: StepContext, params: DnsRecordSwitchStep) -> StepProgress:
        refuse_sync(ctx, params.kind)
        drill_record = ctx.is_drill and params.drill_record is not None
        name = params.drill_record if drill_record and params.drill_record else params.record
        production = read_cname(params.zone_id, params.record)
        record = read_cname(params.zone_id, name) if drill_record else production
        where = position(record, params, drill_record=drill_record)
        error = refusal(record, params, where, force=ctx.force)
        if error is not None:
            raise error
        if params.health_url:
            target = _target_check(params)
            if target.status == "failed" and not ctx.is_drill:
                raise PreconditionError(target.message, code="TargetUnhealthy")
        ttl = record.ttl if record.exists and record.ttl is not None else (production.ttl or DEFAULT_TTL)
        detail: dict[str, Any] = {
            "record": record.fqdn,
            "mode": "failover"
            if not ctx.is_drill
            else ("drill (drill record)" if drill_record else "drill (read only)"),
            "target_before": record.target,
            "to_target": params.to_target,
            "ttl_seconds": ttl,
            "expected_dns_convergence_seconds": ttl,
        }
        if ctx.is_drill and not drill_record:
            would = (
                "nothing (it already points at the target)"
                if where == "switched"
                else f"point it at {params.to_target}"
            )
            detail["would_change"] = would
            summary = f"drill: {record.fqdn} left alone (on {record.target}); a failover would {would}"
            return StepProgress(done=True, summary=summary, detail=detail)
        if where == "switched":
            detail.update(already_switched=True)
            summary = f"{record.fqdn} already points at {params.to_target}"
        else:
            metadata = dict(record.metadata)
            if drill_record and metadata.get(META_DRILL_RUN) != ctx.run_id:
                metadata.update({META_DRILL_RUN: ctx.run_id, META_DRILL_BASELINE: record.target or ABSENT})
            written = write_cname(
                params.zone_id,
                name,
                target=params.to_target,
                ttl=ttl,
                metadata=metadata,
                if_match=record.etag if record.exists else None,
                if_none_match=None if record.exists else "*",
            )
            detail.update(already_switched=False, etag_checked=True, etag=written.etag)
            summary = f"{record.fqdn}: {record.target or '(new)'} → {params.to_target}; clients follow within {ttl} s"
        detail["clients_follow_by"] = iso(ctx.now + timedelta(seconds=ttl))
        # The report keeps the last call's detail: poll carries begin's facts forward.
        state = {
            "switched_at": iso(ctx.now),
            "record": name,
            "verify_deadline": iso(ctx.now + params.verify_window),
            "facts": detail,
        }
        return StepProgress(
            state=state, summary=summary, detail=detail, poll_after_seconds=params.poll_interval.total_seconds()
        )

    # -- poll -----------------------------------------------------------------------------------------
    def poll(
        self, ctx: StepContext, params: DnsRecordSwitchStep, state: dict[str, Any], work_results: list[dict[str, Any]]
    ) -> StepProgress:
        record = read_cname(params.zone_id, str(state["record"]))
        problems: list[str] = []
        detail: dict[str, Any] = {**state.get("facts", {}), "target": record.target, "ttl_seconds": record.ttl}
        if not record.points_at(params.to_target):
            raise PermanentError(
                f"CNAME {record.fqdn} points at {record.target or 'nothing'} after the switch to {params.to_target}: "
                "someone changed or deleted it since; check who, then run again",
                code="RecordChangedAfterSwitch",
            )
        if params.health_url:
            target = _target_check(params)
            detail["health"] = target.facts
            if target.status == "failed":
                problems.append(target.message)
        if not problems:
            return StepProgress(
                done=True, state=state, summary=f"{record.fqdn} points at {params.to_target}: verified", detail=detail
            )
        deadline = str(state["verify_deadline"])
        if iso(ctx.now) >= deadline:
            raise PermanentError(
                f"{record.fqdn} switched but not verified within {format_duration(params.verify_window)}: "
                f"{'; '.join(problems)}",
                code="VerifyWindowExceeded",
            )
        return StepProgress(
            state=state,
            poll_after_seconds=params.poll_interval.total_seconds(),
            summary=f"{record.fqdn}: verifying: {'; '.join(problems)}",
            detail=detail,
        )

    # -- teardown -------------------------------------------------------------------------------------
    def teardown(
        self,
        ctx: StepContext,
        params: DnsRecordSwitchStep,
        state: dict[str, Any],
        previous: TeardownResult | None = None,
    ) -> dict[str, Any]:
        if not ctx.is_drill or params.drill_record is None:
            return {"teardown": "nothing to undo (the production record was only read)"}
        record = read_cname(params.zone_id, params.drill_record)
        if not record.exists or record.metadata.get(META_DRILL_RUN) != ctx.run_id or record.etag is None:
            return {"teardown": f"nothing to undo ({record.fqdn} carries no change of this run)"}
        baseline = record.metadata.get(META_DRILL_BASELINE, ABSENT)
        if baseline == ABSENT:
            delete_cname(params.zone_id, params.drill_record, if_match=record.etag)
            return {"teardown": "deleted", "record": record.fqdn}
        metadata = {k: v for k, v in record.metadata.items() if k not in (META_DRILL_RUN, META_DRILL_BASELINE)}
        write_cname(
            params.zone_id,
            params.drill_record,
            target=baseline,
            ttl=record.ttl or DEFAULT_TTL,
            metadata=metadata,
            if_match=record.etag,
        )
        return {"teardown": "restored", "record": record.fqdn, "target": baseline}


def _target_check(params: DnsRecordSwitchStep) -> Check:
    """One probe of where to_target serves (the plan's health_url)."""
    assert params.health_url is not None
    result = probe(
        params.health_url,
        expect_status=params.health_expect_status,
        timeout_seconds=params.probe_timeout.total_seconds(),
    )
    facts = {"url": redact_url(params.health_url), "ok": result.ok, "result": result.describe()}
    if result.ok:
        return Check.passed("target_healthy", f"{params.to_target} serves: {facts['url']} {result.describe()}", **facts)
    return Check.failed(
        "target_healthy",
        f"{params.to_target} does not serve: {facts['url']} {result.describe()}; make the target healthy before "
        "pointing the record at it",
        **facts,
    )
