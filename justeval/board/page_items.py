"""The item browser's data: a small index inside the page, the texts in side files.

A page that carried every output grew with the outputs (50 models x 1,000 items: 67 MB, 11 s
for Chromium to open; 1,000 outputs of 200 KB: 273 MB). Now `index.html` carries only what
the browser filters on: each item's instruction (at most PREVIEW_CHARS) and tags, and per
model and item a cell of numbers (status, output length, scores). The texts go to `items/`:

- `items/mKKK-CCCC.js`: model K's outputs for items C*chunk_items .. (C+1)*chunk_items-1 of
  the page's item list, each cut to PREVIEW_CHARS, with the judge's rationales;
- `items/mKKK-full-NNNN.js`: the whole texts of the outputs (and rationales) that were cut,
  packed in order into files of about FULL_BYTES, loaded only when asked for.

Each side file is a script that hands its JSON to `justevalItems(...)` / `justevalFull(...)`:
a script element may load a file next to the page from file:// where fetch() may not, so the
site still works opened from disk. The JSON is written by `script_json` (no `<`, `>`, `&`,
U+2028 or U+2029 survives unescaped) and the page inserts every text with textContent.

Texts are read back from the run files, one record line at a time, at the offsets the loader
noted (`ModelItems.gen_refs`, `judgment_refs`): no output is ever held longer than it takes
to write it, so publishing stays flat in memory whatever the outputs weigh.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import numpy as np
from markupsafe import Markup

from justeval.board.loading import (
    GENERATIONS,
    JUDGE_ERROR,
    NA,
    PARSE_ERROR,
    SCORED,
    UPSTREAM,
    ModelItems,
    RecordFile,
    Ref,
)
from justeval.board.tables import Leaderboard
from justeval.errors import InputError
from justeval.jsonl import atomic_output
from justeval.records import Instruction, ItemId, id_order, normalize_id
from justeval.streaming import read_line

PREVIEW_CHARS = 4096
CHUNK_BYTES = 128 << 10     # aim of one preview file
FULL_BYTES = 4 << 20        # aim of one file of whole texts
ITEMS_DIR = "items"
STATUSES = ["ok", "parse_error", "error", "not judged", "generation error"]
_OWN_FILE = re.compile(r"^m\d{3}-(?:\d{4}|full-\d{4})\.js$")


def script_json(data: Any) -> Markup:
    """JSON that is safe inside a <script> element: no `<`, `>` or `&` survives unescaped."""
    return script_safe(json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")))


def script_safe(text: str) -> Markup:
    """Compact JSON text made safe inside a <script> element (see script_json)."""
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def chunk_name(model: int, chunk: int) -> str:
    return f"m{model:03d}-{chunk:04d}.js"


def full_name(model: int, number: int) -> str:
    return f"m{model:03d}-full-{number:04d}.js"


def chunk_items(models: Sequence[ModelItems]) -> int:
    """Items per preview file: about CHUNK_BYTES of previews, between 10 and 500 items."""
    sizes = [np.minimum(np.nan_to_num(mi.chars, nan=0.0), PREVIEW_CHARS) for mi in models if len(mi.ids)]
    mean = float(np.concatenate(sizes).mean()) if sizes else 0.0
    return int(min(500, max(10, CHUNK_BYTES // (mean + 300))))


def _status(mi: ModelItems, k: int) -> int:
    if mi.gen_error[k]:
        return STATUSES.index("generation error")
    states = [int(s[k]) for s in mi.state.values()]
    if PARSE_ERROR in states:
        return STATUSES.index("parse_error")
    if JUDGE_ERROR in states:
        return STATUSES.index("error")
    if SCORED in states or NA in states:
        return STATUSES.index("ok")
    return STATUSES.index("not judged")


def _scores(mi: ModelItems, k: int, aspects: Sequence[str]) -> list[float | bool | None]:
    """Per board aspect: the score, None for N/A, False where this item has none."""
    out: list[float | bool | None] = []
    for a in aspects:
        state = int(mi.state[a][k]) if a in mi.state else -1
        out.append(float(mi.values[a][k]) if state == SCORED else None if state == NA else False)
    return out


def _cut(text: str | None) -> str | None:
    return None if text is None else text[:PREVIEW_CHARS]


class _Reader:
    """Reads back the output, instruction and rationales of one model's items, checking that
    each line still holds the record it held when the board was built."""

    def __init__(self, files: Sequence[RecordFile]) -> None:
        self.files = files
        self._open: dict[int, IO[bytes]] = {}

    def close(self) -> None:
        for fh in self._open.values():
            fh.close()
        self._open.clear()

    def _line(self, ref: Ref, item_id: ItemId) -> tuple[RecordFile, dict[str, Any]]:
        f = self.files[ref[0]]
        fh = self._open.get(ref[0])
        if fh is None:
            try:
                fh = self._open[ref[0]] = open(f.path, "rb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise InputError(f.path, f"cannot read file: {exc.strerror or exc}") from exc
        obj = read_line(f.path, ref[1], fh)
        try:
            same = normalize_id(obj.get("id")) == item_id
        except Exception:
            same = False
        if not same:
            raise InputError(f.path, f"changed while the page was written: item {item_id} is no longer at byte "
                             f"{ref[1]}; publish again")
        return f, obj

    def generation(self, ref: Ref | None, item_id: ItemId) -> tuple[str | None, str]:
        """(output, instruction) of an item."""
        if ref is None:
            return None, ""
        f, obj = self._line(ref, item_id)
        key, instruction_key = ("output", "instruction") if f.kind == GENERATIONS else ("output_cand", "input")
        output = obj.get(key)
        return (output if isinstance(output, str) else None), str(obj.get(instruction_key) or "")

    def rationales(self, refs: Sequence[Ref], item_id: ItemId) -> dict[str, str]:
        found: dict[str, str] = {}
        for ref in refs:
            f, obj = self._line(ref, item_id)
            if f.kind == UPSTREAM:
                from justeval.board.upstream import convert_line

                found.update(convert_line(obj, f.path, 0)[1].rationales)
                continue
            value = obj.get("rationales")
            if isinstance(value, dict):
                found.update({str(a): str(r) for a, r in value.items() if r is not None})
        return found


class _SideFile:
    """One side file, written a row at a time (a row is encoded and written when it comes, so
    a file of whole texts is never held in memory), renamed into place when complete."""

    def __init__(self, path: Path, call: str, head: dict[str, Any]) -> None:
        self.path = path
        self._stack = ExitStack()
        self._fh = self._stack.enter_context(atomic_output(path))
        self._fh.write(f"{call}(" + str(script_json(head))[:-1] + ',"rows":[')
        self.rows = 0
        self.size = 0

    def add(self, row: list[Any]) -> None:
        text = str(script_json(row))
        self._fh.write(("," if self.rows else "") + text)
        self.rows += 1
        self.size += len(text)

    def close(self) -> None:
        self._fh.write("]});\n")
        self._stack.close()
        self.path.chmod(0o644)

    def abort(self) -> None:
        """Leave nothing half written (atomic_output removes its temporary file)."""
        self._stack.__exit__(InputError, InputError(self.path, "aborted"), None)


class _Writer:
    """Side files of one model: preview chunks in item order, whole texts packed by size."""

    def __init__(self, folder: Path, model: int, written: list[Path]) -> None:
        self.folder, self.model, self.written = folder, model, written
        self.chunk: int | None = None
        self.preview_file: _SideFile | None = None
        self.full_file: _SideFile | None = None
        self.full_number = 0

    def preview(self, chunk: int, row: list[Any]) -> None:
        if self.preview_file is not None and chunk != self.chunk:
            self._finish("preview_file")
        if self.preview_file is None:
            self.preview_file = _SideFile(self.folder / chunk_name(self.model, chunk), "justevalItems",
                                          {"model": self.model, "chunk": chunk})
        self.chunk = chunk
        self.preview_file.add(row)

    def full(self, row: list[Any], size: int) -> int:
        """Write a whole text; returns the number of the file it is in."""
        if self.full_file is not None and self.full_file.size + size > FULL_BYTES:
            self._finish("full_file")
            self.full_number += 1
        if self.full_file is None:
            self.full_file = _SideFile(self.folder / full_name(self.model, self.full_number), "justevalFull",
                                       {"model": self.model, "file": self.full_number})
        self.full_file.add(row)
        return self.full_number

    def _finish(self, which: str) -> None:
        side: _SideFile | None = getattr(self, which)
        if side is not None:
            side.close()
            self.written.append(side.path)
            setattr(self, which, None)

    def close(self) -> None:
        self._finish("preview_file")
        self._finish("full_file")

    def abort(self) -> None:
        for side in (self.preview_file, self.full_file):
            if side is not None:
                side.abort()


def item_index(board: Leaderboard, models: Sequence[ModelItems],
               tags: Mapping[ItemId, Instruction] | None) -> tuple[list[ModelItems], list[dict[str, Any]]]:
    """The models in board order and the page's item list (every item some model has, in id order)."""
    by_name = {m.model: m for m in models}
    order = [by_name[r.model] for r in board.rows if r.model in by_name]
    first: dict[ItemId, tuple[ModelItems, int]] = {}
    for mi in order:
        for k, item_id in enumerate(mi.ids):
            first.setdefault(item_id, (mi, k))
    items = []
    for item_id in sorted(first, key=id_order):
        mi, k = first[item_id]
        tag = (tags or {}).get(item_id)
        instruction = tag.instruction if tag else ""
        items.append({"id": item_id, "instruction": instruction[:PREVIEW_CHARS],
                      "instruction_chars": len(instruction), "dataset": str(mi.dataset[k]),
                      "category": str(mi.category[k]), "tasks": list(tag.task_types) if tag else [],
                      "topics": list(tag.topics) if tag else [], "difficulty": tag.difficulty if tag else None})
    return order, items


def write_item_files(board: Leaderboard, models: Sequence[ModelItems], out: str | Path,
                     tags: Mapping[ItemId, Instruction] | None = None) -> tuple[dict[str, Any], list[Path]]:
    """Write `out/items/` and return the page's item index (see the module docstring) with
    the files written. Files of an earlier publish that this one did not write are removed."""
    folder = Path(out) / ITEMS_DIR
    written: list[Path] = []
    order, items = item_index(board, models, tags)
    if any(mi.ids and not mi.gen_refs for mi in order):
        raise ValueError("the page needs to know where each output is: build the board with "
                         "build_leaderboard(..., keep_judgments=True)")
    position = {it["id"]: i for i, it in enumerate(items)}
    per_chunk = chunk_items(order)
    cells: list[list[list[Any] | None]] = []
    for k_model, mi in enumerate(order):
        writer = _Writer(folder, k_model, written)
        try:
            cells.append(_write_model(mi, board, items, position, per_chunk, writer))
        except BaseException:
            writer.abort()
            raise
        writer.close()
    remove_stale(folder, written)
    data = {"models": [mi.model for mi in order], "aspects": board.aspects, "statuses": STATUSES,
            "preview_chars": PREVIEW_CHARS, "chunk_items": per_chunk, "dir": ITEMS_DIR, "items": items,
            "cells": cells}
    return data, written


def _write_model(mi: ModelItems, board: Leaderboard, items: list[dict[str, Any]], position: dict[ItemId, int],
                 per_chunk: int, writer: _Writer) -> list[list[Any] | None]:
    """One model's side files; returns its cells (one per page item, None where it has none)."""
    reader = _Reader(mi.files)
    try:
        return _write_cells(mi, board, items, position, per_chunk, writer, reader)
    finally:
        reader.close()


def _write_cells(mi: ModelItems, board: Leaderboard, items: list[dict[str, Any]], position: dict[ItemId, int],
                 per_chunk: int, writer: _Writer, reader: _Reader) -> list[list[Any] | None]:
    row_cells: list[list[Any] | None] = [None] * len(items)
    for k in sorted(range(len(mi.ids)), key=lambda k: position[mi.ids[k]]):
        item_id = mi.ids[k]
        i = position[item_id]
        output, instruction = reader.generation(mi.gen_refs[k] if mi.gen_refs else None, item_id)
        rationales = reader.rationales(mi.judgment_refs[k] if mi.judgment_refs else [], item_id)
        if not items[i]["instruction"] and instruction:
            items[i]["instruction"] = instruction[:PREVIEW_CHARS]
            items[i]["instruction_chars"] = len(instruction)
        cut = (output is not None and len(output) > PREVIEW_CHARS) or any(
            len(r) > PREVIEW_CHARS for r in rationales.values())
        full_file = -1
        if cut:
            size = len(output or "") + sum(len(r) for r in rationales.values())
            full_file = writer.full([i, output, rationales], size)
        writer.preview(i // per_chunk, [i, _cut(output), {a: r[:PREVIEW_CHARS] for a, r in rationales.items()}])
        chars = len(output) if output is not None else -1
        row_cells[i] = [_status(mi, k), chars, full_file, *_scores(mi, k, board.aspects)]
    return row_cells


def remove_stale(folder: Path, keep: Sequence[Path], own: re.Pattern[str] = _OWN_FILE) -> None:
    """Remove our side files (names matching `own`) that this publish did not write (a smaller
    board than last time)."""
    if not folder.is_dir():
        return
    kept = {p.name for p in keep}
    for path in folder.iterdir():
        if own.match(path.name) and path.name not in kept and path.is_file():
            path.unlink()

