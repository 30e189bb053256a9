"""Bad instruction files: one line naming the file and line/record, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.errors import InputError
from justeval.instructions import load_instructions
from tests.conftest import CliRun
from tests.instructions.conftest import small_rows

GOOD = [json.dumps(r) for r in small_rows()[:3]]


def _bad(rows: list[dict]) -> list[str]:
    return [json.dumps(r) for r in rows]


CASES = {
    "duplicate id": (GOOD + _bad([{**small_rows()[0], "instruction": "again"}]), 4, "duplicate id 0"),
    "empty instruction": (GOOD[:1] + _bad([{**small_rows()[1], "instruction": "   "}]), 2, "empty instruction"),
    "unknown category": (GOOD[:2] + _bad([{**small_rows()[2], "category": "harmful"}]), 3, "unknown category"),
    "malformed JSON": ([*GOOD[:1], '{"id": 1, "instruction": "x"', *GOOD[2:]], 2, "malformed JSON"),
    "wrong type": (GOOD[:1] + _bad([{**small_rows()[1], "task_types": 5}]), 2, "task_types"),
    "missing id": (GOOD[:1] + _bad([{"instruction": "no id"}]), 2, "missing id"),
    "difficulty not a string": (GOOD[:1] + _bad([{**small_rows()[1], "difficulty": ["easy"]}]), 2, "difficulty"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_names_file_and_line(case: str, tmp_path: Path) -> None:
    lines, line_no, words = CASES[case]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_instructions(path)
    assert info.value.line == line_no and info.value.path == str(path)
    assert words in str(info.value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_on_the_command_line_is_one_line_and_exit_2(case: str, tmp_path: Path, cli: CliRun) -> None:
    lines, line_no, words = CASES[case]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = cli("instructions", "stats", "--instructions", str(path), "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"{path}:{line_no}" in err and words in err


def test_bad_json_list_names_the_record(tmp_path: Path) -> None:
    rows = small_rows()[:3]
    rows[2]["instruction"] = ""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_instructions(path)
    assert info.value.record == rows[2]["id"] and "empty instruction" in str(info.value)


def test_bad_csv_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,instruction,category\n0,hello,regular\n1,world,unsafe\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_instructions(path)
    assert info.value.line == 3 and "unknown category 'unsafe'" in str(info.value)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="no instructions"):
        load_instructions(path)


def test_unsupported_extension_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "set.txt"
    path.write_text("hello\n", encoding="utf-8")
    with pytest.raises(InputError, match="unsupported file type"):
        load_instructions(path)
