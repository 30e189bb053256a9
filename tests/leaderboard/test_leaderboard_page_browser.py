"""The published page in headless Chromium: it renders, sorting reorders rows (ties broken by a
fixed rule), model text with markup shows as text and runs nothing, the item browser's filters
and search show the right items, and at 1400 px nothing needs the page to scroll sideways.
Skipped when no Chromium is installed."""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from justeval.board import Settings, build_leaderboard
from justeval.board.publish import publish_site

from .devtools import phone_probe
from .runs import REGULAR, generation, judgment, uniform_run, write_run

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


def _probe(chromium: str, site: Path, tmp_path: Path, test: str,
           window: str | None = None) -> tuple[dict[str, Any], str]:
    url = (site / "index.html").as_uri() + "?test=" + quote(test, safe="")
    size = [f"--window-size={window}"] if window else []
    proc = _run(chromium, tmp_path / "profile", *size, "--virtual-time-budget=3000", "--dump-dom", url)
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


# ---- sorting: rows tied on the sorted column follow a fixed rule ----

# Every regular aspect of item i scores SCORES[model][i]: few items and spread scores, so all the
# CIs overlap and the models share one rank range; alpha and zulu have the same average.
TIED = {"alpha": [3.0, 4.0, 5.0, 3.0, 4.0, 5.0], "zulu": [5.0, 4.0, 3.0, 5.0, 4.0, 3.0],
        "mike": [2.0, 4.0, 5.0, 3.0, 4.0, 5.0], "bravo": [4.0, 4.0, 5.0, 3.0, 4.0, 5.0]}


def test_sorting_by_rank_breaks_ties_by_average_then_name(chromium: str, tmp_path: Path) -> None:
    runs = [uniform_run(tmp_path / name, name, scores) for name, scores in TIED.items()]
    board = build_leaderboard(runs, settings=Settings(bootstrap=200)).board
    publish_site(board, [], tmp_path / "site")
    rank = {r.model: r.rank for r in board.rows}
    assert len(set(rank.values())) < len(rank)  # there are ties to break
    mean = {m: sum(s) / len(s) for m, s in TIED.items()}
    expected = sorted(TIED, key=lambda m: (rank[m], -mean[m], m))
    by_name_desc = sorted(TIED, reverse=True)
    assert by_name_desc != expected  # the earlier sort leaves an order the tie-break must undo

    state, _ = _probe(chromium, tmp_path / "site", tmp_path, "sort:1,1")  # model name, Z to A
    assert state["models"] == by_name_desc
    state, _ = _probe(chromium, tmp_path / "site", tmp_path, "sort:1,1;sort:0")  # then rank
    assert state["models"] == expected
    # rank descending: the ranks reverse, tied rows keep the same rule (average, then name)
    state, _ = _probe(chromium, tmp_path / "site", tmp_path, "sort:1,1;sort:0,0")
    assert state["models"] == sorted(TIED, key=lambda m: (tuple(-x for x in rank[m] or ()), -mean[m], m))


# ---- item browser: dataset, task and model filters and text search ----

DATASETS = ["alpaca_eval", "lima", "mt"]
TASKS = ["coding", "info-seek", "math", "writing"]
BROWSER_MODELS = ["m-one", "m-two", "m-three"]


@pytest.fixture
def items_site(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """30 tagged items; m-three answers only the even ones; 'Zebra' in some texts."""
    rnd = random.Random(7)
    tags: list[dict[str, Any]] = []
    for i in range(30):
        tasks = rnd.sample(TASKS, rnd.choice([1, 2]))
        text = f"Question {i} about " + ("a zebra crossing" if i % 7 == 3 else "the weather")
        tags.append({"id": i, "instruction": text, "dataset": DATASETS[i % 3], "category": "regular",
                     "task_types": tasks, "topics": ["misc"]})
    instructions = tmp_path / "instructions.jsonl"
    instructions.write_text("".join(json.dumps(t) + "\n" for t in tags), encoding="utf-8")
    outputs: dict[str, dict[int, str]] = {}
    runs = []
    for k, name in enumerate(BROWSER_MODELS):
        ids = [t["id"] for t in tags if name != "m-three" or t["id"] % 2 == 0]
        outputs[name] = {i: f"{name} says {'ZEBRA stripes' if (i + k) % 5 == 0 else 'hello'} on {i}" for i in ids}
        gens, judg = [], []
        for i in ids:
            g = generation(i, name, outputs[name][i], dataset=DATASETS[i % 3])
            g["instruction"] = tags[i]["instruction"]
            gens.append(g)
            judg.append(judgment(i, name, {a: float(1 + (i + k) % 5) for a in REGULAR}))
        runs.append(write_run(tmp_path / name, gens, judg))
    built = build_leaderboard(runs, settings=Settings(bootstrap=20), instructions=str(instructions),
                              keep_judgments=True, want_tags=True)
    publish_site(built.board, built.models, tmp_path / "site", built.tags)
    return tmp_path / "site", {"tags": tags, "outputs": outputs}


def _expected(data: dict[str, Any], dataset: str = "", task: str = "", model: str = "",
              text: str = "") -> list[int]:
    """The ids the browser should show, worked out from the records the fixture wrote."""
    q = text.strip().lower()
    shown = []
    for t in data["tags"]:
        answered = {m: out[t["id"]] for m, out in data["outputs"].items() if t["id"] in out}
        if (dataset and t["dataset"] != dataset) or (task and task not in t["task_types"]):
            continue
        if model and model not in answered:
            continue
        if q and q not in t["instruction"].lower() and not any(
                q in o.lower() for m, o in answered.items() if not model or m == model):
            continue
        shown.append(t["id"])
    return shown


@pytest.mark.parametrize("filters", [
    {}, {"dataset": "lima"}, {"task": "math"}, {"model": "m-three"}, {"text": "zebra"},
    {"dataset": "mt", "task": "coding"}, {"model": "m-two", "text": "Zebra"},
    {"dataset": "alpaca_eval", "model": "m-three", "text": "zebra"}, {"text": "no such words"},
])
def test_item_browser_filters_and_search(chromium: str, items_site: tuple[Path, dict[str, Any]],
                                         tmp_path: Path, filters: dict[str, str]) -> None:
    site, data = items_site
    steps = [f"filter:{k}={quote(v, safe='')}" for k, v in filters.items() if k != "text"]
    if "text" in filters:
        steps.append("search:" + quote(filters["text"], safe=""))
    state, _ = _probe(chromium, site, tmp_path, ";".join(steps) or "probe")
    expected = _expected(data, **filters)
    total = len(data["tags"])
    assert state["items"] == len(expected)
    assert state["count"] == f"{len(expected)} of {total} items"
    first_page = expected[:20]  # 20 items a page, in id order
    assert state["cards"] == len(first_page)
    model = filters.get("model")
    shown_outputs = sum(1 for i in first_page for m, out in data["outputs"].items()
                        if i in out and (not model or m == model))
    assert state["outputs"] == shown_outputs
    if filters:  # each filter narrows the 30 items (and a search for absent words finds none)
        assert len(expected) < total


# ---- layout at 1400 px: nothing needs the page to scroll sideways ----

LONG_NAMES = ["Mistral-7B-Instruct-v0.1", "Llama-2-70b-chat-hf-long", "gpt-3.5-turbo-0301-snap"]


@pytest.fixture
def wide_site(tmp_path: Path) -> Path:
    """Six aspects (regular and safety), long model names: the audit's widest usual board."""
    runs = [uniform_run(tmp_path / name, name, [2.0 + k, 3.0, 4.0, 5.0 - k / 2], safety=[5.0, 4.0 + k / 2, 3.0])
            for k, name in enumerate(LONG_NAMES)]
    built = build_leaderboard(runs, settings=Settings(bootstrap=50), keep_judgments=True)
    publish_site(built.board, built.models, tmp_path / "site")
    return tmp_path / "site"


@pytest.mark.parametrize("window", ["1400,900", "1366,900"])
def test_tables_and_chart_fit_the_page(chromium: str, wide_site: Path, tmp_path: Path, window: str) -> None:
    state, _ = _probe(chromium, wide_site, tmp_path, "probe", window=window)
    lay = state["layout"]
    assert lay["pageScrollWidth"] <= lay["pageClientWidth"]
    boxes = {b["id"]: b for b in lay["boxes"]}
    for table in ("leaderboard", "diagnostics"):  # the whole table shows, no scrolling in its box
        assert boxes[table]["contentWidth"] <= boxes[table]["clientWidth"], table
        assert boxes[table]["scrollWidth"] <= boxes[table]["clientWidth"], table
    assert 0 < lay["svgWidth"] <= boxes["chart"]["clientWidth"]
    panels = 6 + 1  # five regular aspects, safety, and the average
    assert lay["tickLabels"] >= 2 * panels
    assert lay["tickOverlaps"] == 0 and lay["ticksOutsidePanel"] == 0
    assert lay["tickClosest"] >= 4  # px between the nearest labels on one line


def test_a_table_too_wide_for_the_window_scrolls_in_its_own_box(chromium: str, wide_site: Path,
                                                                 tmp_path: Path) -> None:
    state, _ = _probe(chromium, wide_site, tmp_path, "probe", window="800,900")
    lay = state["layout"]
    board = next(b for b in lay["boxes"] if b["id"] == "leaderboard")
    assert board["scrollWidth"] > board["clientWidth"]  # wider than the window: it scrolls...
    assert lay["pageScrollWidth"] <= lay["pageClientWidth"]  # ...inside its box, not the page
    assert lay["svgWidth"] <= next(b for b in lay["boxes"] if b["id"] == "chart")["clientWidth"]  # scaled down


# ---- long outputs: previews load by chunk, whole texts on request, search reaches every chunk ----

@pytest.fixture
def long_site(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """60 items of ~5 KB outputs: three preview files per model; item 57's output alone says
    'quokka', past its preview, and item 41's says 'wombat' inside its preview."""
    outputs: dict[int, str] = {}
    gens, judg = [], []
    for i in range(60):
        text = f"Answer {i}. " + "All work and no play makes a long answer. " * 120
        if i == 41:
            text = "A wombat " + text
        if i == 57:
            text = text + " and finally a quokka."
        outputs[i] = text
        gens.append(generation(i, "long-model", text))
        judg.append(judgment(i, "long-model", {a: float(1 + i % 5) for a in REGULAR}))
    run = write_run(tmp_path / "long", gens, judg)
    built = build_leaderboard([run], settings=Settings(bootstrap=20), keep_judgments=True)
    publish_site(built.board, built.models, tmp_path / "site")
    return tmp_path / "site", outputs


def test_outputs_show_their_preview_and_their_whole_text_on_request(
        chromium: str, long_site: tuple[Path, dict[int, str]], tmp_path: Path) -> None:
    site, outputs = long_site
    assert len(list((site / "items").glob("m000-0*.js"))) >= 3  # the previews really are in several files
    state, _ = _probe(chromium, site, tmp_path, "probe")
    assert state["failed"] == [] and state["loading"] == 0
    assert state["cards"] == 20 and state["texts"] == [4096] * 20  # the first 4,096 characters each
    state, _ = _probe(chromium, site, tmp_path, "full")
    assert state["texts"] == [len(outputs[i]) for i in range(20)]  # the whole texts, once asked for


@pytest.mark.parametrize(("word", "expected"), [("wombat", [41]), ("quokka", [])])
def test_search_loads_every_preview_file_it_needs(chromium: str, long_site: tuple[Path, dict[int, str]],
                                                 tmp_path: Path, word: str, expected: list[int]) -> None:
    site, _ = long_site
    state, dom = _probe(chromium, site, tmp_path, f"search:{word}")
    assert state["failed"] == []
    assert state["items"] == len(expected)  # item 41 is in the second preview file, not the first
    assert state["count"] == f"{len(expected)} of 60 items"  # done searching: nothing still loading
    if expected:
        assert "#41 · alpaca_eval" in dom


# ---- a phone: 390 px wide ----

PHONE_NAMES = ["Meta-Llama-3.1-405B-Instruct-Turbo-with-a-long-suffix", "Mistral-7B-Instruct-v0.1",
               "gpt-4o-mini-2024-07-18-and-then-some-more-words"]


@pytest.fixture
def phone_site(tmp_path: Path) -> Path:
    runs = []
    for k, name in enumerate(PHONE_NAMES):
        gens, judg = [], []
        for i in range(6):
            text = ("See https://example.com/" + "x" * 300 + " " + "words and more words " * 60) if i % 2 == 0 \
                else "Short."
            g = generation(i, name, text)
            g["instruction"] = "Explain " + "averyveryverylongwordwithoutspaces" * 8
            gens.append(g)
            judg.append(judgment(i, name, {a: float(1 + (i + k) % 5) for a in REGULAR},
                                 rationale="because " + "z" * 200))
        runs.append(write_run(tmp_path / f"r{k}", gens, judg))
    built = build_leaderboard(runs, settings=Settings(bootstrap=20), by=["dataset"], keep_judgments=True)
    publish_site(built.board, built.models, tmp_path / "site")
    return tmp_path / "site"


def test_on_a_phone_nothing_sticks_out_and_no_name_is_cut(chromium: str, phone_site: Path, tmp_path: Path) -> None:
    shot = tmp_path / "phone.png"
    state = phone_probe(chromium, (phone_site / "index.html").as_uri() + "?test=probe", tmp_path / "profile",
                        screenshot=shot)
    lay = state["layout"]
    assert lay["pageClientWidth"] == 390
    assert lay["pageScrollWidth"] <= lay["pageClientWidth"]  # the page never scrolls sideways
    assert state["outputs"] == 6 * 3
    assert lay["cardsOutside"] == 0  # every item and output card within the list
    assert lay["textsOverflowing"] == 0  # long words and URLs wrap inside their card
    chart = next(b for b in lay["boxes"] if b["id"] == "chart")
    assert 0 < lay["svgWidth"] <= chart["clientWidth"] < 390
    assert lay["svgWidth"] > 0.8 * chart["clientWidth"]  # the narrow chart, not the wide one shrunk
    assert lay["modelLabels"] == 3 * 6  # each name heads each of the six one-panel rows (5 aspects, average)
    assert lay["modelLabelsCut"] == 0 and lay["ticksOutsidePanel"] == 0 and lay["tickOverlaps"] == 0
    width, _, pixels = _png_pixels(shot)
    assert width == 390 * 3 and len(set(pixels)) > 50  # a phone's screen, with the page on it


def test_on_a_desktop_long_names_are_shortened_not_cut(chromium: str, phone_site: Path, tmp_path: Path) -> None:
    state, _ = _probe(chromium, phone_site, tmp_path, "probe", window="1400,900")
    lay = state["layout"]
    assert lay["modelLabels"] >= 3 and lay["modelLabelsCut"] == 0
    assert lay["pageScrollWidth"] <= lay["pageClientWidth"]
    assert lay["cardsOutside"] == 0 and lay["textsOverflowing"] == 0
