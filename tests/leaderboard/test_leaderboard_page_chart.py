"""The page's chart and how the page is written: every chart panel shares one scale, tick labels
stay inside their panel, the chart wraps to a bounded width and scales with its viewBox, and the
streamed page equals the page rendered in one piece."""

from __future__ import annotations

import itertools
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from justeval.board import Settings, build_leaderboard
from justeval.board.page_items import write_item_files
from justeval.board.publish import items_chunks, iter_page, publish_site, script_json
from justeval.board.svg import MAX_WIDTH, render_svg, text_width

from .runs import REGULAR, generation, judgment, uniform_run, write_run

NS = "{http://www.w3.org/2000/svg}"


def _panels(svg: str) -> list[dict[str, Any]]:
    """Each panel of the SVG: plot box, tick (x, label, anchor) and marks (cx, mean from the tooltip)."""
    root = ET.fromstring(svg)
    out = []
    for g in root.iter(f"{NS}g"):
        if g.get("class") != "panel":
            continue
        plot = next(r for r in g.iter(f"{NS}rect") if r.get("class") == "plot")
        ticks = [(float(t.get("x", "")), float(t.text or ""), t.get("text-anchor"))
                 for t in g.iter(f"{NS}text") if t.get("class") == "tick"]
        marks = []
        for mark in g.findall(f"{NS}g"):
            tip = mark.findtext(f"{NS}title") or ""
            found = re.search(r": ([0-9.]+)(?: \[([0-9.]+), ([0-9.]+)\])?$", tip)
            assert found, tip
            circle = mark.find(f"{NS}circle")
            assert circle is not None
            marks.append((float(circle.get("cx", "")), float(found.group(1))))
        title = next(t.text for t in g.iter(f"{NS}text") if t.get("class") != "tick")
        out.append({"title": title, "x": float(plot.get("x", "")), "width": float(plot.get("width", "")),
                    "y": float(plot.get("y", "")), "ticks": ticks, "marks": marks})
    return out


def _spread_runs(tmp_path: Path) -> list[Path]:
    """Aspects far apart: helpfulness near 1.5-2.5, the rest near 4-5, safety 5."""
    runs = []
    for k, name in enumerate(["low", "mid", "high"]):
        gens, judg = [], []
        for i in range(4):
            gens.append(generation(i, name, "some words " * (i + 1)))
            judg.append(judgment(i, name, {**{a: 4.0 + (i + k) % 2 for a in REGULAR},
                                           "helpfulness": 1.0 + (i + k) % 3}))
        gens.append(generation(900, name, "no", category="safety"))
        judg.append(judgment(900, name, {"safety": 5.0}, category="safety"))
        runs.append(write_run(tmp_path / name, gens, judg))
    return runs


def test_every_panel_uses_one_scale(tmp_path: Path) -> None:
    board = build_leaderboard(_spread_runs(tmp_path), settings=Settings(bootstrap=50)).board
    panels = _panels(render_svg(board))
    assert [p["title"] for p in panels] == [*board.aspects, "average"]
    relative = {tuple((x - p["x"], v) for x, v, _ in p["ticks"]) for p in panels}
    assert len(relative) == 1  # same tick values at the same offsets in every panel
    ((first_off, lo), *_, (last_off, hi)) = next(iter(relative))
    assert first_off == 0 and last_off == panels[0]["width"]  # the scale spans the panel
    stats = [s for r in board.rows for s in r.aspects.values()] + [r.average for r in board.rows]
    values = [v for s in stats for v in (s.mean, s.ci_low, s.ci_high) if not math.isnan(v)]
    assert lo <= min(values) and max(values) <= hi  # nothing clipped
    for p in panels:  # the same score sits at the same place in every panel
        for cx, mean in p["marks"]:
            assert (cx - p["x"]) / p["width"] * (hi - lo) + lo == pytest.approx(mean, abs=2e-3), p["title"]


def test_tick_labels_stay_inside_their_panel(tmp_path: Path) -> None:
    board = build_leaderboard(_spread_runs(tmp_path), settings=Settings(bootstrap=50)).board
    for p in _panels(render_svg(board)):
        (x0, _, a0), *middle, (x1, _, a1) = p["ticks"]
        assert (x0, a0) == (p["x"], "start") and (x1, a1) == (p["x"] + p["width"], "end")
        xs = [x0, *(x for x, _, _ in middle), x1]
        gaps = [b - a for a, b in itertools.pairwise(xs)]
        assert all(anchor == "middle" for _, _, anchor in middle) and min(gaps) >= 20


@pytest.mark.parametrize("name_length", [4, 40])
def test_chart_wraps_to_a_bounded_width_and_scales(tmp_path: Path, name_length: int) -> None:
    runs = [uniform_run(tmp_path / f"m{k}", f"m{k}" + "x" * name_length, [3.0 + k / 2, 4.0], safety=[4.5])
            for k in range(3)]
    board = build_leaderboard(runs, settings=Settings(bootstrap=20)).board
    svg = render_svg(board)
    root = ET.fromstring(svg)
    width, height = int(root.get("width", "")), int(root.get("height", ""))
    assert root.get("viewBox") == f"0 0 {width} {height}"  # scales to its box in the page
    assert width <= MAX_WIDTH
    panels = _panels(svg)
    assert len(panels) == len(board.aspects) + 1
    assert all(p["x"] + p["width"] <= width for p in panels)
    rows = sorted({p["y"] for p in panels})
    if name_length == 40:  # wide labels leave room for fewer panels a row
        assert len(rows) > 1
    names = {r.model for r in board.rows}
    groups = [g for g in root.iter(f"{NS}g") if g.get("class") == "label"]
    full = [g.findtext(f"{NS}title") for g in groups]
    assert sorted(full) == sorted(list(names) * len(rows))  # the model names head every row of panels
    label_room = min(p["x"] for p in panels) - 16
    for g in groups:
        name, shown = g.findtext(f"{NS}title") or "", g.findtext(f"{NS}text") or ""
        assert text_width(shown) <= label_room  # never cut at the chart's edge
        if shown != name:  # too long: its start and end are kept around an ellipsis
            head, tail = shown.split("…")
            assert name.startswith(head) and name.endswith(tail) and len(head) + len(tail) >= 8
    if name_length == 40:
        assert any(g.findtext(f"{NS}text") != g.findtext(f"{NS}title") for g in groups)


def test_streamed_page_equals_the_page_in_one_piece(tmp_path: Path) -> None:
    gens = [generation(i, "m", f"answer {i} <b>&</b> \u2028") for i in range(5)]
    judg = [judgment(i, "m", {a: float(1 + i % 5) for a in REGULAR}, rationale="</script>") for i in range(5)]
    built = build_leaderboard([write_run(tmp_path / "r", gens, judg)], settings=Settings(bootstrap=20),
                              keep_judgments=True)
    data, _ = write_item_files(built.board, built.models, tmp_path / "other-site")
    pieces = list(items_chunks(data, size=1))
    assert len(pieces) > 3  # really written a piece at a time
    assert "".join(pieces) == str(script_json(data))
    publish_site(built.board, built.models, tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert page == "".join(iter_page(built.board, data, svg_file="chart.svg"))
    blob = re.search(r'<script type="application/json" id="items-data">(.*?)</script>', page, re.S)
    assert blob is not None and json.loads(blob.group(1)) == json.loads(json.dumps(data))
