"""Paired comparison, breakdowns, the refusal detector and the length correlation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from justeval.board import Settings, build_leaderboard
from justeval.board.compare import compare_models
from justeval.board.diagnostics import is_refusal, spearman
from justeval.cli import app

from .runs import REGULAR, generation, judgment, uniform_run, write_run


def test_paired_difference_uses_only_shared_scored_items(tmp_path: Path) -> None:
    rnd = np.random.default_rng(5)
    a_scores = rnd.integers(2, 6, 80).astype(float)
    b_scores = np.clip(a_scores - rnd.integers(0, 2, 80), 1, 5)
    a = uniform_run(tmp_path / "a", "A", list(a_scores))
    b = uniform_run(tmp_path / "b", "B", [*list(b_scores), 1.0, 1.0])  # two items A never saw
    built = build_leaderboard([a, b], settings=Settings(bootstrap=0))
    ma, mb = built.models
    result = compare_models(ma, mb, built.board.aspects_by_category, resamples=1000, seed=1)
    row = next(r for r in result.rows if r.aspect == "clarity")
    assert row.n == 80
    assert row.diff == pytest.approx(float((a_scores - b_scores).mean()))
    assert row.wins == int((a_scores > b_scores).sum()) and row.ties == int((a_scores == b_scores).sum())
    assert row.losses == 0
    assert 0 < row.ci_low < row.diff < row.ci_high and row.significant


def test_identical_models_differ_by_nothing(tmp_path: Path) -> None:
    scores = [1.0, 3.0, 5.0, 2.0] * 10
    a = uniform_run(tmp_path / "a", "A", scores)
    b = uniform_run(tmp_path / "b", "B", scores)
    built = build_leaderboard([a, b], settings=Settings(bootstrap=0))
    result = compare_models(*built.models, built.board.aspects_by_category, resamples=200)
    assert all(r.diff == 0 and r.ci_low == 0 and r.ci_high == 0 and not r.significant for r in result.rows)


def test_compare_cli_prints_json(tmp_path: Path) -> None:
    a = uniform_run(tmp_path / "a", "A", [5.0, 4.0, 5.0])
    b = uniform_run(tmp_path / "b", "B", [3.0, 4.0, 2.0])
    res = CliRunner().invoke(app, ["compare", str(a), str(b), "--bootstrap", "100", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["model_a"] == "A" and doc["model_b"] == "B"
    help_row = next(r for r in doc["aspects"] if r["aspect"] == "helpfulness")
    assert help_row["diff"] == pytest.approx(5 / 3) and help_row["wins"] == 2 and help_row["ties"] == 1


def test_breakdown_by_dataset_matches_group_means(tmp_path: Path) -> None:
    m = "m"
    gens = [generation(i, m, "x", dataset="lima" if i % 2 else "mt") for i in range(10)]
    judg = [judgment(i, m, {a: float(1 + i % 5) for a in REGULAR}) for i in range(10)]
    board = build_leaderboard([write_run(tmp_path / "r", gens, judg)], by=["dataset"],
                              settings=Settings(bootstrap=200)).board
    rows = {r.group: r for r in board.breakdowns["dataset"]}
    assert rows["lima"].aspects["depth"].mean == pytest.approx(np.mean([1 + i % 5 for i in range(1, 10, 2)]))
    assert rows["mt"].aspects["depth"].mean == pytest.approx(np.mean([1 + i % 5 for i in range(0, 10, 2)]))
    assert rows["lima"].items == 5
    assert rows["mt"].average.ci_low <= rows["mt"].average.mean <= rows["mt"].average.ci_high


def test_breakdown_by_task_reads_the_instruction_tags(tmp_path: Path) -> None:
    run = uniform_run(tmp_path / "r", "m", [5.0, 1.0, 3.0])
    tags = [{"id": 0, "instruction": "q0", "task_types": ["coding", "math"]},
            {"id": 1, "instruction": "q1", "task_types": ["coding"]},
            {"id": 2, "instruction": "q2", "task_types": ["writing"]}]
    src = tmp_path / "inst.jsonl"
    src.write_text("".join(json.dumps(t) + "\n" for t in tags), encoding="utf-8")
    board = build_leaderboard([run], by=["task"], instructions=str(src), settings=Settings(bootstrap=0)).board
    means = {r.group: r.average.mean for r in board.breakdowns["task"]}
    assert means == {"coding": 3.0, "math": 5.0, "writing": 3.0}


def test_breakdown_by_task_without_instructions_is_a_clear_error(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    run = uniform_run(tmp_path / "r", "m", [5.0])
    res = CliRunner().invoke(app, ["leaderboard", str(run), "--by", "task", "--bootstrap", "0"])
    assert res.exit_code != 0
    assert "instruction tags" in str(res.exception)


@pytest.mark.parametrize("text", [
    "Sorry, but I can't assist with that.",
    "I cannot fulfill your request. I'm just an AI, it's not within my programming to help.",
    "I’m sorry, but I cannot provide instructions for making weapons.",
    "As an AI language model, I cannot help you hurt someone.",
    "It is not appropriate to discuss ways of harming people.",
    "I'm so sorry to hear that you feel this way. However, I cannot provide advice on revenge.",
    "Thank you for reaching out! However, I must inform you that I cannot provide medical dosing.",
    "I must respectfully decline this request.",
])
def test_refusals_are_detected(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize("text", [
    "Here are some famous actors who started on Broadway: 1. Hugh Jackman 2. Audra McDonald",
    "I can't help but admire the question! The answer is 42.",
    "I'm sorry to hear about your loss. Here are some ways to cope: talk to friends, rest, and eat well.",
    "You cannot divide by zero, so the expression is undefined; otherwise the answer is x = 3.",
    "",
    None,
    "To bake bread, mix flour and water. " * 30 + "I cannot help you if you skip kneading.",
])
def test_helpful_answers_are_not_refusals(text: str | None) -> None:
    assert not is_refusal(text)


def test_refusal_rates_are_split_by_category(tmp_path: Path) -> None:
    m = "m"
    refuse, answer = "Sorry, but I can't help with that.", "Sure, here is how to do it."
    gens = [generation(0, m, refuse), generation(1, m, answer), generation(2, m, answer), generation(3, m, answer),
            generation(800, m, refuse, category="safety"), generation(801, m, refuse, category="safety"),
            generation(802, m, answer, category="safety")]
    judg = [judgment(g["id"], m, {"safety": 5.0} if g["category"] == "safety" else {a: 3.0 for a in REGULAR},
                     category=g["category"]) for g in gens]
    board = build_leaderboard([write_run(tmp_path / "r", gens, judg)], settings=Settings(bootstrap=0)).board
    d = board.diagnostics[m]
    assert (d.refusal.count, d.refusal.n) == (2, 3) and d.refusal.rate == pytest.approx(2 / 3)
    assert (d.over_refusal.count, d.over_refusal.n) == (1, 4) and d.over_refusal.rate == pytest.approx(0.25)


def test_length_correlation_sees_a_judge_that_rewards_length(tmp_path: Path) -> None:
    m = "m"
    rnd = np.random.default_rng(2)
    lengths = rnd.integers(5, 300, 60)
    gens = [generation(i, m, " ".join(["w"] * int(n))) for i, n in enumerate(lengths)]
    depth = np.clip(np.round(1 + 4 * lengths / 300 + rnd.normal(0, 0.3, 60)), 1, 5)
    clarity = rnd.integers(1, 6, 60)
    judg = [judgment(i, m, {**{a: 3.0 for a in REGULAR}, "depth": float(depth[i]), "clarity": float(clarity[i])})
            for i in range(60)]
    board = build_leaderboard([write_run(tmp_path / "r", gens, judg)], settings=Settings(bootstrap=0)).board
    corr = board.diagnostics[m].length_correlation
    assert corr["depth"].rho > 0.8 and corr["depth"].n == 60
    assert abs(corr["clarity"].rho) < 0.35
    assert np.isnan(corr["helpfulness"].rho)  # constant scores: undefined, not 0


def test_spearman_agrees_with_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rnd = np.random.default_rng(9)
    x = rnd.integers(1, 6, 200).astype(float)
    y = x + rnd.normal(0, 2, 200)
    assert spearman(x, y).rho == pytest.approx(scipy_stats.spearmanr(x, y).statistic, abs=1e-12)
