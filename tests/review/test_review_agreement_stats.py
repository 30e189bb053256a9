"""Agreement statistics against hand-computed and published values."""

from __future__ import annotations

import math

import pytest
from sklearn.metrics import cohen_kappa_score

from justeval.review.agreement import agreement, krippendorff_alpha_nominal
from justeval.review.winrates import outcome_rates


def test_krippendorff_alpha_matches_hand_computed_example() -> None:
    # Coincidences: u1 (A,A) -> o_AA=2; u2 (A,B) -> o_AB=o_BA=1; u3 (B,B) -> o_BB=2;
    # u4 (tie,tie,A), m=3 -> each of 6 ordered pairs weighs 1/2: o_tt=1, o_tA=o_At=1; u5 has one value (ignored).
    # n_A=4, n_B=3, n_tie=2, n=9; disagreements 4; sum_{c!=k} n_c n_k = 2*(12+8+6) = 52
    # alpha = 1 - 8*4/52 = 5/13
    units = [["A", "A"], ["A", "B"], ["B", "B"], ["tie", "tie", "A"], ["B"]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(5 / 13)


def test_krippendorff_alpha_matches_published_reliability_example() -> None:
    # Krippendorff's worked example (4 observers, 12 units, missing values): nominal alpha = 0.743.
    obs = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[o[u] for o in obs if o[u] is not None] for u in range(12)]
    assert round(krippendorff_alpha_nominal(units), 3) == 0.743


def test_krippendorff_alpha_is_undefined_without_variation_and_one_when_perfect() -> None:
    assert math.isnan(krippendorff_alpha_nominal([["A", "A"], ["A", "A"]]))
    assert krippendorff_alpha_nominal([["A", "A"], ["B", "B"], ["tie", "tie"]]) == pytest.approx(1.0)


def test_raw_agreement_with_and_without_ties_and_kappa_match_direct_computation() -> None:
    a = ["A", "B", "tie", "A", "B", "A", "tie", "B"]
    b = ["A", "A", "tie", "A", "tie", "B", "B", "B"]
    got = agreement(a, b)
    assert got.n == 8 and got.raw == pytest.approx(4 / 8)
    # units where neither says tie: 0,1,3,5,7 -> agree on 0,3,7
    assert got.n_no_ties == 5 and got.raw_no_ties == pytest.approx(3 / 5)
    assert got.kappa == pytest.approx(cohen_kappa_score(a, b))


def test_outcome_rates_average_each_units_votes_and_bracket_the_point() -> None:
    units = [["A"], ["A", "B"], ["tie"], ["B", "B"], ["A", "tie"]]
    rates = outcome_rates(units, ("A", "tie", "B"), seed=1)
    assert rates["A"].value == pytest.approx((1 + 0.5 + 0 + 0 + 0.5) / 5)
    assert rates["tie"].value == pytest.approx((0 + 0 + 1 + 0 + 0.5) / 5)
    assert rates["B"].value == pytest.approx((0 + 0.5 + 0 + 1 + 0) / 5)
    assert rates["score"].value == pytest.approx(rates["A"].value + 0.5 * rates["tie"].value)
    for r in rates.values():
        assert r.low <= r.value <= r.high
    again = outcome_rates(units, ("A", "tie", "B"), seed=1)
    assert again["A"].low == rates["A"].low and again["A"].high == rates["A"].high
