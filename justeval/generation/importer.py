"""`justeval import`: wrap outputs made elsewhere into a run directory so they can be judged.

Accepted files: a just-eval JSON list or JSONL of {id, instruction, output, generator, ...},
and AlpacaEval's `model_outputs.json` ({instruction, output, generator, dataset}, no id). Every
record is matched to the instruction set: by `id` when present (its instruction text, if given,
must agree with the set's, ignoring surrounding whitespace), otherwise by instruction text (a
text that occurs several times in the set goes to the item of the record's `dataset` if there is
one, else fills those ids in order). Unknown ids, disagreeing texts, the same item twice, and
missing or empty outputs are input errors that name the file and the record; nothing is written
then.

A file without any id is another benchmark's outputs (AlpacaEval's 805 items, of which the
just-eval set holds 420): its records whose instruction is not in the set are left out and
reported (`ImportSummary.not_in_set`, and one warning line), not an error; a file that matches
none is. In a file with ids, an unknown text is an error like an unknown id. `dataset` and
`category` come from the instruction set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from justeval.errors import InputError, JustevalError, warn
from justeval.jsonl import iter_json_lines, parse_json, write_jsonl
from justeval.records import Generation, Instruction, ItemId, normalize_id
from justeval.rundir import RunDir


@dataclass
class _Fail:
    """Builds the InputError for one record (file, line for JSONL, id or index)."""

    path: Path
    line: int | None
    record: object | None

    def __call__(self, message: str) -> InputError:
        return InputError(self.path, message, line=self.line, record=self.record)


@dataclass
class ImportSummary:
    path: Path
    generator: str
    records: int
    file_format: str
    not_in_set: int = 0  # records of an id-less file whose instruction the set does not hold (left out)


Row = tuple[int | None, int, dict[str, Any]]  # (line for JSONL, record index, object)


def read_output_file(path: Path) -> tuple[str, list[Row]]:
    """(format, [(line or None, record index, object)]) for a JSON list or a JSONL file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc
    if data.lstrip()[:1] == b"[":
        items = parse_json(data, path)
        if not isinstance(items, list):
            raise InputError(path, "expected a JSON list of records")
        rows: list[Row] = []
        for n, obj in enumerate(items):
            if not isinstance(obj, dict):
                raise InputError(path, "expected a JSON object", record=n)
            rows.append((None, n, obj))
        return "json", rows
    return "jsonl", [(line, n, obj) for n, (line, obj) in enumerate(iter_json_lines(path))]


def import_outputs(file: str | Path, out_dir: str | Path, instructions: list[Instruction], *,
                   generator: str | None = None, overwrite: bool = False, command: str | None = None,
                   instructions_source: str | None = None) -> ImportSummary:
    """Match the records of `file` to `instructions` and write them as `generations.jsonl`;
    `instructions_source` (where `instructions` came from) and `command` go into run.json."""
    path = Path(file)
    rd = RunDir(out_dir)
    if rd.generations.exists() and rd.generations.stat().st_size > 0 and not overwrite:
        raise JustevalError(f"{rd.generations} already exists; choose a new --out or pass --overwrite")
    file_format, rows = read_output_file(path)
    if not rows:
        raise InputError(path, "no records to import")
    by_id = {inst.id: inst for inst in instructions}
    by_text: dict[str, list[Instruction]] = {}
    for inst in instructions:
        by_text.setdefault(inst.instruction.strip(), []).append(inst)
    used: dict[ItemId, str] = {}  # id -> where it was first seen
    foreign = not any("id" in obj for _, _, obj in rows)  # another benchmark's outputs (no ids)
    left_out: list[str] = []
    first_left_out = InputError(path, "no records to import")
    names = {obj["generator"] for _, _, obj in rows if isinstance(obj.get("generator"), str)}
    if generator is None:
        if len(names) > 1:
            raise InputError(path, f"records name several generators ({', '.join(sorted(names))}); "
                             "pass --generator NAME")
        generator = names.pop() if names else path.stem
    gens: list[Generation] = []
    for line, n, obj in rows:
        fail = _Fail(path, line, obj.get("id", n if line is None else None))
        output = obj.get("output")
        if not isinstance(output, str) or not output.strip():
            if isinstance(output, str):
                raise fail("empty output")
            raise fail("missing output" if output is None else f"output must be a string, not {type(output).__name__}")
        text = obj.get("instruction")
        if text is not None and not isinstance(text, str):
            raise fail("instruction must be a string")
        if foreign and isinstance(text, str) and text.strip() not in by_text:
            if not left_out:
                first_left_out = fail(f"instruction not in the instruction set: {_preview(text)}")
            left_out.append(f"line {line}" if line is not None else f"record {n}")
            continue
        inst = _match(obj, text, by_id, by_text, used, fail)
        if inst.id in used:
            raise fail(f"id {inst.id} appears twice (first at {used[inst.id]})")
        used[inst.id] = f"line {line}" if line is not None else f"record {n}"
        gens.append(Generation(id=inst.id, instruction=inst.instruction, output=output, generator=generator,
                               dataset=inst.dataset, category=inst.category, status="ok"))
    if not gens:  # nothing matched: the wrong instruction set, most likely
        raise InputError(first_left_out.path, f"{first_left_out.message} (and none of the file's {len(rows)} "
                         "records is; pass the set they answer with --instructions)", line=first_left_out.line,
                         record=first_left_out.record)
    if left_out:
        warn(f"{path}: {len(left_out)} of {len(rows)} records are not in the instruction set and were left out "
             f"(first: {', '.join(left_out[:3])}); {len(gens)} imported")
    from justeval.manifest import ImportSection
    from justeval.rundir import holding

    with holding(rd, True):
        if rd.generations.exists() and rd.generations.stat().st_size > 0 and not overwrite:
            raise JustevalError(f"{rd.generations} already exists; choose a new --out or pass --overwrite")
        if overwrite:
            pin_judged_outputs(rd)
        write_jsonl(rd.generations, gens, private=True)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        rd.record("import", ImportSection(command=command, file=str(path.resolve()), sha256=digest,
                                          format=file_format, generator=generator, records=len(gens),
                                          instructions=instructions_source))
    return ImportSummary(path=rd.generations, generator=generator, records=len(gens), file_format=file_format,
                         not_in_set=len(left_out))


def pin_judged_outputs(rd: RunDir) -> int:
    """Before the generations are replaced: give every judgment that does not say which output it
    judged (written before `output_sha256` existed) the digest of its item's current output,
    the one it judged (an ok output is never replaced but by an import). Each judgment file is
    rewritten whole, atomically, with nothing else changed; a leaderboard then leaves out the
    judgments of the outputs this import replaces. Returns the records pinned."""
    from justeval.jsonl import atomic_output
    from justeval.records import output_digest
    from justeval.streaming import iter_objects

    files = rd.judgment_files()
    if not files or not rd.generations.exists():
        return 0
    digests = {g.id: output_digest(g.output) for g in rd.latest_generations().values()
               if g.status == "ok" and g.output is not None}
    pinned = 0
    for path in files:
        lines: list[str] = []
        changed = 0
        for _line, _offset, obj in iter_objects(path):
            try:
                digest = digests.get(normalize_id(obj.get("id")))
            except (TypeError, ValueError):
                digest = None  # not a record this can pin: kept as it is (a reader reports it)
            if obj.get("output_sha256") is None and digest is not None:
                obj = {**obj, "output_sha256": digest}
                changed += 1
            lines.append(json.dumps(obj, ensure_ascii=False))
        if changed:
            with atomic_output(path, private=True) as fh:
                fh.write("".join(f"{text}\n" for text in lines))
            pinned += changed
    return pinned


def _match(obj: dict[str, Any], text: str | None, by_id: dict[ItemId, Instruction],
           by_text: dict[str, list[Instruction]], used: dict[ItemId, str], fail: _Fail) -> Instruction:
    """The instruction-set item a record answers (see the module docstring)."""
    if obj.get("id") is not None:
        try:
            item_id = normalize_id(obj["id"])
        except ValueError as exc:
            raise fail(f"bad id: {exc}") from exc
        inst = by_id.get(item_id)
        if inst is None:
            raise fail(f"id {item_id!r} is not in the instruction set")
        if text is not None and text.strip() != inst.instruction.strip():
            raise fail(f"instruction text does not match the instruction set's item {item_id} "
                       f"(file: {_preview(text)}; set: {_preview(inst.instruction)})")
        return inst
    if text is None:
        raise fail("record has neither id nor instruction")
    candidates = by_text.get(text.strip())
    if not candidates:
        raise fail(f"instruction not in the instruction set: {_preview(text)}")
    dataset = obj.get("dataset")
    same = [inst for inst in candidates if inst.dataset == dataset]
    if same:  # the set holds this text under several datasets (LIMA repeats 41 AlpacaEval items)
        candidates = same
    for inst in candidates:
        if inst.id not in used:
            return inst
    return candidates[-1]  # every match taken: reported as a duplicate by the caller


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 3] + "...")
