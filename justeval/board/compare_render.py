"""Output of `justeval compare`: a rich table or JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from justeval.board.compare import AspectDiff, Comparison
from justeval.board.schema import num
from justeval.console import console as make_console


def _diff_json(r: AspectDiff) -> dict[str, Any]:
    return {"aspect": r.aspect, "n": r.n, "mean_a": num(r.mean_a), "mean_b": num(r.mean_b), "diff": num(r.diff),
            "ci_low": num(r.ci_low), "ci_high": num(r.ci_high), "wins": r.wins, "ties": r.ties, "losses": r.losses,
            "significant": r.significant}


def comparison_json(c: Comparison) -> dict[str, Any]:
    return {"model_a": c.model_a, "model_b": c.model_b, "bootstrap": c.resamples, "seed": c.seed,
            "aspects": [_diff_json(r) for r in c.rows],
            "average": _diff_json(c.average) if c.average else None}


def _f(x: float) -> str:
    return "-" if x != x else f"{x:+.3f}"


def print_comparison(c: Comparison, console: Console | None = None) -> None:
    console = console or make_console()
    table = Table(title=f"A = {c.model_a}   vs   B = {c.model_b}", title_justify="left", header_style="bold")
    for h in ("aspect", "n", "A", "B", "A - B", "95% CI", "A wins / ties / B wins"):
        table.add_column(h, justify="left" if h == "aspect" else "right")
    for r in [*c.rows, *([c.average] if c.average else [])]:
        ci = "-" if r.ci_low != r.ci_low else f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
        wtl = "-" if r.aspect == "average" else f"{r.wins} / {r.ties} / {r.losses}"
        style = "bold" if r.significant else None
        table.add_row(r.aspect, str(r.n), f"{r.mean_a:.3f}", f"{r.mean_b:.3f}", _f(r.diff), ci, wtl, style=style)
    console.print(table)
    console.print(f"[dim]paired bootstrap over shared items ({c.resamples} resamples, seed {c.seed}); bold: the CI "
                  "excludes 0[/dim]")
