"""Krippendorff's alpha between several judges (or annotators), for nominal, ordinal,
interval and ratio values, on a units x raters matrix with NaN where a rater gave nothing.

Alpha = 1 - D_o / D_e: the disagreement observed within units over the disagreement expected
by chance from all the values given. Both come from the coincidence matrix o[c, k]: every
ordered pair of values (c, k) from two different raters of a unit with m values adds
1 / (m - 1). With n_c = sum_k o[c, k] and n = sum_c n_c,

    alpha = 1 - (n - 1) * sum_{c,k} o[c, k] d2(c, k) / sum_{c,k} n_c n_k d2(c, k)

where d2 is the metric's squared difference: nominal 1 if c != k; interval (c - k)^2; ratio
((c - k) / (c + k))^2; ordinal (sum of n_g for g from c to k, minus (n_c + n_k) / 2)^2 (ranks
by how often each value was given). Units with fewer than two values are not pairable and
are left out. Alpha is NaN when it is undefined: fewer than two pairable values, or a single
value used throughout (no disagreement could be expected).

Written from that definition (Krippendorff, "Computing Krippendorff's Alpha-Reliability",
2011); the tests check it against an independent pair-by-pair computation and the worked
example of that paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METRICS = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True)
class Alpha:
    """Alpha with what it was computed on: the pairable units and the values in them."""

    alpha: float
    metric: str
    units: int
    values: int


def _squared_differences(levels: np.ndarray, totals: np.ndarray, metric: str) -> np.ndarray:
    if metric == "nominal":
        return 1.0 - np.eye(len(levels))
    if metric == "interval":
        return np.subtract.outer(levels, levels) ** 2
    if metric == "ratio":
        sums = np.add.outer(levels, levels)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(sums == 0, 0.0, np.subtract.outer(levels, levels) / sums)
        return np.asarray(d ** 2)
    if metric == "ordinal":
        cum = np.cumsum(totals)
        lo = np.minimum.outer(np.arange(len(levels)), np.arange(len(levels)))
        hi = np.maximum.outer(np.arange(len(levels)), np.arange(len(levels)))
        between = cum[hi] - cum[lo] + totals[lo]  # n_g summed over g from the lower level to the higher
        return np.asarray((between - np.add.outer(totals, totals) / 2.0) ** 2)
    raise ValueError(f"unknown metric {metric!r} (choose from {', '.join(METRICS)})")


def krippendorff_alpha(data: np.ndarray, metric: str = "interval") -> Alpha:
    """Alpha of `data` (units x raters, NaN: no value) under `metric` (see the module docstring)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} (choose from {', '.join(METRICS)})")
    values = np.asarray(data, dtype=float)
    if values.ndim != 2:
        raise ValueError("krippendorff_alpha needs a units x raters matrix")
    given = ~np.isnan(values)
    pairable = given.sum(axis=1) >= 2
    values, given = values[pairable], given[pairable]
    if not len(values):
        return Alpha(math.nan, metric, 0, 0)
    levels, codes = np.unique(values[given], return_inverse=True)
    counts = np.zeros((len(values), len(levels)))
    rows = np.nonzero(given)[0]
    np.add.at(counts, (rows, codes), 1.0)  # counts[u, c]: raters of unit u who gave level c
    weight = 1.0 / (counts.sum(axis=1) - 1.0)
    weighted = counts * weight[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    totals = coincidence.sum(axis=1)
    n = float(totals.sum())
    d2 = _squared_differences(levels.astype(float), totals, metric)
    expected = float((np.outer(totals, totals) * d2).sum())
    pooled = int(given.sum())  # equals n: every pairable value is in m - 1 pairs weighted 1 / (m - 1)
    if n < 2 or expected == 0.0:
        return Alpha(math.nan, metric, len(values), pooled)
    observed = float((coincidence * d2).sum())
    return Alpha(1.0 - (n - 1.0) * observed / expected, metric, len(values), pooled)
