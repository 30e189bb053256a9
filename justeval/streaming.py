"""Record files read a block at a time, for boards over outputs of any size.

`justeval.jsonl.read_records` reads a whole file into memory and validates it in one pass:
right for the stages, but a board of 1,000 outputs of 200 KB then holds the file, its joined
copy and every parsed record at once (about 700 MB). Here the file is read a line at a time
and validated in blocks of about BLOCK_BYTES of lines, each in one pydantic-core pass (as fast
as the whole-file pass), and handed on, so the caller can reduce every record to the few
numbers it keeps before the next block is read. Each record comes with the byte offset of
its line, so a later pass (the page's output files) can read back just that line.

The rules are those of `read_records`, and so is the reading of each line
(`justeval.jsonl.record_of_line`, `object_of_line`): blank lines are skipped, a final line
without its newline that does not parse is the torn tail of a crashed write and is skipped, and
any other bad line (two records on it, a lone surrogate, nesting too deep, a number of thousands
of digits) is an `InputError` naming the file and line. A record file that is not a regular
file is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel

from justeval.errors import InputError
from justeval.jsonl import object_of_line, record_of_line, require_regular_file

M = TypeVar("M", bound=BaseModel)

BLOCK_BYTES = 512 << 10


def _lines(path: Path) -> Iterator[tuple[int, int, bytes, bool]]:
    """(line number, byte offset, bytes with their newline, terminated) of each non-blank line."""
    require_regular_file(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, also when the caller stops early
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc
    with fh:
        offset = 0
        try:
            for number, line in enumerate(fh, start=1):
                if not line.isspace():
                    yield number, offset, line, line.endswith(b"\n")
                offset += len(line)
        except OSError as exc:
            raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc


def _validate(path: Path, model: type[M], batch: list[tuple[int, int, bytes, bool]]) -> list[tuple[int, M]]:
    """The records of a block of lines (a line validated straight from its bytes is as fast as a
    whole-block pass, and cannot be misread across a line break)."""
    out = []
    for number, offset, line, terminated in batch:
        record = record_of_line(line, path, number, model, torn=not terminated)
        if record is not None:
            out.append((offset, record))
    return out


def iter_records(path: str | Path, model: type[M], *, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[int, M]]:
    """(byte offset of its line, record) for every record of a JSONL file, a block at a time."""
    path = Path(path)
    batch: list[tuple[int, int, bytes, bool]] = []
    filled = 0
    for entry in _lines(path):
        batch.append(entry)
        filled += len(entry[2])
        if filled >= block_bytes:
            yield from _validate(path, model, batch)
            batch, filled = [], 0
    if batch:
        yield from _validate(path, model, batch)


def iter_objects(path: str | Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(line number, byte offset, object) of every line of a JSONL file of plain objects."""
    path = Path(path)
    for number, offset, line, terminated in _lines(path):
        obj = object_of_line(line, path, number, torn=not terminated)
        if obj is not None:
            yield number, offset, obj


def line_at(path: str | Path, offset: int, fh: IO[bytes] | None = None) -> bytes:
    """The bytes of the line that starts at `offset`; `fh`: the file already open, for many reads."""
    if fh is None:
        with open(path, "rb") as own:
            own.seek(offset)
            return own.readline()
    fh.seek(offset)
    return fh.readline()


def read_line(path: str | Path, offset: int, fh: IO[bytes] | None = None) -> dict[str, Any]:
    """The JSON object on the line that starts at `offset` (as `iter_records` reported it);
    `fh`: the file already open, for many reads."""
    line = line_at(path, offset, fh)
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise InputError(path, f"changed while being read: no record at byte {offset}") from exc
    if not isinstance(obj, dict):
        raise InputError(path, f"changed while being read: no record at byte {offset}")
    return obj
