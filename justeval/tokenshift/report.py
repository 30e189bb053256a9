"""The token-shift report, computed from the records (never edited): the paper's three ratios
of all output tokens, the most frequent shifted tokens, the shifted ratio by position and by the
instruction's category and task, per model side by side.

`summarize` is pure over records, so anything that reads `token_shift.jsonl` (the CLI, a page)
gets the same figures; `shift_report` is the CLI's report of what an analysis just covered.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table
from rich.text import Text

from justeval.console import console as make_console
from justeval.ids import ItemId
from justeval.tokenshift.analysis import RunShift, read_token_shift
from justeval.tokenshift.records import (
    FORMAT_VERSION,
    MARGINAL_MAX_RANK,
    SHIFT_CATEGORIES,
    ShiftCounts,
    TokenShiftRecord,
)

#: token positions (0-based, [start, end)) the shifted ratio is broken down by; the paper finds
#: the shifts concentrated in the first tokens of an answer
POSITION_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 5), (5, 10), (10, 20), (20, 50), (50, 100), (100, 200), (200, 500), (500, None))
TOP_TOKENS = 20
_NOT_SHIFTED = range(1, MARGINAL_MAX_RANK + 1)


class TokenCount(BaseModel):
    token: str
    count: int


class PositionBucket(BaseModel):
    """Tokens at positions [start, end) of their output, and how many of them are shifted."""

    bucket: str
    start: int
    end: int | None
    tokens: int
    shifted: int
    shifted_ratio: float | None


class GroupShift(BaseModel):
    """The three ratios over the outputs of one category or task."""

    items: int
    tokens: int
    unshifted: float | None
    marginal: float | None
    shifted: float | None


class ModelShift(BaseModel):
    """One run's figures: ratios are of all its analysed output tokens (0-1; None without tokens)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    run: str
    records: str
    generator: str
    selected: int
    """Items asked for (after selection options)."""
    items: int
    """Items with an ok record, the ones the figures cover."""
    errors: int
    missing: int
    """Selected items with no record yet (e.g. the budget was reached): a rerun analyses them."""
    tokens: int
    truncated: int
    """Outputs cut to fit the model's context."""
    counts: ShiftCounts
    unshifted: float | None
    marginal: float | None
    shifted: float | None
    aligned_agreement: float | None = None
    """With --aligned: share of positions where the aligned model's top-1 is the output's token."""
    top_shifted_tokens: list[TokenCount] = Field(default_factory=list)
    by_position: list[PositionBucket] = Field(default_factory=list)
    by_category: dict[str, GroupShift] = Field(default_factory=dict)
    by_task: dict[str, GroupShift] = Field(default_factory=dict)


class TokenShiftReport(BaseModel):
    """The analysis (what was measured against what) and its figures; the top-level ratios pool
    every model's tokens, `models` holds each run's own."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    format_version: int = FORMAT_VERSION
    analysis: str | None
    base: str | None
    aligned: str | None
    measured: str | None
    template: str | None
    tokenizer: str | None
    top_k: int | None
    items: int
    tokens: int
    unshifted: float | None
    marginal: float | None
    shifted: float | None
    models: list[ModelShift]


def _bucket_name(start: int, end: int | None) -> str:
    return f"{start}-{end - 1}" if end is not None else f"{start}+"


def _group(tally: list[int]) -> GroupShift:
    counts = ShiftCounts(unshifted=tally[1], marginal=tally[2], shifted=tally[3])
    return GroupShift(items=tally[0], tokens=counts.total, unshifted=counts.ratio("unshifted"),
                      marginal=counts.ratio("marginal"), shifted=counts.ratio("shifted"))


class ShiftTally:
    """`summarize`'s figures gathered one record at a time, as integer sums and counters.

    Why not a list of records: a page summarizes thousands of outputs of hundreds of tokens,
    and holding every record (or building a pydantic object per token) to sum them afterwards
    cost seconds and memory; `add` keeps only sums, so a caller can read a record, add what
    summarize reads of it and drop it. `summarize` itself is this tally over its records, so
    every reader gets the very same figures."""

    def __init__(self) -> None:
        self.records = 0
        self.ok = 0
        self.generators: set[str] = set()
        self.counts = [0, 0, 0]  # unshifted, marginal, shifted of the ok records
        self.truncated = 0
        self.shifted_tokens: Counter[str] = Counter()
        self.bucket_tokens = [0] * len(POSITION_BUCKETS)
        self.bucket_shifted = [0] * len(POSITION_BUCKETS)
        self.categories: dict[str, list[int]] = {}   # name -> [items, unshifted, marginal, shifted]
        self.tasks: dict[str, list[int]] = {}
        self.agreement_tokens = 0
        self.agreeing = 0

    def add(self, *, ok: bool, generator: str, counts: tuple[int, int, int], category: str = "regular",
            task_types: Iterable[str] = (), tokens: int = 0, truncated_from: int | None = None,
            ranks: Sequence[int | None] = (), shifted_tokens: Iterable[str] = (),
            aligned_agreement: int | None = None) -> None:
        """One record's part: `ranks` are ints (1 = top-1) or None (outside the top-k), as the
        record model validates them; an error record counts only as a record and its generator."""
        self.records += 1
        self.generators.add(generator)
        if not ok:
            return
        self.ok += 1
        for k in range(3):
            self.counts[k] += counts[k]
        self.truncated += truncated_from is not None
        self.shifted_tokens.update(shifted_tokens)
        n_ranks = len(ranks)
        for index, (start, end) in enumerate(POSITION_BUCKETS):
            if start >= n_ranks:
                break
            part = ranks[start:end]
            # categorize(): ranks 1 to MARGINAL_MAX_RANK are not shifted, anything else (None too) is
            self.bucket_tokens[index] += len(part)
            self.bucket_shifted[index] += len(part) - sum(part.count(k) for k in _NOT_SHIFTED)
        for group, name in ((self.categories, category), *((self.tasks, task) for task in task_types)):
            tally = group.setdefault(name, [0, 0, 0, 0])
            tally[0] += 1
            for k in range(3):
                tally[k + 1] += counts[k]
        if aligned_agreement is not None:
            self.agreement_tokens += tokens
            self.agreeing += aligned_agreement

    def add_record(self, r: TokenShiftRecord) -> None:
        c = r.counts
        self.add(ok=r.ok, generator=r.generator, counts=(c.unshifted, c.marginal, c.shifted), category=r.category,
                 task_types=r.task_types, tokens=r.tokens, truncated_from=r.truncated_from, ranks=r.ranks,
                 shifted_tokens=(d.token for d in r.shifted_tokens), aligned_agreement=r.aligned_agreement)

    def summary(self, *, run: str = "", records_path: str = "", generator: str = "", selected: int | None = None,
                top_tokens: int = TOP_TOKENS) -> ModelShift:
        counts = ShiftCounts(unshifted=self.counts[0], marginal=self.counts[1], shifted=self.counts[2])
        by_position = [PositionBucket(bucket=_bucket_name(start, end), start=start, end=end,
                                      tokens=self.bucket_tokens[i], shifted=self.bucket_shifted[i],
                                      shifted_ratio=self.bucket_shifted[i] / self.bucket_tokens[i])
                       for i, (start, end) in enumerate(POSITION_BUCKETS) if self.bucket_tokens[i]]
        chosen = self.records if selected is None else selected
        agreement = self.agreeing / self.agreement_tokens if self.agreement_tokens else None
        return ModelShift(
            run=run, records=records_path, generator=generator or ", ".join(sorted(self.generators)),
            selected=chosen, items=self.ok, errors=self.records - self.ok, missing=max(0, chosen - self.records),
            tokens=counts.total, truncated=self.truncated, counts=counts, unshifted=counts.ratio("unshifted"),
            marginal=counts.ratio("marginal"), shifted=counts.ratio("shifted"), aligned_agreement=agreement,
            top_shifted_tokens=[TokenCount(token=t, count=n) for t, n in self.shifted_tokens.most_common(top_tokens)],
            by_position=by_position, by_category={k: _group(v) for k, v in sorted(self.categories.items())},
            by_task={k: _group(v) for k, v in sorted(self.tasks.items())})


def summarize(records: Iterable[TokenShiftRecord], *, run: str = "", records_path: str = "", generator: str = "",
              selected: int | None = None, top_tokens: int = TOP_TOKENS) -> ModelShift:
    """One model's figures from its records (the latest per id; errors are counted, not averaged)."""
    tally = ShiftTally()
    for r in records:
        tally.add_record(r)
    return tally.summary(run=run, records_path=records_path, generator=generator, selected=selected,
                         top_tokens=top_tokens)


def shift_report(results: Sequence[RunShift], *, top_tokens: int = TOP_TOKENS) -> TokenShiftReport:
    """The report of the selected items of each run, read back from its records file."""
    models = []
    first: TokenShiftRecord | None = None
    for result in results:
        latest = read_token_shift(result.path)
        wanted: list[ItemId] = result.ids
        records = [latest[i] for i in wanted if i in latest]
        first = first or next(iter(records), None)
        models.append(summarize(records, run=str(result.run), records_path=str(result.path),
                                generator=result.generator, selected=len(wanted), top_tokens=top_tokens))
    pooled = sum((m.counts for m in models), ShiftCounts())
    return TokenShiftReport(
        analysis=first.analysis if first else None, base=first.base if first else None,
        aligned=first.aligned if first else None, measured=first.measured if first else None,
        template=first.template.name if first else None, tokenizer=first.tokenizer.name if first else None,
        top_k=first.top_k if first else None, items=sum(m.items for m in models), tokens=pooled.total,
        unshifted=pooled.ratio("unshifted"), marginal=pooled.ratio("marginal"), shifted=pooled.ratio("shifted"),
        models=models)


# -- terminal --------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _token(text: str) -> str:
    """A token as it reads in a table: quoted, whitespace made visible."""
    return json.dumps(text, ensure_ascii=False)


def _names(models: Sequence[ModelShift]) -> list[Text]:
    """Column heads: the generator, with the run's folder where two runs share one. Text, not
    markup: a model's name is shown as it is (no `[tags]`, no `:emoji:` codes)."""
    plain = [m.generator or Path(m.run).name for m in models]
    return [Text(f"{name} ({Path(m.run).name})" if plain.count(name) > 1 else name)
            for name, m in zip(plain, models, strict=True)]


def print_report(report: TokenShiftReport, *, console: Console | None = None, top_tokens: int = 15) -> None:
    """The ratios side by side, then the shifted tokens, positions, categories and tasks."""
    console = console or make_console()
    models = report.models
    names = _names(models)
    aligned = f", measured: the aligned model's top-1 ({report.aligned})" if report.aligned else ""
    title = Text(f"Token distribution shift under {report.base or '?'} (template {report.template or '?'}, "
                 f"top-k {report.top_k}{aligned})")
    table = Table(title=title)
    table.add_column("")
    for name in names:
        table.add_column(name, justify="right")
    table.add_row("items", *(f"{m.items} of {m.selected}" for m in models))
    table.add_row("tokens", *(f"{m.tokens:,}" for m in models))
    for category in SHIFT_CATEGORIES:
        label = {"unshifted": "unshifted (rank 1)", "marginal": "marginal (rank 2-3)",
                 "shifted": "shifted (rank > 3)"}[category]
        table.add_row(label, *(_pct(getattr(m, category)) for m in models))
    if any(m.errors for m in models):
        table.add_row("errors", *(str(m.errors) for m in models))
    if any(m.missing for m in models):
        table.add_row("not analysed yet", *(str(m.missing) for m in models))
    if any(m.truncated for m in models):
        table.add_row("cut to the context", *(str(m.truncated) for m in models))
    if any(m.aligned_agreement is not None for m in models):
        table.add_row("aligned top-1 = output", *(_pct(m.aligned_agreement) for m in models))
    console.print(table)

    if any(m.top_shifted_tokens for m in models):
        tokens = Table(title="Most frequent shifted tokens")
        tokens.add_column("#", justify="right")
        for name in names:
            tokens.add_column(name)
        for i in range(min(top_tokens, max(len(m.top_shifted_tokens) for m in models))):
            at_i = [m.top_shifted_tokens[i] if i < len(m.top_shifted_tokens) else None for m in models]
            tokens.add_row(str(i + 1), *(Text(f"{_token(c.token)} ×{c.count}") if c else "" for c in at_i))
        console.print(tokens)

    buckets = [name for name, _ in sorted({(b.bucket, b.start) for m in models for b in m.by_position},
                                          key=lambda nb: nb[1])]
    if buckets:
        position = Table(title="Shifted share by token position")
        position.add_column("positions")
        for name in names:
            position.add_column(name, justify="right")
        for bucket in buckets:
            cells: list[str] = []
            for m in models:
                b = next((b for b in m.by_position if b.bucket == bucket), None)
                cells.append(f"{_pct(b.shifted_ratio)} of {b.tokens:,}" if b else "")
            position.add_row(bucket, *cells)
        console.print(position)

    for heading, attr in (("Shifted share by category", "by_category"), ("Shifted share by task type", "by_task")):
        groups = sorted({g for m in models for g in getattr(m, attr)})
        if not groups:
            continue
        group_table = Table(title=heading)
        group_table.add_column(attr.removeprefix("by_"))
        for name in names:
            group_table.add_column(name, justify="right")
        for g in groups:
            cells = []
            for m in models:
                shift = getattr(m, attr).get(g)
                cells.append(f"{_pct(shift.shifted)} ({shift.items} items)" if shift else "")
            group_table.add_row(Text(g), *cells)
        console.print(group_table)


def print_progress(results: Sequence[RunShift], *, console: Console | None = None) -> None:
    """What this invocation did per run, and how to go on."""
    console = console or make_console()
    for r in results:
        done = f"analysed {r.ok}" + (f", {r.errors} failed" if r.errors else "") + (
            f", {r.already_done} already done" if r.already_done else "")
        if r.not_sent:
            done += f", {r.not_sent} not sent (budget reached: run again to continue)"
        console.print(Text(f"{r.path}: {done}"), soft_wrap=True)
        if r.first_error:
            console.print(Text(f"  first error: {r.first_error}"), soft_wrap=True)
    if any(r.errors for r in results):
        console.print("some outputs could not be analysed (status error in the records); run the same command again "
                      "to retry them", soft_wrap=True)
