"""One call from run directories to a finished `Leaderboard`: load, select, score, break down,
diagnose. The CLI, `publish` and the benchmark all go through `build_leaderboard`."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from justeval.board.bootstrap import single_threaded_blas
from justeval.board.breakdowns import NEEDS_TAGS, BreakdownRow, model_breakdown, order_breakdown
from justeval.board.diagnostics import model_diagnostics, pooled_length_correlation
from justeval.board.loading import (
    EmptyRunDir,
    ModelItems,
    extend_aspects,
    iter_models,
    order_aspects,
    unique_names,
)
from justeval.board.tables import Leaderboard, Settings, assign_ranks, model_row
from justeval.board.upstream import SCALE
from justeval.errors import JustevalError, SourceUnavailableError, UsageError
from justeval.records import CATEGORIES, Instruction, ItemId
from justeval.rundir import RunDir

SUBSETS = ("all", "regular", "safety", "lite")


@dataclass
class Built:
    board: Leaderboard
    models: list[ModelItems]
    tags: dict[ItemId, Instruction] | None
    skipped: list[EmptyRunDir] = field(default_factory=list)  # run directories without a record


def instruction_source(explicit: str | None, run_dirs: Sequence[str | Path]) -> str | None:
    """`--instructions`, else the source recorded in a run's run.json (by `generate`, `import`
    or `run`)."""
    if explicit:
        return explicit
    for d in run_dirs:
        if Path(d).is_dir():
            recorded = RunDir(d).read_manifest().instruction_source()
            if recorded:
                return recorded
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
            raise SourceUnavailableError(f"breakdowns by task, topic and difficulty need the instruction tags: "
                                         f"{exc}") from exc
        return None


def lite_ids(source: str | None) -> set[ItemId]:
    """The ids of the just-eval "lite" subset (275 regular + 75 safety), found beside a local
    instruction file or fetched by the instruction loader."""
    from justeval.instructions import load_lite_ids

    return set(load_lite_ids(source))


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build_leaderboard(run_dirs: Sequence[str | Path] = (), *, upstream: Sequence[str | Path] = (),
                      settings: Settings | None = None, by: Sequence[str] = (), instructions: str | None = None,
                      keep_judgments: bool = False, want_tags: bool = False,
                      judge_eval: Sequence[str | Path] = ()) -> Built:
    """The leaderboard of the given runs; `by` adds breakdowns (task, topic, dataset, difficulty).

    Runs are read one at a time and a block at a time, and reduced to arrays, so memory stays
    flat in the number of models and in the size of their outputs. `keep_judgments` keeps
    where each output and judgment is, for the page to read back; `want_tags` loads the
    instruction tags when a source is known, without failing if not. A run directory with no
    record at all is skipped and listed in `Built.skipped`. `settings.panel` combines several
    judges into one board (`justeval.board.panel`); `judge_eval` names judge-eval folders whose
    reports become the board's Judge section (`justeval.board.judge_section`).
    """
    from justeval.board import sweep_chart, trust

    reports = trust.load_judge_eval(judge_eval)  # a bad report stops before any run is read
    run_dirs, sweeps = sweep_chart.expand_sweeps(run_dirs)  # a sweep folder: its configurations' runs
    settings = settings or Settings()
    if settings.subset not in SUBSETS:
        raise UsageError(f"unknown subset {settings.subset!r} (choose from {', '.join(SUBSETS)})")
    if settings.na_as is not None and not SCALE[0] <= settings.na_as <= SCALE[1]:
        raise UsageError(f"--na-as {settings.na_as:g} is off the {SCALE[0]:g}-{SCALE[1]:g} score scale: N/A can "
                         "only count as a score a judge could give")
    need = any(d in NEEDS_TAGS for d in by)
    source = instruction_source(instructions, run_dirs)
    tags = load_tags(source, required=need) if (need or want_tags) else None
    categories = CATEGORIES if settings.subset in ("all", "lite") else (settings.subset,)
    ids = lite_ids(source) if settings.subset == "lite" else None
    datasets = {i: t.dataset for i, t in tags.items()} if tags else None
    skipped: list[EmptyRunDir] = []
    with _no_cyclic_gc():  # many small records, no cycles: collecting while loading only costs time
        make = trust.items_maker(settings)
        generators: dict[str, str] = {}
        models = []
        for run in unique_names(iter_models(run_dirs, upstream, skipped=skipped)):
            models.append(make(run, judge=settings.judge, ids=ids, categories=categories, datasets=datasets,
                               keep_text=keep_judgments, template=settings.template))
            generators[models[-1].model] = trust.generator_of(run)
    per_cat: dict[str, list[str]] = {}
    for cat in categories:
        per_cat[cat] = order_aspects(a for mi in models for a in mi.aspects_by_category.get(cat, []))
    for mi in models:
        extend_aspects(mi, per_cat)
    rows = []
    parts: dict[str, list[BreakdownRow]] = {dim: [] for dim in by if dim != "aspect"}
    with single_threaded_blas():
        for mi in models:  # a model's row and breakdowns in turn share its bootstrap draws
            rows.append(model_row(mi, per_cat, settings))
            for dim, out in parts.items():
                out.extend(model_breakdown(mi, dim, per_cat, settings, tags))
    board = Leaderboard(settings=settings, aspects=order_aspects(a for c in per_cat.values() for a in c),
                        aspects_by_category=per_cat, rows=assign_ranks(rows),
                        breakdowns={dim: order_breakdown(out) for dim, out in parts.items()})
    for mi in models:
        board.diagnostics[mi.model] = model_diagnostics(mi, board.aspects, settings.na_as)
    board.length_correlation = pooled_length_correlation(models, board.aspects, settings.na_as)
    for mi in models:
        board.notes.extend(mi.notes)
    if settings.judge:
        missing = set(settings.judge) - {j for mi in models for js in mi.judges.values() for j in js}
        if missing:
            board.notes.append(f"no judgments by {', '.join(sorted(missing))}")
    trust.finish(board, make, generators, reports)
    if sweeps:
        board.sweep = sweep_chart.SweepView(sweeps, *sweep_chart.sweep_points(board, sweeps))
    return Built(board, models, tags, skipped)
