"""The per-aspect chart: one panel per aspect (and the average), models as rows, a dot at the
mean and a bar for the 95% CI. Rendered at build time to SVG (no JavaScript, no fonts to
fetch), so it shows the same inline in the page, as a file in a paper, or in a README.

Each panel zooms to the range its models occupy (in half points), because differences of a
tenth of a point are invisible on the full 1-5 scale; the tick labels say where it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from justeval.leaderboard.tables import Leaderboard
from justeval.paths import data_dir

ROW = 18
PANEL = 150
GAP = 40
TOP = 58
BOTTOM_MARGIN = 26


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


def _domain(values: list[tuple[float, float, float]]) -> tuple[float, float]:
    nums = [v for triple in values for v in triple if not math.isnan(v)]
    if not nums:
        return 1.0, 5.0
    lo = max(1.0, math.floor(min(nums) * 2) / 2)
    hi = min(5.0, math.ceil(max(nums) * 2) / 2)
    if hi - lo < 0.5:
        lo, hi = max(1.0, hi - 0.5), max(hi, lo + 0.5)
    return lo, hi


def _ticks(lo: float, hi: float) -> list[float]:
    step = 0.5 if hi - lo <= 2 else 1.0
    start = math.ceil(lo / step) * step
    return [round(start + k * step, 2) for k in range(int((hi - start) / step + 1e-9) + 1)]


def chart_context(board: Leaderboard, title: str = "Judge scores by aspect (95% CI)") -> dict[str, Any]:
    models = [r.model for r in board.rows]
    label_width = min(260, 16 + 7 * max((len(m) for m in models), default=8))
    series = [_Series(a, [(r.aspects[a].mean, r.aspects[a].ci_low, r.aspects[a].ci_high) if a in r.aspects
                          else (math.nan,) * 3 for r in board.rows]) for a in board.aspects]
    series.append(_Series("average", [(r.average.mean, r.average.ci_low, r.average.ci_high) for r in board.rows],
                          average=True))
    top, bottom = TOP, TOP + ROW * max(len(models), 1)
    panels = []
    for k, s in enumerate(series):
        x0 = label_width + k * (PANEL + GAP)
        lo, hi = _domain(s.values)

        def sx(v: float, x0: float = x0, lo: float = lo, hi: float = hi) -> float:
            return round(x0 + (min(max(v, lo), hi) - lo) / (hi - lo) * PANEL, 2)

        marks = []
        for i, (mean, clo, chi) in enumerate(s.values):
            if math.isnan(mean):
                continue
            has_ci = not (math.isnan(clo) or math.isnan(chi))
            tip = f"{models[i]} - {s.title}: {mean:.3f}" + (f" [{clo:.3f}, {chi:.3f}]" if has_ci else "")
            marks.append({"y": top + ROW * i + ROW / 2, "cx": sx(mean), "x1": sx(clo) if has_ci else None,
                          "x2": sx(chi) if has_ci else None, "tooltip": tip})
        panels.append({"x": x0, "width": PANEL, "title": s.title, "average": s.average, "marks": marks,
                       "ticks": [{"x": sx(t), "label": f"{t:g}"} for t in _ticks(lo, hi)]})
    labels = [{"y": top + ROW * i + ROW / 2, "text": m} for i, m in enumerate(models)]
    width = label_width + len(series) * (PANEL + GAP)
    return {"title": title, "width": width, "height": bottom + BOTTOM_MARGIN, "top": top, "bottom": bottom,
            "label_width": label_width, "labels": labels, "panels": panels}


def render_svg(board: Leaderboard, title: str = "Judge scores by aspect (95% CI)") -> str:
    """The chart as a standalone SVG document (also valid inline in HTML5)."""
    return _env().get_template("chart.svg.j2").render(**chart_context(board, title))
