"""dr.probe against a real local HTTP(S) server (and a closed port)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from dr.plan import TrafficManagerFailoverStep
from dr.probe import probe, redact_url, tcp_probe
from dr.steps.traffic.probes import health_targets, run_probe

PROFILE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/shop-global"
    "/providers/Microsoft.Network/trafficManagerProfiles/shop"
)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {"/ok": (200, b"healthy"), "/down": (503, b"down"), "/moved": (302, b"")}
        status, body = routes.get(self.path.split("?")[0], (404, b""))
        if self.path.startswith("/host"):
            status, body = 200, (self.headers.get("Host") or "").encode()
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_expected_status_and_body(server: str) -> None:
    assert probe(f"{server}/ok", expect_body_contains="healthy").ok
    down = probe(f"{server}/down")
    assert not down.ok
    assert down.describe() == "HTTP 503 (expected 200)"
    assert probe(f"{server}/down", expect_status=[(500, 599)]).ok
    assert not probe(f"{server}/ok", expect_body_contains="ready").ok


def test_redirects_followed_or_reported_as_they_are(server: str) -> None:
    assert probe(f"{server}/moved").ok
    as_is = probe(f"{server}/moved", follow_redirects=False)
    assert (as_is.ok, as_is.status) == (False, 302)


def test_headers_reach_the_server(server: str) -> None:
    assert probe(f"{server}/host", headers={"Host": "shop.example.com"}, expect_body_contains="shop.example.com").ok


def test_no_answer_is_a_result_without_the_query_string(server: str) -> None:
    port = _closed_port()
    result = probe(f"http://127.0.0.1:{port}/health?code=s3cret", timeout_seconds=2)
    assert not result.ok
    assert result.status is None
    assert "s3cret" not in result.describe()
    assert "s3cret" not in result.url
    assert result.describe() == "no answer (connection refused)"
    assert redact_url("https://user:pw@h.example:8443/p?sig=x#f") == "https://h.example:8443/p?…"


def test_tcp_probe(server: str) -> None:
    assert tcp_probe("127.0.0.1", int(server.rsplit(":", 1)[1])).ok
    assert not tcp_probe("127.0.0.1", _closed_port(), timeout_seconds=2).ok


# -- TLS: Traffic Manager requires a certificate but does not validate it; strict_tls validates ---------


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA(organization_name="dr tests: a CA nobody trusts")


@contextmanager
def _https_server(ca: trustme.CA, *names: str) -> Iterator[str]:
    """An HTTPS /ok endpoint whose certificate (from ``ca``, for ``names``) a strict client may refuse."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_certificate_present_accepts_what_traffic_manager_accepts(tls_ca: trustme.CA) -> None:
    """A certificate from an untrusted CA, for another name: Traffic Manager's HTTPS probe calls this endpoint
    healthy, so the traffic step's default check does too; strict validation refuses it."""
    with _https_server(tls_ca, "shop-wus.internal.example") as url:
        lenient = probe(f"{url}/ok", tls="certificate_present")
        assert lenient.ok, lenient.describe()
        strict = probe(f"{url}/ok", tls="strict")
        assert not strict.ok
        assert strict.describe().startswith("no answer (TLS error: CERTIFICATE_VERIFY_FAILED")


def test_strict_accepts_a_valid_chain_and_name(
    tls_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the system trust store, as far as OpenSSL is told
    with _https_server(tls_ca, "127.0.0.1") as url:
        assert probe(f"{url}/ok", tls="strict").ok
    with _https_server(tls_ca, "shop-wus.internal.example") as url:
        wrong_name = probe(f"{url}/ok", tls="strict")
        assert not wrong_name.ok and "CERTIFICATE_VERIFY_FAILED" in wrong_name.describe()
        assert probe(f"{url}/ok", tls="certificate_present").ok


def test_no_tls_at_all_fails_either_way(server: str) -> None:
    """A plain-HTTP server behind an https:// URL presents no certificate: both checks fail."""
    https_url = server.replace("http://", "https://") + "/ok"
    for mode in ("certificate_present", "strict"):
        result = probe(https_url, tls=mode, timeout_seconds=3)  # type: ignore[arg-type]
        assert not result.ok and result.status is None
        assert result.describe().startswith("no answer (TLS error"), result.describe()


def test_traffic_step_probes_like_traffic_manager_unless_strict_tls(tls_ca: trustme.CA) -> None:
    """The step's pre-switch health probe (plan health_url or the profile's monitor) uses Traffic Manager's
    rule by default; strict_tls: true in the plan validates the certificate fully."""
    with _https_server(tls_ca, "shop-wus.internal.example") as url:
        params = TrafficManagerFailoverStep.model_validate(
            {
                "id": "traffic",
                "kind": "traffic_manager_failover",
                "profile_id": PROFILE_ID,
                "from_endpoints": ["shop-eus"],
                "to_endpoints": ["shop-wus"],
                "health_url": f"{url}/ok",
            }
        )
        (target,) = health_targets(None, params, [])  # type: ignore[arg-type]  # health_url: no profile needed
        assert target.tls == "certificate_present"
        assert run_probe(target, 5).ok
        strict = params.model_copy(update={"strict_tls": True})
        (strict_target,) = health_targets(None, strict, [])  # type: ignore[arg-type]
        assert strict_target.tls == "strict"
        assert not run_probe(strict_target, 5).ok
