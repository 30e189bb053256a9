"""The engine's progress display: done/total, rate, ETA, retries, failures and cost, on stderr.

On a terminal, a rich bar. Anywhere else (nohup, CI, `| tee`) a plain line every few seconds
(`EngineConfig.progress_interval_s`), so a long run in a log still says how far it is; a run
shorter than one interval prints nothing. `--no-progress` turns both off (a no-op object with
the same methods).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

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

    def advance(self, *, failed: bool = False, cached: bool = False, cost_usd: float | None = None) -> None:
        return None

    def retried(self) -> None:
        return None

    def skipped(self, n: int) -> None:
        return None

    def note(self, message: str) -> None:
        """Something the user should see once (a server taken out of a fleet)."""
        return None

    def status(self, text: str) -> None:
        """What the run is doing while nothing finishes (waiting for a batch)."""
        return None

    def tick(self) -> None:
        """Called about once a second by the engine, so a quiet run still shows its state."""
        return None


class _Counts:
    def __init__(self, total: int | None) -> None:
        self.total = total
        self.done = 0
        self.failures = 0
        self.cached = 0
        self.retries = 0
        self.cost = 0.0
        self.priced = 0

    def add(self, failed: bool, cached: bool, cost_usd: float | None) -> None:
        self.done += 1
        self.failures += failed
        self.cached += cached
        if cost_usd is not None:
            self.cost += cost_usd
            self.priced += 1


class RichProgress(NullProgress):
    def __init__(self, description: str, total: int | None, console: Console | None = None) -> None:
        self.counts = _Counts(total)
        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("retries {task.fields[retries]} · failed {task.fields[failures]}"
                       " · cached {task.fields[cached]}{task.fields[cost]}{task.fields[status]}"),
            console=console or Console(stderr=True), refresh_per_second=4, transient=False)
        self._task = self._bar.add_task(description, total=total, rate="", retries=0, failures=0, cached=0,
                                        cost="", status="")

    # kept for callers that read them
    @property
    def retries(self) -> int:
        return self.counts.retries

    @property
    def failures(self) -> int:
        return self.counts.failures

    @property
    def cached(self) -> int:
        return self.counts.cached

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._bar.stop()

    def advance(self, *, failed: bool = False, cached: bool = False, cost_usd: float | None = None) -> None:
        c = self.counts
        c.add(failed, cached, cost_usd)
        task = self._bar.tasks[0]
        speed = task.speed
        rate = f"{speed:.1f}/s" if speed else ""
        cost = f" · ${c.cost:,.4f}" if c.priced else ""
        self._bar.update(self._task, advance=1, rate=rate, failures=c.failures, cached=c.cached, cost=cost)

    def retried(self) -> None:
        self.counts.retries += 1
        self._bar.update(self._task, retries=self.counts.retries)

    def skipped(self, n: int) -> None:
        if n:
            self._bar.console.print(f"[yellow]budget reached: {n} request(s) not sent")

    def note(self, message: str) -> None:
        self._bar.console.print(f"[yellow]{message}", markup=False, highlight=False)

    def status(self, text: str) -> None:
        self._bar.update(self._task, status=f" · {text}" if text else "")


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class PlainProgress(NullProgress):
    """One plain line every `interval_s` seconds, for logs: what a bar would show, in words."""

    def __init__(self, description: str, total: int | None, *, interval_s: float = 5.0,
                 stream: TextIO | None = None) -> None:
        self.description = description
        self.counts = _Counts(total)
        self.interval_s = interval_s
        self.stream = stream
        self._start = time.monotonic()
        self._last = self._start
        self._printed = False
        self._status = ""

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._printed:  # a run that printed lines ends with its final state
            self._print()

    def _out(self) -> TextIO:
        return self.stream or sys.stderr

    def line(self) -> str:
        """The progress line as printed (public so tests can read it)."""
        c = self.counts
        elapsed = time.monotonic() - self._start
        done = f"{c.done:,}/{c.total:,}" if c.total is not None else f"{c.done:,}"
        parts = [f"{self.description}: {done} done", f"ok {c.done - c.failures:,}", f"errors {c.failures:,}"]
        if c.cached:
            parts.append(f"cached {c.cached:,}")
        if c.retries:
            parts.append(f"retries {c.retries:,}")
        parts.append(f"${c.cost:,.4f} so far" if c.priced else "cost unknown")
        rate = c.done / elapsed if elapsed > 0 else 0.0
        if rate > 0:
            parts.append(f"{rate:.1f}/s")
            if c.total is not None and c.total > c.done:
                parts.append(f"ETA {_duration((c.total - c.done) / rate)}")
        if self._status:
            parts.append(self._status)
        return ", ".join(parts)

    def _print(self) -> None:
        print(self.line(), file=self._out(), flush=True)
        self._printed = True
        self._last = time.monotonic()

    def tick(self) -> None:
        if time.monotonic() - self._last >= self.interval_s:
            self._print()

    def advance(self, *, failed: bool = False, cached: bool = False, cost_usd: float | None = None) -> None:
        self.counts.add(failed, cached, cost_usd)
        self.tick()

    def retried(self) -> None:
        self.counts.retries += 1

    def skipped(self, n: int) -> None:
        if n:
            print(f"budget reached: {n} request(s) not sent", file=self._out(), flush=True)

    def note(self, message: str) -> None:
        print(f"{self.description}: {message}", file=self._out(), flush=True)

    def status(self, text: str) -> None:
        self._status = text
        self.tick()


def make_progress(enabled: bool, description: str, total: int | None, *, interval_s: float = 5.0) -> NullProgress:
    """The bar on a terminal, the plain line elsewhere, nothing when disabled."""
    if not enabled:
        return NullProgress()
    if sys.stderr.isatty():
        return RichProgress(description, total)
    return PlainProgress(description, total, interval_s=interval_s)
