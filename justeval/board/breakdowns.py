"""Leaderboard numbers per task type, topic, source dataset or difficulty, each with its CI.

Task types and topics are lists: an item tagged with two task types counts in both groups.
The tags come from the instruction set (they exist for the regular items of just-eval); the
source dataset is on every generation, so `dataset` needs no instruction set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from justeval.board.loading import ModelItems
from justeval.board.tables import MeanCI, Settings, summarise
from justeval.errors import JustevalError
from justeval.records import Instruction, ItemId

DIMENSIONS = ("task", "topic", "dataset", "difficulty")
NEEDS_TAGS = ("task", "topic", "difficulty")


@dataclass
class GroupAspect:
    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass
class BreakdownRow:
    dimension: str
    group: str
    model: str
    items: int
    aspects: dict[str, GroupAspect]
    average: MeanCI


def _labels(mi: ModelItems, dimension: str, tags: Mapping[ItemId, Instruction] | None) -> list[list[str]]:
    if dimension == "dataset":
        return [[str(d)] for d in mi.dataset]
    if tags is None:
        raise JustevalError(f"a breakdown by {dimension} needs the instruction tags: pass --instructions "
                            "(a local copy of just-eval-instruct, or the source the run was generated from)")
    out: list[list[str]] = []
    for item_id in mi.ids:
        inst = tags.get(item_id)
        if inst is None:
            out.append([])
        elif dimension == "task":
            out.append(list(dict.fromkeys(inst.task_types)))
        elif dimension == "topic":
            out.append(list(dict.fromkeys(inst.topics)))
        else:
            out.append([inst.difficulty] if inst.difficulty else [])
    return out


def model_breakdown(mi: ModelItems, dimension: str, aspects_by_category: dict[str, list[str]], settings: Settings,
                    tags: Mapping[ItemId, Instruction] | None = None) -> list[BreakdownRow]:
    """One model's rows of a breakdown, one per group it has items in."""
    if dimension not in DIMENSIONS:
        raise JustevalError(f"unknown breakdown {dimension!r} (choose from {', '.join(DIMENSIONS)})")
    masks: dict[str, np.ndarray] = {}
    for k, labs in enumerate(_labels(mi, dimension, tags)):
        for lab in labs:
            masks.setdefault(lab, np.zeros(len(mi.ids), dtype=bool))[k] = True
    rows = []
    for group, mask in masks.items():
        s = summarise(mi, aspects_by_category, settings, rows=mask)
        aspects = {a: GroupAspect(float(s.points[k]), float(s.ci_low[k]), float(s.ci_high[k]), int(s.n[k]))
                   for k, a in enumerate(s.aspects) if s.n[k] > 0}
        rows.append(BreakdownRow(dimension, group, mi.model, int(mask.sum()), aspects, s.average))
    return rows


def order_breakdown(rows: list[BreakdownRow]) -> list[BreakdownRow]:
    """Groups by size (largest first), within a group models by their average (best first)."""
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r.group] = max(sizes.get(r.group, 0), r.items)
    return sorted(rows, key=lambda r: (-sizes[r.group], r.group, bool(np.isnan(r.average.mean)),
                                       -float(np.nan_to_num(r.average.mean)), r.model))


def breakdown(models: Sequence[ModelItems], dimension: str, aspects_by_category: dict[str, list[str]],
              settings: Settings, tags: Mapping[ItemId, Instruction] | None = None) -> list[BreakdownRow]:
    """Rows (group, model) of all models, ordered by `order_breakdown`."""
    return order_breakdown([r for mi in models
                            for r in model_breakdown(mi, dimension, aspects_by_category, settings, tags)])
