"""`justeval import`: outputs made elsewhere become a run directory, matched to the instruction set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from justeval.errors import InputError, JustevalError
from justeval.generation import import_outputs
from justeval.instructions import load_instructions
from justeval.records import Instruction
from justeval.rundir import RunDir
from tests.generation.conftest import CliRun


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.integration
def test_import_real_gpt4_outputs_gives_1000_ok_generations(tmp_path: Path, cli: CliRun, shared_data: Path) -> None:
    source = shared_data / "outputs" / "gpt-4-0613.jsonl"
    instructions = shared_data / "just-eval-instruct" / "instructions.jsonl"
    code = cli("import", str(source), "--out", str(tmp_path / "run"), "--instructions", str(instructions),
               "--generator", "gpt-4-0613")
    assert code == 0
    gens = RunDir(tmp_path / "run").load_generations()
    original = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    assert len(gens) == 1000 and all(g.status == "ok" and g.generator == "gpt-4-0613" for g in gens)
    assert {g.id: g.output for g in gens} == {r["id"]: r["output"] for r in original}
    by_id = {i.id: i for i in load_instructions(instructions)}
    assert all(g.category == by_id[g.id].category and g.dataset == by_id[g.id].dataset for g in gens)
    meta = RunDir(tmp_path / "run").read_manifest().import_
    assert meta is not None and (meta.records, meta.format, meta.generator) == (1000, "jsonl", "gpt-4-0613")


def test_alpaca_eval_outputs_without_ids_are_matched_by_text(tmp_path: Path, items: list[Instruction]) -> None:
    twice = [*items, Instruction(id=99, instruction=items[2].instruction, dataset="toy")]
    rows = [{"instruction": twice[i].instruction, "output": f"out {n}", "generator": "alpaca-model"}
            for n, i in enumerate([3, 2, 0, 2])]
    (tmp_path / "model_outputs.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    summary = import_outputs(tmp_path / "model_outputs.json", tmp_path / "run", twice)
    assert summary.file_format == "json" and summary.generator == "alpaca-model"
    gens = RunDir(tmp_path / "run").load_generations()
    # the repeated text fills its ids in order: first 2, then 99
    assert [(g.id, g.output) for g in gens] == [(3, "out 0"), (2, "out 1"), (0, "out 2"), (99, "out 3")]


def test_generator_defaults_to_the_file_name_when_records_name_none(tmp_path: Path,
                                                                     items: list[Instruction]) -> None:
    path = _jsonl(tmp_path / "my-run.jsonl", [{"id": 0, "output": "a"}])
    assert import_outputs(path, tmp_path / "run", items).generator == "my-run"


@pytest.mark.parametrize(("rows", "message", "line"), [
    ([{"id": 0, "output": "a"}, {"id": 77, "output": "b"}], "not in the instruction set", 2),
    ([{"id": 1, "instruction": "Something else", "output": "b"}], "does not match", 1),
    ([{"id": 0, "output": "a"}, {"id": 0, "output": "b"}], "appears twice", 2),
    ([{"id": 0, "output": "   "}], "empty output", 1),
    ([{"id": 0}], "missing output", 1),
    ([{"instruction": "Unknown text", "output": "x"}], "not in the instruction set", 1),
])
def test_bad_records_are_input_errors_naming_file_and_line(tmp_path: Path, items: list[Instruction],
                                                           rows: list[dict[str, Any]], message: str,
                                                           line: int) -> None:
    path = _jsonl(tmp_path / "outs.jsonl", rows)
    with pytest.raises(InputError, match=message) as info:
        import_outputs(path, tmp_path / "run", items)
    assert info.value.path == str(path) and info.value.line == line
    assert not (tmp_path / "run" / "generations.jsonl").exists()


def test_several_generators_need_an_explicit_name(tmp_path: Path, items: list[Instruction]) -> None:
    path = _jsonl(tmp_path / "o.jsonl", [{"id": 0, "output": "a", "generator": "x"},
                                         {"id": 1, "output": "b", "generator": "y"}])
    with pytest.raises(InputError, match="--generator"):
        import_outputs(path, tmp_path / "run", items)
    assert import_outputs(path, tmp_path / "run", items, generator="z").records == 2


def test_existing_generations_are_not_overwritten_silently(tmp_path: Path, items: list[Instruction]) -> None:
    path = _jsonl(tmp_path / "o.jsonl", [{"id": 0, "output": "first"}])
    import_outputs(path, tmp_path / "run", items)
    _jsonl(path, [{"id": 0, "output": "second"}])
    with pytest.raises(JustevalError, match="--overwrite"):
        import_outputs(path, tmp_path / "run", items)
    import_outputs(path, tmp_path / "run", items, overwrite=True)
    assert RunDir(tmp_path / "run").load_generations()[0].output == "second"


def test_cli_import_error_is_one_line_exit_2(tmp_path: Path, cli: CliRun, instructions_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _jsonl(tmp_path / "outs.jsonl", [{"id": 0, "output": "a"}, {"id": 5, "output": ""}])
    code = cli("import", str(path), "--out", str(tmp_path / "run"), "--instructions", str(instructions_file))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "outs.jsonl:2" in err and "record 5" in err
