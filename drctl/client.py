"""How drctl reaches the app: the local stack's `stack.json`, or a URL with a function key and/or an Entra
token, and the HTTP client every command uses.

Every failure becomes a `CliError` with the exit code its cause deserves (unreachable, refused, bad input).
Neither the function key nor a token is ever put in a message, a URL or a repr: the key travels in the
`x-functions-key` header, the token in `Authorization`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

from drctl import APP_ROOT
from drctl.errors import CliError, ExitCode

STACK_FILE = Path(".devstack") / "stack.json"
CONNECT_SECONDS = 5.0
READ_SECONDS = 90.0  # a what-if evaluates every check synchronously (the app allows itself 60 s)


class StackFile(BaseModel):
    """What drctl reads of `.devstack/stack.json` (devstack.stack.StackInfo writes it)."""

    model_config = ConfigDict(extra="ignore")

    host_url: str
    function_key: str
    apps_url: str | None = None
    control_url: str | None = None
    control_token: str | None = None


def default_stack_path() -> Path:
    """`.devstack/stack.json` of the working folder, else of the app root drctl was installed from."""
    here = Path.cwd() / STACK_FILE
    return here if here.is_file() else APP_ROOT / STACK_FILE


def read_stack(path: Path) -> StackFile:
    try:
        return StackFile.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise CliError(
            f"no local stack: {path} does not exist (start one with `make serve`, or give --url and --key)",
            ExitCode.UNREACHABLE,
        ) from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise CliError(f"{path} is not a devstack stack.json ({where}: {first['msg']})") from None


def _short_reason(exc: requests.RequestException) -> str:
    """The cause of a connection failure in a few words ('Connection refused', 'timed out')."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found.group(1).strip()
    for words in ("Name or service not known", "Connection refused", "Connection reset", "certificate verify failed"):
        if words.lower() in text.lower():
            return words
    return type(exc).__name__


class Api:
    """The app's HTTP API at ``base_url`` (scheme://host[:port], without /api)."""

    def __init__(
        self,
        base_url: str,
        *,
        key: str | None = None,
        token: Callable[[], str] | None = None,
        hint: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/api")
        self._token = token
        self._hint = hint  # what to check when the API cannot be reached
        self._session = requests.Session()
        if key:
            self._session.headers["x-functions-key"] = key

    def __repr__(self) -> str:  # never the key
        return f"Api({self.base_url!r})"

    @classmethod
    def for_stack(cls, stack: StackFile, path: Path | None = None, token: Callable[[], str] | None = None) -> Api:
        where = f" (from {path})" if path else ""
        hint = f"is the local stack running{where}? Start it with `make serve`"
        return cls(stack.host_url, key=stack.function_key, token=token, hint=hint)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token()}"
        url = f"{self.base_url}{path}"
        try:
            response = self._session.request(
                method, url, headers=headers, timeout=(CONNECT_SECONDS, READ_SECONDS), **kwargs
            )
        except requests.RequestException as exc:
            hint = f"; {self._hint}" if self._hint else ""
            raise CliError(f"cannot reach {self.base_url}: {_short_reason(exc)}{hint}", ExitCode.UNREACHABLE) from None
        if response.status_code >= 400:
            raise api_error(response, f"{method} {path}")
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self._json(self._get(path, **params))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._json(self.request("POST", path, json=body))

    def get_bytes(self, path: str, **params: Any) -> bytes:
        return self._get(path, **params).content

    def _get(self, path: str, **params: Any) -> requests.Response:
        """GET with the query ``params`` that are not None."""
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    @staticmethod
    def _json(response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"the API answered HTTP {response.status_code} with something else than JSON: {response.text[:120]}",
                ExitCode.REFUSED,
            ) from None


def run_path(run_id: str, *rest: str) -> str:
    """/api/recoveries/{id}[/...] with the id quoted: it is the user's input."""
    return "/".join([f"/api/recoveries/{quote(run_id, safe='')}", *rest])


def api_error(response: requests.Response, what: str) -> CliError:
    """The API's error answer as one line: its own code and message when it sent the usual error object."""
    status = response.status_code
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = f"{error.get('code', 'Error')}: {error.get('message', '')}"
        if error.get("holder"):
            message += f" (held by {error['holder']})"
    elif isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    if status in (400, 404, 405, 422):
        code = ExitCode.USAGE
    elif status in (502, 503, 504):
        code = ExitCode.UNREACHABLE
    else:
        code = ExitCode.REFUSED
    if not message:
        message = {
            401: "unauthorized: wrong or missing function key (--key / DRCTL_KEY) or token",
            403: "forbidden: the caller lacks the role this needs",
            404: "not found",
        }.get(status, response.reason or "error")
    return CliError(f"{what}: HTTP {status}: {message}", code)


def entra_token(audience: str) -> Callable[[], str]:
    """A bearer token provider for App Service authentication: DefaultAzureCredential, scope
    ``api://<app id>/.default`` (``audience`` is the app id, or an application ID URI). The credential caches
    the token and renews it when it nears expiry."""
    scope = audience if "://" in audience else f"api://{audience}"
    scope = scope.rstrip("/")
    if not scope.endswith("/.default"):
        scope += "/.default"
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()

    def token() -> str:
        try:
            return credential.get_token(scope).token
        except ClientAuthenticationError as exc:
            first = str(exc.message or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CliError(f"no Entra token for {scope}: {first}", ExitCode.REFUSED) from None

    return token


class Target:
    """Where the commands go: chosen lazily, so that offline commands (plans validate) never need it."""

    def __init__(
        self,
        *,
        url: str | None,
        key: str | None,
        stack: Path | None,
        entra: bool,
        audience: str | None,
    ) -> None:
        self.url, self.key, self.stack_path = url, key, stack
        self.entra, self.audience = entra, audience
        self._api: Api | None = None

    def api(self) -> Api:
        if self._api is None:
            self._api = self._connect()
        return self._api

    def _connect(self) -> Api:
        token = None
        if self.entra:
            if not self.audience:
                raise CliError("--entra needs --audience (or DRCTL_AUDIENCE): the app registration's id or URI")
            token = entra_token(self.audience)
        if self.url:
            if not re.match(r"^https?://[^/\s]+", self.url):
                raise CliError(f"--url must be http(s)://host[:port], got {self.url!r}")
            if not self.key and token is None:
                raise CliError("--url needs --key (or DRCTL_KEY), or --entra with --audience")
            return Api(self.url, key=self.key, token=token, hint="check --url (DRCTL_URL)")
        path = self.stack_path or default_stack_path()
        return Api.for_stack(read_stack(path), path, token)

    def stack(self) -> StackFile:
        """The local stack itself (the devstack commands): never a remote app."""
        if self.url:
            raise CliError("devstack commands act on a local stack: drop --url (DRCTL_URL) and use --stack")
        return read_stack(self.stack_path or default_stack_path())
