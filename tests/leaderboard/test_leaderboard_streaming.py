"""Boards over long outputs: record files are read a block at a time (with the same rules and
errors as `read_records`), a board keeps numbers and where texts are, never the texts, and
the page's item browser gets bounded previews inline-free, with whole texts in side files."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from justeval.board import Settings, build_leaderboard
from justeval.board.page_items import CHUNK_BYTES, PREVIEW_CHARS, chunk_name, write_item_files
from justeval.board.publish import publish_site
from justeval.errors import InputError
from justeval.jsonl import read_records
from justeval.records import Generation, Judgment
from justeval.streaming import iter_records, read_line

from .runs import REGULAR, generation, judgment, write_run


def _gen(i: int, output: str = "fine") -> bytes:
    return json.dumps(generation(i, "m", output)).encode()


FILES: dict[str, bytes] = {
    "clean": b"\n".join(_gen(i) for i in range(5)) + b"\n",
    "blank_lines_and_crlf": b"\n\n" + _gen(0) + b"\r\n   \n" + _gen(1) + b"\n\n",
    "last_line_without_newline": _gen(0) + b"\n" + _gen(1),
    "torn_tail": _gen(0) + b"\n" + _gen(1) + b"\n" + _gen(2)[:25],
    "malformed_middle": _gen(0) + b"\n{not json\n" + _gen(2) + b"\n",
    "not_utf8": _gen(0) + b"\n" + _gen(1).replace(b"fine", b"f\xffne") + b"\n",
    "not_an_object": _gen(0) + b"\n[1, 2]\n",
    "invalid_record": _gen(0) + b"\n" + json.dumps({"id": 1, "output": "x"}).encode() + b"\n",
    "invalid_last_line_without_newline": _gen(0) + b"\n" + json.dumps({"id": 1}).encode(),
    "bool_id": _gen(0) + b"\n" + json.dumps({**generation(1, "m", "x"), "id": True}).encode() + b"\n",
    "empty": b"",
}


def _outcome(read: Any) -> Any:
    try:
        return [r.model_dump() for r in read()]
    except InputError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("name", list(FILES))
@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_block_reader_agrees_with_read_records_on_every_file(tmp_path: Path, name: str, block: int) -> None:
    path = tmp_path / "generations.jsonl"
    path.write_bytes(FILES[name])
    expected = _outcome(lambda: read_records(path, Generation))
    got = _outcome(lambda: [rec for _, rec in iter_records(path, Generation, block_bytes=block)])
    assert got == expected


def test_each_record_comes_with_the_offset_of_its_line(tmp_path: Path) -> None:
    path = tmp_path / "generations.jsonl"
    path.write_bytes(FILES["blank_lines_and_crlf"] + b"\n".join(_gen(i, "x" * (i * 37)) for i in range(2, 9)) + b"\n")
    seen = list(iter_records(path, Generation, block_bytes=50))
    assert [g.id for _, g in seen] == list(range(9))
    for offset, g in seen:
        assert read_line(path, offset) == json.loads(g.model_dump_json(include=set(json.loads(_gen(0)))))


LONG = 256 * 1024  # characters per output: 40 outputs are a 10 MB run


def _long_run(tmp_path: Path, n: int = 40) -> Path:
    gens, judg = [], []
    for i in range(n):
        text = f"item {i} says " + ("lorem ipsum dolor " * (LONG // 18))[:LONG] + f" the end of {i}"
        gens.append(generation(i, "long", text))
        judg.append(judgment(i, "long", {a: float(1 + i % 5) for a in REGULAR}, rationale=f"why {i} " * 20))
        judg[-1]["raw"] = "r" * 50_000  # a judge that talks a lot
    return write_run(tmp_path / "run", gens, judg)


def _warm_up(tmp_path: Path) -> None:
    """Build and publish a tiny board first, so the imports are not counted as the board's."""
    run = write_run(tmp_path / "tiny", [generation(0, "t", "x")], [judgment(0, "t", {a: 3.0 for a in REGULAR})])
    built = build_leaderboard([run], settings=Settings(bootstrap=5), keep_judgments=True)
    publish_site(built.board, built.models, tmp_path / "tiny-site")


def test_a_board_never_holds_the_outputs_or_raw_replies(tmp_path: Path) -> None:
    run = _long_run(tmp_path)
    size = sum(f.stat().st_size for f in run.iterdir())
    assert size > 10 * 2**20
    _warm_up(tmp_path)
    tracemalloc.start()
    try:
        built = build_leaderboard([run], settings=Settings(bootstrap=20), keep_judgments=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 4  # a few blocks of the file at a time, not the file
    mi = built.models[0]
    assert mi.words[0] == len(("item 0 says " + ("lorem ipsum dolor " * (LONG // 18))[:LONG] + " the end of 0").split())
    assert not any(isinstance(v, str) and len(v) > 1000 for v in vars(mi).values())


def test_publishing_long_outputs_writes_previews_and_whole_texts_a_model_at_a_time(tmp_path: Path) -> None:
    run = _long_run(tmp_path)
    size = sum(f.stat().st_size for f in run.iterdir())
    built = build_leaderboard([run], settings=Settings(bootstrap=20), keep_judgments=True)
    _warm_up(tmp_path)
    tracemalloc.start()
    try:
        files = publish_site(built.board, built.models, tmp_path / "site")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 4  # one output at a time, not a file of them
    page = (tmp_path / "site" / "index.html").stat().st_size
    assert page < 200_000  # the page carries no output: 40 x 256 KB of text went to side files
    side = {p.name: p for p in files if p.parent.name == "items"}
    previews = [json.loads(p.read_text(encoding="utf-8")[len("justevalItems("):-3]) for n, p in sorted(side.items())
                if "full" not in n]
    rows = [r for chunk in previews for r in chunk["rows"]]
    assert len(rows) == 40
    assert all(len(r[1]) == PREVIEW_CHARS for r in rows)
    assert all(p.stat().st_size < CHUNK_BYTES * 2 for n, p in side.items() if "full" not in n)
    fulls = [json.loads(p.read_text(encoding="utf-8")[len("justevalFull("):-3]) for n, p in sorted(side.items())
             if "full" in n]
    whole = {r[0]: r[1] for f in fulls for r in f["rows"]}
    expected = {g.id: g.output for g in read_records(run / "generations.jsonl", Generation)}
    index = json.loads(_index_json(tmp_path / "site"))
    order = [it["id"] for it in index["items"]]
    assert {order[i]: text for i, text in whole.items()} == expected  # every whole text, byte for byte
    cells = index["cells"][0]
    for i, item_id in enumerate(order):  # the cell names the file holding its whole text
        number = cells[i][2]
        assert f"m000-full-{number:04d}.js" in side
        assert any(r[0] == i for r in json.loads(side[f"m000-full-{number:04d}.js"].read_text(
            encoding="utf-8")[len("justevalFull("):-3])["rows"])
        assert cells[i][1] == len(expected[item_id])


def _index_json(site: Path) -> str:
    page = (site / "index.html").read_text(encoding="utf-8")
    start = page.index('<script type="application/json" id="items-data">') + len(
        '<script type="application/json" id="items-data">')
    return page[start:page.index("</script>", start)]


def test_a_smaller_board_removes_the_side_files_it_no_longer_uses(tmp_path: Path) -> None:
    runs = [write_run(tmp_path / f"r{k}", [generation(i, f"m{k}", "x") for i in range(3)],
                      [judgment(i, f"m{k}", {a: 3.0 for a in REGULAR}) for i in range(3)]) for k in range(3)]
    site = tmp_path / "site"
    (site / "items").mkdir(parents=True)
    (site / "items" / "notes.txt").write_text("mine", encoding="utf-8")
    built = build_leaderboard(runs, settings=Settings(bootstrap=10), keep_judgments=True)
    publish_site(built.board, built.models, site)
    assert {p.name for p in (site / "items").iterdir()} == {chunk_name(k, 0) for k in range(3)} | {"notes.txt"}
    built = build_leaderboard(runs[:1], settings=Settings(bootstrap=10), keep_judgments=True)
    publish_site(built.board, built.models, site)
    assert {p.name for p in (site / "items").iterdir()} == {chunk_name(0, 0), "notes.txt"}  # never a user's file


def test_a_record_file_changed_under_the_publisher_is_an_error_not_a_wrong_text(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", [generation(i, "m", f"answer {i}") for i in range(3)],
                    [judgment(i, "m", {a: 3.0 for a in REGULAR}) for i in range(3)])
    built = build_leaderboard([run], settings=Settings(bootstrap=10), keep_judgments=True)
    gens = (run / "generations.jsonl").read_text(encoding="utf-8").splitlines()
    (run / "generations.jsonl").write_text("\n".join(reversed(gens)) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="changed while the page was written"):
        write_item_files(built.board, built.models, tmp_path / "site")


def test_judgments_rationales_come_from_the_records_the_scores_came_from(tmp_path: Path) -> None:
    gens = [generation(0, "m", "answer")]
    old = judgment(0, "m", {a: 2.0 for a in REGULAR}, rationale="first try")
    new = judgment(0, "m", {a: 4.0 for a in REGULAR}, rationale="second try")  # a later line supersedes
    run = write_run(tmp_path / "r", gens, [old, new])
    built = build_leaderboard([run], settings=Settings(bootstrap=0), keep_judgments=True)
    data, files = write_item_files(built.board, built.models, tmp_path / "site")
    rows = json.loads(files[0].read_text(encoding="utf-8")[len("justevalItems("):-3])["rows"]
    assert rows == [[0, "answer", {a: "second try" for a in REGULAR}]]
    assert data["cells"][0][0][3:] == [4.0] * len(REGULAR)
    assert data["statuses"][data["cells"][0][0][0]] == "ok"


def test_judgment_without_raw_reply_keeps_its_scores(tmp_path: Path) -> None:
    run = _long_run(tmp_path, n=3)
    loaded = [j for _, j in iter_records(run / "judgments.jsonl", Judgment)]
    assert all(j.raw for j in loaded)  # the file has them...
    built = build_leaderboard([run], settings=Settings(bootstrap=0))
    assert built.board.rows[0].aspects["helpfulness"].n == 3  # ...the board only needs the scores


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1 << 16])
def test_word_count_of_a_long_output_is_that_of_split(step: int) -> None:
    import random

    from justeval.board.loading import word_count

    rnd = random.Random(step)
    for _ in range(200):
        pieces = ["a", "bc", " ", "\n", "\u3000", "x ", " \t", "é"]
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 400)))
        assert word_count(text, step) == len(text.split())
