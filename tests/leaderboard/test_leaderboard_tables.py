"""Leaderboard numbers on small runs the tests write: means, counts, ranks, bootstrap, selection."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from justeval.board import Settings, build_leaderboard
from justeval.board.bootstrap import draw_counts, rng_for
from justeval.errors import InputError

from .runs import REGULAR, generation, judgment, uniform_run, write_run


def _row(board, model):  # type: ignore[no-untyped-def]
    return next(r for r in board.rows if r.model == model)


def test_every_kind_of_missing_score_is_counted_and_left_out(tmp_path: Path) -> None:
    m = "model-x"
    gens = [generation(i, m, f"answer {i}") for i in range(6)] + [generation(6, m, None, status="error")]
    judg = [
        judgment(0, m, {a: 4.0 for a in REGULAR}),
        judgment(1, m, {**{a: 2.0 for a in REGULAR}, "factuality": None}),   # judge said N/A
        judgment(2, m, None, status="parse_error"),
        judgment(3, m, None, status="error"),
        judgment(4, m, {a: 5.0 for a in REGULAR}),
        # item 5: never judged; item 6: generation failed
    ]
    board = build_leaderboard([write_run(tmp_path / "r", gens, judg)], settings=Settings(bootstrap=0)).board
    row = _row(board, m)
    assert row.aspects["helpfulness"].mean == pytest.approx((4 + 2 + 5) / 3)
    assert row.aspects["factuality"].mean == pytest.approx((4 + 5) / 2)
    assert row.aspects["factuality"].n == 2 and row.aspects["factuality"].missing == 1
    assert row.aspects["depth"].parse_errors == 1 and row.aspects["depth"].judge_errors == 1
    assert row.aspects["depth"].errors == 2
    assert row.aspects["depth"].not_judged == 1 and row.aspects["depth"].generation_errors == 1
    assert row.counts == {"items": 7, "judged": 3, "missing": 1, "parse_errors": 1, "judge_errors": 1,
                          "not_judged": 1, "generation_errors": 1}
    assert row.length_words == pytest.approx(2.0)  # "answer N" on the six items with output

    filled = _row(build_leaderboard([tmp_path / "r"], settings=Settings(bootstrap=0, na_as=5)).board, m)
    assert filled.aspects["factuality"].mean == pytest.approx((4 + 5 + 5) / 3)
    assert filled.aspects["factuality"].n == 3 and filled.aspects["factuality"].missing == 1
    assert filled.aspects["depth"].n == 3  # parse errors are never filled in


def test_average_is_mean_of_aspect_means_and_rows_sorted_by_it(tmp_path: Path) -> None:
    a = uniform_run(tmp_path / "a", "alpha", [3, 4, 5, 4], safety=[5, 5])
    b = uniform_run(tmp_path / "b", "beta", [5, 5, 4, 5], safety=[1, 1])
    board = build_leaderboard([a, b], settings=Settings(bootstrap=0)).board
    alpha, beta = _row(board, "alpha"), _row(board, "beta")
    assert alpha.average.mean == pytest.approx((4.0 * 5 + 5.0) / 6)
    assert beta.average.mean == pytest.approx((4.75 * 5 + 1.0) / 6)  # higher on regular, lower overall
    assert [r.model for r in board.rows] == ["alpha", "beta"]
    assert board.aspects == [*REGULAR, "safety"]


def test_a_later_judgment_of_the_same_item_supersedes_the_earlier(tmp_path: Path) -> None:
    m = "m"
    gens = [generation(0, m, "x"), generation(1, m, "y")]
    judg = [judgment(0, m, None, status="error"), judgment(1, m, {a: 2.0 for a in REGULAR}),
            judgment(0, m, {a: 4.0 for a in REGULAR})]
    row = _row(build_leaderboard([write_run(tmp_path / "r", gens, judg)],
                                 settings=Settings(bootstrap=0)).board, m)
    assert row.aspects["clarity"].mean == pytest.approx(3.0)
    assert row.counts["judge_errors"] == 0


def test_two_judges_on_one_aspect_need_a_choice(tmp_path: Path) -> None:
    m = "m"
    gens = [generation(0, m, "x")]
    judg = [judgment(0, m, {a: 2.0 for a in REGULAR}, judge="j1"),
            judgment(0, m, {a: 4.0 for a in REGULAR}, judge="j2")]
    run = write_run(tmp_path / "r", gens, judg)
    with pytest.raises(InputError, match="--judge"):
        build_leaderboard([run], settings=Settings(bootstrap=0))
    row = _row(build_leaderboard([run], settings=Settings(bootstrap=0, judge=["j2"])).board, m)
    assert row.aspects["helpfulness"].mean == 4.0
    assert row.aspects["helpfulness"].judges == ["j2"]


def test_overlapping_cis_share_a_rank_range(tmp_path: Path) -> None:
    rnd = np.random.default_rng(3)
    strong = uniform_run(tmp_path / "s", "strong", [5.0] * 60)
    close1 = uniform_run(tmp_path / "c1", "close-1", list(rnd.choice([3.0, 4.0], 60)))
    close2 = uniform_run(tmp_path / "c2", "close-2", list(rnd.choice([3.0, 4.0], 60)))
    weak = uniform_run(tmp_path / "w", "weak", [1.0] * 60)
    board = build_leaderboard([weak, close1, strong, close2], settings=Settings(bootstrap=500)).board
    ranks = {r.model: r.rank for r in board.rows}
    assert ranks["strong"] == (1, 1) and ranks["weak"] == (4, 4)
    assert ranks["close-1"] == (2, 3) and ranks["close-2"] == (2, 3)
    assert _row(board, "close-1").rank_label == "2-3"


def test_bootstrap_is_seeded_and_matches_the_normal_approximation(tmp_path: Path) -> None:
    rnd = np.random.default_rng(11)
    scores = list(rnd.integers(1, 6, 400).astype(float))
    run = uniform_run(tmp_path / "r", "m", scores)
    one = _row(build_leaderboard([run], settings=Settings(bootstrap=2000, seed=7)).board, "m").aspects["depth"]
    again = _row(build_leaderboard([run], settings=Settings(bootstrap=2000, seed=7)).board, "m").aspects["depth"]
    other = _row(build_leaderboard([run], settings=Settings(bootstrap=2000, seed=8)).board, "m").aspects["depth"]
    assert (one.ci_low, one.ci_high) == (again.ci_low, again.ci_high)
    assert (one.ci_low, one.ci_high) != (other.ci_low, other.ci_high)
    half = 1.96 * statistics.stdev(scores) / math.sqrt(len(scores))
    assert one.ci_low < one.mean < one.ci_high
    assert (one.ci_high - one.ci_low) / 2 == pytest.approx(half, rel=0.12)


def test_adding_a_model_leaves_the_others_intervals_alone(tmp_path: Path) -> None:
    a = uniform_run(tmp_path / "a", "a", [1.0, 3.0, 5.0, 4.0, 2.0] * 8)
    b = uniform_run(tmp_path / "b", "b", [5.0, 4.0] * 20)
    alone = _row(build_leaderboard([a], settings=Settings(bootstrap=300)).board, "a").average
    together = _row(build_leaderboard([b, a], settings=Settings(bootstrap=300)).board, "a").average
    assert (alone.ci_low, alone.ci_high) == (together.ci_low, together.ci_high)


def test_draw_counts_rows_are_resamples_of_n_items() -> None:
    w = draw_counts(50, 200, rng_for(0, "x"))
    assert w.shape == (200, 50) and (w.sum(axis=1) == 50).all()
    assert w.mean() == pytest.approx(1.0)


def test_zero_resamples_give_no_interval(tmp_path: Path) -> None:
    run = uniform_run(tmp_path / "r", "m", [4.0, 5.0])
    row = _row(build_leaderboard([run], settings=Settings(bootstrap=0)).board, "m")
    assert math.isnan(row.aspects["helpfulness"].ci_low) and row.aspects["helpfulness"].mean == 4.5
    assert row.rank == (1, 1)


def test_subset_keeps_one_category(tmp_path: Path) -> None:
    run = uniform_run(tmp_path / "r", "m", [4.0, 2.0], safety=[5.0, 3.0, 4.0])
    safety = build_leaderboard([run], settings=Settings(bootstrap=0, subset="safety")).board
    assert safety.aspects == ["safety"]
    assert _row(safety, "m").counts["items"] == 3 and _row(safety, "m").average.mean == 4.0
    regular = build_leaderboard([run], settings=Settings(bootstrap=0, subset="regular")).board
    assert regular.aspects == REGULAR and _row(regular, "m").average.mean == 3.0


def test_lite_subset_uses_the_lite_ids_beside_the_instructions(tmp_path: Path) -> None:
    import json

    run = uniform_run(tmp_path / "r", "m", [1.0, 5.0, 3.0], safety=[5.0, 1.0])
    inst = tmp_path / "inst"
    inst.mkdir()
    rows = [{"id": i, "instruction": f"q{i}", "dataset": "lima", "category": "regular"} for i in range(3)]
    rows += [{"id": 800 + j, "instruction": f"s{j}", "dataset": "red_team", "category": "safety"} for j in range(2)]
    (inst / "instructions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (inst / "lite_ids.json").write_text(json.dumps({"lite_regular_ids": [1, 2], "lite_safety_ids": [801]}))
    board = build_leaderboard([run], settings=Settings(bootstrap=0, subset="lite"),
                              instructions=str(inst / "instructions.jsonl")).board
    row = _row(board, "m")
    assert row.counts["items"] == 3
    assert row.aspects["helpfulness"].mean == 4.0 and row.aspects["safety"].mean == 1.0


def test_two_runs_of_one_generator_stay_apart(tmp_path: Path) -> None:
    a = uniform_run(tmp_path / "first", "same", [5.0])
    b = uniform_run(tmp_path / "second", "same", [1.0])
    names = [r.model for r in build_leaderboard([a, b], settings=Settings(bootstrap=0)).board.rows]
    assert names == ["same", "same (second)"]
