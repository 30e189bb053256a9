"""Leaderboard numbers per task type, topic, source dataset or difficulty, each with its CI.

Task types and topics are lists: an item tagged with two task types counts in both groups.
The tags come from the instruction set (they exist for the regular items of just-eval); the
source dataset is on every generation, so `dataset` needs no instruction set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from justeval.errors import JustevalError
from justeval.leaderboard.loading import ModelItems
from justeval.leaderboard.tables import Estimate, Settings, summarise
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
    average: Estimate


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


def breakdown(models: Sequence[ModelItems], dimension: str, aspects_by_category: dict[str, list[str]],
              settings: Settings, tags: Mapping[ItemId, Instruction] | None = None) -> list[BreakdownRow]:
    """Rows (group, model) ordered by group size, then by the model's average in the group."""
    if dimension not in DIMENSIONS:
        raise JustevalError(f"unknown breakdown {dimension!r} (choose from {', '.join(DIMENSIONS)})")
    per_model: list[tuple[ModelItems, dict[str, np.ndarray]]] = []
    sizes: dict[str, int] = {}
    for mi in models:
        labels = _labels(mi, dimension, tags)
        masks: dict[str, np.ndarray] = {}
        for k, labs in enumerate(labels):
            for lab in labs:
                masks.setdefault(lab, np.zeros(len(mi.ids), dtype=bool))[k] = True
        for lab, m in masks.items():
            sizes[lab] = max(sizes.get(lab, 0), int(m.sum()))
        per_model.append((mi, masks))
    rows: list[BreakdownRow] = []
    for group in sorted(sizes, key=lambda g: (-sizes[g], g)):
        block = []
        for mi, masks in per_model:
            mask = masks.get(group)
            if mask is None:
                continue
            s = summarise(mi, aspects_by_category, settings, rows=mask, key=f"{dimension}={group}")
            aspects = {a: GroupAspect(float(s.points[k]), float(s.ci_low[k]), float(s.ci_high[k]), int(s.n[k]))
                       for k, a in enumerate(s.aspects) if s.n[k] > 0}
            block.append(BreakdownRow(dimension, group, mi.model, int(mask.sum()), aspects, s.average))
        block.sort(key=lambda r: (np.isnan(r.average.mean), -np.nan_to_num(r.average.mean), r.model))
        rows.extend(block)
    return rows
