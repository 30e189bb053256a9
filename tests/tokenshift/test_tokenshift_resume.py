"""A rerun analyses only what is missing: new selections, failed items, regenerated outputs; a
file never mixes two analyses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.errors import JustevalError
from justeval.tokenshift import read_token_shift, shift_report, token_shift
from justeval.tokenshift.hf_scorer import hf_scorer
from tests.tokenshift import tiny
from tests.tokenshift.conftest import TinyModels, hf_settings, server_settings
from tests.tokenshift.logprobs_server import LogprobsServer


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_a_rerun_analyses_only_the_items_not_yet_done(models: TinyModels, other_run: Path) -> None:
    [first] = token_shift([other_run], hf_settings(models.base, selection={"limit": 2}))
    assert (first.to_do, first.ok) == (2, 2)
    before = (other_run / "token_shift.jsonl").read_bytes()
    [second] = token_shift([other_run], hf_settings(models.base))
    assert (second.already_done, second.to_do, second.ok) == (2, 4, 4)
    after = (other_run / "token_shift.jsonl").read_bytes()
    assert after.startswith(before)  # appended, never rewritten
    assert sorted(r["id"] for r in _lines(other_run / "token_shift.jsonl")) == list(range(6))
    hf_scorer.cache_clear()
    [third] = token_shift([other_run], hf_settings(models.base))
    assert (third.already_done, third.to_do) == (6, 0)
    assert (other_run / "token_shift.jsonl").read_bytes() == after
    assert hf_scorer.cache_info().currsize == 0  # nothing left to score: the weights were not even loaded


def test_a_failed_call_is_recorded_and_retried_by_the_rerun(models: TinyModels, other_run: Path) -> None:
    with LogprobsServer(models.base, fail_next=1) as server:
        settings = server_settings(server.base_url, models.base,
                                   engine={"progress": False, "max_retries": 0, "concurrency": 1})
        [first] = token_shift([other_run], settings)
        assert (first.ok, first.errors) == (5, 1)
        failed = read_token_shift(first.path)[0]
        assert failed.status == "error" and "HTTP 500" in (failed.error or "") and failed.ranks == []
        report = shift_report([first]).models[0]
        assert (report.items, report.errors) == (5, 1)  # the failure is counted, not averaged in
        server.requests.clear()
        [second] = token_shift([other_run], settings)
        assert (second.already_done, second.to_do, second.ok) == (5, 1, 1)
        assert len(server.requests) == 1
    assert read_token_shift(first.path)[0].ok


def test_a_regenerated_output_is_analysed_again(models: TinyModels, other_run: Path) -> None:
    token_shift([other_run], hf_settings(models.base))
    retried = {"id": 3, "instruction": tiny.INSTRUCTIONS[3], "output": "hello world", "generator": "tiny-other",
               "dataset": "koala", "category": "regular", "status": "ok"}
    with open(other_run / "generations.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(retried) + "\n")
    [again] = token_shift([other_run], hf_settings(models.base))
    assert (again.already_done, again.to_do) == (5, 1)
    assert read_token_shift(again.path)[3].tokens == 2


def test_other_settings_on_the_same_file_are_refused(models: TinyModels, other_run: Path, tmp_path: Path) -> None:
    token_shift([other_run], hf_settings(models.base, selection={"limit": 1}))
    with pytest.raises(JustevalError, match=r"other settings.*--out"):
        token_shift([other_run], hf_settings(models.base, top_k=5))
    [elsewhere] = token_shift([other_run], hf_settings(models.base, top_k=5, out=tmp_path / "k5"))
    assert elsewhere.ok == 6 and read_token_shift(elsewhere.path)[0].top_k == 5
