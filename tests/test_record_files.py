"""The record-file helpers every stage relies on: bad lines are named, appends survive a crash,
whole-file outputs never appear half written."""

from __future__ import annotations

from pathlib import Path

import pytest

from justeval.errors import InputError
from justeval.jsonl import JsonlAppender, atomic_output, read_records
from justeval.records import Generation, Instruction, normalize_id
from justeval.rundir import safe_name


def test_read_records_names_file_and_line_of_a_malformed_line(tmp_path: Path) -> None:
    f = tmp_path / "items.jsonl"
    f.write_text('{"id": 1, "instruction": "a"}\n{"id": 2, "instruction": \n{"id": 3, "instruction": "c"}\n')
    with pytest.raises(InputError) as err:
        read_records(f, Instruction)
    assert str(err.value).startswith(f"{f}:2:")
    assert "malformed JSON" in str(err.value)
    assert err.value.exit_code == 2


def test_read_records_names_the_record_and_field_of_a_wrong_type(tmp_path: Path) -> None:
    f = tmp_path / "items.jsonl"
    f.write_text('{"id": 7, "instruction": ["not", "text"]}\n')
    with pytest.raises(InputError) as err:
        read_records(f, Instruction)
    msg = str(err.value)
    assert ":1 (record 7)" in msg and "instruction" in msg


def test_non_utf8_bytes_are_reported_with_their_line(tmp_path: Path) -> None:
    f = tmp_path / "items.jsonl"
    f.write_bytes(b'{"id": 1, "instruction": "ok"}\n{"id": 2, "instruction": "\xff\xfe"}\n')
    with pytest.raises(InputError, match=r":2: not valid UTF-8"):
        read_records(f, Instruction)


def test_torn_last_line_from_a_crash_is_skipped_and_repaired_on_next_append(tmp_path: Path) -> None:
    f = tmp_path / "generations.jsonl"
    good = Generation(id=1, instruction="q", output="a", generator="m")
    f.write_text(good.model_dump_json() + "\n" + '{"id": 2, "instr')
    assert [r.id for r in read_records(f, Generation)] == [1]
    with JsonlAppender(f) as out:
        out.write(Generation(id=3, instruction="q3", output="a3", generator="m"))
    assert [r.id for r in read_records(f, Generation)] == [1, 3]
    assert f.read_text().count("\n") == 2


def test_atomic_output_leaves_no_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), atomic_output(target) as fh:
        fh.write("partial\n")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_the_previous_file_until_success(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(ValueError), atomic_output(target) as fh:
        fh.write("new")
        raise ValueError
    assert target.read_text() == "old"
    with atomic_output(target) as fh:
        fh.write("new")
    assert target.read_text() == "new"


@pytest.mark.parametrize(("raw", "expected"), [(3, 3), ("3", 3), (" 12 ", 12), (4.0, 4), ("abc-1", "abc-1")])
def test_ids_from_csv_or_json_normalize_to_the_same_key(raw: object, expected: object) -> None:
    assert normalize_id(raw) == expected


@pytest.mark.parametrize("raw", [True, "", 1.5, None, [1]])
def test_invalid_ids_are_rejected(raw: object) -> None:
    with pytest.raises(ValueError):
        normalize_id(raw)


def test_judge_file_names_are_safe_and_distinct() -> None:
    assert safe_name("openai:gpt-4o") == "openai_gpt-4o"
    assert safe_name("litellm:anthropic/claude-3") == "litellm_anthropic_claude-3"
    assert safe_name("openai:a") != safe_name("openai:b")


def test_atomic_output_files_get_the_usual_permissions(tmp_path: Path) -> None:
    import os

    target = tmp_path / "key.json"
    old = os.umask(0o022)
    try:
        with atomic_output(target) as fh:
            fh.write("{}")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644
