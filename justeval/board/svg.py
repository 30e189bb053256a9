"""The per-aspect chart: one panel per aspect (and the average), models as rows, a dot at the
mean and a bar for the 95% CI. Rendered at build time to SVG (no JavaScript, no fonts to
fetch), so it shows the same inline in the page, as a file in a paper, or in a README.

Every panel uses one shared x scale, so a dot further right is a higher score in every panel
and aspects can be compared by eye. The scale covers the range all panels' means and CIs
occupy (snapped to half points, or whole points when wider than two), not always 1-5,
because differences of a tenth of a point are invisible on the full scale; the tick labels
say where it is. Panels wrap into rows so the chart is at most MAX_WIDTH wide, and it carries
a viewBox, so the page can shrink it to its column (`width: 100%`) without cutting panels off.
Tick labels stay inside their own panel (the first is left-aligned to its tick, the last
right-aligned), so labels of neighbouring panels never run into each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from justeval.board.tables import Leaderboard
from justeval.paths import data_dir

ROW = 18            # height of one model's row
PANEL = 130         # width of one panel's plot area
GAP = 28            # space between panels
TITLE = 30          # chart title band
PANEL_HEAD = 28     # panel titles above the plot area
AXIS = 24           # tick labels below the plot area
ROW_GAP = 14        # space between rows of panels
RIGHT = 12          # right margin
MAX_WIDTH = 1280    # panels wrap into rows beyond this (the page column is ~1340 px at 1400)
LABEL_MAX = 260     # the model-name column at most; longer names are shortened in the middle
TICK_FONT = 10
# The page's narrow chart, shown instead on a phone: one panel a row, names in at most 150 px.
NARROW = {"max_width": 360, "label_max": 150, "panel": 170}

# Approximate advance widths at 12 px in the common sans-serif fonts, erring wide (DejaVu Sans,
# a wide one, is what a Linux browser often falls back to): label widths without a browser.
_THIN_GLYPHS = set("ijl.,:;'|!")
_NARROW_GLYPHS = set("frt()[]{}-/ ")
_WIDE_GLYPHS = set("mwMW@%")


def text_width(text: str) -> float:
    """About how many pixels `text` takes at 12 px (errs on the wide side)."""
    return sum(3.9 if c in _THIN_GLYPHS else 5.2 if c in _NARROW_GLYPHS else 11.0 if c in _WIDE_GLYPHS
               else 8.8 if c.isupper() else 7.7 if c.isdigit() else 7.4 for c in text)


def fit_text(text: str, room: float) -> str:
    """`text`, or its start and end around an ellipsis so that it fits `room` pixels (both
    ends kept: model names differ at the end as often as at the start)."""
    if text_width(text) <= room:
        return text
    head, tail = text[: len(text) // 2], text[len(text) // 2:]
    while head or tail:
        if len(head) >= len(tail):
            head = head[:-1]
        else:
            tail = tail[1:]
        shown = head + "…" + tail
        if text_width(shown) <= room:
            return shown
    return "…"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("leaderboard") / "templates")),
                              autoescape=True, trim_blocks=False, lstrip_blocks=False,
                              undefined=jinja2.StrictUndefined)


@dataclass
class _Series:
    title: str
    values: list[tuple[float, float, float]]  # mean, lo, hi per model (NaN allowed)
    average: bool = False


def shared_domain(series: list[list[tuple[float, float, float]]]) -> tuple[float, float]:
    """The one x range of every panel: all means and CI ends, within the 1-5 score scale."""
    nums = [v for values in series for triple in values for v in triple if not math.isnan(v)]
    if not nums:
        return 1.0, 5.0
    lo = max(1.0, math.floor(min(nums) * 2) / 2)
    hi = min(5.0, math.ceil(max(nums) * 2) / 2)
    if hi - lo > 2:  # ticks go in whole points: make both ends ticks
        lo, hi = max(1.0, math.floor(lo)), min(5.0, math.ceil(hi))
    if hi - lo < 0.5:
        lo, hi = max(1.0, hi - 0.5), max(hi, lo + 0.5)
    return lo, hi


def ticks(lo: float, hi: float) -> list[float]:
    step = 0.5 if hi - lo <= 2 else 1.0
    start = math.ceil(lo / step - 1e-9) * step
    return [round(start + k * step, 2) for k in range(int((hi - start) / step + 1e-9) + 1)]


def _layout(n_panels: int, label_width: int, max_width: int = MAX_WIDTH, panel: int = PANEL) -> tuple[int, int]:
    """(columns, rows) of panels: as many columns as fit `max_width`, rows balanced."""
    fit = max(1, (max_width - label_width - RIGHT + GAP) // (panel + GAP))
    rows = max(1, math.ceil(n_panels / fit))
    return max(1, math.ceil(n_panels / rows)), rows


def chart_context(board: Leaderboard, title: str = "Judge scores by aspect (95% CI)", *, max_width: int = MAX_WIDTH,
                  label_max: int = LABEL_MAX, panel: int = PANEL) -> dict[str, Any]:
    models = [r.model for r in board.rows]
    label_width = math.ceil(min(label_max, 16 + max((text_width(m) for m in models), default=56)))
    series = [_Series(a, [(r.aspects[a].mean, r.aspects[a].ci_low, r.aspects[a].ci_high) if a in r.aspects
                          else (math.nan,) * 3 for r in board.rows]) for a in board.aspects]
    series.append(_Series("average", [(r.average.mean, r.average.ci_low, r.average.ci_high) for r in board.rows],
                          average=True))
    lo, hi = shared_domain([s.values for s in series])
    scale = ticks(lo, hi)
    cols, n_rows = _layout(len(series), label_width, max_width, panel)
    plot_height = ROW * max(len(models), 1)
    block = PANEL_HEAD + plot_height + AXIS
    rows = []
    for r in range(n_rows):
        top = TITLE + r * (block + ROW_GAP) + PANEL_HEAD
        bottom = top + plot_height
        panels = []
        for c, s in enumerate(series[r * cols:(r + 1) * cols]):
            x0 = label_width + c * (panel + GAP)

            def sx(v: float, x0: float = x0) -> float:
                return round(x0 + (min(max(v, lo), hi) - lo) / (hi - lo) * panel, 2)

            marks = []
            for i, (mean, clo, chi) in enumerate(s.values):
                if math.isnan(mean):
                    continue
                has_ci = not (math.isnan(clo) or math.isnan(chi))
                tip = f"{models[i]} - {s.title}: {mean:.3f}" + (f" [{clo:.3f}, {chi:.3f}]" if has_ci else "")
                marks.append({"y": top + ROW * i + ROW / 2, "cx": sx(mean), "x1": sx(clo) if has_ci else None,
                              "x2": sx(chi) if has_ci else None, "tooltip": tip})
            tick_marks = []
            for k, t in enumerate(scale):
                anchor = "start" if k == 0 and len(scale) > 1 else "end" if k == len(scale) - 1 else "middle"
                tick_marks.append({"x": sx(t), "label": f"{t:g}", "anchor": anchor})
            panels.append({"x": x0, "width": panel, "title": s.title, "average": s.average, "marks": marks,
                           "ticks": tick_marks})
        labels = [{"y": top + ROW * i + ROW / 2, "text": fit_text(m, label_width - 16), "full": m}
                  for i, m in enumerate(models)]
        rows.append({"top": top, "bottom": bottom, "labels": labels, "panels": panels})
    width = label_width + cols * (panel + GAP) - GAP + RIGHT
    height = TITLE + n_rows * block + (n_rows - 1) * ROW_GAP
    return {"title": title, "width": width, "height": height, "label_width": label_width, "rows": rows,
            "domain": (lo, hi), "tick_font": TICK_FONT}


def render_svg(board: Leaderboard, title: str = "Judge scores by aspect (95% CI)", *, narrow: bool = False) -> str:
    """The chart as a standalone SVG document (also valid inline in HTML5); `narrow`: the
    phone-sized version (one panel a row)."""
    sizes: dict[str, int] = NARROW if narrow else {}
    return _env().get_template("chart.svg.j2").render(**chart_context(board, title, **sizes))
