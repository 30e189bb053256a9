"""Win / tie / loss rates of a pairwise comparison with bootstrap intervals, overall and per
category (and per aspect), plus the share of inconsistent verdicts (position bias)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from justeval.console import console as make_console
from justeval.engine.pricing import cost_text
from justeval.review.pairwise_prompt import ORDERS
from justeval.review.records import PairwiseJudgment
from justeval.review.tables import rates_table
from justeval.review.winrates import outcome_rates

OUTCOMES = ("A", "tie", "B", "inconsistent")


def pairwise_rates(records: Sequence[PairwiseJudgment], *, seed: int = 0) -> dict[str, Any]:
    """`overall`, `by_category` and `by_aspect` rows: `n` and, for A / tie / B / inconsistent
    and `score` (A + half of tie and inconsistent), `{value, low, high}`. Only `ok` records."""
    done = [r for r in records if r.status == "ok" and r.result is not None]

    def row(name: str, verdicts: list[str], key: str) -> dict[str, Any]:
        rates = outcome_rates([[v] for v in verdicts], OUTCOMES, seed=seed, key=key)
        return {"name": name, "n": len(verdicts), **{k: r.as_dict() for k, r in rates.items()}}

    cats = sorted({r.category for r in done})
    aspects = sorted({a for r in done for a in r.aspect_results})
    return {
        "overall": row("all", [str(r.result) for r in done], "all"),
        "by_category": [row(c, [str(r.result) for r in done if r.category == c], c) for c in cats],
        "by_aspect": [row(a, [r.aspect_results[a] for r in done if a in r.aspect_results], f"aspect:{a}")
                      for a in aspects],
    }


def print_pairwise(summary: Any, *, seed: int = 0, console: Console | None = None) -> None:
    console = console or make_console()
    table = Table(title=f"Pairwise: {summary.generator_a} (A) vs {summary.generator_b} (B), judge {summary.judge}")
    for col in ("items", "resumed", "calls", "ok", "parse_error", "error", "cached", "not sent (budget)", "cost"):
        table.add_column(col, justify="right")
    e = summary.engine
    table.add_row(str(summary.items), str(summary.already_done), str(summary.calls), str(e.ok),
                  str(e.parse_errors), str(e.errors), str(e.cached), str(e.skipped_budget),
                  cost_text(e.cost_usd, e.unpriced_calls))
    console.print(table)
    rates = pairwise_rates(summary.records, seed=seed)
    rows = [rates["overall"], *rates["by_category"]]
    console.print(rates_table("Verdicts (A = run A's model preferred in both orders)", rows, OUTCOMES, label="items"))
    if rates["by_aspect"]:
        console.print(rates_table("Verdicts per aspect", rates["by_aspect"], OUTCOMES, label="aspect"))
    console.print(f"inconsistent = the two orders disagree (position bias); score = A + half of tie and "
                  f"inconsistent. Records: {summary.path}")
    for hint in unfinished_hints(summary.records, retry_parse_errors=summary.retry_parse_errors):
        console.print(hint)
    from justeval.engine.notes import print_engine_notes

    print_engine_notes(e, console)


def unfinished_hints(records: Sequence[PairwiseJudgment], *, retry_parse_errors: bool) -> list[str]:
    """What a rerun would do about unfinished orders: failed or unsent ones are asked again;
    parse errors only with --retry-parse-errors."""
    verdicts = [r.orders.get(o) for r in records for o in ORDERS]
    parse = sum(v is not None and v.status == "parse_error" for v in verdicts)
    again = sum(v is None or v.status == "error" for v in verdicts) + (parse if retry_parse_errors else 0)
    hints = []
    if again:
        hints.append(f"{again} order(s) failed or were not sent: run the same command again to retry them")
    if parse and not retry_parse_errors:
        hints.append(f"{parse} order(s) got replies that could not be parsed: a rerun keeps them as parse_error; "
                     "add --retry-parse-errors to ask again")
    return hints
