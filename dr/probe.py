"""Health probes: one HTTP GET (or one TCP connect) with a timeout, judged against what the caller expects.

Standard library only: a probe must work when everything else is on fire. Sync and generic: the
health_check and traffic_manager_failover step kinds both use it. A probe never raises for an unhealthy
target; it returns a :class:`ProbeResult` whose ``describe()`` is safe to put in a report (URLs lose their
query string and user info, which may hold a key).

TLS: ``tls="strict"`` (the default) validates the certificate chain and name as any client would.
``tls="certificate_present"`` does what Azure Traffic Manager's own HTTPS probe does: the server must
present a certificate, but neither its chain nor its name is validated (Microsoft Learn, *Traffic Manager
endpoint monitoring*: HTTPS monitoring "doesn't verify whether your TLS/SSL certificate is valid; it only
checks that the certificate is present"). A probe that judges an endpoint the way Traffic Manager will
must not refuse what Traffic Manager routes to.
"""

from __future__ import annotations

import functools
import http.client
import os
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

_MAX_BODY = 64 * 1024
_USER_AGENT = "dr-orchestrator-probe/1"

StatusRange = tuple[int, int]
TlsCheck = Literal["strict", "certificate_present"]


@dataclass(frozen=True)
class ProbeResult:
    url: str  # the probed URL without query string or user info (see redact_url)
    ok: bool
    status: int | None
    latency_ms: float
    error: str | None = None

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        return f"HTTP {self.status}" + (f" ({self.error})" if self.error else "")


def redact_url(url: str) -> str:
    """The URL as reports may show it: no user info, query string or fragment (they may carry a key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def status_ranges(expect: int | Iterable[StatusRange]) -> tuple[StatusRange, ...]:
    """Normalise an expected status (200) or ranges ([(200, 299)]) to ranges."""
    if isinstance(expect, int):
        return ((expect, expect),)
    ranges = tuple((int(low), int(high)) for low, high in expect)
    return ranges or ((200, 200),)


def _describe_ranges(ranges: tuple[StatusRange, ...]) -> str:
    return ", ".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


class NoCertificateError(ssl.SSLError):
    """The server completed a TLS handshake without presenting a certificate."""


class _CertificateRequired(http.client.HTTPSConnection):
    """HTTPS that requires a server certificate without validating it (Traffic Manager's HTTPS probe)."""

    def connect(self) -> None:
        super().connect()
        sock: Any = self.sock
        if not sock.getpeercert(binary_form=True):
            sock.close()
            raise NoCertificateError("the server presented no certificate")


# One TLS context of each kind per trust store: building one loads the system's CA bundle (tens of
# milliseconds of CPU), which every probe paid before; contexts are safe to share between threads. Keyed by
# OpenSSL's trust-store variables, so pointing them elsewhere takes effect as it did before.
def _strict_context() -> ssl.SSLContext:
    return _strict_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _strict_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return ssl.create_default_context()


@functools.cache
def _certificate_present_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _CertificatePresentHandler(urllib.request.HTTPSHandler):
    def __init__(self) -> None:
        context = _certificate_present_context()
        super().__init__(context=context)
        self._lenient_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_CertificateRequired, req, context=self._lenient_context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a 3xx as it is (as Traffic Manager's own probe does) instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def probe(
    url: str,
    *,
    expect_status: int | Iterable[StatusRange] = 200,
    expect_body_contains: str | None = None,
    timeout_seconds: float = 10.0,
    headers: Mapping[str, str] | None = None,
    follow_redirects: bool = True,
    ssl_context: ssl.SSLContext | None = None,
    tls: TlsCheck = "strict",
) -> ProbeResult:
    """One GET; ok when the status is in the expected status (or ranges) and, optionally, the first 64 KB
    of the body contain a substring. ``headers`` may set Host (Traffic Manager's custom headers do).
    ``tls`` says how an HTTPS certificate is checked (module docstring); ``ssl_context`` overrides it."""
    ranges = status_ranges(expect_status)
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, **(headers or {})})
    handlers: list[Any] = []
    if not follow_redirects:
        handlers.append(_NoRedirect())
    if ssl_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
    elif tls == "certificate_present":
        handlers.append(_CertificatePresentHandler())
    else:
        handlers.append(urllib.request.HTTPSHandler(context=_strict_context()))
    opener = urllib.request.build_opener(*handlers)

    started = time.perf_counter()
    status: int | None = None
    body = b""
    error: str | None = None
    try:
        with opener.open(request, timeout=timeout_seconds) as response:
            status = response.status
            body = response.read(_MAX_BODY)
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = _describe_failure(exc, timeout_seconds)
    latency_ms = round((time.perf_counter() - started) * 1000, 1)

    ok = status is not None and any(low <= status <= high for low, high in ranges)
    if ok and expect_body_contains is not None and expect_body_contains.encode() not in body:
        ok = False
        error = f"body lacks {expect_body_contains!r}"
    elif status is not None and not ok:
        error = f"expected {_describe_ranges(ranges)}"
    return ProbeResult(url=redact_url(url), ok=ok, status=status, latency_ms=latency_ms, error=error)


def tcp_probe(host: str, port: int, *, timeout_seconds: float = 10.0) -> ProbeResult:
    """One TCP connect (what Traffic Manager does for a TCP monitor): ok when the port accepts."""
    started = time.perf_counter()
    error: str | None = None
    try:
        with socket.create_connection((host, port), timeout=timeout_seconds):
            pass
    except OSError as exc:
        error = _describe_failure(exc, timeout_seconds)
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return ProbeResult(url=f"tcp://{host}:{port}", ok=error is None, status=None, latency_ms=latency_ms, error=error)


def resolve(host: str, port: int) -> tuple[list[str], str | None]:
    """The addresses ``host`` resolves to for a TCP connection to ``port`` (in the resolver's order), or no address
    and why not: what a pre-flight reports before anything connects. The resolver's own timeouts bound it."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        return [], "name not resolved" if isinstance(error, socket.gaierror) else type(error).__name__
    return [str(info[4][0]) for info in found], None


_PLAIN_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "name not resolved"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
)


def _describe_failure(exc: BaseException, timeout_seconds: float) -> str:
    """A short reason without the URL (exception texts may repeat a URL with its query string)."""
    reason: Any = getattr(exc, "reason", exc)
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"timed out after {timeout_seconds:g} s"
    if isinstance(reason, ssl.SSLError):
        detail = getattr(reason, "reason", None) or next((a for a in reason.args if isinstance(a, str)), None)
        return f"TLS error: {detail or type(reason).__name__}"
    plain = next((text for kind, text in _PLAIN_REASONS if isinstance(reason, kind)), None)
    if plain is not None:
        return plain
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__}: {reason.strerror}"
    if isinstance(exc, ValueError):
        return "not a URL the probe can fetch"
    return type(reason).__name__
