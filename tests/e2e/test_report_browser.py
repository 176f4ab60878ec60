"""The HTML report of a real run, opened in a real browser: the demo's drill runs on the whole local stack, then
headless Chromium (Debian's ``chromium``) screenshots the page the API serves and the copy stored beside the
JSON report, and dumps the DOM it built. Not blank, every step present.

Skipped where Chromium is not installed, except in CI (``CI`` set), where a missing browser is a failure:
``.ci/run`` installs it, and a screenshot test that silently skips there proves nothing.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from devstack.demo.runner import Api, drill
from devstack.stack import LocalStack
from dr.report import report_html_blob_name
from dr.report_html import PHASE_COLOURS, STATUS_COLOURS

pytestmark = pytest.mark.slow

WINDOW = (1200, 1300)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: CI must install it (.ci/run does: apt-get install chromium)")
    pytest.skip("chromium is not installed (Debian: apt-get install chromium)")


def browse(browser: str, page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess[bytes]:
    """One headless Chromium run on a local file. --no-sandbox: CI containers and root have no user namespace."""
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *action,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, timeout=120, check=True)


@dataclass
class Png:
    width: int
    height: int
    pixels: list[bytes]  # one RGB(A) row each

    def colours(self) -> dict[tuple[int, int, int], int]:
        """Pixel count by RGB colour."""
        channels = len(self.pixels[0]) // self.width
        counts: dict[tuple[int, int, int], int] = {}
        for row in self.pixels:
            for i in range(0, len(row), channels):
                key = (row[i], row[i + 1], row[i + 2])
                counts[key] = counts.get(key, 0) + 1
        return counts


def read_png(data: bytes) -> Png:
    """A PNG as Chromium writes it (8-bit RGB or RGBA, not interlaced): chunks, zlib, the five row filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, compressed, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    assert header is not None, "no IHDR"
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                corner = previous[i - channels] if i >= channels else 0
                guess = left + up - corner
                near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
                line[i] = (line[i] + near[2]) & 0xFF
            elif kind != 0:
                raise AssertionError(f"row {y}: filter {kind}")
        rows.append(bytes(line))
        previous = line
    return Png(width, height, rows)


class StepHooks(HTMLParser):
    """data-step-id of the timeline's bars (<g>) and of the steps table's rows (<tr>), from the browser's DOM."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.bars: list[str] = []
        self.rows: list[str] = []
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        step = dict(attrs).get("data-step-id")
        if step is not None:
            (self.bars if tag == "g" else self.rows if tag == "tr" else []).append(step)


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@dataclass
class RealRun:
    report: dict[str, Any]
    served: str
    stored: str


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealRun]:
    chromium()  # before minutes of stack: skip (or fail in CI) first
    state = tmp_path_factory.mktemp("stack")
    with LocalStack(state_dir=state, timers=False) as stack:
        api = Api.for_stack(stack)
        result = drill(stack, api, lambda _: None)
        served = api.call("GET", f"/api/recoveries/{result.run_id}/report.html")
        assert served.status_code == 200, served.text
        container = stack.blob_service("secondary").get_container_client("dr-reports")
        stored = container.download_blob(report_html_blob_name(result.run_id)).readall().decode()
        yield RealRun(result.report, served.text, stored)


@pytest.mark.parametrize("copy", ["served", "stored"])
def test_a_real_report_renders_in_chromium(real_run: RealRun, copy: str, tmp_path: Path) -> None:
    browser = chromium()
    page = tmp_path / "report.html"
    page.write_text(getattr(real_run, copy), encoding="utf-8")
    screenshot = tmp_path / "report.png"
    browse(browser, page, tmp_path / "profile", f"--screenshot={screenshot}")
    image = read_png(screenshot.read_bytes())
    assert (image.width, image.height) == WINDOW
    colours = image.colours()
    background = max(colours.values())
    # Not blank: many colours (text, tables, bars), and a good part of the page not background.
    assert len(colours) > 100, f"{len(colours)} distinct colours"
    assert image.width * image.height - background > image.width * image.height // 50
    # The timeline was painted: the succeeded steps' bars and the data phase's bar in their exact colours.
    assert colours.get(rgb(STATUS_COLOURS["succeeded"]), 0) > 500
    assert colours.get(rgb(PHASE_COLOURS["data"]), 0) > 200

    dom = browse(browser, page, tmp_path / "profile", "--dump-dom").stdout.decode()
    hooks = StepHooks(dom)
    steps = [step["id"] for step in real_run.report["steps"]]
    assert len(steps) >= 5 and real_run.report["mode"] == "drill"
    assert hooks.bars == steps and hooks.rows == steps
