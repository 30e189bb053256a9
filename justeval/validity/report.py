"""From verdict records to the report: each pair's verdict per order (pairwise) or its two
scores (absolute), panels of several judges, and the report object itself.

A pair whose verdicts are not all settled (a failed call, one not sent for the budget) is
`pending`: left out of every figure and counted, so a partial run reports on what it has and
says how much is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from justeval.records import TemplateRef
from justeval.review.agreement import krippendorff_alpha_nominal, nan_to_none
from justeval.validity.metrics import (
    DEFAULT_RESAMPLES,
    Judged,
    Verdict,
    figures,
    majority_verdict,
    mean_verdict,
    preference,
    reduce_scores,
)
from justeval.validity.records import (
    ABSOLUTE_CALLS,
    PAIRWISE_CALLS,
    JudgeEvalReport,
    LabelledPair,
    Mode,
    Panel,
    VerdictRecord,
)
from justeval.validity.sets import LabelledSet

ItemVerdicts = dict[str, tuple[Verdict, ...]]
ItemScores = dict[str, tuple[float | None, float | None]]
RecordIndex = dict[tuple[str, ...], VerdictRecord]


def records_index(records: Iterable[VerdictRecord]) -> RecordIndex:
    """The last record per key (a later line supersedes an earlier one: a retried call)."""
    return {r.key(): r for r in records}


@dataclass(frozen=True)
class Selector:
    """Which records belong to one judge's measurement."""

    set: str
    judge: str
    mode: Mode
    template_hash: str

    def key(self, pair: LabelledPair, call: str) -> tuple[str, ...]:
        return (self.set, pair.id, pair.digest, self.judge, self.mode, self.template_hash, call)


def used_records(index: RecordIndex, sel: Selector, pairs: Sequence[LabelledPair]) -> list[VerdictRecord]:
    calls = PAIRWISE_CALLS if sel.mode == "pairwise" else ABSOLUTE_CALLS
    return [r for p in pairs for c in calls if (r := index.get(sel.key(p, c))) is not None and r.settled]


def pairwise_verdicts(index: RecordIndex, sel: Selector, pairs: Sequence[LabelledPair]) -> ItemVerdicts:
    """Pairs with both orders settled -> (verdict in the set's order, verdict swapped)."""
    out: ItemVerdicts = {}
    for p in pairs:
        recs = [index.get(sel.key(p, c)) for c in PAIRWISE_CALLS]
        if all(r is not None and r.settled for r in recs):
            out[p.id] = tuple(r.verdict if r.status == "ok" else None for r in recs if r is not None)
    return out


def absolute_scores(index: RecordIndex, sel: Selector, pairs: Sequence[LabelledPair],
                    aspect: str | None) -> ItemScores:
    """Pairs with both responses' calls settled -> (score of 1, score of 2), None if unreadable."""
    out: ItemScores = {}
    for p in pairs:
        r1, r2 = (index.get(sel.key(p, c)) for c in ABSOLUTE_CALLS)
        if r1 is None or r2 is None or not (r1.settled and r2.settled):
            continue
        s1 = reduce_scores(r1.scores, aspect) if r1.status == "ok" else None
        s2 = reduce_scores(r2.scores, aspect) if r2.status == "ok" else None
        out[p.id] = (s1, s2)
    return out


def absolute_verdicts(scores: ItemScores, tie_margin: float) -> ItemVerdicts:
    return {pid: (preference(s1, s2, tie_margin),) for pid, (s1, s2) in scores.items()}


def panel_verdicts(members: Sequence[ItemVerdicts], method: str, tie_margin: float = 0.0) -> ItemVerdicts:
    """The panel's verdict per pair and order, where every member has settled the pair."""
    if not members:
        return {}
    common = set(members[0]).intersection(*members[1:])
    combine = majority_verdict if method == "majority" else (lambda votes: mean_verdict(votes, tie_margin))
    out: ItemVerdicts = {}
    for pid in common:
        orders = len(members[0][pid])
        out[pid] = tuple(combine([m[pid][o] for m in members]) for o in range(orders))
    return out


def panel_mean_scores(members: Sequence[ItemScores], tie_margin: float) -> ItemVerdicts:
    """Absolute mode, `--panel mean`: each response's score averaged over the judges that
    read both responses, then compared like one judge's."""
    if not members:
        return {}
    common = set(members[0]).intersection(*members[1:])
    out: ItemVerdicts = {}
    for pid in common:
        readable = [m[pid] for m in members if m[pid][0] is not None and m[pid][1] is not None]
        if not readable:
            out[pid] = (None,)
            continue
        s1 = sum(s[0] for s in readable if s[0] is not None) / len(readable)
        s2 = sum(s[1] for s in readable if s[1] is not None) / len(readable)
        out[pid] = (preference(s1, s2, tie_margin),)
    return out


def panel_alpha(members: Sequence[ItemVerdicts]) -> float | None:
    """Krippendorff's alpha (nominal) between the judges: one unit per (pair, order), the
    readable verdicts of the judges as its values."""
    if len(members) < 2:
        return None
    common = sorted(set(members[0]).intersection(*members[1:]))
    units = [[v for m in members if (v := m[pid][o]) is not None]
             for pid in common for o in range(len(members[0][pid]))]
    return nan_to_none(krippendorff_alpha_nominal(units))


def cost_of(records: Sequence[VerdictRecord]) -> tuple[float | None, int]:
    """Summed cost of the calls behind the verdicts (cache hits are free) and the number of
    calls with no known price; None when there are no such calls or none had a price."""
    if not records:
        return None, 0
    paid = [r for r in records if not r.cached]
    unpriced = sum(r.cost_usd is None for r in paid)
    if paid and unpriced == len(paid):
        return None, unpriced
    return sum(r.cost_usd or 0.0 for r in paid), unpriced


def build_report(lset: LabelledSet, judge: str, mode: Mode, verdicts: ItemVerdicts, *, orders: int,
                 positional: bool, template: TemplateRef | None = None, aspect: str | None = None,
                 tie_margin: float | None = None, cost_usd: float | None = None, unpriced_calls: int = 0,
                 wall_s: float | None = None, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> JudgeEvalReport:
    """The report of one judge on `lset` from its verdicts (pair id -> one verdict per order)."""
    judged: list[Judged] = []
    pending = no_majority = 0
    for p in lset.pairs:
        if p.id not in verdicts:
            pending += 1
            continue
        label = p.majority
        if label is None:
            no_majority += 1
            continue
        judged.append(Judged(label=label, verdicts=verdicts[p.id], labels=dict(p.labels), len_1=len(p.response_1),
                             len_2=len(p.response_2), subset=p.subset))
    key = f"{lset.name}|{judge}|{mode}"
    top = figures(judged, lset.annotators, orders=orders, positional=positional, resamples=resamples, seed=seed,
                  key=key)
    subsets = {}
    if len(lset.subsets) > 1:
        subsets = {s: figures([j for j in judged if j.subset == s], lset.annotators, orders=orders,
                              positional=positional, resamples=resamples, seed=seed, key=f"{key}|{s}")
                   for s in lset.subsets}
    return JudgeEvalReport(
        **top.model_dump(), set=lset.name, set_source=lset.sources, judge=judge, mode=mode, template=template,
        aspect=aspect, tie_margin=tie_margin, orders=orders, n_set=len(lset.pairs), pending=pending,
        no_majority=no_majority, subsets=subsets, cost_usd=cost_usd, unpriced_calls=unpriced_calls, wall_s=wall_s)


def with_panel(report: JudgeEvalReport, method: str, judges: list[str], alpha: float | None,
               members: list[JudgeEvalReport]) -> JudgeEvalReport:
    report.panel = Panel(method=method, judges=judges, alpha=alpha)
    report.members = members
    return report
