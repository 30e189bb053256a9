"""The static leaderboard site: `index.html` (tables, inline SVG chart, breakdowns, item
browser), `chart.svg`, `leaderboard.json`, `leaderboard.csv`, and `items/` (the browser's
texts, see `page_items`).

CSS, JS and the item index are inlined, so the site works opened from file:// and from any
static host, with no CDN and no server; the texts load on demand from `items/` next to it.
Jinja2 autoescapes every model and judge string; the item data travels as JSON inside
`<script type="application/json">` with `<`, `>` and `&` written as \\u escapes (no text can
close the script element), and the page's JS inserts it with textContent only.

The page is streamed to disk: the template is rendered piece by piece and the item index is
encoded one item at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from justeval.board.loading import ModelItems
from justeval.board.page_items import ITEMS_DIR, PREVIEW_CHARS, remove_stale, script_json, write_item_files
from justeval.board.render import COUNT_COLUMNS, diagnostics_rows, footnotes, partial, to_csv
from justeval.board.schema import dumps as json_dumps
from justeval.board.svg import render_svg
from justeval.board.tables import Leaderboard
from justeval.jsonl import atomic_output
from justeval.paths import data_dir
from justeval.records import Instruction, ItemId

TEMPLATES = data_dir("leaderboard") / "templates"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.StrictUndefined)


@dataclass
class PageSection:
    """A section a feature adds to the page (token shift, score vs K): its HTML (escaped by
    whoever made it), a script run before the page's own (to hook into the item browser), keys
    added to `leaderboard.json` and extra files of the site (name -> text)."""

    id: str
    title: str
    html: Markup
    script: Markup | None = None
    json: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    place: str = "before-items"
    """Where it goes: "after-chart" (right after the per-aspect chart) or "before-items"."""


@dataclass
class SiteContext:
    """What a section maker may use: the board, the item browser's index (None without one) and
    the site folder, with the list of files written so far (a maker appends its own)."""

    board: Leaderboard
    models: Sequence[ModelItems]
    items: Mapping[str, Any] | None
    out: Path
    written: list[Path]


SectionMaker = Callable[[SiteContext], PageSection | None]


def _v(x: float) -> str:
    return "" if math.isnan(x) else repr(round(x, 6))


def _f(x: float, d: int = 2) -> str:
    return "-" if math.isnan(x) else f"{x:.{d}f}"


def _ci(lo: float, hi: float) -> str:
    return "" if math.isnan(lo) or math.isnan(hi) else f"[{lo:.2f}, {hi:.2f}]"


def _rows(board: Leaderboard) -> list[dict[str, Any]]:
    out = []
    for r in board.rows:
        cells = []
        for a in board.aspects:
            s = r.aspects.get(a)
            if s is None or s.n == 0:
                cells.append({"value": "", "mean": "-", "ci": "", "n": 0})
            else:
                cells.append({"value": _v(s.mean), "mean": _f(s.mean), "ci": _ci(s.ci_low, s.ci_high), "n": s.n})
        out.append({
            "rank": r.rank_label, "rank_sort": "" if r.rank is None else r.rank[0] + r.rank[1] / 1000,
            "model": r.model, "self_preference": r.self_preference, "cells": cells,
            "partial": partial(board, r.average_aspects),
            "average": {"value": _v(r.average.mean), "mean": _f(r.average.mean),
                        "ci": _ci(r.average.ci_low, r.average.ci_high)},
            "length": _f(r.length_words, 1), "length_value": _v(r.length_words),
            "counts": [r.counts[k] for k, _ in COUNT_COLUMNS]})
    return out


def _breakdowns(board: Leaderboard) -> list[dict[str, Any]]:
    out = []
    for dim, rows in board.breakdowns.items():
        models = [r.model for r in board.rows]
        cell = {(r.group, r.model): r for r in rows}
        groups = list(dict.fromkeys(r.group for r in rows))
        body = []
        for g in groups:
            cells = []
            for m in models:
                r = cell.get((g, m))
                cells.append({"value": "", "mean": "-", "ci": ""} if r is None else
                             {"value": _v(r.average.mean), "mean": _f(r.average.mean),
                              "ci": _ci(r.average.ci_low, r.average.ci_high)})
            n = max((r.items for (gg, _), r in cell.items() if gg == g), default=0)
            body.append({"group": g, "n": n, "cells": cells})
        out.append({"dimension": dim, "models": models, "rows": body})
    return out


def items_chunks(data: Mapping[str, Any], size: int = 1 << 16) -> Iterator[Markup]:
    """`script_json(data)` in pieces of about `size` characters: the lists "items" and "cells"
    are encoded one element at a time, so the page never holds the whole index as one string."""
    keys = list(data)
    for n, key in enumerate(keys):
        value = data[key]
        yield Markup("{" if n == 0 else ",") + script_json(key) + Markup(":")
        if key not in ("items", "cells") or not isinstance(value, list):
            yield script_json(value)
            continue
        buf: list[str] = ["["]
        filled = 0
        for k, element in enumerate(value):
            text = script_json(element)
            buf.append("," + text if k else text)
            filled += len(text) + 1
            if filled >= size:
                yield Markup("".join(buf))
                buf, filled = [], 0
        yield Markup("".join(buf) + "]")
    yield Markup("}" if keys else "{}")


def judge_context(board: Leaderboard) -> dict[str, Any]:
    """The page's Judge section (`judge_section.html.j2`): its table and notes, or nothing."""
    if board.judge_eval is None:
        return {"judge_eval": None}
    from justeval.board.judge_section import section_notes, section_rows

    header, rows = section_rows(board.judge_eval)
    return {"judge_eval": {"header": header, "rows": rows, "notes": section_notes(board.judge_eval)}}


def iter_page(board: Leaderboard, items: Mapping[str, Any] | None = None, *, svg_file: str | None = None,
              title: str = "justeval leaderboard", sections: Sequence[PageSection] = ()) -> Iterator[str]:
    """The page as a stream of text pieces; `items` is the item browser's index written by
    `page_items.write_item_files` (None: a page without the browser)."""
    from justeval import __version__

    header, diag = diagnostics_rows(board)
    diag_rows = [[{"text": c, "value": c.split(" ")[0] if k else c} for k, c in enumerate(row)] for row in diag]
    judges = sorted({j for r in board.rows for s in r.aspects.values() for j in s.judges})
    templates = sorted({f"{t['name']}@{t['hash']}" for r in board.rows for s in r.aspects.values()
                        for t in s.templates})
    has_items = bool(items and items.get("items"))
    context = {
        "title": title, "version": __version__, "settings": board.settings, "models": [r.model for r in board.rows],
        "judges": judges, "templates": templates, "aspects": board.aspects, "count_columns": COUNT_COLUMNS,
        "rows": _rows(board), "notes": footnotes(board), "svg": Markup(render_svg(board)),
        "svg_narrow": Markup(render_svg(board, narrow=True)), "svg_file": svg_file,
        "diag_header": header, "diag_rows": diag_rows, "breakdowns": _breakdowns(board),
        "has_items": has_items, "preview_chars": PREVIEW_CHARS,
        "items_chunks": items_chunks(items) if items and has_items else iter(()),
        "css": Markup((TEMPLATES / "site.css").read_text("utf-8")),
        "js": Markup((TEMPLATES / "site.js").read_text("utf-8")),
        **judge_context(board),
        "sections": list(sections),
    }
    return _env().get_template("index.html.j2").generate(**context)


def render_page(board: Leaderboard, *, svg_file: str | None = None, title: str = "justeval leaderboard",
                sections: Sequence[PageSection] = ()) -> str:
    """The page without the item browser as one string (`leaderboard --format html`)."""
    return "".join(iter_page(board, None, svg_file=svg_file, title=title, sections=sections))


def board_json(board: Leaderboard, sections: Sequence[PageSection] = ()) -> str:
    """`leaderboard.json`: the board's JSON with the keys the sections add (new optional keys)."""
    if not any(s.json for s in sections):
        return json_dumps(board)
    import json

    from justeval.board.schema import to_json

    data = to_json(board)
    for s in sections:
        data.update(s.json)
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def publish_site(board: Leaderboard, models: Sequence[ModelItems], out: str | Path,
                 tags: Mapping[ItemId, Instruction] | None = None,
                 sections: Sequence[SectionMaker] = ()) -> list[Path]:
    """Write the site into `out`; returns the files written. The item browser's side files
    (and those of the sections) go first and `index.html` last, so the page never points at
    files not yet there."""
    out = Path(out)
    written: list[Path] = []
    if any(len(m.ids) for m in models):
        items, written = write_item_files(board, models, out, tags)
    else:
        items = None
        remove_stale(out / ITEMS_DIR, [])
    context = SiteContext(board=board, models=models, items=items, out=out, written=written)
    made = [s for s in (maker(context) for maker in sections) if s is not None]
    files: dict[str, str | Iterator[str]] = {
        "chart.svg": render_svg(board), "leaderboard.json": board_json(board, made), "leaderboard.csv": to_csv(board)}
    for section in made:
        files.update(section.files)
    files["index.html"] = iter_page(board, items, svg_file="chart.svg", sections=made)
    for name, text in files.items():
        with atomic_output(out / name) as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                for piece in text:
                    fh.write(piece)
        (out / name).chmod(0o644)  # a site is for reading: not the private mode of a temp file
        written.append(out / name)
    return written
