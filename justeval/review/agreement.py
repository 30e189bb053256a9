"""Agreement statistics between two label sources or among annotators: raw agreement with and
without ties, Cohen's kappa (scikit-learn) and Krippendorff's alpha for nominal data."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import permutations

TIE = "tie"
VERDICT_LABELS = ("A", "B", TIE)


@dataclass
class Agreement:
    """Two sources on the same units. `raw` counts every unit; `raw_no_ties` only the units
    where neither source said tie (`n_no_ties` of them). NaN when there is nothing to compare."""

    n: int
    raw: float
    n_no_ties: int
    raw_no_ties: float
    kappa: float

    def as_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "raw": nan_to_none(self.raw), "n_no_ties": self.n_no_ties,
                "raw_no_ties": nan_to_none(self.raw_no_ties), "kappa": nan_to_none(self.kappa)}


def nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def cohen_kappa(a: Sequence[str], b: Sequence[str], labels: Sequence[str] = VERDICT_LABELS) -> float:
    """Cohen's kappa via scikit-learn; NaN when undefined (no units, or chance agreement is 1)."""
    if not a:
        return math.nan
    import warnings

    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(cohen_kappa_score(list(a), list(b), labels=list(labels)))
    return value


def agreement(a: Sequence[str], b: Sequence[str], labels: Sequence[str] = VERDICT_LABELS) -> Agreement:
    if len(a) != len(b):
        raise ValueError("agreement needs two label lists of the same length")
    n = len(a)
    same = sum(x == y for x, y in zip(a, b, strict=True))
    decided = [(x, y) for x, y in zip(a, b, strict=True) if x != TIE and y != TIE]
    return Agreement(
        n=n, raw=same / n if n else math.nan, n_no_ties=len(decided),
        raw_no_ties=sum(x == y for x, y in decided) / len(decided) if decided else math.nan,
        kappa=cohen_kappa(a, b, labels))


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable]]) -> float:
    """Krippendorff's alpha for nominal values. `units`: the values given to each unit by
    whoever rated it (missing ratings simply left out). Units with fewer than two values
    cannot be paired and are ignored. NaN when undefined (fewer than two pairable values, or
    every value identical so no disagreement is expected).

    Coincidences: each ordered pair of values from different raters of a unit with m values
    adds 1/(m-1) to o[c, k]; alpha = 1 - (n-1) * sum_{c!=k} o[c,k] / sum_{c!=k} n_c n_k.
    """
    coincid: dict[tuple[Hashable, Hashable], float] = {}
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, j in permutations(range(m), 2):
            coincid[(values[i], values[j])] = coincid.get((values[i], values[j]), 0.0) + 1.0 / (m - 1)
    totals: dict[Hashable, float] = {}
    for (c, _k), w in coincid.items():
        totals[c] = totals.get(c, 0.0) + w
    n = sum(totals.values())
    observed = sum(w for (c, k), w in coincid.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if n < 2 or expected == 0:
        return math.nan
    return 1.0 - (n - 1) * observed / expected
