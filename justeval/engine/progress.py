"""The engine's progress bar: done/total, rate, ETA, retries and failures (rich, on stderr).

Shown only when asked for and stderr is a terminal, so logs, pipes and tests stay clean;
otherwise a no-op object with the same methods is used.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class NullProgress:
    """Same interface, does nothing."""

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        return None

    def advance(self, *, failed: bool = False, cached: bool = False) -> None:
        return None

    def retried(self) -> None:
        return None

    def skipped(self, n: int) -> None:
        return None


class RichProgress(NullProgress):
    def __init__(self, description: str, total: int | None, console: Console | None = None) -> None:
        self.retries = 0
        self.failures = 0
        self.cached = 0
        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("retries {task.fields[retries]} · failed {task.fields[failures]}"
                       " · cached {task.fields[cached]}"),
            console=console or Console(stderr=True), refresh_per_second=4, transient=False)
        self._task = self._bar.add_task(description, total=total, rate="", retries=0, failures=0, cached=0)

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._bar.stop()

    def advance(self, *, failed: bool = False, cached: bool = False) -> None:
        self.failures += failed
        self.cached += cached
        task = self._bar.tasks[0]
        speed = task.speed
        rate = f"{speed:.1f}/s" if speed else ""
        self._bar.update(self._task, advance=1, rate=rate, failures=self.failures, cached=self.cached)

    def retried(self) -> None:
        self.retries += 1
        self._bar.update(self._task, retries=self.retries)

    def skipped(self, n: int) -> None:
        if n:
            self._bar.console.print(f"[yellow]budget reached: {n} request(s) not sent")


def make_progress(enabled: bool, description: str, total: int | None) -> NullProgress:
    if enabled and sys.stderr.isatty():
        return RichProgress(description, total)
    return NullProgress()
