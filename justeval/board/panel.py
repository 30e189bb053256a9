"""One board from several judges (`--panel mean|median|majority`), and how far they agree.

`justeval judge RUN --judge A --judge B --judge C` keeps one judgment file per judge. Without
a panel the board refuses two judges' scores for the same cell (pick one with `--judge`);
with one, every model's items are read once per judge and combined cell by cell:

- the panel's score of an (item, aspect) is the `mean`, the `median` (of an even number: the
  mean of the middle two) or the `majority` of the scores the judges gave it; the judges that
  gave none (N/A, an unreadable reply, a failed call, not judged) are left out of that cell;
- `majority` is the most common score; where several scores are equally common, the mean of
  those scores (judges split 3 / 4 give 3.5; 2 / 2 / 5 give 2), so a split never favours the
  higher or the lower score;
- a cell no judge scored takes the most telling state any judge left: N/A (then `--na-as`
  applies as for one judge), else a parse error, a judge error, a generation error, not judged.

Agreement: Krippendorff's alpha between the judges per aspect, over every (model, item) the
board holds that at least two judges scored, on the judges' own scores (never the panel's):
interval alpha for `mean` and `median` (they treat scores as numbers), nominal alpha for
`majority` (a vote counts only identical scores as agreeing). See `justeval.board.alpha`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from justeval.board.alpha import Alpha, krippendorff_alpha
from justeval.board.loading import (
    GEN_ERROR,
    JUDGE_ERROR,
    NA,
    NOT_APPLICABLE,
    NOT_JUDGED,
    PARSE_ERROR,
    SCORED,
    ModelItems,
    ModelRun,
    Ref,
    build_items,
    extend_aspects,
    order_aspects,
)
from justeval.errors import UsageError
from justeval.records import CATEGORIES, ItemId
from justeval.rundir import safe_name

PANEL_METHODS = ("mean", "median", "majority")
ALPHA_METRIC = {"mean": "interval", "median": "interval", "majority": "nominal"}
# Where no judge scored a cell, the state it takes: the first any judge left, in this order.
_STATE_ORDER = (NA, PARSE_ERROR, JUDGE_ERROR, GEN_ERROR, NOT_JUDGED)


def check_method(method: str) -> None:
    if method not in PANEL_METHODS:
        raise UsageError(f"unknown --panel {method!r} (choose from {', '.join(PANEL_METHODS)})")


def combine(scores: np.ndarray, method: str) -> np.ndarray:
    """Per row of `scores` (items x judges, NaN: no score) the panel's score; NaN where none."""
    check_method(method)
    if scores.shape[1] == 0:
        return np.full(scores.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without any score: NaN, as wanted
        if method == "mean":
            return np.asarray(np.nanmean(scores, axis=1))
        if method == "median":
            return np.asarray(np.nanmedian(scores, axis=1))
    levels = np.unique(scores[~np.isnan(scores)])
    if not len(levels):
        return np.full(scores.shape[0], np.nan)
    counts = (scores[:, :, None] == levels[None, None, :]).sum(axis=1)  # items x levels
    top = counts.max(axis=1)
    modal = (counts == top[:, None]) & (top[:, None] > 0)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.where(top > 0, (modal * levels).sum(axis=1) / modal.sum(axis=1), np.nan))


def judges_of(run: ModelRun, wanted: Sequence[str] | None) -> list[str]:
    """The judges of a model's judgments, in the order first met; only `wanted` ones when given."""
    return list(dict.fromkeys(j.judge for j in run.judgments
                              if not wanted or j.judge in wanted or safe_name(j.judge) in wanted))


@dataclass
class PanelSummary:
    """What the board says about its panel: the method, its judges, alpha per aspect."""

    method: str
    metric: str
    judges: list[str]
    alpha: dict[str, Alpha]

    def line(self) -> str:
        """One sentence for the board's notes (terminal, Markdown, page and JSON alike)."""
        def one(a: str, x: Alpha) -> str:
            value = "undefined" if x.alpha != x.alpha else f"{x.alpha:.3f}"
            return f"{a} {value} ({x.units} items)"

        parts = ", ".join(one(a, x) for a, x in self.alpha.items()) or "no item scored by two judges"
        return (f"Panel: the {self.method} of {len(self.judges)} judges ({', '.join(self.judges)}) per item and "
                f"aspect; Krippendorff's alpha ({self.metric}) between them: {parts}.")


@dataclass
class PanelCollector:
    """Gathers, model after model, the judges' scores of the cells two or more of them scored."""

    method: str
    judges: list[str] = field(default_factory=list)
    units: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, aspect: str, scores: np.ndarray) -> None:
        rows = scores[(~np.isnan(scores)).sum(axis=1) >= 2]
        if len(rows):
            self.units.setdefault(aspect, []).append(rows)

    def summary(self, aspects: Sequence[str]) -> PanelSummary:
        metric = ALPHA_METRIC[self.method]
        alpha = {}
        for a in aspects:
            blocks = self.units.get(a, [])
            width = max((b.shape[1] for b in blocks), default=0)
            data = np.vstack([np.pad(b, ((0, 0), (0, width - b.shape[1])), constant_values=np.nan) for b in blocks]) \
                if blocks else np.zeros((0, 2))
            alpha[a] = krippendorff_alpha(data, metric)
        return PanelSummary(self.method, metric, sorted(self.judges), alpha)


def panel_items(run: ModelRun, collector: PanelCollector, *, judge: Sequence[str] | None = None,
                ids: set[ItemId] | None = None, categories: Sequence[str] = CATEGORIES,
                aspects_by_category: dict[str, list[str]] | None = None,
                datasets: dict[ItemId, str] | None = None, keep_text: bool = False,
                template: Sequence[str] | None = None) -> ModelItems:
    """A model's items scored by the panel of its judges (`judge`: only those), as `build_items`;
    `template` picks each judge's judging where it has several."""
    judges = judges_of(run, judge)
    collector.judges.extend(j for j in judges if j not in collector.judges)
    members = [build_items(run, judge=[j], ids=ids, categories=categories, aspects_by_category=aspects_by_category,
                           datasets=datasets, keep_text=keep_text, template=template) for j in judges]
    if len(members) <= 1:
        return members[0] if members else build_items(run, judge=judge, ids=ids, categories=categories,
                                                      aspects_by_category=aspects_by_category, datasets=datasets,
                                                      keep_text=keep_text, template=template)
    per_cat = {c: order_aspects(a for m in members for a in m.aspects_by_category.get(c, [])) for c in categories}
    for m in members:
        extend_aspects(m, per_cat)
    panel = _union_items(members, keep_text)
    extend_aspects(panel, per_cat)
    indexes = [m.index() for m in members]
    where = [np.array([idx.get(i, -1) for i in panel.ids], dtype=np.int64) for idx in indexes]
    for a in panel.state:
        scores = np.full((len(panel.ids), len(members)), np.nan)
        states = np.full((len(panel.ids), len(members)), NOT_APPLICABLE, dtype=np.int8)
        for k, (m, at) in enumerate(zip(members, where, strict=True)):
            have = at >= 0
            if a in m.state:
                states[have, k] = m.state[a][at[have]]
                scores[have, k] = np.where(m.state[a][at[have]] == SCORED, m.values[a][at[have]], np.nan)
        scored = (states == SCORED).any(axis=1)
        panel.values[a] = np.where(scored, combine(scores, collector.method), np.nan)
        state = np.where(scored, SCORED, NOT_APPLICABLE).astype(np.int8)
        for code in reversed(_STATE_ORDER):  # the first of the order wins: written last
            state[~scored & (states == code).any(axis=1)] = code
        panel.state[a] = state
        panel.judges[a] = sorted({j for m in members for j in m.judges.get(a, [])})
        panel.templates[a] = list({t["hash"]: t for m in members for t in m.templates.get(a, [])}.values())
        collector.add(a, scores)
    return panel


def _union_items(members: list[ModelItems], keep_text: bool) -> ModelItems:
    """The items of every member (the first member's order, then the others' extra items),
    with each item's output facts from the first member that has it, and no scores yet."""
    ids: list[ItemId] = list(dict.fromkeys(i for m in members for i in m.ids))
    first: dict[ItemId, tuple[int, int]] = {}
    for k, m in enumerate(members):
        for row, i in enumerate(m.ids):
            first.setdefault(i, (k, row))
    src = [first[i] for i in ids]

    def pick(attr: str, dtype: object) -> np.ndarray:
        return np.array([getattr(members[k], attr)[row] for k, row in src], dtype=dtype)  # type: ignore[call-overload]

    judgment_refs: list[list[Ref]] = []
    if keep_text:
        at = [m.index() for m in members]
        judgment_refs = [[r for m, idx in zip(members, at, strict=True) if i in idx
                          for r in (m.judgment_refs[idx[i]] if m.judgment_refs else [])] for i in ids]
    base = members[0]
    per_cat: dict[str, list[str]] = {}
    for m in members:
        for c, aspects in m.aspects_by_category.items():
            per_cat[c] = order_aspects([*per_cat.get(c, []), *aspects])
    return ModelItems(
        model=base.model, source=base.source, ids=ids, category=pick("category", object),
        dataset=pick("dataset", object), words=pick("words", float), chars=pick("chars", float),
        refused=pick("refused", bool), gen_error=pick("gen_error", bool), values={}, state={}, judges={},
        aspects_by_category=per_cat, templates={}, files=base.files if keep_text else [],
        gen_refs=[members[k].gen_refs[row] for k, row in src] if keep_text and base.gen_refs else [],
        judgment_refs=judgment_refs, stale=max(m.stale for m in members),
        notes=list(dict.fromkeys(n for m in members for n in m.notes)))
