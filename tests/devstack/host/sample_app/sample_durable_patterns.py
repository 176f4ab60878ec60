"""The Durable Functions patterns of the official samples, as one blueprint: chaining, fan-out/fan-in,
human interaction, monitor, retries, sub-orchestrations, eternal orchestrations, custom status; functions
renamed by their decorators, orchestration versions, and durable entities."""

import json
import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()

# In-process counters: tests run the engine in the same process and read these.
ACTIVITY_CALLS: dict[str, int] = {}
REPLAYS: dict[str, int] = {}


# --- client functions ----------------------------------------------------------------------------------


@bp.route(route="orchestrators/{functionName}/{instanceId?}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    function_name = req.route_params["functionName"]
    payload = req.get_json() if req.get_body() else None
    version = req.params.get("version")  # start_new sends it as the start request's `version`
    try:
        instance_id = await client.start_new(function_name, req.route_params.get("instanceId"), payload, version)
    except Exception as error:  # the test reads the client's error
        return func.HttpResponse(str(error), status_code=400)
    logging.info("Started orchestration with ID = '%s'.", instance_id)
    return client.create_check_status_response(req, instance_id)


@bp.route(route="status/{instanceId}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def http_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    status = await client.get_status(req.route_params["instanceId"], show_history=True, show_history_output=True)
    if not status:
        return func.HttpResponse("not found", status_code=404)
    payload = status.to_json()
    # The extension sends the history as `historyEvents`; the SDK keeps it under that attribute name.
    payload["history"] = getattr(status, "historyEvents", None)
    return func.HttpResponse(json.dumps(payload, default=str), mimetype="application/json")


@bp.route(route="manage/{instanceId}/{operation}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def http_manage(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Drives the client's management calls so tests exercise the host's RPC endpoint through the SDK."""
    instance_id = req.route_params["instanceId"]
    operation = req.route_params["operation"]
    try:
        if operation == "terminate":
            await client.terminate(instance_id, "stopped by test")
        elif operation == "suspend":
            await client.suspend(instance_id, "paused by test")
        elif operation == "resume":
            await client.resume(instance_id, "resumed by test")
        elif operation == "raise":
            await client.raise_event(instance_id, "Approval", req.get_json())
        elif operation == "purge":
            result = await client.purge_instance_history(instance_id)
            return func.HttpResponse(json.dumps({"deleted": result.instances_deleted}))
        elif operation == "list":
            statuses = await client.get_status_by(runtime_status=[df.OrchestrationRuntimeStatus.Completed])
            return func.HttpResponse(json.dumps(sorted(s.instance_id for s in statuses)))
        else:
            return func.HttpResponse("unknown operation", status_code=400)
    except Exception as error:  # the test reads the client's error
        return func.HttpResponse(str(error), status_code=409)
    return func.HttpResponse("ok")


@bp.timer_trigger(schedule="0 0 3 * * *", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def nightly_chain(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await client.start_new("hello_sequence", f"nightly-{int(time.time() * 1000)}", {"cities": ["Oslo"]})


# --- orchestrators -------------------------------------------------------------------------------------


@bp.orchestration_trigger(context_name="context")
def hello_sequence(context: df.DurableOrchestrationContext):
    cities = (context.get_input() or {}).get("cities", ["Tokyo", "Seattle", "London"])
    results = []
    for city in cities:
        results.append((yield context.call_activity("say_hello", city)))
    return results


@bp.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    count = context.get_input()["count"]
    tasks = [context.call_activity("square", n) for n in range(count)]
    squares = yield context.task_all(tasks)
    return sum(squares)


@bp.orchestration_trigger(context_name="context")
def approval_workflow(context: df.DurableOrchestrationContext):
    hours = context.get_input().get("timeout_hours", 24)
    context.set_custom_status({"stage": "awaiting approval"})
    deadline = context.current_utc_datetime + timedelta(hours=hours)
    approval = context.wait_for_external_event("Approval")
    timeout = context.create_timer(deadline)
    winner = yield context.task_any([approval, timeout])
    if winner == approval:
        timeout.cancel()
        decision = approval.result
        if isinstance(decision, str):  # DurableOrchestrationClient.raise_event delivers JSON text
            decision = json.loads(decision)
        context.set_custom_status({"stage": "decided"})
        note = yield context.call_activity("say_hello", decision.get("by", "nobody"))
        return {"approved": decision.get("approved", False), "note": note}
    context.set_custom_status({"stage": "timed out"})
    return {"approved": False, "timed_out_at": context.current_utc_datetime.isoformat()}


@bp.orchestration_trigger(context_name="context")
def monitor_job(context: df.DurableOrchestrationContext):
    job = context.get_input()
    expiry = context.current_utc_datetime + timedelta(minutes=job.get("expiry_minutes", 60))
    polls = 0
    while context.current_utc_datetime < expiry:
        polls += 1
        state = yield context.call_activity("check_job", {"job": job["job"], "poll": polls})
        context.set_custom_status({"polls": polls, "state": state})
        if state == "done":
            return {"state": "done", "polls": polls, "finished_at": context.current_utc_datetime.isoformat()}
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=job.get("interval_s", 30)))
    return {"state": "expired", "polls": polls}


@bp.orchestration_trigger(context_name="context")
def flaky_with_retry(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", options, context.get_input()))


class BackoffRetryOptions(df.RetryOptions):
    """Retry options with the extension's backoff fields (the Python SDK only sends the first two)."""

    def __init__(self, first_ms: int, attempts: int, backoff: float, max_interval_ms: int) -> None:
        super().__init__(first_ms, attempts)
        self._backoff = backoff
        self._max_interval_ms = max_interval_ms

    def to_json(self) -> dict:
        return {
            **super().to_json(),
            "backoffCoefficient": self._backoff,
            "maxRetryIntervalInMilliseconds": self._max_interval_ms,
        }


@bp.orchestration_trigger(context_name="context")
def flaky_with_backoff(context: df.DurableOrchestrationContext):
    options = BackoffRetryOptions(1000, 4, backoff=2.0, max_interval_ms=3000)
    return (yield context.call_activity_with_retry("flaky", options, context.get_input()))


@bp.orchestration_trigger(context_name="context")
def echo_input(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "input check")
    return {"input": context.get_input(), "type": type(context.get_input()).__name__}


@bp.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
    try:
        yield context.call_activity_with_retry("flaky", options, context.get_input())
    except Exception as error:
        return {"gave_up": True, "error": str(error), "at": context.current_utc_datetime.isoformat()}
    return {"gave_up": False}


@bp.orchestration_trigger(context_name="context")
def activity_failure_seen(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("fail_with", context.get_input()["message"])
    except Exception as error:
        return {"caught": str(error)}
    return {"caught": None}


@bp.orchestration_trigger(context_name="context")
def failing_orchestrator(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "before failing")
    raise ValueError("the orchestrator gave up")


@bp.orchestration_trigger(context_name="context")
def parent_orchestrator(context: df.DurableOrchestrationContext):
    value = context.get_input()["value"]
    doubled = yield context.call_sub_orchestrator(
        "child_orchestrator", {"value": value}, f"{context.instance_id}-child"
    )
    unnamed = yield context.call_sub_orchestrator("child_orchestrator", {"value": doubled})
    options = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=2)
    try:
        yield context.call_sub_orchestrator_with_retry("failing_child", options, {"why": "always"})
        child_error = None
    except Exception as error:
        child_error = str(error)
    retried = yield context.call_sub_orchestrator_with_retry(
        "child_orchestrator", options, {"value": unnamed}, f"{context.instance_id}-retried"
    )
    return {"doubled": doubled, "unnamed": unnamed, "retried": retried, "child_error": child_error}


@bp.orchestration_trigger(context_name="context")
def child_orchestrator(context: df.DurableOrchestrationContext):
    value = context.get_input()["value"]
    yield context.call_activity("say_hello", f"child {value}")
    return value * 2


@bp.orchestration_trigger(context_name="context")
def failing_child(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "child about to fail")
    raise RuntimeError("the child failed")


@bp.orchestration_trigger(context_name="context")
def eternal_counter(context: df.DurableOrchestrationContext):
    state = context.get_input()
    count = state["count"] + 1
    yield context.call_activity("say_hello", f"round {count}")
    context.set_custom_status({"count": count})
    if count >= state["until"]:
        return {"count": count}
    yield context.create_timer(context.current_utc_datetime + timedelta(minutes=5))
    context.continue_as_new({"count": count, "until": state["until"]})
    return None


@bp.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    """Broken on purpose: the activity it calls first changes between replays."""
    key = context.instance_id
    REPLAYS[key] = REPLAYS.get(key, 0) + 1
    first = "say_hello" if REPLAYS[key] == 1 else "square"
    yield context.call_activity(first, 3)
    yield context.call_activity("say_hello", "second")
    return "unreachable"


@bp.orchestration_trigger(context_name="context")
def event_gate(context: df.DurableOrchestrationContext):
    """Does some work first, then waits for 'go' (which a client may have raised already)."""
    yield context.call_activity("say_hello", "warming up")
    go = yield context.wait_for_external_event("go")
    second = yield context.wait_for_external_event("second")
    return {"go": go, "second": second}


@bp.orchestration_trigger(context_name="context")
def long_sleeper(context: df.DurableOrchestrationContext):
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(days=context.get_input()["days"]))
    return {"slept_seconds": (context.current_utc_datetime - started).total_seconds()}


@bp.orchestration_trigger(context_name="context")
def replay_probe(context: df.DurableOrchestrationContext):
    """Records is_replaying around each yield and the ids it got, for checking the replay flags."""
    flags = [context.is_replaying]
    first = yield context.call_activity("say_hello", "a")
    flags.append(context.is_replaying)
    second = yield context.call_activity("say_hello", "b")
    flags.append(context.is_replaying)
    return {"flags": flags, "results": [first, second], "guid": context.new_uuid()}


@bp.orchestration_trigger(context_name="context")
def race_first(context: df.DurableOrchestrationContext):
    """task_any between two activities: returns the first result."""
    fast = context.call_activity("sleepy", {"seconds": 0, "tag": "fast"})
    slow = context.call_activity("sleepy", {"seconds": 0.5, "tag": "slow"})
    winner = yield context.task_any([fast, slow])
    return winner.result


@bp.orchestration_trigger(context_name="context")
def any_over_running_set(context: df.DurableOrchestrationContext):
    """task_any over a task yielded before and a new one. The SDK puts only the new one in the compound action
    (a task is scheduled once), and the extension's shim awaits each action in order
    (OutOfProcOrchestrationShim.ProcessAsyncActionsV2): the orchestrator resumes when `slow` finishes, but what
    it issues next is scheduled only once `slower` has (azure-functions-durable-python #603)."""
    fast = context.call_activity("sleepy", {"seconds": 0, "tag": "fast"})
    slow = context.call_activity("sleepy", {"seconds": 0.3, "tag": "slow"})
    yield context.task_any([fast, slow])
    slower = context.call_activity("sleepy", {"seconds": 1.5, "tag": "slower"})
    winner = yield context.task_any([slow, slower])
    after = yield context.call_activity("sleepy", {"seconds": 0, "tag": "after"})
    return {"winner": winner.result, "after": after}


@bp.orchestration_trigger(context_name="context")
def crash_test(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("slow_marker", context.get_input())
    second = yield context.call_activity("say_hello", "after the crash")
    return {"first": first, "second": second}


@bp.orchestration_trigger(context_name="context")
def retry_storm(context: df.DurableOrchestrationContext):
    """Retries interleaved with other work inside task_all and task_any: sequence numbers of retry timers
    and new attempts mix with everything else."""
    keys = context.get_input()["keys"]
    fast = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=4)
    slow = df.RetryOptions(first_retry_interval_in_milliseconds=3000, max_number_of_attempts=3)
    gathered = yield context.task_all(
        [
            context.call_activity_with_retry("flaky", fast, {"key": keys[0], "fail_times": 3}),
            context.call_activity_with_retry("flaky", slow, {"key": keys[1], "fail_times": 1}),
            context.call_activity("say_hello", "in between"),
            context.call_sub_orchestrator_with_retry("child_orchestrator", fast, {"value": 5}),
            context.create_timer(context.current_utc_datetime + timedelta(seconds=2)),
        ]
    )
    first = yield context.task_any(
        [
            context.call_activity_with_retry("flaky", fast, {"key": keys[2], "fail_times": 2}),
            context.call_activity_with_retry("flaky", slow, {"key": keys[3], "fail_times": 1}),
        ]
    )
    after = yield context.call_activity("say_hello", "after the storm")
    return {"gathered": gathered[:4], "first": first.result, "after": after}


@bp.orchestration_trigger(context_name="context")
def uses_durable_http(context: df.DurableOrchestrationContext):
    yield context.call_http("GET", "https://example.com/health")
    return "unreachable"


@bp.orchestration_trigger(context_name="context")
def uses_unknown_activity(context: df.DurableOrchestrationContext):
    yield context.call_activity("no_such_activity", None)
    return "unreachable"


# --- activities ----------------------------------------------------------------------------------------


@bp.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    ACTIVITY_CALLS["say_hello"] = ACTIVITY_CALLS.get("say_hello", 0) + 1
    return f"Hello {city}!"


@bp.activity_trigger(input_name="number")
def square(number: int) -> int:
    return number * number


@bp.activity_trigger(input_name="request")
async def check_job(request: dict) -> str:
    return "done" if request["poll"] >= 3 else "running"


@bp.activity_trigger(input_name="payload")
def flaky(payload: dict) -> str:
    key = payload["key"]
    ACTIVITY_CALLS[key] = ACTIVITY_CALLS.get(key, 0) + 1
    if ACTIVITY_CALLS[key] <= payload["fail_times"]:
        raise ConnectionError(f"transient failure {ACTIVITY_CALLS[key]} for {key}")
    return f"succeeded on attempt {ACTIVITY_CALLS[key]}"


@bp.activity_trigger(input_name="message")
def fail_with(message: str) -> None:
    raise PermissionError(message)


@bp.activity_trigger(input_name="request")
async def sleepy(request: dict) -> str:
    import asyncio

    await asyncio.sleep(request["seconds"])
    return request["tag"]


@bp.activity_trigger(input_name="request")
def slow_marker(request: dict) -> str:
    """Appends a line per run; the first run then blocks (the test kills the host meanwhile)."""
    runs = Path(request["dir"]) / "runs.txt"
    with runs.open("a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    run_count = len(runs.read_text(encoding="utf-8").splitlines())
    if run_count == 1:
        time.sleep(60)
    return f"finished on run {run_count}"


# --- names from the decorators -------------------------------------------------------------------------


@bp.orchestration_trigger(context_name="context", orchestration="HelloCities")
def hello_cities_orchestrator(context: df.DurableOrchestrationContext):
    """Known to Durable as "HelloCities" (the trigger's `orchestration`), not by its Python name."""
    cities = (context.get_input() or {}).get("cities", ["Tokyo", "Lima"])
    greetings = []
    for city in cities:
        greetings.append((yield context.call_activity("Greet", city)))
    return greetings


@bp.activity_trigger(input_name="city", activity="Greet")
def greet_city(city: str) -> str:
    return f"Greetings, {city}!"


@bp.orchestration_trigger(context_name="context")
def calls_activity_by_function_name(context: df.DurableOrchestrationContext):
    """Calls the renamed activity by its Python function name, which Durable does not know."""
    return (yield context.call_activity("greet_city", "nowhere"))


# --- versions --------------------------------------------------------------------------------------------


@bp.orchestration_trigger(context_name="context")
def versioned_parent(context: df.DurableOrchestrationContext):
    """Reports context.version before and after a yield (so on a replay too) and its children's versions."""
    before = context.version
    yield context.call_activity("say_hello", "version check")
    child = yield context.call_sub_orchestrator("version_child", None, f"{context.instance_id}-child")
    asked = yield context.call_sub_orchestrator("version_child", None, f"{context.instance_id}-asked", version="9.9")
    return {"before": before, "after": context.version, "child": child, "child_asked_for_9.9": asked}


@bp.orchestration_trigger(context_name="context")
def version_child(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "child version check")
    return context.version


@bp.orchestration_trigger(context_name="context")
def versioned_eternal(context: df.DurableOrchestrationContext):
    """Continues as new once; each execution reports the version it saw."""
    seen = [*(context.get_input() or {}).get("seen", []), context.version]
    yield context.call_activity("say_hello", "round")
    if len(seen) < 2:
        context.continue_as_new({"seen": seen})
        return None
    return seen


# --- entities --------------------------------------------------------------------------------------------


@bp.entity_trigger(context_name="context", entity_name="Counter")
def counter_entity(context: df.DurableEntityContext) -> None:
    """A function-based entity, known to Durable as "Counter"."""
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        context.set_state(value + context.get_input())
    elif operation == "get":
        context.set_result(value)
    elif operation == "fail":
        raise ValueError(f"the counter refuses (at {value})")
    elif operation == "delete":
        context.destruct_on_exit()


@bp.entity_trigger(context_name="context")
def journal(context: df.DurableEntityContext) -> None:
    """Appends every `record` input in the order the operations ran; `read` returns the list."""
    entries = context.get_state(list)
    if context.operation_name == "record":
        context.set_state([*entries, context.get_input()])
    elif context.operation_name == "read":
        context.set_result(entries)


@bp.orchestration_trigger(context_name="context")
def counter_workflow(context: df.DurableOrchestrationContext):
    """Signals (fire and forget) then calls the counter; an operation that raises reaches the orchestrator."""
    counter = df.EntityId("Counter", context.get_input()["key"])
    context.signal_entity(counter, "add", 5)
    context.signal_entity(counter, "add", 10)
    total = yield context.call_entity(counter, "get")
    try:
        yield context.call_entity(counter, "fail")
        refused = None
    except Exception as error:
        refused = str(error)
    both = yield context.task_all([context.call_entity(counter, "get"), context.call_activity("say_hello", "x")])
    return {"total": total, "refused": refused, "again": both[0]}


@bp.orchestration_trigger(context_name="context")
def counter_increment(context: df.DurableOrchestrationContext):
    counter = df.EntityId("Counter", context.get_input()["key"])
    yield context.call_entity(counter, "add", 1)
    return (yield context.call_entity(counter, "get"))


@bp.orchestration_trigger(context_name="context")
def calls_unknown_entity(context: df.DurableOrchestrationContext):
    yield context.call_entity(df.EntityId("NoSuchEntity", "k"), "get")
    return "unreachable"


@bp.route(route="entity/{name}/{key}", methods=["GET", "POST"])
@bp.durable_client_input(client_name="client")
async def http_entity(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST ?op=<operation> with a JSON body signals the entity; GET reads its state (through the SDK)."""
    entity = df.EntityId(req.route_params["name"], req.route_params["key"])
    try:
        if req.method == "POST":
            await client.signal_entity(entity, req.params["op"], req.get_json() if req.get_body() else None)
            return func.HttpResponse("signalled", status_code=202)
        state = await client.read_entity_state(entity)
    except Exception as error:  # the test reads the client's error
        return func.HttpResponse(str(error), status_code=409)
    return func.HttpResponse(
        json.dumps({"exists": state.entity_exists, "state": state.entity_state}), mimetype="application/json"
    )
