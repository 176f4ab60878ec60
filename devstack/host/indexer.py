"""Index a Python v2 function app the way the Functions host and the Python worker do.

`load_app` imports `function_app.py` (app directory on `sys.path`), finds the one `FunctionApp`/`DFApp`
instance, calls `get_functions()` and reads every function's bindings from `get_function_json()`. The
result, an `IndexedApp`, is what the HTTP server and the durable engine dispatch on.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from azure.functions.decorators.function_app import FunctionRegister
from pydantic import BaseModel, ConfigDict, Field

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
    trigger: BindingSpec
    bindings: list[BindingSpec]
    user_function: Callable[..., Any]
    parameters: tuple[str, ...]
    route: RouteTemplate | None = None

    @property
    def kind(self) -> TriggerKind:
        try:
            return TriggerKind(self.trigger.type)
        except ValueError:
            return TriggerKind.OTHER

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)

    @property
    def durable_client_bindings(self) -> list[BindingSpec]:
        return [b for b in self.bindings if b.type == "durableClient"]

    @property
    def wants_context(self) -> bool:
        binding_names = {b.name for b in self.bindings}
        return "context" in self.parameters and "context" not in binding_names

    @property
    def unsupported_bindings(self) -> list[BindingSpec]:
        supported = {
            "httpTrigger",
            "http",
            "timerTrigger",
            "durableClient",
            "orchestrationTrigger",
            "activityTrigger",
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

    app: FunctionRegister
    app_dir: Path | None
    settings: HostSettings
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
    if "maxConcurrentActivityFunctions" in durable:
        settings.max_concurrent_activities = int(durable["maxConcurrentActivityFunctions"])
    timeout = host.get("functionTimeout")
    if isinstance(timeout, str) and re.fullmatch(r"\d+:\d{2}:\d{2}", timeout):
        hours, minutes, seconds = (int(p) for p in timeout.split(":"))
        settings.function_timeout_seconds = float(hours * 3600 + minutes * 60 + seconds)
    return settings


_import_lock = threading.Lock()
_loaded: dict[Path, IndexedApp] = {}


def _import_function_app(app_dir: Path) -> ModuleType:
    script = app_dir / "function_app.py"
    if not script.is_file():
        raise FileNotFoundError(f"no function_app.py in {app_dir}")
    on_path = any(Path(p or ".").resolve() == app_dir for p in sys.path)
    if not on_path:
        # Appended, not prepended: an app's modules (blueprints) must not shadow anything else in a test run.
        sys.path.append(str(app_dir))
    # The worker imports the script as `function_app`. Keep that name only where `import function_app`
    # would find this very file; any other app (a test's sample app) gets a name of its own.
    module_name = "function_app"
    existing = sys.modules.get(module_name)
    if on_path and existing is not None and Path(existing.__file__ or "").resolve() == script.resolve():
        return existing  # already imported (e.g. by the test itself): index that very module
    if not on_path or (existing is not None and Path(existing.__file__ or "").resolve() != script.resolve()):
        module_name = f"function_app__{re.sub(r'[^0-9a-zA-Z_]', '_', app_dir.name)}"
    spec = importlib.util.spec_from_file_location(module_name, script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _find_app(module: ModuleType) -> FunctionRegister:
    apps = [value for value in vars(module).values() if isinstance(value, FunctionRegister)]
    unique = list({id(a): a for a in apps}.values())
    if not unique:
        raise ValueError(f"{module.__file__} defines no FunctionApp/DFApp instance")
    if len(unique) > 1:
        raise ValueError(f"{module.__file__} defines more than one FunctionApp; the worker accepts exactly one")
    return unique[0]


def index_app(app: FunctionRegister, *, app_dir: Path | None = None) -> IndexedApp:
    """Index an app object: one FunctionInfo per function, bindings read from function.json."""
    # get_functions() remembers names it has seen and refuses them on a second call.
    app.functions_bindings = None
    indexed = IndexedApp(app=app, app_dir=app_dir, settings=read_host_settings(app_dir))
    for function in app.get_functions():
        meta = FunctionJson.model_validate_json(function.get_function_json())
        declared = function.get_trigger()
        trigger_name = declared.name if declared is not None else None
        trigger = next((b for b in meta.bindings if b.name == trigger_name and "Trigger" in b.type), None)
        if trigger is None:
            raise ValueError(f"function {function.get_function_name()} has no trigger binding")
        user_function = function.get_user_function()
        try:
            parameters = tuple(inspect.signature(user_function).parameters)
        except (TypeError, ValueError):
            parameters = ()
        name = function.get_function_name() or user_function.__name__
        info = FunctionInfo(
            name=name,
            trigger=trigger,
            bindings=meta.bindings,
            user_function=user_function,
            parameters=parameters,
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


def load_app(app: str | Path | FunctionRegister | IndexedApp, *, settings_file: str | Path | None = None) -> IndexedApp:
    """Index a function app given its directory (containing function_app.py) or the app object itself.

    Loading the same directory twice returns the same index (importing an app twice would register its
    functions twice).
    """
    if isinstance(app, IndexedApp):
        return app
    if settings_file is not None:
        apply_settings(load_settings_file(settings_file))
    if isinstance(app, FunctionRegister):
        return index_app(app)
    app_dir = Path(app).resolve()
    if app_dir.is_file():
        app_dir = app_dir.parent
    with _import_lock:
        cached = _loaded.get(app_dir)
        if cached is not None:
            return cached
        module = _import_function_app(app_dir)
        indexed = index_app(_find_app(module), app_dir=app_dir)
        _loaded[app_dir] = indexed
        return indexed
