"""What every stage's report says about its engine pass beyond its table: calls not sent
because the run stopped, requests still waiting in a provider batch, cancelled batches. The
stop's reason itself is the command's last line (`RunSummary.raise_for_stop`)."""

from __future__ import annotations

from rich.console import Console

from justeval.engine.engine import RunSummary


def print_engine_notes(summary: RunSummary, console: Console) -> None:
    if summary.not_sent:
        console.print(f"[yellow]{summary.not_sent} item(s) not sent[/]: the run stopped (reason below); nothing was "
                      "charged for them, and the same command sends them when the server is back", soft_wrap=True)
    if summary.pending_keys:
        batches = summary.batches_pending or len(summary.batches_created) or 1
        console.print(f"[yellow]{len(summary.pending_keys)} request(s) waiting in {batches} provider batch(es)[/]: "
                      "run the same command again to collect them (nothing is submitted twice)", soft_wrap=True)
    if summary.cancelled_keys:
        console.print(f"[yellow]{len(summary.cancelled_keys)} request(s) of a cancelled batch[/] were not answered; "
                      "the same command sends them again", soft_wrap=True)
