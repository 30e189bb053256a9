"""The leaderboard in a terminal: tables that fit the width they are given.

A table with every aspect, its CI, the average, the length and six counts needs about 230
columns; squeezed into 100, rich broke numbers mid-digit and model names over six lines. So:

- numbers never wrap (`no_wrap`); only model and group names fold, and they get the room left;
- the main table shows the average first, then each aspect's mean (the rank range already
  says which models the CIs cannot tell apart); `--ci` puts each 95% CI on a second line
  under its mean, written `lo-hi`;
- the counts (judged, N/A, errors, unjudged) are a table of their own;
- aspect headers are abbreviated (with a legend) when the full names do not fit;
- a breakdown or diagnostics table wider than the terminal is cut into several tables, each
  repeating its first column, rather than into unreadable columns.

The layout is chosen when rich renders, from the width it renders at, so the same renderable
fits a 100-column terminal, a 240-column pipe and a file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from justeval.board.breakdowns import BreakdownRow
from justeval.board.family import model_label
from justeval.board.render import COUNT_COLUMNS, diagnostics_rows, fmt, footnotes, partial
from justeval.board.tables import Leaderboard

GAP = 3        # between two columns: padding, divider, padding (no outer edge)
NAME_MIN = 16  # a name column narrower than this makes the table split instead


def short(aspect: str) -> str:
    """`helpfulness` -> `help.`: at most six characters, for headers when room is short."""
    return aspect if len(aspect) <= 6 else aspect[:4] + "."


def ci_text(lo: float, hi: float) -> str:
    return "" if lo != lo or hi != hi else f"{lo:.2f}-{hi:.2f}"


@dataclass
class _Column:
    header: str
    cells: list[str]
    numeric: bool = True
    compact: bool = False  # wrap the header at its spaces to save room

    def width(self) -> int:
        """Its widest cell, or its header (at most 12; when compact, the header's longest
        word) if wider: headers may wrap, numbers never."""
        widest = max((len(line) for c in self.cells for line in c.split("\n")), default=1)
        head = max((len(w) for w in self.header.split()), default=1) if self.compact else len(self.header)
        return max(widest, min(head, 12), 1)

    def header_text(self, width: int) -> str:
        return "\n".join(textwrap.wrap(self.header, width, break_on_hyphens=False)) or self.header


def _table(title: str | None, columns: Sequence[_Column], width: int) -> Table:
    """A table that fits `width`: every column but the last name column at its own width
    (numbers never wrap), the last name column (the model) gets the rest and folds."""
    fixed = [c for c in columns if c.numeric or c is not _name_column(columns)]
    room = width - sum(c.width() for c in fixed) - GAP * (len(columns) - 1)
    # names become Text, never markup: a model called "x[/]" must neither style nor break a table
    table = Table(title=Text(title) if title else None, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False)
    name = _name_column(columns)
    for col in columns:
        if col is name:
            w = max(NAME_MIN, min(col.width(), room))
            table.add_column(Text(col.header_text(w)), justify="left", overflow="fold", width=w)
        else:
            table.add_column(Text(col.header_text(col.width())), justify="right" if col.numeric else "left",
                             no_wrap=True, width=col.width())
    for row in zip(*(c.cells for c in columns), strict=True):
        table.add_row(*[Text(c) for c in row])
    return table


def _name_column(columns: Sequence[_Column]) -> _Column | None:
    names = [c for c in columns if not c.numeric]
    return names[-1] if names else None


def _split(title: str, columns: list[_Column], width: int, *, name_cols: int = 1) -> list[Table]:
    """The table, cut into several (each repeating the name columns) if it is wider than `width`."""
    head, rest = columns[:name_cols], columns[name_cols:]
    name = _name_column(columns)
    longest = max((len(line) for c in (name.cells if name else []) for line in c.split("\n")), default=0)
    if _name_room(columns, width) < min(longest, 24):  # short of room: wrap the headers first
        for col in columns:
            col.compact = True
    base = sum(c.width() for c in head[:-1]) + NAME_MIN + GAP * (len(head) - 1)
    parts: list[list[_Column]] = [[]]
    used = base
    for col in rest:
        need = col.width() + GAP
        if parts[-1] and used + need > width:
            parts.append([])
            used = base
        parts[-1].append(col)
        used += need
    tables = []
    for k, part in enumerate(parts):
        suffix = f" ({k + 1}/{len(parts)})" if len(parts) > 1 else ""
        tables.append(_table(title + suffix, [*head, *part], width))
    return tables


def _name_room(columns: Sequence[_Column], width: int) -> int:
    """What the name column gets when every other column has its own width."""
    name = _name_column(columns)
    return width - sum(c.width() for c in columns if c is not name) - GAP * (len(columns) - 1)


class BoardView:
    """The rich renderable of a leaderboard (see the module docstring)."""

    def __init__(self, board: Leaderboard, by: Sequence[str] | None = None, title: str = "Leaderboard", *,
                 ci: bool = False) -> None:
        self.board, self.by, self.title, self.ci = board, by, title, ci

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Group(*self.parts(options.max_width))

    # -- the parts -------------------------------------------------------------------------
    def _score(self, mean: float, lo: float, hi: float, mark: str = "") -> str:
        text = fmt(mean) + mark
        ci = ci_text(lo, hi) if self.ci else ""
        return f"{text}\n{ci}" if ci else text

    def main_columns(self, abbreviate: bool) -> list[_Column]:
        b = self.board
        cols = [_Column("rank", [r.rank_label for r in b.rows], numeric=False),
                _Column("model", [model_label(r) for r in b.rows], numeric=False),
                _Column("avg." if abbreviate else "average", [  # first: it stays in view when a table is cut
                    self._score(r.average.mean, r.average.ci_low, r.average.ci_high,
                                "*" if partial(b, r.average_aspects) else "") for r in b.rows])]
        for a in b.aspects:
            cells = []
            for r in b.rows:
                s = r.aspects.get(a)
                cells.append(self._score(s.mean, s.ci_low, s.ci_high) if s and s.n else "-")
            cols.append(_Column(short(a) if abbreviate else a, cells))
        return cols

    def parts(self, width: int) -> list[Table | Text]:
        b = self.board
        out: list[Table | Text] = []
        cols = self.main_columns(abbreviate=False)
        longest = max((len(r.model) for r in b.rows), default=5)
        abbreviated = _name_room(cols, width) < min(longest, 32)
        if abbreviated:
            cols = self.main_columns(abbreviate=True)
        out.extend(_split(self.title, cols, width, name_cols=2))
        if abbreviated:
            out.append(Text("  ".join(f"{short(a)} {a}" for a in b.aspects if short(a) != a), style="dim"))
        for note in footnotes(b):
            out.append(Text(note, style="dim"))
        if not self.ci:
            out.append(Text("--ci shows each 95% CI under its mean.", style="dim"))
        counts = [_Column("model", [r.model for r in b.rows], numeric=False),
                  _Column("words", [fmt(r.length_words, 1) for r in b.rows])]
        counts += [_Column(label, [str(r.counts[key]) for r in b.rows]) for key, label in COUNT_COLUMNS]
        out.extend(_split("Length (mean words) and counts", counts, width))
        for dim in self.by or list(b.breakdowns):  # one column per model: headers fold
            if dim in b.breakdowns:
                out.extend(_split(f"By {dim}: average" + (" and 95% CI" if self.ci else ""),
                                  self.breakdown_columns(b.breakdowns[dim]), width))
        header, rows = diagnostics_rows(b)
        diag = [_Column(header[0], [r[0] for r in rows], numeric=False)]
        for k, h in enumerate(header[1:], start=1):
            label = h if not h.startswith("rho(len, ") else "ρ " + short(h[len("rho(len, "):-1])
            diag.append(_Column(label, [r[k] for r in rows]))
        out.extend(_split("Diagnostics", diag, width))
        out.append(Text("ρ: Spearman correlation of the aspect's score with output length.", style="dim"))
        if b.judge_eval is not None:
            from justeval.board.judge_section import section_notes, section_rows

            header, rows = section_rows(b.judge_eval)
            judge = [_Column(h, [r[k] for r in rows], numeric=k not in (1, 2)) for k, h in enumerate(header)]
            out.extend(_split("Judge: agreement with people", judge, width, name_cols=3))
            out.extend(Text(n, style="dim") for n in section_notes(b.judge_eval))
        return out

    def breakdown_columns(self, rows: list[BreakdownRow]) -> list[_Column]:
        models = list(dict.fromkeys(r.model for r in rows))
        groups = list(dict.fromkeys(r.group for r in rows))
        cell = {(r.group, r.model): r for r in rows}
        sizes = {g: max(r.items for (gg, _), r in cell.items() if gg == g) for g in groups}
        cols = [_Column("group (items)", [f"{g} ({sizes[g]})" for g in groups], numeric=False)]
        for m in models:
            cells = []
            for g in groups:
                r = cell.get((g, m))
                cells.append("-" if r is None else self._score(r.average.mean, r.average.ci_low, r.average.ci_high))
            cols.append(_Column(m, cells))
        return cols

