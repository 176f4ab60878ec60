"""Health probes of a switch's secondary: the URL Traffic Manager's own monitor probes (or the plan's
``health_url``), probed once per call as Traffic Manager would (no redirects followed, its TLS rule unless the
plan asks for strict TLS).

Invariant: what reaches a report names a probed URL only through :func:`dr.probe.redact_url` (a health URL
may carry a key in its query string); a probe never raises for an unhealthy target.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import Field

from ...errors import InvalidInputError
from ...plan import TrafficManagerFailoverStep
from ...probe import ProbeResult, StatusRange, TlsCheck, probe, redact_url, tcp_probe
from .model import EndpointView, Frozen, ProfileView


class ProbeTarget(Frozen):
    endpoint: str | None = None
    url: str  # may carry a key in its query string: reports show redact_url(url)
    tcp: tuple[str, int] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    expect: tuple[StatusRange, ...] = ((200, 200),)
    # Traffic Manager's HTTPS probe requires a certificate but does not validate it; the plan's strict_tls
    # validates chain and name as well.
    tls: TlsCheck = "certificate_present"


def health_targets(
    profile: ProfileView, params: TrafficManagerFailoverStep, endpoints: Iterable[EndpointView]
) -> list[ProbeTarget]:
    """The plan's health_url, or per endpoint the URL Traffic Manager's own monitor probes."""
    tls: TlsCheck = "strict" if params.strict_tls else "certificate_present"
    if params.health_url:
        expect = ((params.health_expect_status, params.health_expect_status),)
        return [ProbeTarget(url=params.health_url, expect=expect, tls=tls)]
    monitor = profile.monitor
    targets = []
    for endpoint in endpoints:
        if endpoint.endpoint_type == "NestedEndpoints" or not endpoint.target:
            raise InvalidInputError(
                f"cannot derive a health URL for endpoint {endpoint.name!r} ({endpoint.endpoint_type}): "
                "set health_url in the plan step",
                code="NoHealthUrl",
            )
        protocol = monitor.protocol if monitor.protocol in ("HTTP", "HTTPS", "TCP") else "HTTP"
        default_port = 443 if protocol == "HTTPS" else 80
        port = monitor.port or default_port
        host = f"[{endpoint.target}]" if ":" in endpoint.target else endpoint.target
        if protocol == "TCP":
            targets.append(ProbeTarget(endpoint=endpoint.name, url=f"tcp://{host}:{port}", tcp=(endpoint.target, port)))
            continue
        netloc = host if port == default_port else f"{host}:{port}"
        path = monitor.path or "/"
        targets.append(
            ProbeTarget(
                endpoint=endpoint.name,
                url=f"{protocol.lower()}://{netloc}{path if path.startswith('/') else '/' + path}",
                headers={**monitor.headers, **endpoint.headers},
                expect=monitor.expected or ((200, 200),),
                tls=tls,
            )
        )
    return targets


def run_probe(target: ProbeTarget, timeout_seconds: float) -> ProbeResult:
    if target.tcp is not None:
        return tcp_probe(*target.tcp, timeout_seconds=timeout_seconds)
    # Traffic Manager does not follow redirects: a 3xx is an answer, judged against the expected ranges.
    return probe(
        target.url,
        expect_status=target.expect,
        timeout_seconds=timeout_seconds,
        headers=target.headers,
        follow_redirects=False,
        tls=target.tls,
    )


def probe_facts(target: ProbeTarget, result: ProbeResult) -> dict[str, Any]:
    facts: dict[str, Any] = {"url": redact_url(target.url), "ok": result.ok, "result": result.describe()}
    facts["latency_ms"] = result.latency_ms
    if target.endpoint:
        facts["endpoint"] = target.endpoint
    return facts


def probe_endpoints(
    profile: ProfileView, params: TrafficManagerFailoverStep, endpoints: Iterable[EndpointView]
) -> tuple[list[dict[str, Any]], list[tuple[ProbeTarget, ProbeResult]]]:
    """Probe each endpoint's health target once: the facts for the report, and the probes that failed."""
    facts: list[dict[str, Any]] = []
    failed: list[tuple[ProbeTarget, ProbeResult]] = []
    for target in health_targets(profile, params, endpoints):
        result = run_probe(target, params.probe_timeout.total_seconds())
        facts.append(probe_facts(target, result))
        if not result.ok:
            failed.append((target, result))
    return facts, failed
