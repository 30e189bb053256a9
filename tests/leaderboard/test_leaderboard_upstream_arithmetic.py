"""The DONE-WHEN check: on the recorded just-eval judgments, `--na-as 5` reproduces the
original report arithmetic exactly, and the default leaves N/A out and counts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from justeval.board import Settings, build_leaderboard
from justeval.cli import app

pytestmark = pytest.mark.integration


def _files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "judgments").glob("score_*/*.jsonl"))


def _raw_scores(files: list[Path]) -> dict[str, dict[str, list[str]]]:
    """model -> aspect -> the raw score strings, read straight from the files."""
    out: dict[str, dict[str, list[str]]] = {}
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            model = rec["generator_cand"].split("/")[-1].removesuffix(".json")
            for aspect, entry in rec["parsed_result"].items():
                out.setdefault(model, {}).setdefault(aspect, []).append(entry["score"])
    return out


def test_na_as_5_equals_original_report_arithmetic(shared_data: Path) -> None:
    files = _files(shared_data)
    raw = _raw_scores(files)
    board = build_leaderboard(upstream=files, settings=Settings(na_as=5, bootstrap=0)).board
    rows = {r.model: r for r in board.rows}
    assert set(rows) == set(raw) and len(raw) == 4
    checked = 0
    for model, aspects in raw.items():
        for aspect, scores in aspects.items():
            expected = sum(5.0 if s == "N/A" else float(int(s)) for s in scores) / len(scores)
            stat = rows[model].aspects[aspect]
            assert stat.mean == pytest.approx(expected, abs=1e-9), (model, aspect)
            assert stat.n == len(scores)
            assert stat.missing == scores.count("N/A")
            checked += 1
    assert checked == 5 + 4  # five regular aspects of one model, safety of four


def test_default_excludes_na_and_counts_it(shared_data: Path) -> None:
    files = _files(shared_data)
    raw = _raw_scores(files)
    rows = {r.model: r for r in build_leaderboard(upstream=files, settings=Settings(bootstrap=0)).board.rows}
    gpt35 = raw["gpt-3.5-turbo-0301"]
    assert gpt35["factuality"].count("N/A") == 17 and gpt35["depth"].count("N/A") == 1  # the data has N/A
    for aspect, scores in gpt35.items():
        given = [float(s) for s in scores if s != "N/A"]
        stat = rows["gpt-3.5-turbo-0301"].aspects[aspect]
        assert stat.n == len(given)
        assert stat.missing == len(scores) - len(given)
        assert stat.mean == pytest.approx(sum(given) / len(given), abs=1e-9)
        assert stat.parse_errors == 0 and stat.judge_errors == 0
    assert rows["gpt-3.5-turbo-0301"].counts["missing"] == 18
    assert rows["gpt-3.5-turbo-0301"].counts["judged"] == 600


def test_cli_json_carries_the_same_numbers(shared_data: Path, tmp_path: Path) -> None:
    files = _files(shared_data)
    raw = _raw_scores(files)
    out = tmp_path / "board.json"
    args = ["leaderboard", *[x for f in files for x in ("--upstream", str(f))], "--na-as", "5", "--format", "json",
            "--bootstrap", "200", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    models = {m["model"]: m for m in doc["models"]}
    scores = raw["gpt-3.5-turbo-0301"]["factuality"]
    expected = sum(5.0 if s == "N/A" else float(s) for s in scores) / len(scores)
    fact = models["gpt-3.5-turbo-0301"]["aspects"]["factuality"]
    assert fact["mean"] == pytest.approx(expected, abs=1e-9)
    assert fact["ci_low"] <= fact["mean"] <= fact["ci_high"]
    assert doc["settings"]["na_as"] == 5
    assert models["gpt-4-0613"]["judge"] == ["gpt-3.5-turbo-0613"]
