"""The figures of a judge against people, as pure functions of verdicts and labels.

A verdict is "1", "2", "tie" (in the set's numbering) or None: unreadable. Unreadable is never
right, is counted, and is its own category in kappa (so it always counts as disagreement).
Every function returns None where its figure does not exist (no items, one order only),
never 0: a missing figure must not look like a bad one.

Orders: index 0 is the set's own order (response 1 shown first), index 1 the swapped order.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from justeval.validity.records import (
    LABELS,
    Accuracy,
    AccuracyCI,
    Bias,
    Counts,
    Figures,
    Humans,
    Interval,
    Kappa,
    Label,
)

Verdict = Label | None
UNREADABLE = "unreadable"
DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class Judged:
    """One measured pair: its majority label, each annotator's label, the judge's verdict in
    each order asked, and the two responses' lengths (characters)."""

    label: Label
    verdicts: tuple[Verdict, ...]
    labels: dict[str, Label] = field(default_factory=dict)
    len_1: int = 0
    len_2: int = 0
    subset: str | None = None


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def shown_first(order: int) -> Label:
    """The response the judge saw first in this order."""
    return "1" if order == 0 else "2"


def correct_in(items: Sequence[Judged], order: int) -> list[bool]:
    """Per item: is the verdict of `order` the label? (A tie is right only on a tie.)"""
    return [it.verdicts[order] is not None and it.verdicts[order] == it.label for it in items]


def accuracy(items: Sequence[Judged], orders: int) -> Accuracy:
    """Accuracy in each order, their mean, and right in both orders at once."""
    if not items:
        return Accuracy()
    by_order = [_ratio(sum(correct_in(items, o)), len(items)) for o in range(orders)]
    known = [a for a in by_order if a is not None]
    both = None
    if orders >= 2:
        both = _ratio(sum(a and b for a, b in zip(correct_in(items, 0), correct_in(items, 1), strict=True)),
                      len(items))
    return Accuracy(first_order=by_order[0] if orders >= 1 else None,
                    second_order=by_order[1] if orders >= 2 else None,
                    average=sum(known) / len(known) if known else None, both=both)


def consistency(items: Sequence[Judged], orders: int) -> float | None:
    """Share of items whose two orders gave the same readable verdict."""
    if orders < 2 or not items:
        return None
    return _ratio(sum(it.verdicts[0] is not None and it.verdicts[0] == it.verdicts[1] for it in items), len(items))


def tie_rate(items: Sequence[Judged]) -> float | None:
    verdicts = [v for it in items for v in it.verdicts]
    return _ratio(sum(v == "tie" for v in verdicts), len(verdicts))


def first_position(items: Sequence[Judged], positional: bool) -> float | None:
    """How often a readable, non-tie verdict picks the answer shown first. With both orders a
    judge with no position bias scores 0.5 whatever the labels are."""
    if not positional:
        return None
    picks = [v == shown_first(o) for it in items for o, v in enumerate(it.verdicts) if v in ("1", "2")]
    return _ratio(sum(picks), len(picks))


def _longer(it: Judged) -> Label | None:
    if it.len_1 == it.len_2:
        return None
    return "1" if it.len_1 > it.len_2 else "2"


def longer_rate(items: Sequence[Judged]) -> float | None:
    """How often a readable, non-tie verdict picks the longer response (equal lengths left out)."""
    picks = [v == _longer(it) for it in items if _longer(it) is not None for v in it.verdicts if v in ("1", "2")]
    return _ratio(sum(picks), len(picks))


def human_longer_rate(items: Sequence[Judged]) -> float | None:
    picks = [it.label == _longer(it) for it in items if _longer(it) is not None and it.label != "tie"]
    return _ratio(sum(picks), len(picks))


def human_first_rate(items: Sequence[Judged]) -> float | None:
    picks = [it.label == "1" for it in items if it.label != "tie"]
    return _ratio(sum(picks), len(picks))


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa over the labels 1 / 2 / tie / unreadable; None when undefined (no units,
    or both sides always give one and the same value)."""
    import warnings

    from justeval.review.agreement import cohen_kappa as sklearn_kappa

    if not a:
        return None
    with warnings.catch_warnings():  # an undefined kappa is reported as None, not as a warning
        warnings.simplefilter("ignore")
        value = sklearn_kappa(list(a), list(b), labels=[*LABELS, UNREADABLE])
    return None if math.isnan(value) else value


def _as_category(v: Verdict) -> str:
    return UNREADABLE if v is None else v


def judge_kappa(items: Sequence[Judged], annotators: Sequence[str]) -> Kappa:
    """The judge's verdicts (every order, pooled) against the majority and each annotator."""
    def against(pick: list[tuple[Label, Judged]]) -> float | None:
        human = [lab for lab, it in pick for _v in it.verdicts]
        judge = [_as_category(v) for _lab, it in pick for v in it.verdicts]
        return cohen_kappa(human, judge)

    per = {who: against([(it.labels[who], it) for it in items if who in it.labels]) for who in annotators}
    return Kappa(majority=against([(it.label, it) for it in items]), annotators=per)


def human_agreement(items: Sequence[Judged], annotators: Sequence[str]) -> Humans:
    """Annotator-annotator kappas (on the pairs both labelled) and the majority label split."""
    kappas: dict[str, float | None] | None = None
    if len(annotators) >= 2:
        kappas = {}
        for (i, a), (j, b) in combinations(enumerate(annotators, start=1), 2):
            common = [it for it in items if a in it.labels and b in it.labels]
            kappas[f"{i}-{j}"] = cohen_kappa([it.labels[a] for it in common], [it.labels[b] for it in common])
    counts = {lab: sum(it.label == lab for it in items) for lab in ("tie", "1", "2")}
    return Humans(annotators=list(annotators), kappa=kappas, label_counts=counts)


def bootstrap_interval(values: Sequence[float], *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                       key: str = "") -> Interval | None:
    """95 % percentile bootstrap interval of the mean of per-item `values`, resampling items.
    Seeded by (seed, key), so the same data give the same interval."""
    if not values or resamples <= 0:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
    arr = np.asarray(values, dtype=np.float64)
    draws = rng.integers(0, len(arr), size=(resamples, len(arr)))
    means = arr[draws].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return Interval(low=float(low), high=float(high))


def accuracy_ci(items: Sequence[Judged], orders: int, *, resamples: int, seed: int, key: str) -> AccuracyCI:
    if not items:
        return AccuracyCI()
    per_order = [[float(c) for c in correct_in(items, o)] for o in range(orders)]

    def ci(values: list[float], name: str) -> Interval | None:
        return bootstrap_interval(values, resamples=resamples, seed=seed, key=f"{key}|{name}")

    out = AccuracyCI(first_order=ci(per_order[0], "first") if orders >= 1 else None)
    if orders >= 2:
        out.second_order = ci(per_order[1], "second")
        out.both = ci([min(a, b) for a, b in zip(per_order[0], per_order[1], strict=True)], "both")
    if orders >= 1:
        out.average = ci([sum(col) / orders for col in zip(*per_order, strict=True)], "average")
    return out


def counts(items: Sequence[Judged], orders: int) -> Counts:
    out = Counts(items=len(items), verdicts=sum(len(it.verdicts) for it in items),
                 correct_first=sum(correct_in(items, 0)) if orders >= 1 else 0,
                 ties=sum(v == "tie" for it in items for v in it.verdicts),
                 unreadable=sum(v is None for it in items for v in it.verdicts))
    if orders >= 2:
        first, second = correct_in(items, 0), correct_in(items, 1)
        out.correct_second = sum(second)
        out.correct_both = sum(a and b for a, b in zip(first, second, strict=True))
        out.consistent = sum(it.verdicts[0] is not None and it.verdicts[0] == it.verdicts[1] for it in items)
        out.both_unreadable = sum(it.verdicts[0] is None and it.verdicts[1] is None for it in items)
    return out


def figures(items: Sequence[Judged], annotators: Sequence[str], *, orders: int, positional: bool,
            resamples: int = DEFAULT_RESAMPLES, seed: int = 0, key: str = "") -> Figures:
    """Every figure of one group of measured items (see `records.Figures`)."""
    if any(len(it.verdicts) != orders for it in items):
        raise ValueError(f"every item needs exactly {orders} verdict(s)")
    decided = [it for it in items if it.label != "tie"]
    return Figures(
        n=len(items), unreadable=sum(v is None for it in items for v in it.verdicts),
        accuracy=accuracy(items, orders), accuracy_without_ties=accuracy(decided, orders),
        n_without_ties=len(decided), consistency=consistency(items, orders), tie_rate=tie_rate(items),
        kappa=judge_kappa(items, annotators), humans=human_agreement(items, annotators),
        bias=Bias(first_position=first_position(items, positional), longer=longer_rate(items),
                  human_longer=human_longer_rate(items), human_first=human_first_rate(items)),
        ci=accuracy_ci(items, orders, resamples=resamples, seed=seed, key=key),
        ci_without_ties=accuracy_ci(decided, orders, resamples=resamples, seed=seed, key=f"{key}|no-ties"),
        counts=counts(items, orders))


# -- panels and absolute scores --------------------------------------------------------------


def majority_verdict(votes: Sequence[Verdict]) -> Verdict:
    """A panel's verdict by vote: the readable verdict most judges gave; a shared first place
    is a tie (the panel is split); no readable verdict at all is unreadable."""
    readable = [v for v in votes if v is not None]
    if not readable:
        return None
    ranked = sorted(((readable.count(lab), lab) for lab in LABELS if lab in readable), reverse=True)
    if len(ranked) > 1 and ranked[0][0] == ranked[1][0]:
        return "tie"
    return ranked[0][1]


_SIGN: dict[str, float] = {"1": 1.0, "2": -1.0, "tie": 0.0}


def mean_verdict(votes: Sequence[Verdict], tie_margin: float = 0.0) -> Verdict:
    """A panel's verdict by mean: 1 counts +1, 2 counts -1, tie 0; the mean of the readable
    votes decides, a tie within `tie_margin` of 0."""
    readable = [_SIGN[v] for v in votes if v is not None]
    if not readable:
        return None
    return preference(sum(readable) / len(readable), 0.0, tie_margin)


def preference(score_1: float | None, score_2: float | None, tie_margin: float = 0.0) -> Verdict:
    """The verdict two scores imply: the higher wins, a tie when they are within `tie_margin`
    (a small tolerance absorbs float noise, so 4.2 - 4.0 <= 0.2 is a tie); unreadable when
    either is missing."""
    if score_1 is None or score_2 is None:
        return None
    diff = score_1 - score_2
    if abs(diff) <= tie_margin + 1e-9:
        return "tie"
    return "1" if diff > 0 else "2"


def reduce_scores(scores: dict[str, float | None], aspect: str | None) -> float | None:
    """One number for a response: the chosen aspect's score, or the mean of the aspects the
    judge scored (N/A aspects left out); None when there is nothing to use."""
    if aspect is not None:
        return scores.get(aspect)
    values = [v for v in scores.values() if v is not None]
    return sum(values) / len(values) if values else None
