"""Terminal output of the generation stage (rich): what was done, resumed, cached and failed."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from justeval.console import commonest
from justeval.console import console as make_console
from justeval.engine.notes import print_engine_notes
from justeval.engine.pricing import cost_text
from justeval.generation.run import GenerateSummary


def print_generate_summary(summary: GenerateSummary, console: Console | None = None) -> None:
    console = console or make_console()
    if summary.estimate is not None:
        est = summary.estimate
        table = Table(title=f"Dry run: generation by {summary.generator} (nothing was sent)")
        for col in ("items", "already done", "calls", "prompt tokens", "completion tokens (at most)",
                    "est. cost (at most)"):
            table.add_column(col, justify="right")
        table.add_row(str(summary.items), str(summary.already_done), str(est.calls), f"{est.prompt_tokens:,}",
                      f"{est.completion_tokens:,}", est.cost_text())
        console.print(table)
        return
    table = Table(title=f"Generation: {summary.generator}")
    for col in ("items", "resumed", "ok", "error", "cached", "retries", "cost", "wall", "file"):
        table.add_column(col, justify="left" if col == "file" else "right")
    e = summary.engine
    cost = cost_text(e.cost_usd, e.unpriced_calls)
    table.add_row(str(summary.items), str(summary.already_done), str(e.ok), str(summary.failed),
                  str(e.cached), str(e.retries), cost, f"{e.wall_s:.1f}s", str(summary.path))
    console.print(table)
    if summary.failed:
        shown = ", ".join(str(i) for i in summary.error_ids[:10]) + (" ..." if len(summary.error_ids) > 10 else "")
        console.print(f"[yellow]{summary.failed} item(s) failed[/] (ids {shown}): {commonest(summary.error_reasons)}; "
                      "run the same command again to retry them", soft_wrap=True)
    print_engine_notes(e, console)
    if e.skipped_budget:
        console.print(f"[yellow]budget reached:[/] {e.skipped_budget} item(s) not sent; finished outputs "
                      "are saved, run again (with a new --budget) to continue")
    if summary.to_do == 0:
        console.print("nothing to do: every selected item already has an ok output")
