"""Typed records of judge validity: a human-labelled pair, one judge call's verdict as written
to `verdicts.jsonl`, and the report. Field names are public interface (README, issue 12).

Numbering is always the set's own: response 1 and response 2 as the source lists them, so a
verdict of "1" means "response 1 is better" whichever order the judge saw them in.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from justeval.records import TemplateRef, Usage

Label = Literal["1", "2", "tie"]
#: labels in the order tables and kappas list them
LABELS: tuple[Label, ...] = ("1", "2", "tie")
Mode = Literal["pairwise", "absolute"]
#: pairwise: the set's order ("original", response 1 shown first) or swapped; absolute: which
#: response was scored alone
Call = Literal["original", "swapped", "response_1", "response_2"]
PAIRWISE_CALLS: tuple[Call, Call] = ("original", "swapped")
ABSOLUTE_CALLS: tuple[Call, Call] = ("response_1", "response_2")


def majority_label(labels: list[Label]) -> Label | None:
    """The label more annotators gave than any other; None when the most given is shared
    (people split evenly: the pair has no majority and is left out of the figures)."""
    if not labels:
        return None
    ranked = Counter(labels).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


class LabelledPair(BaseModel):
    """One instruction, two responses, and what people said about them, whatever the
    source's field names were (PandaLM's `response1`/`annotator1`, LLMBar's
    `output_1`/`label`, a review export's left/right)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    """Unique within the set: the source's own id, prefixed by the subset where a set has several."""
    source_id: str | None = None
    """The id in the source file (PandaLM `idx`, the position in an LLMBar file, a review pair id)."""
    instruction: str
    """What the user asked."""
    input: str | None = None
    """Extra context that goes with the instruction (PandaLM's `input`); None when there is none."""
    response_1: str
    response_2: str
    labels: dict[str, Label]
    """Annotator -> label, in the set's annotator order; an annotator who skipped the pair is absent."""
    subset: str | None = None
    """Part of the set the pair belongs to (LLMBar Adversarial: GPTInst, GPTOut, Manual, Neighbor)."""

    @property
    def prompt(self) -> str:
        """The instruction as the judge sees it: with its input below it, when there is one."""
        return f"{self.instruction}\n\n{self.input}" if self.input else self.instruction

    @property
    def majority(self) -> Label | None:
        return majority_label(list(self.labels.values()))

    @cached_property
    def digest(self) -> str:
        """A short hash of what the judge is shown: a verdict recorded for other content (an
        edited local file) is never taken for this pair's."""
        h = hashlib.sha256()
        for part in (self.instruction, self.input or "", self.response_1, self.response_2):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()[:16]


class VerdictRecord(BaseModel):
    """One judge call on one pair (a line of `DIR/verdicts.jsonl`), appended as it finishes.

    `status`: `ok` (read), `parse_error` (the reply could not be read after `--parse-retries`:
    an unreadable verdict, counted as such and never as right), `error` (the call failed; asked
    again on the next run). Readers take the last line per `key()`."""

    model_config = ConfigDict(extra="ignore")

    set: str
    id: str
    pair_digest: str
    judge: str
    mode: Mode
    template: TemplateRef
    call: Call
    status: Literal["ok", "parse_error", "error"]
    verdict: Label | None = None
    """Pairwise: the preferred response in the set's numbering (mapped back from the order shown)."""
    scores: dict[str, float | None] = Field(default_factory=dict)
    """Absolute: the aspect scores of the response scored; null where the judge said N/A."""
    rationale: str = ""
    """Pairwise: the judge's reason for its verdict."""
    rationales: dict[str, str] = Field(default_factory=dict)
    """Absolute: the judge's reason per aspect."""
    raw: str | None = None
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_s: float | None = None
    cost_usd: float | None = None
    attempts: int = 1
    cached: bool = False

    def key(self) -> tuple[str, ...]:
        return (self.set, self.id, self.pair_digest, self.judge, self.mode, self.template.hash, self.call)

    @property
    def settled(self) -> bool:
        """A reply was received (read or not): nothing to ask again."""
        return self.status in ("ok", "parse_error")


# -- the report ----------------------------------------------------------------------------


class Accuracy(BaseModel):
    """Share of items whose verdict equals the human label: with the answers in the set's
    order, swapped, the mean of the two, and right in both orders at once. Null when the run
    has no such figure (one order only: `second_order` and `both`)."""

    first_order: float | None = None
    second_order: float | None = None
    average: float | None = None
    both: float | None = None


class Interval(BaseModel):
    low: float
    high: float


class AccuracyCI(BaseModel):
    """95 % percentile bootstrap intervals over items, one per accuracy figure."""

    first_order: Interval | None = None
    second_order: Interval | None = None
    average: Interval | None = None
    both: Interval | None = None


class Kappa(BaseModel):
    """Cohen's kappa of the judge's verdicts (both orders pooled; unreadable is its own
    category, so it always counts as disagreement) with the majority label and with each
    annotator on the pairs that annotator labelled."""

    majority: float | None = None
    annotators: dict[str, float | None] = Field(default_factory=dict)


class Humans(BaseModel):
    """The people: who labelled, how far they agree with each other (the ceiling a judge can
    be held to), and how the majority labels split."""

    annotators: list[str] = Field(default_factory=list)
    kappa: dict[str, float | None] | None = None
    """Cohen's kappa per annotator pair, keyed "1-2", "1-3", ... by position in `annotators`;
    null with a single annotator."""
    label_counts: dict[str, int] = Field(default_factory=dict)
    """Majority labels of the measured items: {"tie", "1", "2"}."""


class Bias(BaseModel):
    """Shares among the judge's readable, non-tie verdicts (and, for people, non-tie majority
    labels). 0.5 is no preference; null when nothing can be counted."""

    first_position: float | None = None
    """How often the judge picked the answer it was shown first (pairwise only)."""
    longer: float | None = None
    """How often the judge picked the longer answer (characters; pairs of equal length left out)."""
    human_longer: float | None = None
    """How often people's majority picked the longer answer."""
    human_first: float | None = None
    """How often people's majority picked response 1 (the answer shown first to them)."""


class Counts(BaseModel):
    """The integers behind the fractions, so any published ratio can be rebuilt exactly."""

    items: int = 0
    verdicts: int = 0
    correct_first: int = 0
    correct_second: int | None = None
    correct_both: int | None = None
    consistent: int | None = None
    """Items whose two orders gave the same readable verdict."""
    both_unreadable: int | None = None
    """Items unreadable in both orders (LLMBar's `equal` counts these as agreeing)."""
    ties: int = 0
    unreadable: int = 0


class Figures(BaseModel):
    """Everything measured on one group of items (the whole set, or one subset)."""

    n: int = 0
    """Items measured: a majority label and every verdict settled."""
    unreadable: int = 0
    """Verdicts that could not be read (each order counts once)."""
    accuracy: Accuracy = Field(default_factory=Accuracy)
    accuracy_without_ties: Accuracy = Field(default_factory=Accuracy)
    """The same figures on the items whose label is not a tie."""
    n_without_ties: int = 0
    consistency: float | None = None
    """Share of items whose two orders gave the same readable verdict (pairwise, both orders)."""
    tie_rate: float | None = None
    """Share of the judge's verdicts that are a tie."""
    kappa: Kappa = Field(default_factory=Kappa)
    humans: Humans = Field(default_factory=Humans)
    bias: Bias = Field(default_factory=Bias)
    ci: AccuracyCI = Field(default_factory=AccuracyCI)
    ci_without_ties: AccuracyCI = Field(default_factory=AccuracyCI)
    counts: Counts = Field(default_factory=Counts)


class Panel(BaseModel):
    method: Literal["majority", "mean"]
    judges: list[str]
    alpha: float | None = None
    """Krippendorff's alpha (nominal) between the judges' verdicts, over (item, order) units."""


REPORT_FORMAT: Literal["justeval-judge-eval"] = "justeval-judge-eval"
REPORT_VERSION = 1


class JudgeEvalReport(Figures):
    """The report of one judge (or panel) on one set: what `--json` prints and `DIR/report.json`
    holds. A figure the run cannot give is null, never 0."""

    format: Literal["justeval-judge-eval"] = REPORT_FORMAT
    version: int = REPORT_VERSION
    set: str
    set_source: list[str] = Field(default_factory=list)
    judge: str
    mode: Mode
    template: TemplateRef | None = None
    aspect: str | None = None
    tie_margin: float | None = None
    orders: int = 2
    """Orders each pair was judged in: 2 (pairwise, both), 1 (absolute, or a recorded one-order run)."""
    n_set: int = 0
    """Pairs in the set as selected (`--limit`, `--sample`)."""
    pending: int = 0
    """Pairs with a verdict still missing (a failed call, or not sent for the budget)."""
    no_majority: int = 0
    """Pairs whose annotators split evenly: left out."""
    subsets: dict[str, Figures] = Field(default_factory=dict)
    cost_usd: float | None = None
    unpriced_calls: int = 0
    wall_s: float | None = None
    panel: Panel | None = None
    members: list[JudgeEvalReport] = Field(default_factory=list)
    """A panel's judges, each measured alone."""


class ReportFile(BaseModel):
    """`DIR/report.json` when several judges were measured separately (no `--panel`)."""

    format: Literal["justeval-judge-eval"] = REPORT_FORMAT
    version: int = REPORT_VERSION
    reports: list[JudgeEvalReport]
