"""Rich terminal tables for the review commands."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from justeval.console import console as make_console


def _pct(rate: dict[str, float | None]) -> str:
    """`28.6 [16.7-40.5]` (percent, 95% interval)."""
    v, lo, hi = rate.get("value"), rate.get("low"), rate.get("high")
    if v is None:
        return "-"
    if lo is None or hi is None:
        return f"{100 * v:.1f}"
    return f"{100 * v:.1f} [{100 * lo:.1f}-{100 * hi:.1f}]"


def _num(x: Any, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def rates_table(title: str, rows: list[dict[str, Any]], outcomes: tuple[str, ...], label: str = "") -> Table:
    """One row per comparison (`model_a`/`model_b`) or per named group (`name`); rates in %."""
    named = bool(label)
    table = Table(title=title, caption="% with 95% bootstrap interval")
    for col in ([label] if named else ["model A", "model B"]):
        table.add_column(col, overflow="fold")
    for col in ("n", *outcomes, "score"):
        table.add_column(col, justify="right")
    for row in rows:
        names = [str(row["name"])] if named else [str(row["model_a"]), str(row["model_b"])]
        table.add_row(*names, str(row.get("pairs", row.get("n", ""))), *[_pct(row[o]) for o in outcomes],
                      _pct(row["score"]))
    return table


def print_import_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or make_console()
    console.print(f"{report['labels_count']} label(s) on {report['labelled_pairs']} of {report['pairs']} pair(s); "
                  f"annotators: {', '.join(report['annotators'])}")
    console.print(rates_table("Human preference", report["win_rates"], ("A", "tie", "B")))
    for aspect, rows in report["aspect_win_rates"].items():
        console.print(rates_table(f"Human preference: {aspect}", rows, ("A", "tie", "B")))
    if report["judge_agreement"]:
        table = Table(title="Agreement: humans vs LLM judge")
        for col in ("source", "annotator", "n", "raw", "n (no ties)", "raw (no ties)", "Cohen's kappa"):
            table.add_column(col, justify="left" if col in ("source", "annotator") else "right")
        for r in report["judge_agreement"]:
            table.add_row(r["source"], r["annotator"], str(r["n"]), _num(r["raw"]), str(r["n_no_ties"]),
                          _num(r["raw_no_ties"]), _num(r["kappa"]))
        console.print(table)
    inter = report["inter_annotator"]
    if inter:
        table = Table(title="Agreement between annotators")
        for col in ("annotator 1", "annotator 2", "n", "raw", "raw (no ties)", "Cohen's kappa"):
            table.add_column(col, justify="left" if col.startswith("annotator") else "right")
        for r in inter["pairs"]:
            table.add_row(r["annotator_1"], r["annotator_2"], str(r["n"]), _num(r["raw"]), _num(r["raw_no_ties"]),
                          _num(r["kappa"]))
        console.print(table)
        console.print(f"Krippendorff's alpha (nominal): {_num(inter['krippendorff_alpha'])} "
                      f"over {inter['units']} pair(s) with 2+ labels")
