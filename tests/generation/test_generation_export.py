"""`justeval export`: a run's outputs as the original just-eval scripts and AlpacaEval read them
(one JSON list, the latest ok output per item), checked on the real recorded data."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest

from justeval.jsonl import write_jsonl
from justeval.records import Generation
from justeval.rundir import RunDir
from tests.generation.conftest import CliRun


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_export_keeps_the_latest_ok_output_per_item_in_id_order(tmp_path: Path, cli: CliRun,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_jsonl(RunDir(run).generations, [
        Generation(id=2, instruction="q2", output="two", generator="m"),
        Generation(id=0, instruction="q0", output=None, generator="m", status="error", error="HTTP 500"),
        Generation(id=1, instruction="q1", output=None, generator="m", status="error", error="HTTP 500"),
        Generation(id=0, instruction="q0", output="zero", generator="m"),  # the retry that worked
        Generation(id=10, instruction="q10", output="ten", generator="m"),
    ])
    out = tmp_path / "outputs.json"
    assert cli("export", str(run), "--out", str(out)) == 0
    err = capsys.readouterr().err
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [(d["id"], d["output"]) for d in data] == [(0, "zero"), (2, "two"), (10, "ten")]
    assert "1 item(s) without an ok output left out" in err
    assert cli("export", str(run), "--out", str(tmp_path / "x.json"), "--format", "csv") == 2
    assert "--format" in capsys.readouterr().err and not (tmp_path / "x.json").exists()


@pytest.mark.integration
def test_exported_outputs_rebuild_the_recorded_judge_prompts_with_the_original_template(
        shared_data: Path, tmp_path: Path, cli: CliRun) -> None:
    """Read as the original scripts read it (a JSON list, `${instruction}` and `${candidate}`
    substituted into the upstream template), the export gives the recorded prompts byte for byte."""
    model = "gpt-3.5-turbo-0301"
    run = tmp_path / "run"
    assert cli("import", str(shared_data / "outputs" / f"{model}.jsonl"), "--out", str(run),
               "--instructions", str(shared_data / "just-eval-instruct" / "instructions.jsonl")) == 0
    out = tmp_path / "just_eval.json"
    assert cli("export", str(run), "--out", str(out)) == 0
    with out.open(encoding="utf-8") as fh:
        items = json.load(fh)
    assert len(items) == 1000
    template = string.Template((shared_data / "upstream-templates/just-eval/score_multi.txt").read_text())
    by_id = {item["id"]: item for item in items}
    recorded = _records(shared_data / "judgments" / "score_multi.gpt-4-1106-preview" / f"{model}.jsonl")
    for rec in recorded:
        item = by_id[rec["id"]]
        assert template.substitute(instruction=item["instruction"], candidate=item["output"]) == rec["prompt"]
    assert len(recorded) == 400


@pytest.mark.integration
def test_alpaca_eval_export_imports_back_to_the_same_outputs(shared_data: Path, tmp_path: Path, cli: CliRun) -> None:
    instructions = str(shared_data / "just-eval-instruct" / "instructions.jsonl")
    first = tmp_path / "first"
    assert cli("import", str(shared_data / "outputs" / "gpt-4-0613.jsonl"), "--out", str(first),
               "--instructions", instructions) == 0
    exported = tmp_path / "model_outputs.json"
    assert cli("export", str(first), "--out", str(exported), "--format", "alpaca-eval", "--alpaca-eval-set",
               str(shared_data / "sources" / "alpaca_eval" / "alpaca_eval.json")) == 0
    rows = json.loads(exported.read_text(encoding="utf-8"))
    assert set(rows[0]) == {"instruction", "output", "generator", "dataset"}  # AlpacaEval's fields, no id
    again = tmp_path / "again"
    assert cli("import", str(exported), "--out", str(again), "--instructions", instructions) == 0
    before = {i: g.output for i, g in RunDir(first).latest_generations().items()}
    after = {i: g.output for i, g in RunDir(again).latest_generations().items()}
    # AlpacaEval's items only (the export leaves the others out), each with the same output
    assert len(after) == len(rows) >= 420 and {i: before[i] for i in after} == after
