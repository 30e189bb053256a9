"""The instruction set: load it, select from it, count it, and assemble it from its sources."""

from __future__ import annotations

from justeval.instructions.assemble import AssembleResult, Difference, assemble
from justeval.instructions.export import write_instructions
from justeval.instructions.load import DEFAULT_SOURCE, load_instructions
from justeval.instructions.recipe import Recipe, load_recipe
from justeval.instructions.select import Selection, load_lite_ids, load_selection, select, selection_from_cli
from justeval.instructions.stats import instruction_stats

__all__ = [
    "DEFAULT_SOURCE",
    "AssembleResult",
    "Difference",
    "Recipe",
    "Selection",
    "assemble",
    "instruction_stats",
    "load_instructions",
    "load_lite_ids",
    "load_recipe",
    "load_selection",
    "select",
    "selection_from_cli",
    "write_instructions",
]
