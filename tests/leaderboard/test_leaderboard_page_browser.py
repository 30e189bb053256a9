"""The published page in headless Chromium: it renders, sorting reorders rows, and model text
with markup shows as text and runs nothing. Skipped when no Chromium is installed."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from justeval.leaderboard import Settings, build_leaderboard
from justeval.leaderboard.publish import publish_site

from .runs import REGULAR, generation, judgment, write_run

pytestmark = pytest.mark.browser

EVIL = ('<script>document.title="pwned";window.__pwned=true</script>'
        '<img src=x onerror="document.title=\'pwned\';window.__pwned=true">')
# (model, helpfulness, other regular aspects): the average order differs from the helpfulness order.
MODELS = [("model-a", 2.0, 5.0), ("model-b", 5.0, 3.0), ("model-c", 4.0, 4.0)]


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def chromium() -> str:
    path = _browser()
    if path is None:
        pytest.skip("headless Chromium not installed")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    runs = []
    for name, helpful, rest in MODELS:
        gens, judg = [], []
        for i in range(4):
            output = EVIL if (name == "model-b" and i == 0) else f"{name} answers item {i} politely."
            gens.append(generation(i, name, output))
            judg.append(judgment(i, name, {**{a: rest for a in REGULAR}, "helpfulness": helpful},
                                 rationale=EVIL if i == 0 else "clear enough"))
        runs.append(write_run(tmp_path / name, gens, judg))
    built = build_leaderboard(runs, settings=Settings(bootstrap=50), by=["dataset"], keep_judgments=True)
    publish_site(built.board, built.models, tmp_path / "site")
    yield tmp_path / "site"


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


def _probe(chromium: str, site: Path, tmp_path: Path, test: str) -> tuple[dict[str, Any], str]:
    url = (site / "index.html").as_uri() + "?test=" + test
    proc = _run(chromium, tmp_path / "profile", "--virtual-time-budget=3000", "--dump-dom", url)
    found = re.search(r'<pre id="test-output">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"no test output in the dumped DOM: {proc.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1))), proc.stdout


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_page_renders_in_headless_chromium(chromium: str, site: Path, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    proc = _run(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1600",
                (site / "index.html").as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    width, height, pixels = _png_pixels(shot)
    assert (width, height) == (1280, 1600)
    assert len(set(pixels)) > 50  # text, table rules and chart, not a blank page
    state, dom = _probe(chromium, site, tmp_path, "probe")
    by_average = [m for m, h, r in sorted(MODELS, key=lambda m: -(m[1] + 4 * m[2]) / 5)]
    assert state["models"] == by_average
    assert state["items"] == 4
    assert "Scores by aspect" in dom and "<svg" in dom


def test_clicking_a_header_sorts_the_rows(chromium: str, site: Path, tmp_path: Path) -> None:
    by_help_desc = [m for m, _, _ in sorted(MODELS, key=lambda m: -m[1])]
    state, _ = _probe(chromium, site, tmp_path, "sort:2")  # column 2 = helpfulness
    assert state["models"] == by_help_desc
    state, _ = _probe(chromium, site, tmp_path, "sort:2,2")  # second click: ascending
    assert state["models"] == list(reversed(by_help_desc))
    state, _ = _probe(chromium, site, tmp_path, "sort:1")  # model name, A to Z
    assert state["models"] == sorted(m for m, _, _ in MODELS)


def test_model_output_with_markup_shows_as_text_and_runs_nothing(chromium: str, site: Path,
                                                                  tmp_path: Path) -> None:
    state, dom = _probe(chromium, site, tmp_path, "search:pwned")
    assert state["late"] is True  # the report after 500 ms ran, so an onerror would have fired by then
    assert state["pwned"] is False
    assert state["title"] == "justeval leaderboard"
    assert state["imgs"] == 0  # the <img> never became an element
    assert state["items"] == 1
    assert html.escape(EVIL, quote=False) in dom  # shown as text in the item browser
    assert "<img src=\"x\"" not in dom and "<script>document.title" not in dom
