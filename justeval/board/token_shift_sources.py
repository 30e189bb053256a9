"""Where the page's token-shift results are: `RUN/token_shift.jsonl` beside each run, and the
files or folders given to `publish --token-shift`, each matched to one board model (see
`token_shift_page` for the rules), with where each id's latest record is in its file.

A first pass reads only a record's head (id, generator, analysis, tokens); the first record of
each file is validated whole, as the section's description comes from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, field_validator

from justeval.board.loading import ModelItems
from justeval.errors import InputError
from justeval.ids import ItemId, normalize_id
from justeval.streaming import iter_records, line_at
from justeval.tokenshift.records import RECORDS_FILE, TokenShiftRecord


@dataclass
class ShiftSource:
    """One token-shift file matched to one board model."""

    model: int            # the model's index in the page's model order
    path: Path
    analysis: str = ""
    first: TokenShiftRecord | None = None
    offsets: dict[ItemId, int] = field(default_factory=dict)   # id -> byte offset of its latest line
    tokens: dict[ItemId, int] = field(default_factory=dict)    # id -> tokens analysed
    generators: set[str] = field(default_factory=set)


class _Head(BaseModel):
    """What the first pass reads of a record (a whole record is validated once, when it is used)."""

    model_config = ConfigDict(extra="ignore")

    id: ItemId
    generator: str
    analysis: str
    tokens: int = 0

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> ItemId:
        return normalize_id(v)


def _scan(path: Path, model: int) -> ShiftSource:
    """Where each id's latest record is (the file is append-only: the last line per id wins)."""
    source = ShiftSource(model=model, path=path)
    analyses: set[str] = set()
    for offset, record in iter_records(path, _Head):
        source.offsets[record.id] = offset
        source.tokens[record.id] = record.tokens
        source.generators.add(record.generator)
        analyses.add(record.analysis)
        if source.first is None:
            source.first = _read(path, offset, None)
        if len(analyses) > 1:
            raise InputError(path, f"holds more than one token-shift analysis ({', '.join(sorted(analyses))}); "
                             "each analysis has its own file (token-shift --out)", record=record.id)
    source.analysis = next(iter(analyses), "")
    return source


def _given_files(paths: Sequence[Path]) -> list[Path]:
    """The token_shift.jsonl files a `--token-shift` argument names (a file, a folder holding one,
    or a folder of one folder per run)."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif (path / RECORDS_FILE).is_file():
            found.append(path / RECORDS_FILE)
        elif path.is_dir() and sorted(path.glob(f"*/{RECORDS_FILE}")):
            found += sorted(path.glob(f"*/{RECORDS_FILE}"))
        else:
            raise InputError(path, f"no {RECORDS_FILE} here (give the file, the --out folder of `justeval "
                             "token-shift`, or a run directory it wrote into)")
    return found


def _match(path: Path, generators: set[str], order: Sequence[ModelItems]) -> int:
    """The board model a given file's records belong to (see the module docstring)."""
    if len(generators) != 1:
        raise InputError(path, f"records of {len(generators)} generators ({', '.join(sorted(generators))}); "
                         "a token-shift file analyses one run")
    generator = next(iter(generators))
    exact = [k for k, mi in enumerate(order) if mi.model == generator]
    if exact:
        return exact[0]
    renamed = [k for k, mi in enumerate(order) if mi.model.startswith(f"{generator} (")]
    named = [k for k in renamed if Path(order[k].source).name == path.parent.name]
    if len(named) == 1 or len(renamed) == 1:
        return (named or renamed)[0]
    models = ", ".join(mi.model for mi in order)
    raise InputError(path, f"its records are of generator {generator!r}, which is no model on the board "
                     f"({models}); give the run directory of that generator too")


def find_sources(order: Sequence[ModelItems], given: Sequence[Path] = ()) -> list[ShiftSource]:
    """The token-shift files of the board's models: beside each run, and those given."""
    sources: list[ShiftSource] = []
    seen: set[Path] = set()
    for k, mi in enumerate(order):
        path = Path(mi.source) / RECORDS_FILE
        if Path(mi.source).is_dir() and path.is_file():
            seen.add(path.resolve())
            source = _scan(path, k)
            if source.generators and not any(mi.model == g or mi.model.startswith(f"{g} (")
                                             for g in source.generators):
                continue  # a file of another generator's outputs (a run dir reused): not this model's
            sources.append(source)
    for path in _given_files(given):
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        probe = _scan(path, -1)
        if not probe.offsets:
            raise InputError(path, "holds no token-shift record")
        probe.model = _match(path, probe.generators, order)
        sources.append(probe)
    pairs: dict[tuple[int, str], Path] = {}
    for s in sources:
        other = pairs.setdefault((s.model, s.analysis), s.path)
        if other != s.path:
            raise InputError(s.path, f"holds the same analysis of {order[s.model].model} as {other}; give one")
    return [s for s in sources if s.offsets]


def _read(path: Path, offset: int, fh: IO[bytes] | None) -> TokenShiftRecord:
    """The record on the line at `offset` (validated from its bytes in one pass)."""
    try:
        return TokenShiftRecord.model_validate_json(line_at(path, offset, fh))
    except ValueError as exc:
        raise InputError(path, f"changed while the page was written (the record at byte {offset} no longer "
                         "reads); publish again") from exc
