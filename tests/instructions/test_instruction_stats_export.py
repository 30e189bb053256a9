"""`justeval instructions stats` and `export` on small files the tests write."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from justeval.instructions import load_instructions
from tests.conftest import CliRun
from tests.instructions.conftest import small_rows


def test_stats_json_has_exactly_the_documented_keys_and_counts(small_set: Path, cli: CliRun) -> None:
    code, out, _ = cli("instructions", "stats", "--instructions", str(small_set), "--json")
    assert code == 0
    stats = json.loads(out)
    rows = small_rows()
    assert list(stats) == ["total", "category", "dataset", "task", "topic", "difficulty"]
    assert stats["total"] == len(rows)
    assert stats["category"] == dict(Counter(r["category"] for r in rows))
    assert stats["dataset"] == dict(Counter(r["dataset"] for r in rows))
    tasks = Counter(t for r in rows for t in (r["task_types"] or ["(none)"]))
    assert stats["task"] == dict(tasks)
    assert stats["difficulty"] == dict(Counter(r["difficulty"] or "(none)" for r in rows))


def test_stats_table_shows_each_dimension(small_set: Path, cli: CliRun) -> None:
    code, out, _ = cli("instructions", "stats", "--instructions", str(small_set))
    assert code == 0
    for title in ("category", "dataset", "task", "topic", "difficulty"):
        assert f"{title} (of 6 items)" in out
    assert "MaliciousInstruct" in out


def test_export_jsonl_round_trips(small_set: Path, tmp_path: Path, cli: CliRun) -> None:
    out = tmp_path / "out.jsonl"
    code, _, err = cli("instructions", "export", "--instructions", str(small_set), "--out", str(out),
                       "--subset", "regular")
    assert code == 0 and "wrote 4" in err
    assert load_instructions(out) == [i for i in load_instructions(small_set) if i.category == "regular"]


def test_export_csv_round_trips_list_fields(small_set: Path, tmp_path: Path, cli: CliRun) -> None:
    out = tmp_path / "out.csv"
    code, _, _ = cli("instructions", "export", "--instructions", str(small_set), "--out", str(out))
    assert code == 0
    assert load_instructions(out) == load_instructions(small_set)


def test_export_refuses_other_formats_without_writing(small_set: Path, tmp_path: Path, cli: CliRun) -> None:
    out = tmp_path / "out.txt"
    code, _, err = cli("instructions", "export", "--instructions", str(small_set), "--out", str(out))
    assert code == 1 and ".jsonl or .csv" in err and not out.exists()
