"""Record files: one reading for every reader, and an append never deletes a record.

- Every reader of a record file (`read_records`, `iter_json_lines`, the streaming readers, and
  what is built on them: the judge's view of a run, the leaderboard's) accepts and refuses the same lines with the same
  one-line error naming the file and the line.
- A last line without its newline that is a whole record is kept by the next append (it gets
  its newline); only a torn tail that does not parse is dropped, and its item is asked again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.errors import InputError
from justeval.jsonl import JsonlAppender, iter_json_lines, read_records, validate_record, write_jsonl
from justeval.records import Generation
from justeval.rundir import RunDir
from justeval.streaming import iter_objects, iter_records
from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.reliability.bad_input_cases import MALFORMED, NON_UTF8, N, hostile_lines, instruction, jsonl, output


def _gen(i: int) -> dict[str, object]:
    return {**output(i), "category": "regular", "status": "ok"}


LINES: dict[str, bytes] = {
    "valid": json.dumps(_gen(2)).encode(),
    **{f"malformed_{k}": v for k, v in MALFORMED.items()},
    **{f"non_utf8_{k}": v for k, v in NON_UTF8.items()},
    **{f"hostile_{k}": v for k, v in hostile_lines(_gen(2), "output").items()},
    "two_records_space": json.dumps(_gen(2)).encode() + b" " + json.dumps(_gen(3)).encode(),
    "two_records_comma": json.dumps(_gen(2)).encode() + b"," + json.dumps(_gen(3)).encode(),
    "two_records_no_space": json.dumps(_gen(2)).encode() + json.dumps(_gen(3)).encode(),
    "deep_but_readable": json.dumps({**_gen(2), "params": {"x": [[[[[[[[[[]]]]]]]]]] * 2}}).encode()
    .replace(b"[[[[[[[[[[", b"[" * 300).replace(b"]]]]]]]]]]", b"]" * 300),
    "bad_field": json.dumps({**_gen(2), "status": "done"}).encode(),
}


def _parses(raw: bytes) -> bool:
    """Whether a line is JSON at all (an oracle independent of justeval's reader)."""
    try:
        json.dumps(json.loads(raw.decode("utf-8")), ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # not UTF-8, not JSON, too deep, too long a number, half a character
        return False
    return True


def _outcome(read: object) -> tuple[str, object]:
    try:
        return "ok", [g.model_dump() for g in read()]  # type: ignore[operator]
    except InputError as exc:
        return "error", str(exc)


def _by_lines(path: Path) -> list[Generation]:
    return [validate_record(Generation, obj, path, line=line) for line, obj in iter_json_lines(path)]


@pytest.mark.parametrize("where", ["middle", "last_line_with_newline", "last_line_without_newline"])
@pytest.mark.parametrize("name", list(LINES))
def test_every_reader_reads_a_line_the_same_way(name: str, where: str, tmp_path: Path) -> None:
    records = [json.dumps(_gen(i)).encode() for i in range(N)]
    at = {"middle": 2, "last_line_with_newline": N - 1, "last_line_without_newline": N - 1}[where]
    records[at] = LINES[name]
    data = b"\n".join(records) + (b"" if where == "last_line_without_newline" else b"\n")
    path = tmp_path / "generations.jsonl"
    path.write_bytes(data)
    fast, careful = _outcome(lambda: read_records(path, Generation)), _outcome(lambda: _by_lines(path))
    streamed = _outcome(lambda: [g for _, g in iter_records(path, Generation, block_bytes=300)])
    objects = _outcome(lambda: [validate_record(Generation, o, path, line=n) for n, _, o in iter_objects(path)])
    assert fast == careful == streamed == objects
    if fast[0] == "error":
        assert str(fast[1]).startswith(f"{path}:{at + 1}") and "\n" not in str(fast[1])
    torn = where == "last_line_without_newline" and not _parses(LINES[name])  # the tail of a crashed write
    assert (fast[0] == "error") == (name not in ("valid", "deep_but_readable") and not torn), fast


def test_two_records_on_one_line_are_refused_by_the_judge_and_the_leaderboard_alike(
        tmp_path: Path, cli: CliRun, stub_server: StubServer) -> None:
    run = tmp_path / "run"
    run.mkdir()
    gens = [_gen(i) for i in range(N)]
    RunDir(run).generations.write_bytes(jsonl(gens[:2] + gens[3:], at=2, raw=json.dumps(gens[1]).encode() + b","
                                              + json.dumps(gens[2]).encode()))
    for args in (["judge", str(run), "--judge", "openai:j", "--base-url", stub_server.base_url, "--no-progress"],
                 ["leaderboard", str(run)], ["export", str(run), "--out", str(tmp_path / "x.json")]):
        code, _out, err = cli(*args)
        assert code == 2 and err.startswith(f"error: {RunDir(run).generations}:2: malformed JSON: Extra data"), err
    assert stub_server.count == 0


def test_a_whole_last_record_without_its_newline_is_kept_by_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "generations.jsonl"
    path.write_bytes(b"\n".join(json.dumps(_gen(i)).encode() for i in range(3)))  # no final newline
    with JsonlAppender(path) as app:
        app.write(_gen(3))
    assert [g.id for g in read_records(path, Generation)] == [0, 1, 2, 3]
    assert path.read_bytes().endswith(b"\n") and path.read_bytes().count(b"\n") == 4


@pytest.mark.parametrize("tail", [b'{"id": 2, "instruction": "Question 2?", "outp',
                                  json.dumps({**_gen(2), "output": "caf\u00e9"}, ensure_ascii=False).encode()[:-4],
                                  '{"id": 2, "output": "\u00e9'.encode()[:-1]],  # torn inside a UTF-8 character
                         ids=["torn_json", "torn_after_a_multibyte_character", "torn_inside_a_multibyte_character"])
def test_a_torn_tail_is_skipped_by_readers_and_dropped_by_the_next_append(tail: bytes, tmp_path: Path) -> None:
    path = tmp_path / "generations.jsonl"
    path.write_bytes(b"".join(json.dumps(_gen(i)).encode() + b"\n" for i in range(2)) + tail)
    assert [g.id for g in read_records(path, Generation)] == [0, 1] == [o["id"] for _, o in iter_json_lines(path)]
    with JsonlAppender(path) as app:
        app.write(_gen(2))
    lines = path.read_bytes().split(b"\n")
    assert [g.id for g in read_records(path, Generation)] == [0, 1, 2]
    assert lines[-1] == b"" and len(lines) == 4 and all(_parses(ln) for ln in lines[:-1])


def _instructions(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "ins.jsonl"
    write_jsonl(path, [instruction(i) for i in range(n)])
    return path


@pytest.mark.parametrize("last", ["whole_record", "torn_record"])
def test_a_rerun_asks_exactly_the_items_not_on_disk(last: str, tmp_path: Path, cli: CliRun,
                                                    stub_server: StubServer) -> None:
    """The paid result on an unterminated last line is kept and not asked again; a torn one is
    asked again; either way the run ends with every item once."""
    ins = _instructions(tmp_path, 6)
    run = tmp_path / "run"
    args = ["generate", "--model", "openai:m", "--instructions", str(ins), "--out", str(run),
            "--base-url", stub_server.base_url, "--no-progress", "--no-cache"]
    assert cli(*args, "--ids", "0-4")[0] == 0
    gens = RunDir(run).generations
    data = gens.read_bytes().rstrip(b"\n")  # the last record loses its newline
    if last == "torn_record":
        data = data[:-10]
    gens.write_bytes(data)
    kept = {g.id: g.output for g in read_records(gens, Generation)}
    stub_server.reset()
    assert cli(*args)[0] == 0
    asked = sorted(int(r.prompt_text.split()[1].rstrip("?")) for r in stub_server.requests)
    assert asked == ([5] if last == "whole_record" else [4, 5])
    final = {g.id: g.output for g in read_records(gens, Generation)}
    assert sorted(final) == list(range(6)) and all(final[i] == out for i, out in kept.items())
    assert len([ln for ln in gens.read_bytes().splitlines() if ln.strip()]) == 6


@pytest.mark.parametrize("digits", [201, 4_000, 5_000, 20_000])
def test_an_id_of_thousands_of_digits_is_refused_by_the_id_rule(digits: int) -> None:
    """Whatever the reader (a JSON parser that builds the int, CSV text, a Python caller), the
    id goes through `normalize_id`, which refuses it without printing it."""
    from pydantic import ValidationError

    from justeval.ids import MAX_ID_CHARS

    for value in (int("7" * min(digits, 4_000)) * 10 ** max(0, digits - 4_000), "7" * digits):
        with pytest.raises(ValidationError) as info:
            Generation.model_validate({**_gen(0), "id": value})
        assert f"more than {MAX_ID_CHARS} digits" in str(info.value) or "longer than" in str(info.value)
