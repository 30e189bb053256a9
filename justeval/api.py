"""The Python API: what a notebook calls, the same functions the CLI commands are thin callers of.

    import justeval
    result = justeval.evaluate(model="openai:gpt-4o-mini", judge="openai:gpt-4o", subset="lite",
                               out="runs/mini")
    result.leaderboard            # a pandas DataFrame, one row per model
    run = justeval.load_run("runs/mini")
    run.generations[0].output, run.judgments[0].scores

Keyword arguments carry the names of the command-line flags (`base_url`, `concurrency`,
`max_tokens`, `judge_base_url` ...), and the same checks apply; a settings model
(`justeval.settings`) can be passed instead where one is at hand. These names are the stable
surface; the modules behind them may move.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from justeval.records import Generation, ItemId, Judgment

if TYPE_CHECKING:
    import pandas as pd

    from justeval.board.tables import Leaderboard
    from justeval.generation.run import GenerateSummary
    from justeval.judging.run import JudgeSummary
    from justeval.manifest import RunManifest
    from justeval.settings import GenerateSettings, JudgeSettings, RunSettings


def leaderboard_frame(board: Leaderboard) -> pd.DataFrame:
    """One row per model: numeric columns only (means, CI bounds as their own columns, counts),
    rank bounds as integers (`rank_best`, `rank_worst`; missing where a model has no average)."""
    import pandas as pd

    from justeval.board.render import COUNT_COLUMNS

    records: list[dict[str, Any]] = []
    for row in board.rows:
        rec: dict[str, Any] = {"model": row.model,
                               "rank_best": row.rank[0] if row.rank else None,
                               "rank_worst": row.rank[1] if row.rank else None}
        for aspect in board.aspects:
            stat = row.aspects.get(aspect)
            rec[aspect] = stat.mean if stat else math.nan
            rec[f"{aspect}_ci_low"] = stat.ci_low if stat else math.nan
            rec[f"{aspect}_ci_high"] = stat.ci_high if stat else math.nan
            rec[f"{aspect}_n"] = stat.n if stat else 0
            if stat is not None and stat.repeats > 1:
                rec[f"{aspect}_spread"] = math.nan if stat.spread is None else stat.spread
        rec.update(average=row.average.mean, average_ci_low=row.average.ci_low,
                   average_ci_high=row.average.ci_high, length_words=row.length_words)
        for key, _ in COUNT_COLUMNS:
            rec[key] = row.counts[key]
        rec["self_preference"] = bool(row.self_preference)  # judged by its own model family
        records.append(rec)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    for col in ("rank_best", "rank_worst"):
        frame[col] = frame[col].astype("Int64")
    return frame


@dataclass
class Evaluation:
    """What `evaluate` did: the run directory, each stage's summary, and a board per judge."""

    run_dir: Path
    settings: RunSettings
    generation: GenerateSummary
    judging: list[JudgeSummary] = field(default_factory=list)
    boards: dict[str, Leaderboard] = field(default_factory=dict)
    stopped_after: str | None = None
    """The stage after which the run stopped because every call failed; None when it finished."""

    @property
    def leaderboards(self) -> dict[str, pd.DataFrame]:
        """One table per judge (scores of different judges are not averaged together)."""
        return {judge: leaderboard_frame(board) for judge, board in self.boards.items()}

    @property
    def leaderboard(self) -> pd.DataFrame:
        """The table of the (first) judge."""
        if not self.boards:
            from justeval.errors import JustevalError

            raise JustevalError(f"no leaderboard: the run stopped after {self.stopped_after} (every call failed)")
        return leaderboard_frame(next(iter(self.boards.values())))


def evaluate(model: str | None = None, judge: str | Sequence[str] | None = None, *, out: str | Path | None = None,
             settings: RunSettings | None = None, **flags: Any) -> Evaluation:
    """Instructions -> generation -> judging -> leaderboard, as `justeval run` (resumable: call
    it again to continue). `flags` are `justeval run`'s options by name (`instructions`,
    `subset`, `base_url`, `judge_base_url`, `max_tokens`, `concurrency`, `bootstrap` ...)."""
    from justeval.pipeline import run_pipeline, run_settings_from_flags

    given = {**flags, "model": model, "judge": judge, "out": str(out) if out is not None else None}
    resolved = run_settings_from_flags(settings, given)
    result = run_pipeline(resolved)
    return Evaluation(run_dir=result.run_dir, settings=resolved.absolute(), generation=result.generation,
                      judging=result.judging, boards={j: b.board for j, b in result.leaderboards.items()},
                      stopped_after=result.stopped_after)


def generate(model: str | None = None, *, out: str | Path, settings: GenerateSettings | None = None,
             instructions: str | Sequence[Any] | None = None, **flags: Any) -> GenerateSummary:
    """One model's outputs into `out`, as `justeval generate`. `instructions` is a source (hub id,
    file, folder) or a list of `Instruction`s; `flags` are `generate`'s options by name
    (`base_url`, `subset`, `limit`, `temperature`, `urial`, `concurrency` ...)."""
    from justeval.generation import generate as run_generate
    from justeval.pipeline.flags import generate_from_flags

    items = None
    if instructions is not None and not isinstance(instructions, (str, Path)):
        items = list(instructions)
    else:
        flags["instructions"] = str(instructions) if instructions is not None else None
    resolved = generate_from_flags(settings, {**flags, "model": model}, command="justeval.generate")
    return run_generate(resolved, out, instructions=items)


def judge(run: str | Path, judge: str | Sequence[str] | None = None, *,
          settings: JudgeSettings | Sequence[JudgeSettings] | None = None, dry_run: bool = False,
          retry_parse_errors: bool = False, **flags: Any) -> list[JudgeSummary]:
    """Score a run's outputs with one or more judges, as `justeval judge` (one summary per
    judge). `flags` are `judge`'s options by name (`base_url`, `template_multi`, `temperature`,
    `parse_retries`, `budget`, `ids`, `limit`, `repeats` ...): they are the judge's."""
    from justeval.judging.run import judge_many
    from justeval.pipeline.flags import judge_from_flags

    bases = [settings] if settings is not None and not isinstance(settings, Sequence) else list(settings or [])
    specs = [judge] if isinstance(judge, str) else list(judge or [])
    if specs:
        template = bases[0] if bases else None
        judges = [judge_from_flags(template, spec, flags, command="justeval.judge") for spec in specs]
    else:
        judges = [judge_from_flags(base, None, flags, command="justeval.judge") for base in bases]
    if not judges:
        from justeval.errors import UsageError

        raise UsageError("justeval.judge needs judge=SPEC (or settings=JudgeSettings)")
    return judge_many(run, judges, dry_run=dry_run, retry_parse_errors=retry_parse_errors)


def leaderboard(runs: str | Path | Sequence[str | Path], *, judge: str | Sequence[str] | None = None,
                subset: str = "all", na_as: float | None = None, bootstrap: int = 1000, seed: int = 0,
                instructions: str | None = None, template: str | Sequence[str] | None = None,
                panel: str | None = None, judge_eval: str | Path | Sequence[str | Path] = ()) -> pd.DataFrame:
    """The leaderboard of run directories as a DataFrame (see `leaderboard_frame`), from the
    records on disk, as `justeval leaderboard`. `template` keeps the judgings with that template
    (name, hash or identity), as `--template`. `panel` ("mean", "median", "majority") makes one
    board of several judges; `frame.attrs["panel"]` then holds the method, the judges and
    Krippendorff's alpha per aspect. `judge_eval` (judge-eval folders) puts their reports in
    `frame.attrs["judge_eval"]`, as the JSON's `judge_eval` block."""
    from justeval.board import Settings, build_leaderboard
    from justeval.board.schema import trust_json

    paths = [runs] if isinstance(runs, (str, Path)) else list(runs)
    judges = [judge] if isinstance(judge, str) else (list(judge) if judge else None)
    templates = [template] if isinstance(template, str) else (list(template) if template else None)
    reports = [judge_eval] if isinstance(judge_eval, (str, Path)) else list(judge_eval)
    settings = Settings(na_as=na_as, bootstrap=bootstrap, seed=seed, subset=subset, judge=judges,
                        template=templates, panel=panel)
    built = build_leaderboard(paths, settings=settings, instructions=instructions, judge_eval=reports)
    frame = leaderboard_frame(built.board)
    frame.attrs.update(trust_json(built.board))
    return frame


@dataclass
class Run:
    """A run directory's records, typed: its manifest, the current generation per item (the
    last line for an id wins) and every judgment."""

    path: Path
    manifest: RunManifest
    generations: list[Generation]
    judgments: list[Judgment]

    @property
    def judges(self) -> list[str]:
        return list(dict.fromkeys(j.judge for j in self.judgments))

    def generation(self, item: ItemId) -> Generation | None:
        return next((g for g in self.generations if g.id == item), None)


def load_run(path: str | Path) -> Run:
    """Read a run directory (bad records are one clear error naming file and line)."""
    from justeval.rundir import RunDir

    rd = RunDir(path)
    if not rd.path.is_dir():
        from justeval.errors import InputError

        raise InputError(rd.path, "not a run directory")
    return Run(path=rd.path, manifest=rd.read_manifest(), generations=list(rd.latest_generations().values()),
               judgments=rd.load_judgments())
