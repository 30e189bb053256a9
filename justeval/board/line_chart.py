"""A small SVG line chart over categorical x values: one line per series, a dot per point, an
optional interval bar per point, a legend. Used by the page's score-vs-K chart (`sweep_chart`)
and the token-shift section's shifted-share-by-position chart (`token_shift_page`).

Rendered at build time (no script, no fonts to fetch) with every text escaped, since series
names are model and configuration names; the SVG carries a viewBox so the page can shrink it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import escape

from justeval.board.svg import fit_text, text_width

COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#0a7e8c", "#d1242f", "#57606a",
           "#953800", "#6639ba"]
DASHES = ["", "6 3", "2 3", "8 3 2 3"]
PLOT_W, PLOT_H = 520, 220
LEFT, TOP, BOTTOM = 52, 34, 44
LEGEND_MAX = 300


@dataclass
class Point:
    x: int                      # index into the chart's x labels
    y: float
    low: float | None = None    # interval, when known
    high: float | None = None
    tip: str = ""


@dataclass
class Series:
    name: str
    points: list[Point] = field(default_factory=list)


def _ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    raw = span / 5 if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    return [round(start + k * step, 10) for k in range(int((hi - start) / step + 1e-9) + 1)]


def domain(series: Sequence[Series], floor: float | None = None, ceiling: float | None = None) -> tuple[float, float]:
    """The y range of every value and interval end, widened a little, clipped to [floor, ceiling]."""
    values = [v for s in series for p in s.points for v in (p.y, p.low, p.high)
              if v is not None and not math.isnan(v)]
    if not values:
        return (floor if floor is not None else 0.0), (ceiling if ceiling is not None else 1.0)
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or 0.1
    lo, hi = lo - pad, hi + pad
    if floor is not None:
        lo = max(floor, lo)
    if ceiling is not None:
        hi = min(ceiling, hi)
    return lo, hi if hi > lo else lo + 1.0


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series], *, x_title: str, y_title: str,
               y_range: tuple[float, float], y_format: str = "{:g}", css_class: str = "line-chart") -> str:
    """The chart as an SVG element (valid inline in HTML5 and as a file)."""
    lo, hi = y_range
    n = max(1, len(x_labels))
    legend_w = math.ceil(min(LEGEND_MAX, 40 + max((text_width(s.name) for s in series), default=0)))
    width = LEFT + PLOT_W + 24 + legend_w
    height = max(TOP + PLOT_H + BOTTOM, TOP + 18 * len(series) + 10)

    def sx(i: int) -> float:
        return round(LEFT + (i + 0.5) * PLOT_W / n, 2)

    def sy(v: float) -> float:
        return round(TOP + PLOT_H - (min(max(v, lo), hi) - lo) / (hi - lo) * PLOT_H, 2)

    e = escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{e(css_class)}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" font-family="system-ui, -apple-system, Segoe UI, Helvetica, '
           f'Arial, sans-serif" font-size="12"><title>{e(title)}</title>',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="8" y="18" font-size="14" font-weight="600" fill="#1f2328">{e(title)}</text>',
           f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="#f6f8fa"/>']
    for t in _ticks(lo, hi):
        y = sy(t)
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT_W}" y2="{y}" stroke="#d0d7de"/>'
                   f'<text class="tick" x="{LEFT - 6}" y="{y + 4}" text-anchor="end" fill="#57606a" '
                   f'font-size="10">{e(y_format.format(t))}</text>')
    for i, label in enumerate(x_labels):
        out.append(f'<text class="tick" x="{sx(i)}" y="{TOP + PLOT_H + 15}" text-anchor="middle" fill="#57606a" '
                   f'font-size="10">{e(fit_text(label, PLOT_W / n - 4))}</text>')
    out.append(f'<text x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H + 34}" text-anchor="middle" fill="#1f2328">'
               f'{e(x_title)}</text>')
    out.append(f'<text x="12" y="{TOP + PLOT_H / 2}" text-anchor="middle" fill="#1f2328" '
               f'transform="rotate(-90 12 {TOP + PLOT_H / 2})">{e(y_title)}</text>')
    for k, s in enumerate(series):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[(k // len(COLOURS)) % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        points = sorted((p for p in s.points if not math.isnan(p.y)), key=lambda p: p.x)
        out.append(f'<g class="series" data-series="{e(s.name)}">')
        if len(points) > 1:
            path = " ".join(f"{sx(p.x)},{sy(p.y)}" for p in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for p in points:
            out.append(f'<g class="point"><title>{e(p.tip or f"{s.name}: {y_format.format(p.y)}")}</title>')
            if p.low is not None and p.high is not None and not (math.isnan(p.low) or math.isnan(p.high)):
                out.append(f'<line x1="{sx(p.x)}" y1="{sy(p.low)}" x2="{sx(p.x)}" y2="{sy(p.high)}" '
                           f'stroke="{colour}" stroke-width="1.5" opacity="0.7"/>')
            out.append(f'<circle cx="{sx(p.x)}" cy="{sy(p.y)}" r="3.5" fill="{colour}"/></g>')
        legend_y = TOP + 6 + 18 * k
        legend_x = LEFT + PLOT_W + 24
        out.append(f'<line x1="{legend_x}" y1="{legend_y}" x2="{legend_x + 22}" y2="{legend_y}" stroke="{colour}" '
                   f'stroke-width="2"{dash_attr}/><text class="legend" x="{legend_x + 28}" y="{legend_y + 4}" '
                   f'fill="#1f2328"><title>{e(s.name)}</title>{e(fit_text(s.name, legend_w - 34))}</text></g>')
    out.append("</svg>")
    return "".join(out)
