"""Counting the set by category, dataset and tags (for `justeval instructions stats`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from justeval.records import Instruction

NO_TAG = "(none)"


def _ordered(counter: Counter[str]) -> dict[str, int]:
    """Largest first, ties by name, so output is stable."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def instruction_stats(instructions: Sequence[Instruction]) -> dict[str, Any]:
    """{"total", "category", "dataset", "task", "topic", "difficulty"}; items with several task
    types or topics count once under each, untagged items under "(none)"."""
    category: Counter[str] = Counter()
    dataset: Counter[str] = Counter()
    task: Counter[str] = Counter()
    topic: Counter[str] = Counter()
    difficulty: Counter[str] = Counter()
    for inst in instructions:
        category[inst.category] += 1
        dataset[inst.dataset] += 1
        task.update(inst.task_types or [NO_TAG])
        topic.update(inst.topics or [NO_TAG])
        difficulty[inst.difficulty or NO_TAG] += 1
    return {"total": len(instructions), "category": _ordered(category), "dataset": _ordered(dataset),
            "task": _ordered(task), "topic": _ordered(topic), "difficulty": _ordered(difficulty)}


def stats_tables(stats: dict[str, Any]) -> list[Any]:
    """One rich table per dimension, with counts and shares of the total."""
    from rich.table import Table

    total = stats["total"] or 1
    tables = []
    for dim in ("category", "dataset", "task", "topic", "difficulty"):
        table = Table(title=f"{dim} (of {stats['total']} items)", title_justify="left")
        table.add_column(dim)
        table.add_column("items", justify="right")
        table.add_column("share", justify="right")
        for name, n in stats[dim].items():
            table.add_row(name, str(n), f"{100 * n / total:.1f}%")
        tables.append(table)
    return tables
