"""`justeval token-shift` through the real entry point: the --json report's public fields, runs
side by side, tags from the run's instruction source, selection, and one-line errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from justeval.tokenshift import read_token_shift
from tests.conftest import CliRun
from tests.tokenshift import tiny
from tests.tokenshift.conftest import TinyModels

REPORT_FIELDS = {"format_version", "analysis", "base", "aligned", "measured", "template", "tokenizer", "top_k",
                 "items", "tokens", "unshifted", "marginal", "shifted", "models"}
MODEL_FIELDS = {"run", "records", "generator", "selected", "items", "errors", "missing", "tokens", "truncated",
                "counts", "unshifted", "marginal", "shifted", "aligned_agreement", "top_shifted_tokens",
                "by_position", "by_category", "by_task"}


def test_json_report_has_the_public_fields_computed_from_the_records(cli: CliRun, models: TinyModels,
                                                                     other_run: Path) -> None:
    code, out, err = cli("token-shift", str(other_run), "--base", f"hf:{models.base}", "--json", "--no-progress")
    assert code == 0, err
    report = json.loads(out)
    assert set(report) == REPORT_FIELDS
    [model] = report["models"]
    assert set(model) == MODEL_FIELDS
    records = list(read_token_shift(other_run / "token_shift.jsonl").values())
    tokens = sum(r.tokens for r in records)
    shifted = sum(r.counts.shifted for r in records)
    assert report["items"] == model["items"] == len(tiny.INSTRUCTIONS) and report["tokens"] == tokens
    assert report["shifted"] == model["shifted"] == shifted / tokens
    assert abs(report["unshifted"] + report["marginal"] + report["shifted"] - 1) < 1e-9
    assert all(0 <= report[k] <= 1 for k in ("unshifted", "marginal", "shifted"))
    counted = Counter(d.token for r in records for d in r.shifted_tokens)
    assert {t["token"]: t["count"] for t in model["top_shifted_tokens"]} == dict(counted.most_common(20))
    assert sum(b["tokens"] for b in model["by_position"]) == tokens
    assert sum(b["shifted"] for b in model["by_position"]) == shifted
    assert model["by_position"][0]["bucket"] == "0-4" and model["by_position"][0]["tokens"] == 5 * len(records)
    assert model["by_category"]["regular"]["items"] == len(records)
    assert report["base"] == f"hf:{models.base}" and report["template"] == "urial" and report["top_k"] == 10
    assert "analysed 6" in err  # what was done goes to stderr, the JSON alone to stdout


def test_several_runs_are_reported_side_by_side(cli: CliRun, models: TinyModels, own_run: Path,
                                                other_run: Path, tmp_path: Path) -> None:
    code, out, err = cli("token-shift", str(own_run), str(other_run), "--base", f"hf:{models.base}",
                         "--out", str(tmp_path / "ts"), "--no-progress")
    assert code == 0, err
    header = next(line for line in out.splitlines() if "tiny-base" in line)
    assert "tiny-other" in header  # one column per model
    assert "100.0 %" in next(line for line in out.splitlines() if line.strip("│ ").startswith("unshifted"))
    assert (tmp_path / "ts" / "own" / "token_shift.jsonl").exists()
    assert (tmp_path / "ts" / "other" / "token_shift.jsonl").exists()
    assert not (own_run / "token_shift.jsonl").exists()
    code, out, _ = cli("token-shift", str(own_run), str(other_run), "--base", f"hf:{models.base}",
                       "--out", str(tmp_path / "ts"), "--json", "--no-progress")
    first, second = json.loads(out)["models"]
    assert (first["generator"], first["shifted"]) == ("tiny-base", 0.0)
    assert second["generator"] == "tiny-other" and second["shifted"] > 0


def test_tasks_come_from_the_instruction_source_the_run_records(cli: CliRun, models: TinyModels,
                                                                tmp_path: Path) -> None:
    source = tmp_path / "instructions.jsonl"
    tagged = [{"id": i, "instruction": text, "dataset": "lima", "category": "regular",
               "task_types": ["creative writing"] if i < 2 else ["reasoning", "math"]}
              for i, text in enumerate(tiny.INSTRUCTIONS)]
    source.write_text("".join(json.dumps(t) + "\n" for t in tagged), encoding="utf-8")
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("".join(json.dumps({"id": i, "instruction": text, "output": out, "generator": "tiny-other"})
                               + "\n" for i, (text, out) in enumerate(zip(tiny.INSTRUCTIONS, models.other_outputs,
                                                                           strict=True))), encoding="utf-8")
    run = tmp_path / "imported"
    code, _, err = cli("import", str(outputs), "--out", str(run), "--instructions", str(source))
    assert code == 0, err  # run.json now records the instruction source
    code, out, err = cli("token-shift", str(run), "--base", f"hf:{models.base}", "--json", "--no-progress",
                         "--ids", "0-3")
    assert code == 0, err
    [model] = json.loads(out)["models"]
    assert model["selected"] == model["items"] == 4
    assert {k: v["items"] for k, v in model["by_task"].items()} == {"creative writing": 2, "reasoning": 2, "math": 2}
    records = read_token_shift(run / "token_shift.jsonl")
    assert sorted(records) == [0, 1, 2, 3] and records[2].task_types == ["reasoning", "math"]
    reasoning = [records[2], records[3]]
    expected = sum(r.counts.shifted for r in reasoning) / sum(r.tokens for r in reasoning)
    assert model["by_task"]["reasoning"]["shifted"] == expected


def test_bad_input_is_one_line_and_exit_2(cli: CliRun, models: TinyModels, other_run: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-run"
    empty.mkdir()
    cases = [
        ([str(empty), "--base", f"hf:{models.base}"], "generations.jsonl"),
        ([str(other_run), "--base", f"hf:{models.base}", "--template", "chat"], "--aligned-template"),
        ([str(other_run), "--base", f"hf:{models.base}", "--template", str(tmp_path / "missing.txt")], "template"),
        ([str(other_run), "--base", "litellm:gpt-4o"], "hf:PATH"),
        ([str(other_run), "--base", f"hf:{models.base}", "--aligned", "openai:x"], "both be hf"),
    ]
    for args, words in cases:
        code, _, err = cli("token-shift", *args, "--no-progress")
        assert code == 2, (args, err)
        assert words in err and err.count("\n") == 1, err


@pytest.mark.integration
def test_a_real_imported_run_is_grouped_by_the_recorded_tags(cli: CliRun, models: TinyModels, shared_data: Path,
                                                            tmp_path: Path) -> None:
    instructions = shared_data / "just-eval-instruct" / "instructions.jsonl"
    run = tmp_path / "llama2-chat"
    code, _, err = cli("import", str(shared_data / "outputs" / "Llama-2-7b-chat-hf.jsonl"), "--out", str(run),
                       "--instructions", str(instructions))
    assert code == 0, err
    code, out, err = cli("token-shift", str(run), "--base", f"hf:{models.base}", "--ids", "0-5,800-803", "--json",
                         "--no-progress")
    assert code == 0, err
    [model] = json.loads(out)["models"]
    tags = {r["id"]: r for r in map(json.loads, instructions.read_text(encoding="utf-8").splitlines())}
    wanted = [*range(6), *range(800, 804)]
    assert model["items"] == 10 and "Llama-2-7b-chat-hf" in model["generator"]
    assert {k: v["items"] for k, v in model["by_category"].items()} == {"regular": 6, "safety": 4}
    expected_tasks = Counter(t for i in wanted for t in tags[i]["task_types"])
    assert {k: v["items"] for k, v in model["by_task"].items()} == dict(expected_tasks)
    assert model["truncated"] > 0  # real answers are longer than the tiny model's 256 positions
    assert model["tokens"] == sum(r.tokens for r in read_token_shift(run / "token_shift.jsonl").values())
