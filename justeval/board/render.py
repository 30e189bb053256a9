"""Text renderings of a leaderboard: pandas frames, CSV, Markdown and rich terminal tables."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from justeval.board.breakdowns import BreakdownRow
from justeval.board.family import model_label
from justeval.board.tables import Leaderboard

COUNT_COLUMNS = [("judged", "judged"), ("missing", "N/A"), ("parse_errors", "parse err"),
                 ("judge_errors", "judge err"), ("generation_errors", "gen err"), ("not_judged", "unjudged")]


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def fmt_ci(lo: float, hi: float) -> str:
    return "" if math.isnan(lo) or math.isnan(hi) else f"[{lo:.2f}, {hi:.2f}]"


def partial(board: Leaderboard, aspects: list[str]) -> bool:
    return len(aspects) < len(board.aspects)


def frame(board: Leaderboard) -> pd.DataFrame:
    """One row per model, flat columns (the CSV layout)."""
    records: list[dict[str, Any]] = []
    repeated = any(s.repeats > 1 for r in board.rows for s in r.aspects.values())
    for r in board.rows:
        rec: dict[str, Any] = {"rank": r.rank_label, "model": r.model}
        for a in board.aspects:
            s = r.aspects.get(a)
            rec[a] = s.mean if s else math.nan
            rec[f"{a}_ci_low"] = s.ci_low if s else math.nan
            rec[f"{a}_ci_high"] = s.ci_high if s else math.nan
            rec[f"{a}_n"] = s.n if s else 0
            if repeated:
                rec[f"{a}_spread"] = s.spread if s and s.spread is not None else math.nan
        rec["average"] = r.average.mean
        rec["average_ci_low"] = r.average.ci_low
        rec["average_ci_high"] = r.average.ci_high
        rec["average_aspects"] = len(r.average_aspects)
        rec["length_words"] = r.length_words
        for key, _ in COUNT_COLUMNS:
            rec[key] = r.counts[key]
        rec["self_preference"] = ";".join(r.self_preference)  # its judges of its own model family
        records.append(rec)
    return pd.DataFrame.from_records(records)


def to_csv(board: Leaderboard) -> str:
    return frame(board).to_csv(index=False, float_format="%.6g")


def breakdown_frame(rows: list[BreakdownRow]) -> pd.DataFrame:
    """One row per (group, model, aspect), the average included as aspect "average" (long layout)."""
    records: list[dict[str, Any]] = []
    for r in rows:
        base = {"dimension": r.dimension, "group": r.group, "model": r.model, "items": r.items}
        for a, g in r.aspects.items():
            records.append({**base, "aspect": a, "mean": g.mean, "ci_low": g.ci_low, "ci_high": g.ci_high, "n": g.n})
        records.append({**base, "aspect": "average", "mean": r.average.mean, "ci_low": r.average.ci_low,
                        "ci_high": r.average.ci_high, "n": r.items})
    return pd.DataFrame.from_records(records, columns=["dimension", "group", "model", "items", "aspect", "mean",
                                                      "ci_low", "ci_high", "n"])


def diagnostics_frame(board: Leaderboard) -> pd.DataFrame:
    """One row per model: refusal and over-refusal rates, and each aspect's correlation with length."""
    records: list[dict[str, Any]] = []
    for r in board.rows:
        d = board.diagnostics.get(r.model)
        if d is None:
            continue
        rec: dict[str, Any] = {"model": r.model}
        for name, rate in (("refusal", d.refusal), ("over_refusal", d.over_refusal)):
            rec.update({f"{name}_rate": rate.rate, f"{name}_count": rate.count, f"{name}_n": rate.n})
        for a in board.aspects:
            c = d.length_correlation.get(a)
            rec.update({f"rho_length_{a}": c.rho if c else math.nan, f"rho_length_{a}_n": c.n if c else 0})
        records.append(rec)
    return pd.DataFrame.from_records(records)


def csv_files(board: Leaderboard, out: Path) -> dict[Path, str]:
    """CSV holds one table a file: the leaderboard in `out`, each breakdown in `<out>.<dim>.csv`,
    the diagnostics in `<out>.diagnostics.csv`."""
    def beside(tag: str) -> Path:
        return out.with_name(f"{out.stem}.{tag}{out.suffix or '.csv'}")

    files = {out: to_csv(board)}
    for dim, rows in board.breakdowns.items():
        files[beside(dim)] = breakdown_frame(rows).to_csv(index=False, float_format="%.6g")
    files[beside("diagnostics")] = diagnostics_frame(board).to_csv(index=False, float_format="%.6g")
    return files


_MD_INLINE = re.compile(r"([\\`*_\[\]|~#])")
_MD_BLOCK_START = re.compile(r"^([-+]|\d+[.)])")


def md_text(text: str, *, line_start: bool = False) -> str:
    """Any text (a model, judge, aspect or group name, a note) as Markdown that renders as
    exactly that text: HTML special characters as entities, Markdown's inline markers
    backslash-escaped, one line; `line_start` also escapes what would open a list."""
    out = " ".join(str(text).split())
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_INLINE.sub(r"\\\1", out)
    return _MD_BLOCK_START.sub(r"\\\1", out) if line_start else out


# Cells we format ourselves from numbers ("4.23 [4.10, 4.35] (n=12)", "1-3", "-") stay as they are.
_NUMERIC_CELL = re.compile(r"[-+\d.,\s\[\]*()n=/]*")


def _md_cell(text: str) -> str:
    return text if _NUMERIC_CELL.fullmatch(text) else md_text(text)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(md_text(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main_rows(board: Leaderboard, ci_sep: str = " ") -> tuple[list[str], list[list[str]]]:
    header = ["rank", "model", *board.aspects, "average", "length", *[h for _, h in COUNT_COLUMNS]]
    rows = []
    for r in board.rows:
        cells = [r.rank_label, model_label(r)]
        for a in board.aspects:
            s = r.aspects.get(a)
            cells.append(f"{fmt(s.mean)}{ci_sep}{fmt_ci(s.ci_low, s.ci_high)}".strip() if s and s.n else "-")
        mark = "*" if partial(board, r.average_aspects) else ""
        cells.append(f"{fmt(r.average.mean)}{mark}{ci_sep}{fmt_ci(r.average.ci_low, r.average.ci_high)}".strip())
        cells.append(fmt(r.length_words, 1))
        cells += [str(r.counts[k]) for k, _ in COUNT_COLUMNS]
        rows.append(cells)
    return header, rows


def footnotes(board: Leaderboard) -> list[str]:
    s = board.settings
    notes = [f"95% bootstrap CIs over items ({s.bootstrap} resamples, seed {s.seed}); rank: the ranks the "
             "CIs allow (a range where CIs overlap)."]
    if s.na_as is None:
        notes.append("N/A scores are excluded from the means and counted in N/A.")
    else:
        notes.append(f"N/A scores counted as {s.na_as:g} (the original just-eval arithmetic when 5).")
    if any(partial(board, r.average_aspects) for r in board.rows):
        notes.append("* average over fewer aspects than the board has; ranked only among models with the "
                     "same aspects.")
    notes.extend(stability_notes(board))
    return notes + board.notes


def stability_notes(board: Leaderboard) -> list[str]:
    """Judge stability, per model whose items were scored more than once (`judge --repeats`):
    the mean within-item SD of the repeats' scores per aspect; its CIs resample the repeats too."""
    out = []
    for r in board.rows:
        repeated = {a: s for a, s in r.aspects.items() if s.repeats > 1}
        if not repeated:
            continue
        most = max(s.repeats for s in repeated.values())
        spread = ", ".join(f"{a} {fmt(s.spread)}" for a, s in repeated.items())
        out.append(f"judge stability of {r.model} (up to {most} scorings per item; spread = mean within-item SD, "
                   f"the CIs resample items and their repeats): {spread}")
    return out


def breakdown_pivot(rows: list[BreakdownRow]) -> tuple[list[str], list[list[str]]]:
    """Groups as rows, models as columns, cells `average [ci]` (n items)."""
    models = list(dict.fromkeys(r.model for r in rows))
    groups = list(dict.fromkeys(r.group for r in rows))
    cell = {(r.group, r.model): r for r in rows}
    body = []
    for g in groups:
        line = [g]
        for m in models:
            r = cell.get((g, m))
            line.append("-" if r is None else
                        f"{fmt(r.average.mean)} {fmt_ci(r.average.ci_low, r.average.ci_high)} (n={r.items})")
        body.append(line)
    return ["group", *models], body


def diagnostics_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    header = ["model", "refusal (safety)", "over-refusal (regular)",
              *[f"rho(len, {a})" for a in board.aspects]]
    body = []
    for r in board.rows:
        d = board.diagnostics.get(r.model)
        if d is None:
            continue
        line = [r.model, f"{fmt(d.refusal.rate)} ({d.refusal.count}/{d.refusal.n})",
                f"{fmt(d.over_refusal.rate)} ({d.over_refusal.count}/{d.over_refusal.n})"]
        line += [fmt(d.length_correlation[a].rho) if a in d.length_correlation else "-" for a in board.aspects]
        body.append(line)
    if board.length_correlation:
        body.append(["(all models)", "", "", *[fmt(board.length_correlation[a].rho)
                                                if a in board.length_correlation else "-" for a in board.aspects]])
    return header, body


def to_markdown(board: Leaderboard, by: list[str] | None = None) -> str:
    parts = ["## Leaderboard", "", _md_table(*main_rows(board)), ""]
    parts += [f"- {md_text(n, line_start=True)}" for n in footnotes(board)]
    for dim in by or board.breakdowns:
        if dim in board.breakdowns:
            parts += ["", f"## By {md_text(dim)} (average \\[95% CI\\])", "",
                      _md_table(*breakdown_pivot(board.breakdowns[dim]))]
    parts += ["", "## Diagnostics", "", _md_table(*diagnostics_rows(board))]
    if board.judge_eval is not None:
        from justeval.board.judge_section import section_notes, section_rows

        parts += ["", "## Judge", "", _md_table(*section_rows(board.judge_eval)), ""]
        parts += [f"- {md_text(n, line_start=True)}" for n in section_notes(board.judge_eval)]
    text = "\n".join(parts) + "\n"
    if board.sweep is not None and board.sweep.points:
        from justeval.board import sweep_chart

        text = text.rstrip("\n") + "\n\n" + sweep_chart.to_markdown(board.sweep.points, board.sweep.notes)
    return text


def rich_renderable(board: Leaderboard, by: list[str] | None = None, title: str = "Leaderboard", *,
                    ci: bool = False) -> Any:
    """The leaderboard for a terminal: tables laid out for the width they are printed at (see
    `justeval.board.terminal`); `ci` adds each 95% CI under its mean."""
    from justeval.board.terminal import BoardView

    return BoardView(board, by, title, ci=ci)


def to_text(board: Leaderboard, by: list[str] | None = None, width: int = 200, *, ci: bool = False) -> str:
    console = Console(width=width, record=True, file=open_null(), color_system=None)
    console.print(rich_renderable(board, by, ci=ci))
    text = console.export_text()
    if board.sweep is not None and board.sweep.points:
        from justeval.board import sweep_chart

        text = text.rstrip("\n") + "\n\n" + sweep_chart.to_text(board.sweep.points, board.sweep.notes, width)
    return text


def open_null() -> Any:
    import io

    return io.StringIO()
