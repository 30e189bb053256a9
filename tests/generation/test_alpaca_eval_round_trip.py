"""AlpacaEval round trip on the real sets: a full 805-row `model_outputs.json` imports (the rows
the just-eval set does not hold are reported, not a crash), and `export --format alpaca-eval`
writes only AlpacaEval's items, once each, in AlpacaEval's order, so that AlpacaEval's own
reader and its merge with the reference outputs (the real `alpaca-eval` package, no API call)
give one row per item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from justeval.generation import export_outputs, import_outputs
from justeval.instructions import load_instructions
from justeval.rundir import RunDir
from tests.generation.conftest import CliRun

pytestmark = pytest.mark.integration


@pytest.fixture
def alpaca_set(shared_data: Path) -> Path:
    return shared_data / "sources" / "alpaca_eval" / "alpaca_eval.json"


@pytest.fixture
def just_eval_set(shared_data: Path) -> Path:
    return shared_data / "just-eval-instruct" / "instructions.jsonl"


def _model_outputs(alpaca_set: Path, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """AlpacaEval's 805 instructions with an output each, as AlpacaEval's model_outputs.json."""
    rows = [{"instruction": r["instruction"], "output": f"answer number {n}", "generator": "my-model",
             "dataset": r["dataset"]} for n, r in enumerate(json.loads(alpaca_set.read_text("utf-8")))]
    path = tmp_path / "model_outputs.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path, rows


def _alpaca_eval_merge(model_outputs: Path, reference: list[dict[str, Any]], expected_generator: str) -> Any:
    """AlpacaEval's reading of a model_outputs.json and its merge with the reference outputs:
    `utils.load_or_convert_to_dataframe` and `PairwiseAnnotator.annotate_head2head` (its merge,
    on the annotator's input key `instruction`; the judging step that would call an API is
    replaced by returning the merged frame)."""
    pytest.importorskip("alpaca_eval")
    from alpaca_eval import utils
    from alpaca_eval.annotators.pairwise_evaluator import PairwiseAnnotator

    class MergeOnly:
        input_keys = ("instruction",)

        def __call__(self, df: Any, **_: Any) -> Any:
            return df

    outputs = utils.load_or_convert_to_dataframe(model_outputs)
    assert utils.get_generator_name(None, outputs) == expected_generator
    reference_frame = utils.convert_to_dataframe(reference)
    return PairwiseAnnotator.annotate_head2head(MergeOnly(), outputs_1=reference_frame,  # type: ignore[arg-type]
                                                outputs_2=outputs)


def test_a_full_alpaca_eval_outputs_file_imports_and_reports_what_is_not_in_the_set(
        alpaca_set: Path, just_eval_set: Path, tmp_path: Path, cli: CliRun,
        capsys: pytest.CaptureFixture[str]) -> None:
    path, rows = _model_outputs(alpaca_set, tmp_path)
    run = tmp_path / "run"
    code = cli("import", str(path), "--out", str(run), "--instructions", str(just_eval_set))
    err = capsys.readouterr().err
    assert code == 0, err
    items = {i.id: i for i in load_instructions(str(just_eval_set))}
    gens = RunDir(run).load_generations()
    # every AlpacaEval item of the just-eval set, with its own output ...
    by_source = {items[g.id].source_id: g.output for g in gens}
    expected = {i.source_id: f"answer number {int(i.source_id.split('-')[1])}" for i in items.values()
                if (i.source_id or "").startswith("alpaca_eval-")}
    assert len(expected) == 420 and {k: by_source.get(k) for k in expected} == expected
    # ... and any other item imported answers exactly the same text (LIMA and MT-bench repeat some)
    assert all(items[g.id].instruction.strip() == rows[int(g.output.split()[-1])]["instruction"].strip()
               for g in gens)
    summary_line = [ln for ln in err.splitlines() if "not in the instruction set" in ln]
    assert len(summary_line) == 1 and f"{805 - len(gens)} of 805 records" in summary_line[0]


def test_export_writes_alpaca_evals_items_once_each_in_its_order(
        alpaca_set: Path, shared_data: Path, just_eval_set: Path, tmp_path: Path, cli: CliRun,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A full 1,000-item run: the 420 AlpacaEval items, plus the LIMA and MT-bench items whose
    text is an AlpacaEval instruction that the set's AlpacaEval part lacks; never one twice."""
    run = tmp_path / "run"
    assert cli("import", str(shared_data / "outputs" / "gpt-3.5-turbo-0301.jsonl"), "--out", str(run),
               "--instructions", str(just_eval_set)) == 0
    out = tmp_path / "model_outputs.json"
    capsys.readouterr()
    code = cli("export", str(run), "--out", str(out), "--format", "alpaca-eval", "--alpaca-eval-set", str(alpaca_set))
    err = capsys.readouterr().err
    assert code == 0, err
    exported = json.loads(out.read_text("utf-8"))
    reference = json.loads(alpaca_set.read_text("utf-8"))
    order = {r["instruction"]: n for n, r in enumerate(reference)}
    positions = [order[r["instruction"]] for r in exported]  # every row is an AlpacaEval instruction, verbatim
    assert positions == sorted(set(positions))  # once each, in AlpacaEval's order
    assert all(r["dataset"] == reference[p]["dataset"] for r, p in zip(exported, positions, strict=True))
    items = {i.id: i for i in load_instructions(str(just_eval_set))}
    outputs = {g.id: g.output for g in RunDir(run).load_generations()}
    alpaca_items = {int(i.source_id.split("-")[1]): outputs[i.id] for i in items.values()
                    if (i.source_id or "").startswith("alpaca_eval-")}
    assert {p: r["output"] for r, p in zip(exported, positions, strict=True) if p in alpaca_items} == alpaca_items
    assert f"wrote {len(exported)} outputs" in err and f"{1000 - len(exported)} item(s) not in AlpacaEval" in err

    generator = RunDir(run).load_generations()[0].generator
    merged = _alpaca_eval_merge(out, [{**r, "output": "reference answer", "generator": "ref"} for r in reference],
                                generator)
    assert len(merged) == len(exported) and merged["instruction"].is_unique
    assert set(merged["output_2"]) <= set(outputs.values())


def test_an_alpaca_eval_file_survives_import_then_export_unchanged(
        alpaca_set: Path, just_eval_set: Path, tmp_path: Path) -> None:
    path, rows = _model_outputs(alpaca_set, tmp_path)
    summary = import_outputs(path, tmp_path / "run", load_instructions(str(just_eval_set)))
    assert summary.records + summary.not_in_set == 805
    back = export_outputs(tmp_path / "run", tmp_path / "again.json", "alpaca-eval", alpaca_eval_set_source=alpaca_set)
    again = json.loads((tmp_path / "again.json").read_text("utf-8"))
    assert back.written == summary.records and back.benchmark_missing == summary.not_in_set
    kept = [r for r in rows if r["output"] in {a["output"] for a in again}]
    assert again == kept  # same rows, same text, same order


def test_the_alpaca_eval_set_is_fetched_from_its_public_home_by_default(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from justeval.errors import SourceUnavailableError
    from justeval.generation.export import ALPACA_EVAL_URL, alpaca_eval_set

    monkeypatch.setenv("JUSTEVAL_OFFLINE", "1")
    with pytest.raises(SourceUnavailableError) as info:
        alpaca_eval_set()
    assert ALPACA_EVAL_URL in str(info.value) and "--alpaca-eval-set" in str(info.value)
