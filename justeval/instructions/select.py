"""Selecting a part of the set: subset, tag and id filters, then --sample / --limit.

The lite subset's ids are data: read from `lite_ids.json` beside a local source, from an
explicit file, or from the public home named in the recipe for the hub source.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from justeval.errors import InputError, UsageError
from justeval.fetch import fetch_json
from justeval.ids import ids_option
from justeval.instructions.load import load_instructions, resolve_local
from justeval.records import Instruction, ItemId

SUBSETS = ("all", "regular", "safety", "lite")
LITE_KEYS = ("lite_regular_ids", "lite_safety_ids")


class Selection(BaseModel):
    """Which items a command works on: the shared selection options (`--subset`, `--dataset`,
    `--task`, `--topic`, `--difficulty`, `--ids`, `--limit`, `--sample`, `--seed`), applied by
    `select` in that order. Repeatable options also accept comma-separated values."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    subset: str = "all"
    """regular | safety | lite | all (`--subset`)."""

    datasets: list[str] | None = None
    """Keep these datasets or source families (`--dataset`)."""

    tasks: list[str] | None = None
    """Keep items with one of these task types (`--task`)."""

    topics: list[str] | None = None
    """Keep items with one of these topics (`--topic`)."""

    difficulties: list[str] | None = None
    """Keep items of these difficulties (`--difficulty`)."""

    ids: str | None = None
    """Ids and inclusive ranges, e.g. `0-99,800,805` (`--ids`)."""

    limit: int | None = Field(None, ge=0)
    """The first N items after filtering (`--limit`)."""

    sample: int | None = Field(None, ge=0)
    """N items drawn at random after filtering (`--sample`, seeded by `seed`)."""

    seed: int = 0
    """Seed of `sample` (`--seed`)."""

    lite_ids: str | None = None
    """A file with the lite subset's ids, instead of the one beside the instructions."""

    @field_validator("subset", mode="before")
    @classmethod
    def _subset(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("datasets", "tasks", "topics", "difficulties", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            return _values(value) or None
        return value

    @field_validator("lite_ids", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    def is_everything(self) -> bool:
        """True when nothing is filtered out."""
        return self == Selection(seed=self.seed)


def _read_lite(data: Any, where: str | Path) -> set[ItemId]:
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in LITE_KEYS):
        raise InputError(where, f"expected an object with lists {LITE_KEYS[0]} and {LITE_KEYS[1]}")
    return {i for k in LITE_KEYS for i in data[k]}


def load_lite_ids(source: str | Path | None = None, override: str | Path | None = None) -> set[ItemId]:
    """The lite ids: `override`, else `lite_ids.json` beside a local source, else the recipe's URL."""
    from justeval.instructions.recipe import load_recipe

    if override is not None:
        path = Path(override)
    else:
        local = resolve_local(source) if source is not None else None
        recipe = load_recipe()
        name = str(recipe.lite_ids.get("file", "lite_ids.json"))
        if local is not None:
            path = local.parent / name
            if not path.is_file():
                raise InputError(local, f"--subset lite needs {name} beside the instructions file "
                                 f"(with {LITE_KEYS[0]} and {LITE_KEYS[1]})")
        else:
            url = str(recipe.lite_ids["url"])
            data = fetch_json(url, what="the lite subset's ids", timeout=20.0,
                              hint="download it and pass a local instructions folder holding lite_ids.json")
            return _read_lite(data, url)
    from justeval.jsonl import read_json_file

    return _read_lite(read_json_file(path, "lite ids"), path)


def _values(items: Iterable[str] | None) -> list[str]:
    """Repeatable options also accept comma-separated values."""
    return [v.strip() for item in (items or []) for v in str(item).split(",") if v.strip()]


def _dataset_keys(inst: Instruction) -> set[str]:
    """An item matches its dataset name and its source family (alpaca_eval, red_team, ...)."""
    keys = {inst.dataset.lower()}
    if inst.source_id:
        keys.add(inst.source_id.split("-", 1)[0].lower())
    return keys


def _check_known(option: str, wanted: list[str], known: set[str]) -> None:
    unknown = [w for w in wanted if w.lower() not in known]
    if unknown:
        raise UsageError(f"unknown {option} {unknown[0]!r} (known: {', '.join(sorted(known)) or 'none'})")


def select(instructions: Sequence[Instruction], selection: Selection, *,
           source: str | Path | None = None) -> list[Instruction]:
    """Apply `selection` in a fixed order: subset, dataset, task, topic, difficulty, ids, sample, limit."""
    sel = selection
    if sel.subset not in SUBSETS:
        raise UsageError(f"unknown --subset {sel.subset!r} (choose from {', '.join(SUBSETS)})")
    items = list(instructions)
    if sel.subset in ("regular", "safety"):
        items = [i for i in items if i.category == sel.subset]
    elif sel.subset == "lite":
        lite = load_lite_ids(source, sel.lite_ids)
        items = [i for i in items if i.id in lite]
    if sel.datasets:
        wanted = _values(sel.datasets)
        _check_known("--dataset", wanted, {k for i in instructions for k in _dataset_keys(i)})
        low = {w.lower() for w in wanted}
        items = [i for i in items if _dataset_keys(i) & low]
    for option, attr, values in (("--task", "task_types", sel.tasks), ("--topic", "topics", sel.topics)):
        if values:
            wanted = _values(values)
            _check_known(option, wanted, _known_tags(instructions, attr))
            low = {w.lower() for w in wanted}
            items = [i for i in items if {t.lower() for t in getattr(i, attr)} & low]
    if sel.difficulties:
        wanted = _values(sel.difficulties)
        _check_known("--difficulty", wanted, _known_tags(instructions, "difficulty"))
        low = {w.lower() for w in wanted}
        items = [i for i in items if i.difficulty is not None and i.difficulty.lower() in low]
    if sel.ids:
        wanted_ids = ids_option(sel.ids) or set()
        items = [i for i in items if i.id in wanted_ids]
    if sel.sample is not None:
        if sel.sample < 0:
            raise UsageError("--sample must be >= 0")
        if sel.sample < len(items):
            keep = set(random.Random(sel.seed).sample(range(len(items)), sel.sample))
            items = [it for n, it in enumerate(items) if n in keep]
    if sel.limit is not None:
        if sel.limit < 0:
            raise UsageError("--limit must be >= 0")
        items = items[: sel.limit]
    return items


def _known_tags(instructions: Sequence[Instruction], attr: str) -> set[str]:
    """Values present in the data plus those of the recipe's tag schema."""
    from justeval.instructions.recipe import load_recipe

    schema = load_recipe().tags.get(attr, [])
    present: set[str] = set()
    for inst in instructions:
        value = getattr(inst, attr)
        if isinstance(value, list):
            present.update(value)
        elif value is not None:
            present.add(value)
    return {v.lower() for v in (*schema, *present)}


def load_selection(source: str | Path | None, selection: Selection) -> list[Instruction]:
    """Load `source` and apply `selection` (the lite ids come from beside the source)."""
    from justeval.instructions.load import chosen_source

    source = chosen_source(source)
    return select(load_instructions(source), selection, source=source)


def selection_from_cli(instructions: str | None, subset: str = "all", dataset: list[str] | None = None,
                       task: list[str] | None = None, topic: list[str] | None = None,
                       difficulty: list[str] | None = None, ids: str | None = None, limit: int | None = None,
                       sample: int | None = None, seed: int = 0) -> tuple[str | None, Selection]:
    """The shared CLI options as (instruction source, Selection)."""
    return instructions, Selection(subset=subset, datasets=dataset, tasks=task, topics=topic, difficulties=difficulty,
                                   ids=ids, limit=limit, sample=sample, seed=seed)
