"""The figures of a judge against people, on cases small enough to check by hand."""

from __future__ import annotations

import pytest

from justeval.validity.metrics import (
    Judged,
    accuracy,
    bootstrap_interval,
    cohen_kappa,
    consistency,
    counts,
    figures,
    first_position,
    human_agreement,
    judge_kappa,
    longer_rate,
    majority_verdict,
    mean_verdict,
    preference,
    reduce_scores,
    tie_rate,
)
from justeval.validity.records import majority_label


def item(label: str, *verdicts: str | None, len_1: int = 10, len_2: int = 10, **labels: str) -> Judged:
    return Judged(label=label, verdicts=tuple(verdicts), labels=labels or {"gold": label},  # type: ignore[arg-type]
                  len_1=len_1, len_2=len_2)


# Four pairs judged in both orders (set's order, swapped):
#   label 1: (1, 1)  right in both
#   label 2: (1, 2)  right only swapped: position bias
#   label 1: (2, None)  wrong, then unreadable
#   label tie: (tie, tie)  right in both (a tie is right only on a tie)
FOUR = [item("1", "1", "1"), item("2", "1", "2"), item("1", "2", None), item("tie", "tie", "tie")]


def test_accuracy_counts_every_item_in_each_order_and_both_at_once() -> None:
    a = accuracy(FOUR, orders=2)
    assert a.first_order == 2 / 4      # items 1 and 4
    assert a.second_order == 3 / 4     # items 1, 2 and 4
    assert a.average == pytest.approx(5 / 8)
    assert a.both == 2 / 4


def test_unreadable_is_never_right_and_a_tie_only_right_on_a_tie() -> None:
    assert accuracy([item("1", None, None)], orders=2).average == 0.0
    assert accuracy([item("1", "tie", "tie")], orders=2).average == 0.0
    assert accuracy([item("tie", "tie", "tie")], orders=2).average == 1.0


def test_consistency_needs_the_same_readable_verdict_in_both_orders() -> None:
    assert consistency(FOUR, orders=2) == 2 / 4  # (1,1) and (tie,tie); (None, None) would not count
    assert consistency([item("1", None, None)], orders=2) == 0.0
    c = counts([item("1", None, None), item("1", "1", "1")], orders=2)
    assert (c.consistent, c.both_unreadable, c.unreadable) == (1, 1, 2)


def test_one_order_only_leaves_the_two_order_figures_null_not_zero() -> None:
    one = [item("1", "1"), item("2", "1")]
    a = accuracy(one, orders=1)
    assert (a.first_order, a.second_order, a.average, a.both) == (0.5, None, 0.5, None)
    assert consistency(one, orders=1) is None
    f = figures(one, ["gold"], orders=1, positional=True, resamples=50)
    assert f.ci.second_order is None and f.ci.both is None and f.counts.correct_second is None


def test_no_items_gives_null_figures() -> None:
    f = figures([], ["a", "b"], orders=2, positional=True, resamples=50)
    assert f.accuracy.average is None and f.consistency is None and f.tie_rate is None
    assert f.kappa.majority is None and f.bias.first_position is None and f.ci.average is None


def test_tie_rate_is_over_every_verdict() -> None:
    assert tie_rate(FOUR) == 2 / 8


def test_first_position_counts_readable_non_tie_picks_of_the_answer_shown_first() -> None:
    # readable non-tie verdicts: item 1 (set order: 1 = shown first; swapped: 1 = shown second),
    # item 2 (1 shown first; swapped: 2 = shown first), item 3 (set order: 2 = shown second)
    assert first_position(FOUR, positional=True) == 3 / 5
    # a judge that always names answer 1 in both orders: 100 % first, and 50 % accuracy
    always = [item("1", "1", "2"), item("2", "1", "2")]
    assert first_position(always, positional=True) == 1.0
    assert first_position(FOUR, positional=False) is None


def test_length_bias_counts_picks_of_the_longer_answer_leaving_equal_lengths_out() -> None:
    items = [item("1", "1", "1", len_1=50, len_2=10), item("2", "1", "2", len_1=50, len_2=10),
             item("1", "2", "2", len_1=10, len_2=10)]
    assert longer_rate(items) == 3 / 4


def test_kappa_is_cohens_with_unreadable_as_its_own_category() -> None:
    # perfect agreement on two categories
    assert cohen_kappa(["1", "2", "1", "2"], ["1", "2", "1", "2"]) == pytest.approx(1.0)
    # by hand: p_o = 2/4; p_e = P(1) 2/4 * 1/4 + P(2) 2/4 * 2/4 = 0.375 -> (0.5 - 0.375) / 0.625 = 0.2
    assert cohen_kappa(["1", "1", "2", "2"], ["1", "2", "2", "unreadable"]) == pytest.approx(0.2)
    assert cohen_kappa([], []) is None
    k = judge_kappa([item("1", "1", None, a="1"), item("2", "2", "2", a="2")], ["a"])
    assert k.majority == pytest.approx(cohen_kappa(["1", "1", "2", "2"], ["1", "unreadable", "2", "2"]))
    assert k.annotators == {"a": k.majority}


def test_human_agreement_gives_pairwise_kappas_by_position_and_null_for_one_annotator() -> None:
    items = [item("1", "1", a="1", b="1", c="2"), item("2", "2", a="2", b="2", c="2"),
             item("tie", "tie", a="tie", b="1", c="tie")]
    h = human_agreement(items, ["a", "b", "c"])
    assert set(h.kappa or {}) == {"1-2", "1-3", "2-3"}
    assert h.kappa["1-2"] == pytest.approx(cohen_kappa(["1", "2", "tie"], ["1", "2", "1"]))  # type: ignore[index]
    assert h.label_counts == {"tie": 1, "1": 1, "2": 1}
    assert human_agreement(items, ["a"]).kappa is None


def test_majority_label_is_the_most_given_and_none_when_people_split() -> None:
    assert majority_label(["1", "1", "tie"]) == "1"
    assert majority_label(["1", "2"]) is None
    assert majority_label(["1", "2", "tie"]) is None
    assert majority_label(["2"]) == "2"


def test_panel_vote_and_mean() -> None:
    assert majority_verdict(["1", "1", "2"]) == "1"
    assert majority_verdict(["1", "2", None]) == "tie"   # split panel
    assert majority_verdict([None, None]) is None       # nobody readable
    assert mean_verdict(["1", "1", "2"]) == "1"          # mean +1/3
    assert mean_verdict(["1", "2"]) == "tie"
    assert mean_verdict(["1", "tie", "tie"], tie_margin=0.4) == "tie"  # mean 1/3 within the margin


def test_absolute_preference_from_scores_with_a_tie_margin() -> None:
    assert preference(4.2, 4.0) == "1"
    assert preference(4.2, 4.0, tie_margin=0.2) == "tie"  # float noise does not break the margin
    assert preference(3.0, 4.5, tie_margin=0.5) == "2"
    assert preference(None, 4.0) is None
    assert reduce_scores({"a": 5.0, "b": None, "c": 3.0}, None) == 4.0
    assert reduce_scores({"a": 5.0, "b": None}, "b") is None
    assert reduce_scores({"a": None}, None) is None


def test_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    values = [1.0] * 70 + [0.0] * 30
    ci = bootstrap_interval(values, resamples=500, seed=3, key="x")
    assert ci is not None and ci.low < 0.7 < ci.high
    assert ci == bootstrap_interval(values, resamples=500, seed=3, key="x")
    assert bootstrap_interval([1.0] * 10, resamples=200) is not None
    assert bootstrap_interval([], resamples=200) is None
