"""The static leaderboard site: `index.html` (tables, inline SVG chart, breakdowns, item
browser), `chart.svg`, `leaderboard.json` and `leaderboard.csv`.

One self-contained HTML file: CSS, JS and the item data are inlined, so it works opened from
file:// and from any static host, with no CDN and no server. Jinja2 autoescapes every model
and judge string; the item data travels as JSON inside `<script type="application/json">`
with `<`, `>` and `&` written as \\u escapes (no text can close the script element), and the
page's JS inserts it with textContent only.

The page is streamed to disk: the template is rendered piece by piece and the item data is
encoded one item at a time, so a large board (50 models x 1,000 items is ~65 MB of page) never
exists as one string, nor as its JSON plus its escaped copies plus the joined page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from justeval.board.loading import ModelItems
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


def script_json(data: Any) -> Markup:
    """JSON that is safe inside a <script> element: no `<`, `>` or `&` survives unescaped."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


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
            "model": r.model, "cells": cells, "partial": partial(board, r.average_aspects),
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


def item_data(board: Leaderboard, models: Sequence[ModelItems],
              tags: Mapping[ItemId, Instruction] | None = None) -> dict[str, Any]:
    """Every item with each model's output, scores, rationales and judgment status."""
    order = [r.model for r in board.rows]
    by_name = {m.model: m for m in models}
    items: dict[ItemId, dict[str, Any]] = {}
    for k_model, name in enumerate(order):
        mi = by_name[name]
        for k, item_id in enumerate(mi.ids):
            it = items.get(item_id)
            if it is None:
                tag = (tags or {}).get(item_id)
                it = items[item_id] = {
                    "id": item_id, "instruction": tag.instruction if tag else "", "dataset": str(mi.dataset[k]),
                    "category": str(mi.category[k]), "tasks": list(tag.task_types) if tag else [],
                    "topics": list(tag.topics) if tag else [], "difficulty": tag.difficulty if tag else None,
                    "outputs": [None] * len(order)}
            recs = mi.judgments.get(item_id, [])
            if not it["instruction"]:
                it["instruction"] = _instruction(mi, k)
            scores: dict[str, float | None] = {}
            rationales: dict[str, str] = {}
            statuses = []
            for j in recs:
                scores.update(j.scores)
                rationales.update(j.rationales)
                statuses.append(j.status)
            status = "not judged" if not recs else next((s for s in statuses if s != "ok"), "ok")
            if mi.gen_error[k]:
                status = "generation error"
            it["outputs"][k_model] = {"output": mi.outputs[k], "scores": scores, "rationales": rationales,
                                      "status": status}
    ordered = sorted(items.values(), key=lambda it: (isinstance(it["id"], str), str(it["id"]).zfill(12)))
    return {"models": order, "aspects": board.aspects, "items": ordered}


def _instruction(mi: ModelItems, k: int) -> str:
    return mi.instructions[k]


def items_chunks(data: Mapping[str, Any], size: int = 1 << 16) -> Iterator[Markup]:
    """`script_json(data)` in pieces of about `size` characters, encoding one item at a time."""
    yield Markup('{"models":') + script_json(data["models"]) + Markup(',"aspects":') + \
        script_json(data["aspects"]) + Markup(',"items":[')
    buf: list[str] = []
    filled = 0
    for k, item in enumerate(data["items"]):
        text = script_json(item)
        buf.append("," + text if k else text)
        filled += len(text) + 1
        if filled >= size:
            yield Markup("".join(buf))
            buf, filled = [], 0
    yield Markup("".join(buf) + "]}")


def iter_page(board: Leaderboard, models: Sequence[ModelItems] = (),
              tags: Mapping[ItemId, Instruction] | None = None, *, with_items: bool = True,
              svg_file: str | None = None, title: str = "justeval leaderboard") -> Iterator[str]:
    """The page as a stream of text pieces (see `render_page`)."""
    from justeval import __version__

    header, diag = diagnostics_rows(board)
    diag_rows = [[{"text": c, "value": c.split(" ")[0] if k else c} for k, c in enumerate(row)] for row in diag]
    judges = sorted({j for r in board.rows for s in r.aspects.values() for j in s.judges})
    templates = sorted({f"{t['name']}@{t['hash']}" for r in board.rows for s in r.aspects.values()
                        for t in s.templates})
    has_items = bool(with_items and models)
    context = {
        "title": title, "version": __version__, "settings": board.settings, "models": [r.model for r in board.rows],
        "judges": judges, "templates": templates, "aspects": board.aspects, "count_columns": COUNT_COLUMNS,
        "rows": _rows(board), "notes": footnotes(board), "svg": Markup(render_svg(board)), "svg_file": svg_file,
        "diag_header": header, "diag_rows": diag_rows, "breakdowns": _breakdowns(board),
        "has_items": has_items,
        "items_chunks": items_chunks(item_data(board, models, tags)) if has_items else iter(()),
        "css": Markup((TEMPLATES / "site.css").read_text("utf-8")),
        "js": Markup((TEMPLATES / "site.js").read_text("utf-8")),
    }
    return _env().get_template("index.html.j2").generate(**context)


def render_page(board: Leaderboard, models: Sequence[ModelItems] = (),
                tags: Mapping[ItemId, Instruction] | None = None, *, with_items: bool = True,
                svg_file: str | None = None, title: str = "justeval leaderboard") -> str:
    """The whole page as one string (fine for a page without items; `publish_site` streams)."""
    return "".join(iter_page(board, models, tags, with_items=with_items, svg_file=svg_file, title=title))


def publish_site(board: Leaderboard, models: Sequence[ModelItems], out: str | Path,
                 tags: Mapping[ItemId, Instruction] | None = None) -> list[Path]:
    """Write the site into `out`; returns the files written."""
    out = Path(out)
    files: dict[str, str | Iterator[str]] = {
        "chart.svg": render_svg(board), "leaderboard.json": json_dumps(board), "leaderboard.csv": to_csv(board),
        "index.html": iter_page(board, models, tags, svg_file="chart.svg")}
    written = []
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
