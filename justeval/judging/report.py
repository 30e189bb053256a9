"""Terminal output of the judge stage (rich): the dry-run estimate and the end-of-run summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from justeval.console import commonest
from justeval.console import console as make_console
from justeval.engine.notes import print_engine_notes
from justeval.engine.pricing import cost_text
from justeval.judging.run import JudgeSummary

if TYPE_CHECKING:
    from justeval.engine.backend_spec import BackendSpec


def warn_unpriced(judges: Sequence[BackendSpec], console: Console | None = None) -> None:
    """A budget cannot stop a judge whose price is unknown: say so before spending."""
    from justeval.engine.pricing import estimate_cost
    from justeval.judging.run import backend_pricer

    console = console or make_console(stderr=True)
    for judge in judges:
        pricer = backend_pricer(judge)
        price = pricer(1000, 1000) if pricer is not None else estimate_cost(judge.spec, 1000, 1000)
        if price is None:
            console.print(f"[yellow]warning:[/] no price known for {judge.spec}: --budget cannot limit its calls",
                          soft_wrap=True)


def print_summaries(summaries: Sequence[JudgeSummary], *, dry_run: bool, console: Console | None = None) -> None:
    console = console or make_console()
    if dry_run:
        table = Table(title="Dry run: nothing was sent")
        for col in ("judge", "calls", "already done", "prompt tokens", "completion tokens", "est. cost"):
            table.add_column(col, justify="left" if col == "judge" else "right")
        for s in summaries:
            est = s.estimate
            if est is None:
                continue
            table.add_row(s.judge, str(est.calls), str(s.already_done), f"{est.prompt_tokens:,}",
                          f"{est.completion_tokens:,}", est.cost_text())
        console.print(table)
        costs = [s.estimate.cost_usd for s in summaries if s.estimate is not None]
        known = [c for c in costs if c is not None]
        total = "unknown" if len(known) < len(costs) else f"${sum(known):,.4f}"
        console.print(f"calls: {sum(s.to_do for s in summaries)}  estimated cost: {total} "
                      "(completion tokens are a typical reply length; cache hits would cost nothing)")
        for s in summaries:
            if s.modes is not None and s.to_do:
                console.print(f"{s.judge}: " + "; ".join(s.modes.lines()[1:]), soft_wrap=True)
        return
    table = Table(title="Judging")
    for col in ("judge", "ok", "parse_error", "error", "cached", "resumed", "not sent (budget)", "cost", "file"):
        table.add_column(col, justify="left" if col in ("judge", "file") else "right")
    for s in summaries:
        e = s.engine
        table.add_row(s.judge, str(e.ok), str(e.parse_errors), str(e.errors), str(e.cached), str(s.already_done),
                      str(e.skipped_budget), cost_text(e.cost_usd, e.unpriced_calls), str(s.path))
    console.print(table)
    if any(s.engine.stopped_by_budget for s in summaries):
        console.print("[yellow]budget reached:[/] finished judgments are saved; run again (with a new --budget) "
                      "to continue")
    for s in summaries:
        print_engine_notes(s.engine, console)
        if s.engine.errors:
            console.print(f"[yellow]{s.engine.errors} call(s) of {s.judge} failed[/]: {commonest(s.error_reasons)}; "
                          "run the same command again to retry them", soft_wrap=True)
    if any(s.skipped_generations for s in summaries):
        console.print(f"{summaries[0].skipped_generations} generation(s) not ok were not judged")
