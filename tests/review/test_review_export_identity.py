"""Export identity: each export carries an id (key, rows, tasks, pair ids), so labels can only
be unblinded with the key of the export they were made from."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from justeval.errors import InputError
from justeval.review.export import LABEL_FILES, export_review
from justeval.review.import_report import import_review
from tests.conftest import CliRun

from .helpers_review import make_run, write_csv_labels, write_jsonl_labels


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [make_run(tmp_path / "runs", m) for m in ("alpha", "beta", "gamma")]


def key_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "key.json").read_text(encoding="utf-8"))


def shown_rows(out: Path, fmt: str) -> list[dict[str, Any]]:
    """The exported rows as annotators get them (Label Studio: each task's data)."""
    path = out / LABEL_FILES[fmt]
    if fmt == "csv":
        return list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [t["data"] for t in json.loads(path.read_text(encoding="utf-8"))]


def fill_in(out: Path, fmt: str, dest: Path, side: str = "left") -> Path:
    """The exported file with every pair labelled `side`, as a person returns it."""
    rows = shown_rows(out, fmt)
    if fmt == "label-studio":
        tasks = [{"id": k, "data": row, "annotations": [{"completed_by": {"email": "a@x"}, "result": [
            {"from_name": "preference", "to_name": "instruction", "type": "choices",
             "value": {"choices": [side.capitalize()]}}]}]} for k, row in enumerate(rows)]
        dest = dest.with_suffix(".json")
        dest.write_text(json.dumps(tasks), encoding="utf-8")
        return dest
    for row in rows:
        row["label"] = side
    return write_jsonl_labels(dest.with_suffix(".jsonl"), rows) if fmt == "jsonl" else write_csv_labels(
        dest.with_suffix(".csv"), rows)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "label-studio"])
def test_export_id_is_in_the_key_every_row_and_every_pair_id(runs: list[Path], tmp_path: Path, fmt: str) -> None:
    export_review(runs, tmp_path / "a", n=9, seed=3, fmt=fmt)
    export_review(runs, tmp_path / "b", n=9, seed=3, fmt=fmt)
    export_review(runs[:2], tmp_path / "c", n=9, seed=3, fmt=fmt)
    key_a, key_c = key_of(tmp_path / "a"), key_of(tmp_path / "c")
    ident = key_a["export_id"]
    assert len(ident) == 8 and ident == key_of(tmp_path / "b")["export_id"] != key_c["export_id"]
    rows, rows_c = shown_rows(tmp_path / "a", fmt), shown_rows(tmp_path / "c", fmt)
    assert [r["pair_id"] for r in rows] == [f"{p['pair_id']}-{ident}" for p in key_a["pairs"]]
    assert {r["export_id"] for r in rows} == {ident}
    assert not {r["pair_id"] for r in rows} & {r["pair_id"] for r in rows_c}


@pytest.mark.parametrize(("fmt", "bare"), [("csv", False), ("jsonl", False), ("label-studio", False),
                                           ("csv", True)])
def test_labels_from_another_export_are_refused(runs: list[Path], tmp_path: Path, fmt: str, bare: bool) -> None:
    export_review(runs, tmp_path / "e3", n=6, seed=3, fmt=fmt)
    export_review(runs[:2], tmp_path / "e2", n=6, seed=99, fmt=fmt)
    labels = fill_in(tmp_path / "e3", fmt, tmp_path / "labels")
    if bare:  # only pair_id and label kept: the pair id still tells
        rows = [{"pair_id": r["pair_id"], "label": "left"} for r in shown_rows(tmp_path / "e3", fmt)]
        labels = write_csv_labels(tmp_path / "bare.csv", rows)
    with pytest.raises(InputError, match="labels from export") as info:
        import_review([labels], tmp_path / "e2" / "key.json")
    message = str(info.value)
    assert str(labels) in message and key_of(tmp_path / "e3")["export_id"] in message
    assert key_of(tmp_path / "e2")["export_id"] in message and "\n" not in message
    report = import_review([labels], tmp_path / "e3" / "key.json")
    assert report["labels_count"] == 6 and sum(r["pairs"] for r in report["win_rates"]) == 6


def test_cli_wrong_key_is_one_line_exit_2_and_the_right_key_round_trips(runs: list[Path], tmp_path: Path,
                                                                         cli: CliRun) -> None:
    assert cli("export-review", *map(str, runs), "--out", str(tmp_path / "e3"), "--n", "6", "--seed", "3")[0] == 0
    assert cli("export-review", *map(str, runs[:2]), "--out", str(tmp_path / "e2"), "--n", "6", "--seed", "99")[0] == 0
    labels = fill_in(tmp_path / "e3", "csv", tmp_path / "labels", side="right")
    code, out, err = cli("import-review", str(labels), "--key", str(tmp_path / "e2" / "key.json"))
    assert code == 2
    assert out == "" and err.count("\n") == 1 and err.startswith(f"error: {labels}:2 ")
    code, out, _ = cli("import-review", str(labels), "--key", str(tmp_path / "e3" / "key.json"), "--json")
    assert code == 0
    report = json.loads(out)
    pairs = key_of(tmp_path / "e3")["pairs"]
    for row in report["win_rates"]:
        mine = [p for p in pairs if (p["model_a"], p["model_b"]) == (row["model_a"], row["model_b"])]
        wins = Counter("A" if p["right"] == p["model_a"] else "B" for p in mine)
        assert row["pairs"] == len(mine) and row["A"]["value"] == pytest.approx(wins["A"] / len(mine))


def test_edited_text_in_a_filled_in_pairs_csv_is_refused_but_reflowed_whitespace_is_not(
        runs: list[Path], tmp_path: Path) -> None:
    export_review(runs, tmp_path / "e", n=5, seed=1)
    rows = shown_rows(tmp_path / "e", "csv")
    for row in rows:
        row.update(label="tie", left=row["left"].replace(" ", "\r\n  ") + " ")
    import_review([write_csv_labels(tmp_path / "ok.csv", rows)], tmp_path / "e" / "key.json")
    rows[3]["right"] = rows[3]["right"] + " (edited)"
    path = write_csv_labels(tmp_path / "edited.csv", rows)
    with pytest.raises(InputError, match="differ from what the key") as info:
        import_review([path], tmp_path / "e" / "key.json")
    assert str(path) in str(info.value) and rows[3]["pair_id"] in str(info.value)


def test_key_and_labels_written_before_export_ids_still_import(runs: list[Path], tmp_path: Path) -> None:
    export_review(runs[:2], tmp_path / "e", n=8, seed=2)
    key = key_of(tmp_path / "e")
    del key["export_id"]
    for p in key["pairs"]:
        del p["shown_digest"]
    old_key = tmp_path / "old_key.json"
    old_key.write_text(json.dumps(key), encoding="utf-8")
    labels = write_csv_labels(tmp_path / "old.csv", [{"pair_id": p["pair_id"], "label": "left"} for p in key["pairs"]])
    (row,) = import_review([labels], old_key)["win_rates"]
    left_a = sum(p["left"] == p["model_a"] for p in key["pairs"])
    assert row["pairs"] == 8 and row["A"]["value"] == pytest.approx(left_a / 8)
    with pytest.raises(InputError, match="older export without an export id"):
        import_review([fill_in(tmp_path / "e", "csv", tmp_path / "new")], old_key)


def test_bare_pair_ids_mean_the_keys_own_pairs_and_count_with_exported_ids(runs: list[Path], tmp_path: Path) -> None:
    export_review(runs[:2], tmp_path / "e", n=4, seed=2)
    pairs = key_of(tmp_path / "e")["pairs"]
    exported = shown_rows(tmp_path / "e", "csv")
    rows = [{"pair_id": p["pair_id"], "label": "right", "annotator": "x"} for p in pairs[:2]]
    rows += [{"pair_id": r["pair_id"], "label": "right", "annotator": "x"} for r in exported[2:]]
    (row,) = import_review([write_csv_labels(tmp_path / "mixed.csv", rows)], tmp_path / "e" / "key.json")["win_rates"]
    right_a = sum(p["right"] == p["model_a"] for p in pairs)
    assert row["pairs"] == 4 and row["A"]["value"] == pytest.approx(right_a / 4)
    rows.append({"pair_id": exported[0]["pair_id"], "label": "tie", "annotator": "x"})  # same pair as pairs[0]
    path = write_csv_labels(tmp_path / "twice.csv", rows)
    with pytest.raises(InputError, match="labelled twice") as info:
        import_review([path], tmp_path / "e" / "key.json")
    assert f"{path}:6" in str(info.value) and exported[0]["pair_id"] in str(info.value)
