"""Loading the set from every supported kind of local source, and failing clearly without one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from justeval.errors import InputError, SourceUnavailableError
from justeval.instructions import load_instructions
from tests.instructions.conftest import small_rows, write_jsonl_rows


def _as_pairs(items: list) -> list[tuple]:
    return [(i.id, i.instruction, i.dataset, i.source_id, i.category, i.task_types, i.topics, i.difficulty)
            for i in items]


def _expected() -> list[tuple]:
    return [(r["id"], r["instruction"], r["dataset"], r["source_id"], r["category"], r["task_types"], r["topics"],
             r["difficulty"]) for r in small_rows()]


def test_jsonl_file_loads_every_field(small_set: Path) -> None:
    assert _as_pairs(load_instructions(small_set)) == _expected()


def test_folder_loads_its_instruction_file_and_ignores_lite_ids(small_set: Path) -> None:
    assert _as_pairs(load_instructions(small_set.parent)) == _expected()


def test_json_list_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    path.write_text(json.dumps(small_rows()), encoding="utf-8")
    assert _as_pairs(load_instructions(path)) == _expected()


def test_csv_with_list_cells_in_several_spellings_loads(tmp_path: Path) -> None:
    rows = small_rows()
    frame = pd.DataFrame(rows)
    spellings = ['["info-seek"]', "math;reasoning", "writing", "coding", "", "[]"]
    frame["task_types"] = spellings
    frame["topics"] = ["nature", "stem|medical", '["humanities"]', "stem, finance", "", ""]
    frame["difficulty"] = [r["difficulty"] or "" for r in rows]
    path = tmp_path / "set.csv"
    frame.to_csv(path, index=False)
    got = {i.id: i for i in load_instructions(path)}
    assert got[0].task_types == ["info-seek"]
    assert got[1].task_types == ["math", "reasoning"] and got[1].topics == ["stem", "medical"]
    assert got[2].topics == ["humanities"] and got[3].topics == ["stem", "finance"]
    assert got[800].task_types == [] and got[800].difficulty is None and got[800].category == "safety"


def test_parquet_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "set.parquet"
    pd.DataFrame(small_rows()).to_parquet(path)
    assert _as_pairs(load_instructions(path)) == _expected()


def test_alternative_field_names_map_to_ours(tmp_path: Path) -> None:
    rows = [{"idx": "7", "prompt": "Explain tides.", "subset": "oasst", "task_type": "info-seek",
             "topic": ["nature"], "difficulty": 2},
            {"id": 805, "instruction": "Harm someone.", "dataset": "MaliciousInstruct"}]
    got = load_instructions(write_jsonl_rows(tmp_path / "alt.jsonl", rows))
    assert (got[0].id, got[0].instruction, got[0].dataset) == (7, "Explain tides.", "oasst")
    assert got[0].task_types == ["info-seek"] and got[0].topics == ["nature"] and got[0].difficulty == "2"
    # without a `category` field, the safety datasets still land in the safety category
    assert (got[0].category, got[1].category) == ("regular", "safety")


def test_missing_local_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_instructions(tmp_path / "nope.jsonl")


def test_offline_without_local_source_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    with pytest.raises(SourceUnavailableError) as info:
        load_instructions()
    message = str(info.value)
    assert "re-align/just-eval-instruct" in message and "--instructions" in message
    assert "\n" not in message
