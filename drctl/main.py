"""drctl's commands (typer) and the one place errors become a line on stderr and an exit code."""

from __future__ import annotations

import getpass
import json
import os
import sys
import tempfile
import webbrowser
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table
from rich.text import Text
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # typer vendors click
from typer.core import TyperGroup

from drctl.client import Api, Target, run_path
from drctl.errors import EXIT_CODES_HELP, CliError, ExitCode
from drctl.format import (
    OUTCOME_STYLES,
    STATE_STYLES,
    between,
    console,
    one_line,
    seconds,
    when,
)
from drctl.models import PlanList, PlanSummary, RunList, RunView, history_entries
from drctl.watch import exit_code, follow

PROG = "drctl"


class DrctlGroup(TyperGroup):
    """Runs the command line and reports any failure as one line on stderr with its exit code: drctl's own
    errors as they are, usage errors as click words them, anything else as an internal error (never a
    traceback: an operator at 3 a.m. needs the sentence, not the stack)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name or PROG, complete_var, standalone_mode=False, **extra)
        except CliError as exc:
            return _fail(f"{PROG}: {exc.message}", exc.code)
        except typer.Abort:
            return _fail(f"{PROG}: aborted", ExitCode.FAILED)
        except KeyboardInterrupt:
            return _fail(f"{PROG}: interrupted", ExitCode.RUNNING)
        except BrokenPipeError:
            raise  # main() below: the reader of our output left (`drctl runs | head`)
        except Exception as exc:
            if isinstance(exc, NoArgsIsHelpError):  # `drctl`, `drctl run`: the help is the answer
                print(exc.format_message())
                sys.exit(0)
            usage = _usage_error(exc)
            if usage is not None:
                return _fail(usage, ExitCode.USAGE)
            return _fail(f"{PROG}: internal error: {type(exc).__name__}: {one_line(str(exc), 300)}", ExitCode.INTERNAL)
        sys.exit(result if isinstance(result, int) else 0)


def _usage_error(exc: Exception) -> str | None:
    """click's usage errors as one line: what is wrong, and where to read more."""
    if isinstance(exc, UsageError):
        path = exc.ctx.command_path if exc.ctx is not None else PROG
        return f"{path}: {one_line(exc.format_message(), 300)} (see {path} --help)"
    if isinstance(exc, ClickException):
        return f"{PROG}: {one_line(exc.format_message(), 300)}"
    return None


def _fail(message: str, code: ExitCode) -> None:
    print(message, file=sys.stderr, flush=True)
    sys.exit(int(code))


app = typer.Typer(
    cls=DrctlGroup,
    name=PROG,
    help="Operate the DR orchestrator: validate plans, start and watch runs, approve, reject, cancel, read "
    "reports; take a local stack's region down and up.\n\n" + EXIT_CODES_HELP,
    epilog="Connection: the local stack's .devstack/stack.json by default (--stack, DRCTL_STACK); or --url with "
    "--key (DRCTL_URL, DRCTL_KEY); add --entra --audience APP_ID (DRCTL_AUDIENCE) when App Service "
    "authentication is on.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
plans_app = typer.Typer(
    help="Plans: validate files offline, list them with their readiness, show one.", no_args_is_help=True
)
run_app = typer.Typer(help="Start a run, or watch one to its end.", no_args_is_help=True)
devstack_app = typer.Typer(
    help="The running local stack (make serve): a region's outage and its restore.", no_args_is_help=True
)
app.add_typer(plans_app, name="plans")
app.add_typer(run_app, name="run")
app.add_typer(devstack_app, name="devstack")


@app.callback()
def connection(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option(envvar="DRCTL_URL", help="The function app's URL, e.g. https://app.azurewebsites.net")
    ] = None,
    key: Annotated[
        str | None, typer.Option(envvar="DRCTL_KEY", help="A function key of the app (sent as x-functions-key).")
    ] = None,
    stack: Annotated[
        Path | None, typer.Option(envvar="DRCTL_STACK", help="The local stack's stack.json (default .devstack/).")
    ] = None,
    entra: Annotated[
        bool, typer.Option("--entra", help="Send an Entra token (DefaultAzureCredential) as Bearer.")
    ] = False,
    audience: Annotated[
        str | None,
        typer.Option(envvar="DRCTL_AUDIENCE", help="With --entra: the app registration's id (or api:// URI)."),
    ] = None,
) -> None:
    ctx.obj = Target(url=url, key=key, stack=stack, entra=entra, audience=audience)


def _api(ctx: typer.Context) -> Api:
    target = ctx.find_object(Target)
    assert target is not None  # the callback always sets it
    return target.api()


def _default_by() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "drctl"


ByOption = Annotated[
    str | None,
    typer.Option(
        "--by", envvar="DRCTL_BY", help="Who acts (default: your login name); ignored when the app enforces roles."
    ),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: recorded in the run and its report.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer instead.")]
IntervalOption = Annotated[float, typer.Option(min=0.1, help="Seconds between two looks at the run.")]
TimeoutOption = Annotated[
    float | None, typer.Option(min=1, help="Give up watching after this many seconds (exit 6, the run goes on).")
]


def _print_json(body: Any) -> None:
    sys.stdout.write(json.dumps(body, indent=2, sort_keys=False) + "\n")


def _non_empty(value: str, what: str) -> str:
    if not value.strip():
        raise CliError(f"{what} must not be empty")
    return value


# -- plans ----------------------------------------------------------------------------------------------


@plans_app.command("validate")
def plans_validate(
    path: Annotated[
        Path | None,
        typer.Argument(help="A plan file or a plans folder (default: DR_PLANS_DIR, else plans/ of the app)."),
    ] = None,
) -> None:
    """Validate plan files as the app does (offline): each problem as file:line: key: message. Exit 1 on any."""
    from dr.settings import Settings
    from drctl.validate import shown, validate

    target = path if path is not None else Settings().plans_dir
    valid, problems = validate(target)
    out = console()
    for problem in problems:
        out.print(Text(str(problem)), soft_wrap=True)
    if problems:
        out.print(f"{len(problems)} problem(s) in {shown(target)}", soft_wrap=True)
        raise typer.Exit(ExitCode.FAILED)
    out.print(f"{len(valid)} plan(s) valid as failover and drill: {', '.join(valid)}", soft_wrap=True)


def _readiness(plan: PlanSummary) -> Text:
    style = {"green": "bold green", "red": "bold red"}.get(plan.readiness, "yellow")
    label = plan.readiness + (" (stale)" if plan.stale else "")
    return Text(label, style=style)


@plans_app.command("list")
def plans_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every plan of the app with its readiness, predicted RTO/RPO, last and next drill."""
    body = _api(ctx).get("/api/plans")
    if as_json:
        _print_json(body)
        return
    plans = PlanList.model_validate(body).plans
    table = Table(header_style="bold", show_edge=False, pad_edge=False)
    for column in ("plan", "file", "status", "readiness", "RTO (pred.)", "RPO (pred.)", "last drill", "next drill"):
        table.add_column(column)
    for plan in plans:
        last = plan.last_drill or {}
        drill = f"{when(last.get('started_at'))} {last.get('status', '')} RTO {seconds(plan.last_drill_rto_seconds)}"
        table.add_row(
            plan.name or "?",
            plan.file,
            Text(plan.status, style="bold red" if plan.status == "broken" else ""),
            _readiness(plan),
            seconds(plan.predicted_rto_seconds),
            seconds(plan.predicted_rpo_seconds),
            drill if last else "-",
            when(plan.next_drill_at) if plan.next_drill_at else "-",
        )
    out = console()
    out.print(table)
    for plan in plans:
        for error in plan.errors:
            out.print(f"{plan.file}: {error.get('key') or '(file)'}: {one_line(str(error.get('message')), 200)}")


@plans_app.command("show")
def plans_show(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The plan's name.")], as_json: JsonOption = False
) -> None:
    """One plan: readiness and its failed checks, predictions, drill schedule, history and recent runs."""
    body = _api(ctx).get(f"/api/plans/{_quoted(name)}")
    if as_json:
        _print_json(body)
        return
    plan = PlanSummary.model_validate(body)
    out = console()
    out.print(Text(f"plan {plan.name} ({plan.file}): {plan.status}, readiness ", style="bold").append(_readiness(plan)))
    out.print(
        f"  evaluated {when(plan.evaluated_at)} · predicted RTO {seconds(plan.predicted_rto_seconds)} · "
        f"RPO {seconds(plan.predicted_rpo_seconds)}"
    )
    out.print(f"  drills: {plan.drill_schedule or 'no schedule'} · next {when(plan.next_drill_at)}")
    for error in plan.errors:
        out.print(f"  problem {error.get('key') or '(file)'}: {one_line(str(error.get('message')), 200)}")
    evaluation = body.get("evaluation") or {}
    for check in evaluation.get("failed_checks") or []:
        where = f"{check.get('step') or '(plan)'}/{check.get('check')}"
        out.print(f"  failed check {where}: {one_line(str(check.get('message')), 160)}")
    history = history_entries(body)
    if history:
        out.print(_history_table(history[:10]))
    recent = [RunView.model_validate(run) for run in body.get("recent_runs") or []]
    if recent:
        out.print(Text("recent runs", style="bold"))
        out.print(_runs_table(recent))


def _quoted(value: str) -> str:
    return quote(value, safe="")


# -- runs -------------------------------------------------------------------------------------------------


class Mode(StrEnum):
    drill = "drill"
    failover = "failover"
    what_if = "what_if"


class SqlMode(StrEnum):
    planned = "planned"
    forced = "forced"
    planned_then_forced = "planned_then_forced"


@run_app.command("start")
def run_start(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="The plan's name.")],
    reason: ReasonOption,
    mode: Annotated[
        Mode, typer.Option(help="drill (safe), failover (production), what_if (changes nothing).")
    ] = Mode.drill,
    watch: Annotated[bool, typer.Option("--watch", help="Follow the run to its end; exit with its outcome.")] = False,
    by: ByOption = None,
    force: Annotated[bool, typer.Option("--force", help="Override a refusal such as the traffic cool-down.")] = False,
    sql_failover_mode: Annotated[
        SqlMode | None, typer.Option(help="This run only: failover_mode of every sql_failover_group step.")
    ] = None,
    interval: IntervalOption = 1.0,
    timeout: TimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a run of PLAN (or ask what a failover would do now, with --mode what_if)."""
    body: dict[str, Any] = {"plan": plan, "mode": mode.value, "reason": _non_empty(reason, "--reason")}
    body["requested_by"] = by or _default_by()
    if force:
        body["force"] = True
    if sql_failover_mode is not None:
        body["sql_failover_mode"] = sql_failover_mode.value
    api = _api(ctx)
    answer = api.post("/api/recoveries", body)
    if as_json:
        _print_json(answer)
    if mode is Mode.what_if:
        if not as_json:
            _print_what_if(answer)
        raise typer.Exit(ExitCode.OK if answer.get("ready") else ExitCode.FAILED)
    run_id = str(answer["id"])
    if not as_json:
        print(f"run {run_id} started: {mode.value} of {plan}", flush=True)
    if watch:
        raise typer.Exit(exit_code(follow(api, run_id, interval=interval, timeout=timeout)))
    if not as_json:
        print(f"follow it: drctl run watch {run_id}")


def _print_what_if(answer: dict[str, Any]) -> None:
    out = console()
    ready = answer.get("ready")
    out.print(
        Text(
            f"{answer.get('plan')}: {'READY' if ready else 'NOT READY'} for a failover now",
            style="bold green" if ready else "bold red",
        )
    )
    for step, checks in (answer.get("checks") or {}).items():
        for check in checks:
            if check.get("status") != "passed":
                out.print(
                    f"  {check.get('status')} {step}/{check.get('name')}: {one_line(str(check.get('message')), 160)}"
                )
    path = " -> ".join(answer.get("critical_path") or [])
    out.print(f"  predicted RTO {seconds(answer.get('predicted_rto_seconds'))} on {path or '-'}")
    rpo = answer.get("predicted_rpo_seconds")
    bound = answer.get("rpo_bound_by") or "-"
    out.print(f"  predicted RPO {seconds(rpo) if rpo is not None else 'unknown'} (bound by {bound})")


@run_app.command("watch")
def run_watch(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run's id.")],
    interval: IntervalOption = 1.0,
    timeout: TimeoutOption = None,
) -> None:
    """Follow a run to its end: steps, progress, phase, the approval prompt. Exits with the run's outcome."""
    raise typer.Exit(exit_code(follow(_api(ctx), run_id, interval=interval, timeout=timeout)))


@app.command("approve")
def approve(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run waiting for approval.")],
    reason: ReasonOption,
    by: ByOption = None,
    override_failed_checks: Annotated[
        bool, typer.Option("--override-failed-checks", help="Go on although pre-flight checks failed.")
    ] = False,
    sql_failover_mode: Annotated[
        SqlMode | None, typer.Option(help="This run only: failover_mode of every sql_failover_group step.")
    ] = None,
) -> None:
    """Approve a run waiting at its approval gate."""
    body: dict[str, Any] = {"reason": _non_empty(reason, "--reason"), "by": by or _default_by()}
    if override_failed_checks:
        body["override_failed_checks"] = True
    if sql_failover_mode is not None:
        body["sql_failover_mode"] = sql_failover_mode.value
    answer = _api(ctx).post(run_path(run_id, "approve"), body)
    print(f"run {run_id}: approved by {answer.get('by', body['by'])}")


@app.command("reject")
def reject(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run waiting for approval.")],
    reason: ReasonOption,
    by: ByOption = None,
) -> None:
    """Reject a run waiting at its approval gate: it ends Rejected, nothing changed."""
    body = {"reason": _non_empty(reason, "--reason"), "by": by or _default_by()}
    answer = _api(ctx).post(run_path(run_id, "reject"), body)
    print(f"run {run_id}: rejected by {answer.get('by', body['by'])}")


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The running run.")],
    reason: ReasonOption,
    by: ByOption = None,
    hard: Annotated[
        bool, typer.Option("--hard", help="Terminate now; what running steps started may go on in Azure.")
    ] = False,
) -> None:
    """Cancel a run: gracefully (running steps settle, a drill tears down) or --hard."""
    body: dict[str, Any] = {"reason": _non_empty(reason, "--reason"), "by": by or _default_by()}
    if hard:
        body["hard"] = True
    answer = _api(ctx).post(run_path(run_id, "cancel"), body)
    print(f"run {run_id}: {answer.get('mode', 'graceful')} cancel requested by {answer.get('canceled_by', body['by'])}")
    if answer.get("settling"):
        print(f"  settling: {', '.join(map(str, answer['settling']))}")
    print(f"follow it: drctl run watch {run_id}")


def _runs_table(runs: list[RunView]) -> Table:
    table = Table(header_style="bold", show_edge=False, pad_edge=False)
    for column, justify in (
        ("run", "left"),
        ("mode", "left"),
        ("status", "left"),
        ("started", "left"),
        ("duration", "right"),
        ("RTO", "right"),
        ("RPO", "right"),
        ("by", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    now = datetime.now(UTC).isoformat()
    for run in runs:
        status = run.outcome if run.terminal else f"{run.runtime_status} ({run.phase or '-'})"
        duration = run.duration_seconds
        if duration is None:
            duration = between(run.created_at, run.updated_at if run.terminal else now)
        table.add_row(
            run.id,
            run.mode or "-",
            Text(status, style=OUTCOME_STYLES.get(status, STATE_STYLES.get("running", "") if not run.terminal else "")),
            when(run.created_at),
            seconds(duration),
            seconds(run.rto_seconds),
            seconds(run.rpo_estimate_seconds),
            run.requested_by or "-",
        )
    return table


@app.command("runs")
def runs(
    ctx: typer.Context,
    plan: Annotated[str | None, typer.Option(help="Only this plan's runs.")] = None,
    days: Annotated[int, typer.Option(min=1, max=90, help="Runs created in the last DAYS days.")] = 7,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Recent runs, newest first: status, duration, RTO, RPO."""
    api = _api(ctx)
    body = api.get("/api/recoveries", plan=plan, days=days, limit=limit)
    if as_json:
        _print_json(body)
        return
    found = RunList.model_validate(body).runs
    out = console()
    if not found:
        out.print(f"no runs{f' of plan {plan}' if plan else ''} in the last {days} day(s)")
        return
    out.print(_runs_table(found))


# -- reports and history ------------------------------------------------------------------------------------


@app.command("report")
def report(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="A finished run.")],
    html: Annotated[Path | None, typer.Option(help="Save the HTML report (timeline, RTO by phase) here.")] = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open the HTML report in a browser.")] = False,
    as_json: JsonOption = False,
) -> None:
    """A finished run's report: outcome, RTO, RPO per store, steps; --html saves the HTML report."""
    api = _api(ctx)
    body = api.get(run_path(run_id, "report"))
    if as_json:
        _print_json(body)
    else:
        _print_report(body)
    if html is not None or open_it:
        page = api.get_bytes(run_path(run_id, "report.html"))
        target = html or Path(tempfile.gettempdir()) / f"drctl-report-{_quoted(run_id)}.html"
        _save(target, page)
        print(f"HTML report: {target}", file=sys.stderr if as_json else sys.stdout)
        if open_it and not webbrowser.open(target.resolve().as_uri()):
            raise CliError(f"no browser to open {target} with (set BROWSER)", ExitCode.FAILED)


def _print_report(body: dict[str, Any]) -> None:
    out = console()
    status = str(body.get("status"))
    out.print(
        Text(f"run {body.get('instance_id')}: ", style="bold").append(status, style=OUTCOME_STYLES.get(status, ""))
    )
    trigger = body.get("trigger") or {}
    out.print(
        f"  {body.get('mode')} of {body.get('plan')} · trigger {trigger.get('source', '?')} · "
        f"{when(body.get('started_at'))} → {when(body.get('finished_at'))}"
    )
    rpo = body.get("rpo_estimate_seconds")
    out.print(
        f"  RTO {seconds(body.get('rto_seconds'), 'n/a')} · service restored "
        f"{seconds(body.get('service_restored_seconds'), 'n/a')} · RPO {seconds(rpo) if rpo is not None else 'unknown'}"
    )
    approval = body.get("approval") or {}
    if approval.get("required") or approval.get("by"):
        out.print(
            f"  approval: {approval.get('decision')} by {approval.get('by') or '-'} ({approval.get('reason') or ''})"
        )
    table = Table(header_style="bold", show_edge=False, pad_edge=False)
    for column in ("step", "kind", "status", "duration", "detail"):
        table.add_column(column, overflow="fold" if column == "detail" else "ellipsis")
    for step in body.get("steps") or []:
        detail = step.get("detail") or {}
        said = detail.get("summary") or (detail.get("error") or {}).get("message") or step.get("summary") or ""
        state = str(step.get("status"))
        table.add_row(
            str(step.get("id")),
            str(step.get("kind")),
            Text(state, style=STATE_STYLES.get(state, "")),
            seconds(between(step.get("started_at"), step.get("finished_at"))),
            one_line(str(said), 90),
        )
    out.print(table)
    for store in body.get("rpo_by_store") or []:
        loss = store.get("seconds")
        out.print(
            f"  RPO {store.get('step')}: {seconds(loss) if loss is not None else 'unknown'} — "
            f"{one_line(str(store.get('basis', '')), 100)}"
        )
    for warning in body.get("warnings") or []:
        out.print(f"  warning: {one_line(str(warning), 150)}")


def _history_table(entries: list[Any]) -> Table:
    table = Table(header_style="bold", show_edge=False, pad_edge=False)
    for column in ("run", "mode", "status", "started", "RTO", "restored", "RPO", "regression"):
        table.add_column(column)
    for entry in entries:
        status = entry.status or "-"
        regression = entry.rto_regression
        table.add_row(
            entry.id,
            entry.mode or "-",
            Text(status, style=OUTCOME_STYLES.get(status, "")),
            when(entry.started_at),
            seconds(entry.rto_seconds),
            seconds(entry.service_restored_seconds),
            seconds(entry.rpo_estimate_seconds),
            f"{regression.get('ratio', 0):.2f}x median" if isinstance(regression, dict) else "",
        )
    return table


class RunMode(StrEnum):
    drill = "drill"
    failover = "failover"


@app.command("history")
def history(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="The plan's name.")],
    days: Annotated[int | None, typer.Option(min=1, max=3650, help="Only runs started in the last DAYS days.")] = None,
    mode: Annotated[RunMode | None, typer.Option(help="Only drills, or only failovers.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=100, help="At most this many runs, newest first.")] = None,
    html: Annotated[Path | None, typer.Option(help="Save the HTML history (RTO per drill over time) here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A plan's past runs (its stored reports, newest first) with status, RTO and RPO."""
    api = _api(ctx)
    query = {"days": days, "mode": mode.value if mode else None, "limit": limit}
    body = api.get(f"/api/plans/{_quoted(plan)}/history", **query)
    if as_json:
        _print_json(body)
    else:
        entries = history_entries(body)
        out = console()
        if entries:
            out.print(_history_table(entries))
        else:
            out.print(f"plan {plan}: no stored run{' in the last ' + str(days) + ' day(s)' if days else ''}")
    if html is not None:
        page = api.get_bytes(f"/api/plans/{_quoted(plan)}/history.html", **query)
        _save(html, page)
        print(f"HTML history: {html}", file=sys.stderr if as_json else sys.stdout)


def _save(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


# -- the local stack --------------------------------------------------------------------------------------


def _region_action(ctx: typer.Context, region: str, action: str) -> None:
    import requests

    target = ctx.find_object(Target)
    assert target is not None
    stack = target.stack()
    if not stack.control_url or not stack.control_token:
        raise CliError("this stack has no control endpoint (started by an older devstack): restart it with make serve")
    url = f"{stack.control_url}/regions/{_quoted(region)}/{action}"
    try:
        answer = requests.post(url, headers={"x-devstack-token": stack.control_token}, timeout=(5, 60))
    except requests.RequestException:
        raise CliError(
            f"cannot reach the local stack's control endpoint {stack.control_url}: is the stack running (make serve)?",
            ExitCode.UNREACHABLE,
        ) from None
    body = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else {}
    if answer.status_code == 404:
        raise CliError(str(body.get("error", f"no region {region!r}")))
    if answer.status_code != 200:
        raise CliError(f"the stack refused: HTTP {answer.status_code}: {body.get('error', '')}", ExitCode.REFUSED)
    regions = body.get("regions") or {}
    state = (
        "DOWN: its SQL servers, Traffic Manager endpoints, application and storage"
        if action == "outage"
        else "up again"
    )
    print(f"{body.get('region', region)} is {state}")
    print("regions: " + ", ".join(f"{name} {'down' if r.get('down') else 'up'}" for name, r in regions.items()))


@devstack_app.command("outage")
def devstack_outage(ctx: typer.Context, region: Annotated[str, typer.Argument(help="e.g. eastus")]) -> None:
    """Take REGION down on the running local stack (as make demo does before its failover)."""
    _region_action(ctx, region, "outage")


@devstack_app.command("restore")
def devstack_restore(ctx: typer.Context, region: Annotated[str, typer.Argument(help="e.g. eastus")]) -> None:
    """Bring REGION back up on the running local stack."""
    _region_action(ctx, region, "restore")


def main() -> None:
    """The console script."""
    try:
        app(prog_name=PROG)
    except BrokenPipeError:
        # Whoever read our output stopped (`drctl runs | head`): nothing left to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
