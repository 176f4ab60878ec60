"""dr.probe against a real local HTTP server (and a closed port)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dr.probe import probe, redact_url, tcp_probe


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
