"""Paired comparison of two models on the items both were scored on.

For each aspect: mean of A, mean of B and the mean difference A - B over the shared items
where both have a score, with a paired percentile bootstrap CI (the same resampled items for
both models, so item difficulty cancels out), plus wins / ties / losses. The average row
resamples all aspects of a category together, like the leaderboard does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from justeval.board.bootstrap import CONFIDENCE, draw_counts, interval, point_means, resampled_means, rng_for
from justeval.board.loading import ModelItems
from justeval.errors import JustevalError
from justeval.records import CATEGORIES


@dataclass
class AspectDiff:
    aspect: str
    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    wins: int
    ties: int
    losses: int

    @property
    def significant(self) -> bool:
        return not math.isnan(self.ci_low) and (self.ci_low > 0 or self.ci_high < 0)


@dataclass
class Comparison:
    model_a: str
    model_b: str
    rows: list[AspectDiff]
    average: AspectDiff | None
    resamples: int
    seed: int


def compare_models(a: ModelItems, b: ModelItems, aspects_by_category: dict[str, list[str]], *,
                   na_as: float | None = None, resamples: int = 1000, seed: int = 0,
                   confidence: float = CONFIDENCE) -> Comparison:
    rows: list[AspectDiff] = []
    diff_points, diff_samples = [], []
    b_index = b.index()
    for cat in CATEGORIES:
        cols = [x for x in aspects_by_category.get(cat, []) if x in a.values and x in b.values]
        if not cols:
            continue
        pairs = [(i, b_index[item]) for i, item in enumerate(a.ids)
                 if a.category[i] == cat and item in b_index]
        ia = np.array([p[0] for p in pairs], dtype=int)
        ib = np.array([p[1] for p in pairs], dtype=int)
        va, ma, vb, mb = [], [], [], []
        for x in cols:
            v, m = a.scores(x, na_as)
            va.append(v[ia])
            ma.append(m[ia])
            v, m = b.scores(x, na_as)
            vb.append(v[ib])
            mb.append(m[ib])
        A, B = np.column_stack(va), np.column_stack(vb)
        both = np.column_stack(ma) & np.column_stack(mb)
        d = np.where(both, A - B, 0.0)
        counts = draw_counts(len(pairs), resamples, rng_for(seed, a.model, b.model, cat))
        samples = resampled_means(d, both, counts)
        points = point_means(d, both)
        lo, hi = interval(samples, confidence)
        mean_a, mean_b = point_means(A, both), point_means(B, both)
        for k, x in enumerate(cols):
            m = both[:, k]
            rows.append(AspectDiff(x, int(m.sum()), float(mean_a[k]), float(mean_b[k]), float(points[k]),
                                   float(lo[k]), float(hi[k]), int((A[m, k] > B[m, k]).sum()),
                                   int((A[m, k] == B[m, k]).sum()), int((A[m, k] < B[m, k]).sum())))
        diff_points.append(points)
        diff_samples.append(samples)
    if not rows:
        raise JustevalError(f"{a.model} and {b.model} share no scored aspect")
    if not any(r.n for r in rows):
        raise JustevalError(f"{a.model} and {b.model} have no items scored in both")
    pts = np.concatenate(diff_points)
    smp = np.concatenate(diff_samples, axis=1)
    have = ~np.isnan(pts)
    with np.errstate(invalid="ignore"):
        alo, ahi = interval(smp[:, have].mean(axis=1, keepdims=True), confidence)
    used = [r for r, h in zip(rows, have, strict=True) if h]
    average = AspectDiff("average", min(r.n for r in used), float(np.mean([r.mean_a for r in used])),
                         float(np.mean([r.mean_b for r in used])), float(pts[have].mean()), float(alo[0]),
                         float(ahi[0]), 0, 0, 0)
    return Comparison(a.model, b.model, rows, average, resamples, seed)
