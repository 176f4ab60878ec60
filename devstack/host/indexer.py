"""The host's index of a Python v2 function app, as Microsoft's Python runtime reports it.

`load_app` has the runtime (`worker.PythonWorker`) import `function_app.py`, index it and load every
function, with the runtime's own load-time validation; the index is built from the metadata the runtime
answers (function ids, names, raw bindings), which is what the Functions host reads. The result, an
`IndexedApp`, is what the HTTP server and the durable engine dispatch on.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field

from .worker import LoadedApp, PythonWorker

log = logging.getLogger("devstack.host")

DEFAULT_TASK_HUB = "TestHubName"


class TriggerKind(StrEnum):
    HTTP = "httpTrigger"
    TIMER = "timerTrigger"
    ORCHESTRATION = "orchestrationTrigger"
    ACTIVITY = "activityTrigger"
    ENTITY = "entityTrigger"
    OTHER = "other"


class AuthLevel(StrEnum):
    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"


class BindingSpec(BaseModel):
    """One entry of a function's `bindings` array in function.json."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str
    name: str
    direction: str = "IN"
    route: str | None = None
    methods: list[str] | None = None
    auth_level: str | None = Field(default=None, alias="authLevel")
    schedule: str | None = None
    run_on_startup: bool | None = Field(default=None, alias="runOnStartup")
    task_hub: str | None = Field(default=None, alias="taskHub")


class FunctionJson(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    script_file: str | None = Field(default=None, alias="scriptFile")
    bindings: list[BindingSpec]


class HostSettings(BaseModel):
    """The parts of host.json the local host honours."""

    route_prefix: str = "api"
    hub_name: str = DEFAULT_TASK_HUB
    max_concurrent_activities: int = 16
    function_timeout_seconds: float | None = None
    # durableTask.defaultVersion (DurableTaskOptions.DefaultVersion): the version of an orchestration started
    # without one, and of every sub-orchestration.
    default_version: str | None = None


# --- HTTP routes -------------------------------------------------------------------------------------

_CONSTRAINT_PATTERNS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?:true|false)",
    "guid": r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    "alpha": r"[a-zA-Z]+",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
}
_PARAM = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class RouteTemplate:
    """An ASP.NET-style route template (`items/{id:int}/{rest?}`) compiled to a regex."""

    template: str
    pattern: re.Pattern[str]
    param_names: tuple[str, ...]
    precedence: tuple[int, ...]

    @classmethod
    def compile(cls, template: str) -> RouteTemplate:
        segments = [s for s in template.strip("/").split("/") if s != ""]
        regex = ""
        names: list[str] = []
        precedence: list[int] = []
        for segment in segments:
            whole = _PARAM.fullmatch(segment)
            if whole:
                name, sub, rank, optional, catch_all = _parse_param(whole.group(1))
                names.append(name)
                precedence.append(rank)
                if catch_all:
                    regex += f"(?:/(?P<{name}>.*))?"
                elif optional:
                    regex += f"(?:/(?P<{name}>{sub}))?"
                else:
                    regex += f"/(?P<{name}>{sub})"
                continue
            # A literal segment, possibly mixed with parameters (`{name}.{ext}`).
            part = ""
            last = 0
            mixed = False
            for match in _PARAM.finditer(segment):
                part += re.escape(segment[last : match.start()])
                name, sub, _, _, _ = _parse_param(match.group(1))
                names.append(name)
                part += f"(?P<{name}>{sub})"
                last = match.end()
                mixed = True
            part += re.escape(segment[last:])
            precedence.append(1 if mixed else 0)
            regex += "/" + part
        pattern = re.compile("^" + regex + "/?$", re.IGNORECASE)
        return cls(template, pattern, tuple(names), tuple(precedence))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if not found:
            return None
        return {k: unquote(v) for k, v in found.groupdict().items() if v is not None}


def _parse_param(spec: str) -> tuple[str, str, int, bool, bool]:
    """Return (name, regex, precedence rank, optional, catch-all) for one `{...}` route parameter."""
    catch_all = spec.startswith("*")
    spec = spec.lstrip("*")
    optional = spec.endswith("?")
    spec = spec.rstrip("?")
    if "=" in spec:  # a default value makes the parameter optional
        spec = spec.split("=", 1)[0]
        optional = True
    name, _, constraint = spec.partition(":")
    sub = r"[^/]+"
    rank = 3
    if constraint:
        rank = 2
        kind = constraint.split("(", 1)[0].lower()
        if kind == "regex" and "(" in constraint:
            sub = "(?:" + constraint[constraint.index("(") + 1 : constraint.rindex(")")] + ")"
        elif kind in _CONSTRAINT_PATTERNS:
            sub = _CONSTRAINT_PATTERNS[kind]
    if optional:
        rank = 4
    if catch_all:
        rank = 5
    return name, sub, rank, optional, catch_all


# --- functions -----------------------------------------------------------------------------------------


@dataclass
class FunctionInfo:
    """One indexed function: its metadata from function.json plus the callable the worker would call."""

    name: str
    function_id: str  # the runtime's id for the function (its InvocationRequests name it)
    trigger: BindingSpec
    bindings: list[BindingSpec]
    user_function: Callable[..., Any]  # what the runtime calls (for an orchestrator, the SDK's handle)
    route: RouteTemplate | None = None

    @property
    def kind(self) -> TriggerKind:
        try:
            return TriggerKind(self.trigger.type)
        except ValueError:
            return TriggerKind.OTHER

    @property
    def durable_client_bindings(self) -> list[BindingSpec]:
        return [b for b in self.bindings if b.type == "durableClient"]

    @property
    def durable_name(self) -> str:
        """The name the Durable extension knows the function by: the trigger's `orchestration`, `activity`
        or `entityName` property when the decorator set one, else the function's name."""
        extra = self.trigger.model_extra or {}
        for key in ("orchestration", "activity", "entityName"):
            value = extra.get(key)
            if isinstance(value, str) and value:
                return value
        return self.name

    @property
    def unsupported_bindings(self) -> list[BindingSpec]:
        supported = {
            "httpTrigger",
            "http",
            "timerTrigger",
            "durableClient",
            "orchestrationTrigger",
            "activityTrigger",
            "entityTrigger",
        }
        return [b for b in self.bindings if b.type not in supported]

    @property
    def methods(self) -> set[str] | None:
        if not self.trigger.methods:
            return None
        return {m.upper() for m in self.trigger.methods}

    @property
    def auth_level(self) -> AuthLevel:
        level = (self.trigger.auth_level or "function").lower()
        return AuthLevel(level) if level in AuthLevel._value2member_map_ else AuthLevel.FUNCTION


@dataclass
class IndexedApp:
    """A function app as the host sees it after indexing."""

    app_dir: Path
    settings: HostSettings
    loaded: LoadedApp
    functions: dict[str, FunctionInfo] = field(default_factory=dict)

    def of_kind(self, kind: TriggerKind) -> dict[str, FunctionInfo]:
        return {n: f for n, f in self.functions.items() if f.kind is kind}

    @property
    def orchestrators(self) -> dict[str, FunctionInfo]:
        return self.of_kind(TriggerKind.ORCHESTRATION)

    @property
    def activities(self) -> dict[str, FunctionInfo]:
        return self.of_kind(TriggerKind.ACTIVITY)

    @property
    def http_functions(self) -> list[FunctionInfo]:
        """HTTP functions, most specific route first (literal segments beat parameters)."""
        found = [f for f in self.functions.values() if f.kind is TriggerKind.HTTP and f.route]
        return sorted(found, key=lambda f: f.route.precedence if f.route else ())

    def find_function(self, name: str) -> FunctionInfo | None:
        """Function names are case-insensitive in the Functions host."""
        if name in self.functions:
            return self.functions[name]
        lowered = name.lower()
        return next((f for n, f in self.functions.items() if n.lower() == lowered), None)

    def _find_durable(self, kind: TriggerKind, name: str) -> FunctionInfo | None:
        lowered = name.lower()
        return next((f for f in self.of_kind(kind).values() if f.durable_name.lower() == lowered), None)

    def find_orchestrator(self, name: str) -> FunctionInfo | None:
        """By the extension's name for it (case-insensitive, like the extension's function lookup)."""
        return self._find_durable(TriggerKind.ORCHESTRATION, name)

    def find_activity(self, name: str) -> FunctionInfo | None:
        return self._find_durable(TriggerKind.ACTIVITY, name)

    def find_entity(self, name: str) -> FunctionInfo | None:
        return self._find_durable(TriggerKind.ENTITY, name)


def load_settings_file(path: str | Path) -> dict[str, str]:
    """Read a local.settings.json-style file: `{"Values": {...}}`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    values = data.get("Values", {}) if isinstance(data, dict) else {}
    return {str(k): "" if v is None else str(v) for k, v in values.items()}


def apply_settings(values: dict[str, str]) -> None:
    """App settings become environment variables; a variable already set wins, as with func."""
    for key, value in values.items():
        os.environ.setdefault(key, value)


def resolve_setting_reference(value: str) -> str:
    """Resolve `%NAME%` app-setting references (host.json hubName, timer schedules)."""

    def lookup(match: re.Match[str]) -> str:
        return os.environ.get(match.group(1), "")

    return re.sub(r"%([^%]+)%", lookup, value)


def read_host_settings(app_dir: Path | None) -> HostSettings:
    settings = HostSettings()
    if app_dir is None or not (app_dir / "host.json").is_file():
        return settings
    try:
        host = json.loads((app_dir / "host.json").read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"host.json in {app_dir} is not valid JSON: {error}") from error
    extensions = host.get("extensions", {}) or {}
    http = extensions.get("http", {}) or {}
    if "routePrefix" in http:
        settings.route_prefix = str(http["routePrefix"]).strip("/")
    durable = extensions.get("durableTask", {}) or {}
    hub = resolve_setting_reference(str(durable.get("hubName", ""))).strip()
    if hub:
        settings.hub_name = hub
    if durable.get("defaultVersion") is not None:
        settings.default_version = str(durable["defaultVersion"])
    if "maxConcurrentActivityFunctions" in durable:
        settings.max_concurrent_activities = int(durable["maxConcurrentActivityFunctions"])
    timeout = host.get("functionTimeout")
    if isinstance(timeout, str) and re.fullmatch(r"\d+:\d{2}:\d{2}", timeout):
        hours, minutes, seconds = (int(p) for p in timeout.split(":"))
        settings.function_timeout_seconds = float(hours * 3600 + minutes * 60 + seconds)
    return settings


def index_app(loaded: LoadedApp) -> IndexedApp:
    """The host's view of an app the runtime has loaded: bindings from each function's raw bindings (the
    JSON the runtime reports in RpcFunctionMetadata, which is what the Functions host indexes)."""
    indexed = IndexedApp(app_dir=loaded.app_dir, settings=read_host_settings(loaded.app_dir), loaded=loaded)
    for name, function in loaded.functions.items():
        bindings = [BindingSpec.model_validate(raw) for raw in function.raw_bindings]
        trigger = next((b for b in bindings if b.type.endswith("Trigger")), None)
        if trigger is None:
            raise ValueError(f"function {name} has no trigger binding")
        info = FunctionInfo(
            name=name,
            function_id=function.function_id,
            trigger=trigger,
            bindings=bindings,
            user_function=function.runtime_info.func,
        )
        if info.kind is TriggerKind.HTTP:
            info.route = RouteTemplate.compile(trigger.route or name)
        if info.unsupported_bindings:
            log.warning(
                "function %s has bindings the devstack host does not provide: %s",
                name,
                ", ".join(b.type for b in info.unsupported_bindings),
            )
        indexed.functions[name] = info
    return indexed


_import_lock = threading.Lock()
_indexed: dict[Path, IndexedApp] = {}


def load_app(app: str | Path | IndexedApp, *, settings_file: str | Path | None = None) -> IndexedApp:
    """Load a function app from its directory (the one holding function_app.py) through Microsoft's Python
    runtime, as the worker does at start-up. A function the runtime refuses raises `WorkerLoadError` with
    the runtime's own message, and then no function of the app loads (the worker indexes the app whole).

    Loading the same directory twice returns the same index (the runtime imports an app once).
    """
    if isinstance(app, IndexedApp):
        return app
    if not isinstance(app, (str, Path)):
        raise TypeError(
            f"load_app takes an app directory, not {type(app).__name__}: the Python runtime indexes an app "
            "by importing its function_app.py"
        )
    if settings_file is not None:
        apply_settings(load_settings_file(settings_file))
    app_dir = Path(app).resolve()
    if app_dir.is_file():
        app_dir = app_dir.parent
    if not (app_dir / "function_app.py").is_file():
        raise FileNotFoundError(f"no function_app.py in {app_dir}")
    with _import_lock:
        cached = _indexed.get(app_dir)
        if cached is None:
            cached = _indexed[app_dir] = index_app(PythonWorker.get().load(app_dir))
        return cached
