"""export-review: blinded, seeded, stratified samples in CSV, JSONL and Label Studio form."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from justeval.errors import UsageError
from justeval.review.export import export_review

from .helpers_review import SAFETY_FROM, make_run, output_of


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [make_run(tmp_path / "runs", m) for m in ("alpha", "beta")]


def read_key(out: Path) -> dict:
    return json.loads((out / "key.json").read_text(encoding="utf-8"))


def test_export_hides_models_and_key_maps_each_side(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "review"
    export_review(runs, out, n=12, seed=5)
    rows = list(csv.DictReader((out / "pairs.csv").open(encoding="utf-8")))
    key = read_key(out)
    assert len(rows) == 12 and [r["pair_id"] for r in rows] == [f"{p['pair_id']}-{key['export_id']}"
                                                                for p in key["pairs"]]
    shown = (out / "pairs.csv").read_text(encoding="utf-8")
    assert "alpha" not in shown and "beta" not in shown
    for row, pair in zip(rows, key["pairs"], strict=True):
        assert {pair["left"], pair["right"]} == {"alpha", "beta"}
        assert row["left"] == output_of(pair["left"], pair["id"])
        assert row["right"] == output_of(pair["right"], pair["id"])
        assert row["instruction"] == f"question {pair['id']}" and row["label"] == ""
        assert set(row) == {"pair_id", "instruction", "left", "right", "label", "annotator", "export_id"}
        assert row["export_id"] == key["export_id"]
    assert len({p["id"] for p in key["pairs"]}) == 12  # distinct items first
    assert Counter(p["left"] for p in key["pairs"]).keys() == {"alpha", "beta"}  # order randomised


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "label-studio"])
def test_same_seed_gives_byte_identical_files_and_another_seed_differs(runs: list[Path], tmp_path: Path,
                                                                      fmt: str) -> None:
    first = export_review(runs, tmp_path / "a", n=8, seed=11, fmt=fmt)
    export_review(runs, tmp_path / "b", n=8, seed=11, fmt=fmt)
    export_review(runs, tmp_path / "c", n=8, seed=12, fmt=fmt)
    names = sorted(f.name for f in first.files)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "key.json").read_bytes() != (tmp_path / "c" / "key.json").read_bytes()


def test_stratify_by_category_keeps_proportions(runs: list[Path], tmp_path: Path) -> None:
    export_review(runs, tmp_path / "r", n=8, seed=2, stratify="category")
    cats = Counter(p["category"] for p in read_key(tmp_path / "r")["pairs"])
    n_safety = 20 - SAFETY_FROM
    assert cats == {"regular": 8 * SAFETY_FROM // 20, "safety": 8 * n_safety // 20}


def test_stratify_by_dataset_keeps_proportions(runs: list[Path], tmp_path: Path) -> None:
    export_review(runs, tmp_path / "r", n=10, seed=4, stratify="dataset")
    assert Counter(p["dataset"] for p in read_key(tmp_path / "r")["pairs"]) == {"koala": 5, "lima": 5}


def test_three_runs_sample_model_pairs_too_and_only_items_both_answered(tmp_path: Path) -> None:
    runs = [make_run(tmp_path, "alpha"), make_run(tmp_path, "beta", skip=(0, 1)), make_run(tmp_path, "gamma")]
    export_review(runs, tmp_path / "r", n=45, seed=9)
    pairs = read_key(tmp_path / "r")["pairs"]
    combos = Counter((p["model_a"], p["model_b"]) for p in pairs)
    assert set(combos) == {("alpha", "beta"), ("alpha", "gamma"), ("beta", "gamma")}
    assert not [p for p in pairs if "beta" in (p["model_a"], p["model_b"]) and p["id"] in (0, 1)]
    assert len({(p["id"], p["model_a"], p["model_b"]) for p in pairs}) == 45


def test_label_studio_export_has_tasks_and_a_labeling_config(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "ls"
    export_review(runs, out, n=4, seed=1, fmt="label-studio", aspects=["helpfulness", "clarity"])
    tasks = json.loads((out / "tasks.json").read_text(encoding="utf-8"))
    assert len(tasks) == 4 and set(tasks[0]["data"]) == {"pair_id", "instruction", "left", "right", "export_id"}
    assert {t["data"]["export_id"] for t in tasks} == {read_key(out)["export_id"]}
    root = ET.fromstring((out / "labeling_config.xml").read_text(encoding="utf-8"))
    choices = {c.get("name"): [x.get("value") for x in c.iter("Choice")] for c in root.iter("Choices")}
    assert choices == {n: ["Left", "Right", "Tie"] for n in ("preference", "aspect_helpfulness", "aspect_clarity")}
    texts = {t.get("name"): t.get("value") for t in root.iter("Text")}
    assert texts == {"instruction": "$instruction", "left": "$left", "right": "$right"}


def test_export_needs_two_runs(runs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least two runs") as err:
        export_review(runs[:1], tmp_path / "r", n=3, seed=0)
    assert err.value.exit_code == 2


def test_stratify_by_task_reads_task_types_from_an_instructions_file(runs: list[Path], tmp_path: Path) -> None:
    from justeval.jsonl import write_jsonl
    from justeval.records import Instruction

    tasks = {i: ["coding"] if i < 5 else ["writing"] for i in range(20)}
    path = tmp_path / "instructions.jsonl"
    write_jsonl(path, [Instruction(id=i, instruction=f"question {i}", task_types=t) for i, t in tasks.items()])
    export_review(runs, tmp_path / "r", n=8, seed=6, stratify="task", instructions=path)
    pairs = read_key(tmp_path / "r")["pairs"]
    assert Counter(p["stratum"] for p in pairs) == {"coding": 2, "writing": 6}
    assert all(tasks[p["id"]][0] == p["stratum"] for p in pairs)
