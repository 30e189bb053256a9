"""The recipe of the set (`instructions/just-eval.yaml`): categories, sources, tags, lite ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.errors import InputError
from justeval.ids import ItemId, ids_in_file

RECIPE_NAME = "just-eval.yaml"


@dataclass
class SourceSpec:
    """One source dataset of the recipe (see the YAML for what each field means)."""

    name: str
    category: str
    count: int
    source_id: str
    select: list[int]  # empty: draw `count` items at random (seeded) from the source
    text: str = "instruction"
    dataset: str | None = None
    dataset_field: str | None = None
    hf: dict[str, Any] | None = None
    url: str | None = None
    local: str | None = None
    order_by: str | None = None
    subsets: dict[str, int] = field(default_factory=dict)
    known_differences: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Recipe:
    name: str
    path: Path
    published: str | None
    published_split: str
    categories: dict[str, list[ItemId]]
    sources: list[SourceSpec]
    tags: dict[str, list[str]]
    lite_ids: dict[str, Any]


def default_recipe_path() -> Path:
    from justeval.paths import data_dir

    return data_dir("instructions") / RECIPE_NAME


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Read and check a recipe file (default: the shipped just-eval.yaml)."""
    from justeval.yamlfile import parse_yaml

    p = Path(path) if path is not None else default_recipe_path()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(p, f"cannot read recipe: {getattr(exc, 'strerror', None) or exc}") from exc
    raw = parse_yaml(text, p)
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise InputError(p, "a recipe needs a `sources` list")
    cats = {name: ids_in_file(spec.get("ids"), p) for name, spec in (raw.get("categories") or {}).items()}
    sources = []
    for i, s in enumerate(raw["sources"]):
        try:
            spec = SourceSpec(
                name=s["name"], category=s["category"], count=int(s["count"]), source_id=s["source_id"],
                select=[int(x) for x in ids_in_file(s.get("select"), p)], text=s.get("text", "instruction"),
                dataset=s.get("dataset"), dataset_field=s.get("dataset_field"), hf=s.get("hf"), url=s.get("url"),
                local=s.get("local"), order_by=s.get("order_by"), subsets=dict(s.get("subsets") or {}),
                known_differences=list(s.get("known_differences") or []))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(p, f"source {i}: bad or missing field {exc}", record=s.get("name", i)) from exc
        if spec.category not in cats:
            raise InputError(p, f"source {spec.name}: unknown category {spec.category!r}", record=spec.name)
        if spec.select and len(spec.select) != spec.count:
            raise InputError(p, f"source {spec.name}: select names {len(spec.select)} items, count says "
                             f"{spec.count}", record=spec.name)
        sources.append(spec)
    return Recipe(name=str(raw.get("name", p.stem)), path=p, published=raw.get("published"),
                  published_split=str(raw.get("published_split", "test")), categories=cats, sources=sources,
                  tags={k: list(v) for k, v in (raw.get("tags") or {}).items()},
                  lite_ids=dict(raw.get("lite_ids") or {}))


def tag_schema(recipe: Recipe | None = None) -> dict[str, list[str]]:
    """task_types / topics / difficulty values the recipe defines."""
    return (recipe or load_recipe()).tags
