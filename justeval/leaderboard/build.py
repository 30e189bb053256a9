"""One call from run directories to a finished `Leaderboard`: load, select, score, break down,
diagnose. The CLI, `publish` and the benchmark all go through `build_leaderboard`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from justeval.errors import JustevalError
from justeval.leaderboard.breakdowns import NEEDS_TAGS, breakdown
from justeval.leaderboard.diagnostics import model_diagnostics, pooled_length_correlation
from justeval.leaderboard.loading import (
    CATEGORIES,
    ModelItems,
    ModelRun,
    aspects_seen,
    build_items,
    load_models,
)
from justeval.leaderboard.tables import Leaderboard, Settings, build_table
from justeval.records import Instruction, ItemId

SUBSETS = ("all", "regular", "safety", "lite")


@dataclass
class Built:
    board: Leaderboard
    models: list[ModelItems]
    tags: dict[ItemId, Instruction] | None


def instruction_source(explicit: str | None, runs: Sequence[ModelRun]) -> str | None:
    """`--instructions`, else the source recorded by `justeval generate` in a run's run.json."""
    if explicit:
        return explicit
    for run in runs:
        gen = run.meta.get("generate") if isinstance(run.meta, dict) else None
        if isinstance(gen, dict) and gen.get("instructions"):
            return str(gen["instructions"])
    return None


def load_tags(source: str | None, *, required: bool) -> dict[ItemId, Instruction] | None:
    """Instructions by id, or None (when not required) if they cannot be had."""
    if source is None and not required:
        return None
    try:
        from justeval.instructions import load_instructions
    except ImportError as exc:
        if required:
            raise JustevalError("breakdowns by task, topic and difficulty need the instruction loader "
                                "(justeval.instructions), which is not available") from exc
        return None
    try:
        return {inst.id: inst for inst in load_instructions(source)}
    except JustevalError as exc:
        if required:
            raise JustevalError(f"breakdowns by task, topic and difficulty need the instruction tags, and the "
                                f"instruction set could not be loaded ({exc}); pass --instructions FILE") from exc
        return None


def lite_ids() -> set[ItemId]:
    """The ids of the just-eval "lite" subset (275 regular + 75 safety)."""
    try:
        from justeval import instructions as inst_mod

        for name in ("lite_ids", "load_lite_ids"):
            fn = getattr(inst_mod, name, None)
            if callable(fn):
                return set(fn())
    except ImportError:
        pass
    from justeval.paths import data_dir

    try:
        path = data_dir("instructions") / "lite_ids.json"
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, FileNotFoundError, json.JSONDecodeError) as exc:
        raise JustevalError("--subset lite needs the lite id list (instructions/lite_ids.json), "
                            "which was not found") from exc
    return set(data.get("lite_regular_ids", [])) | set(data.get("lite_safety_ids", []))


def build_leaderboard(run_dirs: Sequence[str | Path] = (), *, upstream: Sequence[str | Path] = (),
                      settings: Settings | None = None, by: Sequence[str] = (), instructions: str | None = None,
                      keep_judgments: bool = False, want_tags: bool = False) -> Built:
    """The leaderboard of the given runs; `by` adds breakdowns (task, topic, dataset, difficulty).

    `want_tags` loads the instruction tags when a source is known, without failing if not
    (publish uses it for optional breakdowns and the item browser's filters).
    """
    settings = settings or Settings()
    if settings.subset not in SUBSETS:
        raise JustevalError(f"unknown subset {settings.subset!r} (choose from {', '.join(SUBSETS)})")
    runs = load_models(run_dirs, upstream)
    need = any(d in NEEDS_TAGS for d in by)
    source = instruction_source(instructions, runs)
    tags = load_tags(source, required=need) if (need or want_tags) else None
    categories = CATEGORIES if settings.subset in ("all", "lite") else (settings.subset,)
    ids = lite_ids() if settings.subset == "lite" else None
    seen = aspects_seen(runs)
    per_cat = {c: seen.get(c, []) for c in categories}
    datasets = {i: t.dataset for i, t in tags.items()} if tags else None
    models = [build_items(r, judge=settings.judge, ids=ids, categories=categories, aspects_by_category=per_cat,
                          datasets=datasets, keep_judgments=keep_judgments) for r in runs]
    board = build_table(models, per_cat, settings)
    for dim in by:
        if dim != "aspect":
            board.breakdowns[dim] = breakdown(models, dim, per_cat, settings, tags)
    for mi in models:
        board.diagnostics[mi.model] = model_diagnostics(mi, board.aspects, settings.na_as)
    board.length_correlation = pooled_length_correlation(models, board.aspects, settings.na_as)
    if settings.judge:
        missing = set(settings.judge) - {j for mi in models for js in mi.judges.values() for j in js}
        if missing:
            board.notes.append(f"no judgments by {', '.join(sorted(missing))}")
    return Built(board, models, tags)
