"""Krippendorff's alpha (`justeval.board.alpha`): hand-checkable cases, the worked example of
Krippendorff's "Computing Krippendorff's Alpha-Reliability" (2011) recomputed pair by pair by an
independent implementation here, and the pure-Python nominal alpha of `review.agreement` on the
real recorded verdicts of two PandaLM judges."""

from __future__ import annotations

import json
import math
from itertools import permutations
from pathlib import Path

import numpy as np
import pytest

from justeval.board.alpha import METRICS, krippendorff_alpha
from justeval.review.agreement import krippendorff_alpha_nominal

N = math.nan
# Krippendorff (2011), section C: 4 observers x 12 units, values 1-5, blanks missing
CANONICAL = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]).T
# the alphas that paper reports for this data
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def pairwise_alpha(units: list[list[float]], metric: str) -> float:
    """Alpha straight from its definition, one pair of values at a time: the mean squared
    difference within units (each unit's pairs weighted 1 / (m - 1)) over the mean squared
    difference between any two of all the pairable values."""
    units = [u for u in units if len(u) >= 2]
    pooled = [v for u in units for v in u]
    n = len(pooled)
    freq = {v: pooled.count(v) for v in set(pooled)}

    def d2(c: float, k: float) -> float:
        if metric == "nominal":
            return float(c != k)
        if metric == "interval":
            return (c - k) ** 2
        if metric == "ratio":
            return ((c - k) / (c + k)) ** 2 if c + k else 0.0
        lo, hi = min(c, k), max(c, k)  # ordinal: ranks by frequency
        return (sum(f for v, f in freq.items() if lo <= v <= hi) - (freq[c] + freq[k]) / 2) ** 2

    within = sum(d2(u[i], u[j]) / (len(u) - 1) for u in units for i, j in permutations(range(len(u)), 2)) / n
    between = sum(d2(pooled[i], pooled[j]) for i, j in permutations(range(n), 2)) / (n * (n - 1))
    return 1 - within / between


@pytest.mark.parametrize("metric", METRICS)
def test_the_canonical_example_matches_a_pair_by_pair_computation_and_the_paper(metric: str) -> None:
    units = [[v for v in row if not math.isnan(v)] for row in CANONICAL]
    independent = pairwise_alpha(units, metric)
    result = krippendorff_alpha(CANONICAL, metric)
    assert result.alpha == pytest.approx(independent, abs=1e-12)
    assert round(independent, 3) == PUBLISHED[metric]
    # unit 12 has a single value: not pairable; the other 11 hold 40 values
    assert (result.units, result.values) == (11, 40)


def test_hand_checkable_cases() -> None:
    assert krippendorff_alpha(np.array([[1, 1], [2, 2], [3, 3]]), "interval").alpha == 1.0
    # two units, two raters who always disagree 1/2: n = 4 values (two 1s, two 2s); the
    # coincidences o12 = o21 = 2, so alpha = 1 - (4 - 1) * 4 / (2 * 2 + 2 * 2) = -0.5
    assert krippendorff_alpha(np.array([[1, 2], [2, 1]]), "nominal").alpha == pytest.approx(-0.5)
    # interval: the same, differences 1 each: observed sum 4, expected sum 2*2*1*2 = 8 -> -0.5
    assert krippendorff_alpha(np.array([[1, 2], [2, 1]]), "interval").alpha == pytest.approx(-0.5)
    # a single value throughout: no disagreement to expect, alpha undefined (never 1 or 0)
    assert math.isnan(krippendorff_alpha(np.array([[3, 3], [3, 3]]), "interval").alpha)
    # nothing pairable
    none = krippendorff_alpha(np.array([[1, N], [N, 2]]), "nominal")
    assert math.isnan(none.alpha) and none.units == 0
    with pytest.raises(ValueError, match="unknown metric"):
        krippendorff_alpha(CANONICAL, "cosine")


def test_nominal_alpha_of_two_recorded_pandalm_judges_equals_the_review_implementation(shared_data: Path) -> None:
    data = shared_data / "human-labels" / "PandaLM" / "data"
    a = {r["idx"]: str(r["gpt_result"]) for r in json.loads((data / "gpt-3.5-turbo-testset-v1.json").read_text())}
    b = {r["idx"]: str(r["pandalm_result"]) for r in json.loads((data / "pandalm-7b-testset-v1.json").read_text())}
    code = {"0": 0.0, "Tie": 0.0, "1": 1.0, "2": 2.0}
    units = [[code[v] for v in (a[i], b[i]) if v in code] for i in sorted(a)]
    matrix = np.array([u + [N] * (2 - len(u)) for u in units])
    ours = krippendorff_alpha(matrix, "nominal")
    assert ours.alpha == pytest.approx(krippendorff_alpha_nominal(units), abs=1e-12)
    assert ours.units == sum(len(u) == 2 for u in units) and 0 < ours.alpha < 1
