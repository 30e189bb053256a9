"""Building the set from its sources as the recipe says, and checking it against a published copy.

Tags (task types, topics, difficulty) are annotations, not derivable from the sources: they
are carried over from the published set by `source_id` when one is available. Every field
that differs from the published item is reported; differences the recipe knows about are
marked as known, never hidden.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.errors import InputError, JustevalError
from justeval.instructions.recipe import Recipe, SourceSpec, load_recipe
from justeval.instructions.sources import SourceRow, read_source
from justeval.records import Instruction

COMPARED = ("id", "instruction", "dataset", "category", "source_id")


@dataclass
class Difference:
    """One field of one assembled item that is not as published."""

    id: Any
    source_id: str | None
    field: str
    assembled: Any
    published: Any
    known: bool = False
    note: str | None = None


@dataclass
class AssembleResult:
    items: list[Instruction]
    reference: str | None = None
    differences: list[Difference] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # published source_ids the assembly lacks
    tagged: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def unexpected(self) -> list[Difference]:
        return [d for d in self.differences if not d.known]

    def report_lines(self) -> list[str]:
        lines = [f"assembled {len(self.items)} items"]
        if self.reference is None:
            lines.append("no published set to compare with: tags left empty")
        else:
            same = len(self.items) - len({d.source_id for d in self.differences})
            lines.append(f"compared with {self.reference}: {same} identical, {len(self.differences)} field "
                         f"difference(s) ({len(self.unexpected)} unexpected), {len(self.missing)} published "
                         f"item(s) missing; tags carried over for {self.tagged}")
            for d in self.differences:
                tag = "known" if d.known else "UNEXPECTED"
                lines.append(f"  [{tag}] id {d.id} ({d.source_id}) {d.field}: assembled {d.assembled!r} vs "
                             f"published {d.published!r}" + (f" -- {d.note}" if d.note else ""))
        lines.extend(f"note: {n}" for n in self.notes)
        return lines


def _source_path(spec: SourceSpec, source_dir: Path | None, sources: dict[str, Path]) -> Path | None:
    if spec.name in sources:
        return Path(sources[spec.name])
    if source_dir is not None and spec.local:
        candidate = source_dir / spec.local
        if candidate.exists():
            return candidate
        folder = source_dir / Path(spec.local).parts[0]
        if folder.is_dir():
            return folder
    return None


def _picked(spec: SourceSpec, rows: list[SourceRow], seed: int, where: Path | str) -> list[tuple[int, SourceRow]]:
    """(source index, row) for the items the recipe names, or a seeded draw when it names none."""
    if spec.select:
        too_far = [i for i in spec.select if i >= len(rows)]
        if too_far:
            raise InputError(where, f"source {spec.name!r} has {len(rows)} items; the recipe needs item "
                             f"{too_far[0]}", record=spec.name)
        return [(i, rows[i]) for i in spec.select]
    if spec.count > len(rows):
        raise InputError(where, f"source {spec.name!r} has {len(rows)} items; the recipe draws {spec.count}")
    rng = random.Random(seed * 1_000_003 + zlib.crc32(spec.name.encode()))
    return [(i, rows[i]) for i in sorted(rng.sample(range(len(rows)), spec.count))]


def _published_by_source(reference: list[Instruction]) -> dict[str, Instruction]:
    return {r.source_id: r for r in reference if r.source_id}


def _source_id(spec: SourceSpec, index: int, row: SourceRow) -> str:
    """Fill the recipe's source_id pattern from the item's place and fields."""
    try:
        return spec.source_id.format(index=index, **row.extra)
    except (KeyError, IndexError) as exc:
        raise JustevalError(f"recipe source {spec.name!r}: source_id pattern needs {exc}") from exc


def assemble(recipe: Recipe | str | Path | None = None, source_dir: str | Path | None = None,
             sources: Mapping[str, str | Path] | None = None, seed: int = 0,
             reference: list[Instruction] | str | Path | None = None) -> AssembleResult:
    """Build the set from its sources; compare with (and take tags from) `reference` when given.

    `reference` is a list of instructions or a source for `load_instructions`; pass None to
    assemble without one (no tags, no comparison).
    """
    rec = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    src_dir = Path(source_dir) if source_dir is not None else None
    paths = {k: Path(v) for k, v in (sources or {}).items()}
    unknown = sorted(set(paths) - {s.name for s in rec.sources})
    if unknown:
        raise JustevalError(f"unknown source {unknown[0]!r} (recipe has {', '.join(s.name for s in rec.sources)})")
    ref_items: list[Instruction] | None = None
    ref_name: str | None = None
    if isinstance(reference, list):
        ref_items, ref_name = reference, "the given reference"
    elif reference is not None:
        from justeval.instructions.load import load_instructions

        ref_items, ref_name = load_instructions(reference), str(reference)
    published = _published_by_source(ref_items or [])
    by_id = {r.id: r for r in ref_items or []}
    next_id = {cat: list(ids) for cat, ids in rec.categories.items()}
    items: list[Instruction] = []
    result = AssembleResult(items=items, reference=ref_name)
    for spec in rec.sources:
        path = _source_path(spec, src_dir, paths)
        rows = read_source(spec, path)
        prefix = spec.source_id.split("{")[0]
        for index, row in _picked(spec, rows, seed, path or spec.name):
            if not next_id.get(spec.category):
                raise JustevalError(f"recipe: category {spec.category!r} runs out of ids at source {spec.name!r}")
            sid = _source_id(spec, index, row)
            dataset = spec.dataset or str(row.extra.get(spec.dataset_field or "dataset", spec.name))
            inst = Instruction(id=next_id[spec.category].pop(0), instruction=row.text, dataset=dataset,
                               source_id=sid, category=spec.category)
            pub = published.get(sid)
            if pub is None:  # same place in the set, same source family, but a differing source_id
                same_id = by_id.get(inst.id)
                pub = same_id if same_id is not None and (same_id.source_id or "").startswith(prefix) else None
            if pub is not None:
                inst.task_types, inst.topics, inst.difficulty = list(pub.task_types), list(pub.topics), pub.difficulty
                result.tagged += int(bool(pub.task_types or pub.topics or pub.difficulty))
                _compare(inst, pub, spec, result)
            items.append(inst)
    if ref_items is not None:
        matched = {d.published for d in result.differences if d.field == "source_id"}
        have = {i.source_id for i in items} | matched
        result.missing = [r.source_id or str(r.id) for r in ref_items if r.source_id not in have]
    for cat, left in next_id.items():
        if left:
            result.notes.append(f"category {cat}: {len(left)} id(s) of its range left unused")
    return result


def _compare(inst: Instruction, pub: Instruction, spec: SourceSpec, result: AssembleResult) -> None:
    known = {d.get("id"): d for d in spec.known_differences}
    for name in COMPARED:
        mine, theirs = getattr(inst, name), getattr(pub, name)
        if mine != theirs:
            entry = known.get(inst.id)
            fields = entry.get("fields", ["instruction"]) if entry else []
            result.differences.append(Difference(
                id=inst.id, source_id=inst.source_id, field=name, assembled=mine, published=theirs,
                known=name in fields, note=entry.get("note") if entry else None))
