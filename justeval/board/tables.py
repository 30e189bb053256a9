"""The leaderboard itself: per model and aspect the mean, a bootstrap CI and every count, the
overall average, output length, and rank ranges that show which models cannot be told apart.

Arithmetic: a model's aspect mean is the plain mean of its scores on the items of that
aspect's category. N/A scores are left out (and counted) unless `na_as` gives them a value
(`na_as=5` is the original just-eval report). Parse errors, failed judge calls, failed
generations and unjudged items never enter a mean; they are counted. The average is the mean
of the model's aspect means (all aspects shown, regular and safety alike).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from justeval.board.bootstrap import CONFIDENCE, bootstrap_groups, interval
from justeval.board.loading import (
    GEN_ERROR,
    JUDGE_ERROR,
    NA,
    NOT_JUDGED,
    PARSE_ERROR,
    SCORED,
    ModelItems,
)
from justeval.records import CATEGORIES

if TYPE_CHECKING:
    from justeval.board.breakdowns import BreakdownRow
    from justeval.board.diagnostics import Correlation, ModelDiagnostics
    from justeval.board.judge_section import JudgeSection
    from justeval.board.panel import PanelSummary
    from justeval.board.sweep_chart import SweepView


@dataclass
class Settings:
    na_as: float | None = None
    bootstrap: int = 1000
    seed: int = 0
    subset: str = "all"
    judge: list[str] | None = None
    confidence: float = CONFIDENCE
    template: list[str] | None = None  # judgings with these templates (name, hash or identity) only
    panel: str | None = None  # mean | median | majority: one board from several judges (board.panel)


@dataclass
class MeanCI:
    mean: float
    ci_low: float
    ci_high: float


@dataclass
class AspectStat:
    mean: float
    ci_low: float
    ci_high: float
    n: int                 # scores in the mean (N/A included when na_as is set)
    missing: int           # N/A given by the judge
    parse_errors: int
    judge_errors: int
    not_judged: int
    generation_errors: int
    judges: list[str] = field(default_factory=list)
    templates: list[dict[str, str]] = field(default_factory=list)
    repeats: int = 1              # the most scorings of one item (judge --repeats)
    spread: float | None = None   # judge stability: mean over items of the SD of their repeats' scores

    @property
    def errors(self) -> int:
        return self.parse_errors + self.judge_errors


@dataclass
class ModelRow:
    model: str
    source: str
    aspects: dict[str, AspectStat]
    average: MeanCI
    average_aspects: list[str]
    length_words: float
    counts: dict[str, int]
    rank: tuple[int, int] | None = None
    self_preference: list[str] = field(default_factory=list)  # its judges of its own model family (board.family)

    @property
    def rank_label(self) -> str:
        if self.rank is None:
            return "-"
        lo, hi = self.rank
        return str(lo) if lo == hi else f"{lo}-{hi}"


@dataclass
class Summary:
    """Means and intervals of one model over a set of its items."""

    aspects: list[str]
    points: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n: np.ndarray
    average: MeanCI
    average_aspects: list[str]


def summarise(mi: ModelItems, aspects_by_category: dict[str, list[str]], settings: Settings,
              rows: np.ndarray | None = None) -> Summary:
    """Per-aspect means and CIs of `mi` over the items in `rows` (all when None)."""
    groups, names, counts = [], [], []
    for cat in CATEGORIES:
        in_cat = mi.category == cat
        cols = [a for a in aspects_by_category.get(cat, []) if a in mi.values]
        if not cols:
            continue
        vals, inc = zip(*(mi.scores(a, settings.na_as) for a in cols), strict=True)
        v = np.column_stack([x[in_cat] for x in vals])
        m = np.column_stack([x[in_cat] for x in inc])
        sub = None if rows is None else rows[in_cat]
        groups.append((cat, v, m, sub, _repeat_block(mi, cols, in_cat, settings.na_as)))
        names.extend(cols)
        counts.extend((m if sub is None else m & sub[:, None]).sum(axis=0).tolist())
    points, samples = bootstrap_groups(groups, settings.bootstrap, settings.seed, mi.model)
    lo, hi = interval(samples, settings.confidence)
    have = ~np.isnan(points)
    avg_names = [a for a, h in zip(names, have, strict=True) if h]
    if have.any():
        avg = float(points[have].mean())
        with np.errstate(invalid="ignore"):
            alo, ahi = interval(samples[:, have].mean(axis=1, keepdims=True), settings.confidence)
        average = MeanCI(avg, float(alo[0]), float(ahi[0]))
    else:
        average = MeanCI(math.nan, math.nan, math.nan)
    return Summary(names, points, lo, hi, np.array(counts, dtype=int), average, avg_names)


def _repeat_block(mi: ModelItems, cols: list[str], rows: np.ndarray,
                  na_as: float | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The repeats of a category's items (items x repeats x columns: values, included) when any
    of its aspects was scored more than once, so the bootstrap resamples them too; else None."""
    if not any(a in mi.repeat_values for a in cols):
        return None
    blocks = []
    most = max(mi.repeat_values[a].shape[1] for a in cols if a in mi.repeat_values)
    for a in cols:
        got = mi.repeat_scores(a, na_as)
        if got is None:  # scored once per item: that score is its only repeat
            v, inc = mi.scores(a, na_as)
            got = v[:, None], inc[:, None]
        v, inc = got
        pad = most - v.shape[1]
        blocks.append((np.pad(v[rows], ((0, 0), (0, pad)), constant_values=np.nan),
                       np.pad(inc[rows], ((0, 0), (0, pad)), constant_values=False)))
    return np.stack([b[0] for b in blocks], axis=2), np.stack([b[1] for b in blocks], axis=2)


def repeat_spread(mi: ModelItems, aspect: str, na_as: float | None) -> tuple[int, float | None]:
    """(most repeats of an item, mean within-item SD of the repeats' scores over the items scored
    at least twice); (1, None) for an aspect scored once per item."""
    got = mi.repeat_scores(aspect, na_as)
    if got is None:
        return 1, None
    v, inc = got
    n = inc.sum(axis=1)
    several = n >= 2
    if not several.any():
        return int(v.shape[1]), None
    x = np.where(inc, v, np.nan)[several]
    return int(v.shape[1]), float(np.nanstd(x, axis=1, ddof=1).mean())


def _count(state: np.ndarray, code: int) -> int:
    return int((state == code).sum())


def model_row(mi: ModelItems, aspects_by_category: dict[str, list[str]], settings: Settings) -> ModelRow:
    s = summarise(mi, aspects_by_category, settings)
    stats: dict[str, AspectStat] = {}
    for k, a in enumerate(s.aspects):
        st = mi.state[a]
        most, spread = repeat_spread(mi, a, settings.na_as)
        stats[a] = AspectStat(
            mean=float(s.points[k]), ci_low=float(s.ci_low[k]), ci_high=float(s.ci_high[k]), n=int(s.n[k]),
            missing=_count(st, NA), parse_errors=_count(st, PARSE_ERROR), judge_errors=_count(st, JUDGE_ERROR),
            not_judged=_count(st, NOT_JUDGED), generation_errors=_count(st, GEN_ERROR),
            judges=mi.judges.get(a, []), templates=mi.templates.get(a, []), repeats=most, spread=spread)
    states = np.column_stack(list(mi.state.values())) if mi.state else np.zeros((len(mi.ids), 0), dtype=np.int8)
    counts = {
        "items": len(mi.ids),
        "judged": int(((states == SCORED) | (states == NA)).any(axis=1).sum()),
        "missing": int((states == NA).sum()),
        "parse_errors": int((states == PARSE_ERROR).any(axis=1).sum()),
        "judge_errors": int((states == JUDGE_ERROR).any(axis=1).sum()),
        "not_judged": int((states == NOT_JUDGED).any(axis=1).sum()),
        "generation_errors": int(mi.gen_error.sum()),
    }
    length = float(np.nanmean(mi.words)) if (~np.isnan(mi.words)).any() else math.nan
    return ModelRow(model=mi.model, source=mi.source, aspects=stats, average=s.average,
                    average_aspects=s.average_aspects, length_words=length, counts=counts)


def assign_ranks(rows: list[ModelRow]) -> list[ModelRow]:
    """Sort by average (best first) and give each model the range of ranks its CI allows.

    A model is clearly above another when its CI lies entirely above the other's; its best rank
    is 1 + the models clearly above it, its worst the count of models not clearly below it.
    Equal averages and overlapping CIs therefore share ranks (shown as e.g. `2-4`).
    Averages over different sets of aspects cannot be compared: models are ranked within
    groups that share their aspect set, groups with more aspects first.
    """
    def key(r: ModelRow) -> tuple[bool, int, float, str]:
        nan = math.isnan(r.average.mean)
        return (nan, -len(r.average_aspects), 0.0 if nan else -r.average.mean, r.model)

    rows = sorted(rows, key=key)

    def bounds(r: ModelRow) -> tuple[float, float]:
        lo, hi = r.average.ci_low, r.average.ci_high
        if math.isnan(lo) or math.isnan(hi):
            return r.average.mean, r.average.mean
        return lo, hi

    groups: dict[tuple[str, ...], list[ModelRow]] = {}
    for r in rows:
        if not math.isnan(r.average.mean):
            groups.setdefault(tuple(r.average_aspects), []).append(r)
    for peers in groups.values():
        for r in peers:
            lo, hi = bounds(r)
            above = sum(1 for o in peers if o is not r and bounds(o)[0] > hi)
            below = sum(1 for o in peers if o is not r and bounds(o)[1] < lo)
            r.rank = (1 + above, len(peers) - below)
    return rows


@dataclass
class Leaderboard:
    settings: Settings
    aspects: list[str]
    aspects_by_category: dict[str, list[str]]
    rows: list[ModelRow]
    breakdowns: dict[str, list[BreakdownRow]] = field(default_factory=dict)
    diagnostics: dict[str, ModelDiagnostics] = field(default_factory=dict)
    length_correlation: dict[str, Correlation] = field(default_factory=dict)  # all models pooled
    notes: list[str] = field(default_factory=list)
    panel: PanelSummary | None = None        # with Settings.panel: the judges and their agreement
    judge_eval: JudgeSection | None = None   # --judge-eval: the judge measured against people
    sweep: SweepView | None = None           # a `justeval sweep` folder: score vs K per configuration


def build_table(models: Sequence[ModelItems], aspects_by_category: dict[str, list[str]],
                settings: Settings) -> Leaderboard:
    from justeval.board.loading import order_aspects

    aspects = order_aspects(a for cols in aspects_by_category.values() for a in cols)
    rows = assign_ranks([model_row(mi, aspects_by_category, settings) for mi in models])
    return Leaderboard(settings=settings, aspects=aspects, aspects_by_category=aspects_by_category, rows=rows)

