"""Recorded verdicts read without calling anything: LLMBar's `results` as a list or as its
Python repr, null winners as unreadable, PandaLM's spellings, judge names from the path, our
own verdicts.jsonl, and bad recorded files as one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from justeval.errors import InputError
from justeval.validity.recorded import RecordedRun, judge_name, load_recorded, pandalm_verdict
from justeval.validity.sets import load_set
from tests.conftest import CliRun

from .helpers_validity import llmbar_rows, pandalm_rows, write_json


def llmbar_result(rows: list[dict[str, Any]], winners: list[tuple[str | None, str | None]],
                  as_repr: set[int] = frozenset()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    out = []
    for i, (row, (w_false, w_true)) in enumerate(zip(rows, winners, strict=True)):
        results: Any = [["aux", "stop"], {"swap = False": {"completion": ["Output (a)", "stop"], "winner": w_false},
                                          "swap = True": {"completion": ["Output (b)", "stop"], "winner": w_true}}]
        out.append({**row, "results": repr(results) if i in as_repr else results})
    return out


@pytest.fixture
def natural(tmp_path: Path) -> Path:
    folder = tmp_path / "LLMBar" / "Dataset" / "LLMBar" / "Natural"
    write_json(folder / "dataset.json", llmbar_rows(4))
    return folder


def test_llmbar_results_as_list_or_python_repr_and_null_winner_unreadable(natural: Path) -> None:
    rows = llmbar_rows(4)  # labels 1, 2, 1, 2
    recorded = write_json(natural / "evaluators" / "GPT-4" / "Vanilla" / "result.json",
                          llmbar_result(rows, [("1", "1"), ("2", None), ("2", "1"), (None, None)], as_repr={1, 3}))
    run = load_recorded(str(recorded), load_set(natural))
    assert isinstance(run, RecordedRun) and run.judge == "GPT-4/Vanilla" and run.orders == 2
    assert run.verdicts == {"0": ("1", "1"), "1": ("2", None), "2": ("2", "1"), "3": (None, None)}


def test_llmbar_items_are_matched_by_their_texts_whatever_their_order(natural: Path, cli: CliRun) -> None:
    rows = llmbar_rows(4)
    shuffled = [rows[2], rows[0], rows[3], rows[1]]
    recorded = write_json(natural / "evaluators" / "X" / "P" / "result.json",
                          llmbar_result(shuffled, [("1", "1"), ("1", "1"), ("2", "2"), ("2", "2")]))
    code, out, err = cli("judge-eval", "--set", str(natural), "--verdicts", str(recorded), "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["accuracy"]["both"] == 1.0 and r["judge"] == "X/P"
    assert r["counts"] == {"items": 4, "verdicts": 8, "correct_first": 4, "correct_second": 4, "correct_both": 4,
                           "consistent": 4, "both_unreadable": 0, "ties": 0, "unreadable": 0}


def test_both_orders_unreadable_is_not_consistent_but_counted_apart(natural: Path, cli: CliRun) -> None:
    rows = llmbar_rows(4)
    recorded = write_json(natural / "evaluators" / "J" / "P" / "result.json",
                          llmbar_result(rows, [("1", "1"), (None, None), ("1", "1"), ("2", "1")]))
    code, out, err = cli("judge-eval", "--set", str(natural), "--verdicts", str(recorded), "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["consistency"] == 0.5 and r["counts"]["both_unreadable"] == 1 and r["unreadable"] == 2
    assert r["accuracy"]["first_order"] == 0.75 and r["accuracy"]["second_order"] == 0.5


def test_pandalm_spellings_and_unreadable() -> None:
    assert [pandalm_verdict(v) for v in ("1", 2, 0, "Tie", "garbage", None, True)] == \
        ["1", "2", "tie", "tie", None, None, None]


def test_judge_names_come_from_the_recorded_file() -> None:
    assert judge_name("/x/Dataset/LLMBar/Natural/evaluators/GPT-4/Vanilla/result.json") == "GPT-4/Vanilla"
    assert judge_name("https://h/o/r/c/data/pandalm-7b-testset-v1.json") == "pandalm-7b"
    assert judge_name("/tmp/my-judge.json") == "my-judge"


@pytest.mark.parametrize("content,message", [
    ([{"idx": 99, "pandalm_result": 1}], "idx 99 is not in set"),
    ([{"idx": 0, "a_result": 1, "b_result": 2}], "exactly one <judge>_result"),
    ([{"input": "nope", "output_1": "a", "output_2": "b", "results": []}], "not in set"),
    ([{"something": 1}], "not a recorded verdict file"),
])
def test_a_bad_recorded_file_is_one_line_exit_2(cli: CliRun, tmp_path: Path, content: Any, message: str) -> None:
    labels = write_json(tmp_path / "PandaLM" / "data" / "testset-v1.json", pandalm_rows(3))
    bad = write_json(tmp_path / "bad.json", content)
    code, _out, err = cli("judge-eval", "--set", str(labels), "--verdicts", str(bad))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(bad) in err and message in err


def test_a_results_string_that_is_not_a_literal_is_refused(natural: Path) -> None:
    rows = llmbar_rows(1)
    recorded = write_json(natural / "r.json", [{**rows[0], "results": "__import__('os').getcwd()"}])
    with pytest.raises(InputError, match="not a Python literal"):
        load_recorded(str(recorded), load_set(natural))


def test_our_own_verdicts_file_rebuilds_the_same_report(cli: CliRun, tmp_path: Path) -> None:
    from justeval.testing.stub_server import StubServer

    from .helpers_validity import fair_judge

    labels = write_json(tmp_path / "PandaLM" / "data" / "testset-v1.json", pandalm_rows(6))
    with StubServer(fair_judge) as srv:
        code, out, err = cli("judge-eval", "--set", str(labels), "--judge", "openai:j", "--base-url", srv.base_url,
                             "--out", str(tmp_path / "o"), "--no-progress", "--json", "--bootstrap", "100")
    assert code == 0, err
    live = json.loads(out)
    code, out, err = cli("judge-eval", "--set", str(labels), "--verdicts", str(tmp_path / "o" / "verdicts.jsonl"),
                         "--json", "--bootstrap", "100")
    assert code == 0, err
    again = json.loads(out)
    assert {k: again[k] for k in ("n", "accuracy", "kappa", "bias", "ci", "counts")} == \
        {k: live[k] for k in ("n", "accuracy", "kappa", "bias", "ci", "counts")}
    assert again["wall_s"] is None  # recorded: no judging time claimed
