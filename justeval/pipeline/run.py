"""Run the whole pipeline from one RunSettings, each stage through its own library call, so a
notebook gets exactly what `justeval run` does."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from justeval.rundir import RunDir, holding

if TYPE_CHECKING:
    from justeval.board.build import Built
    from justeval.generation.run import GenerateSummary
    from justeval.judging.run import JudgeSummary
    from justeval.settings import RunSettings


@dataclass
class PipelineResult:
    run_dir: Path
    items: int
    generation: GenerateSummary
    judging: list[JudgeSummary] = field(default_factory=list)
    leaderboards: dict[str, Built] = field(default_factory=dict)  # judge -> its leaderboard
    stopped_after: str | None = None  # the stage after which the run stopped: nothing usable came out of it


def run_pipeline(settings: RunSettings, *, command: str | None = None, dry_run: bool = False) -> PipelineResult:
    """Generate, judge and tabulate; every stage resumes from what the run directory holds.
    `command` (the invocation, no secrets) is recorded in run.json beside the settings.
    `dry_run` estimates both stages (answers not made yet counted at `max_tokens`, an upper
    bound) and sends and writes nothing."""
    from justeval.board import Settings, build_leaderboard
    from justeval.generation import generate
    from justeval.instructions import load_selection
    from justeval.judging.run import judge_many
    from justeval.manifest import RunSection

    settings = settings.absolute()
    if dry_run:
        return _dry_run(settings)
    rd = RunDir(settings.out).ensure()
    with holding(rd, True):
        if command:
            rd.record("run", RunSection(command=command))
        rd.record("pipeline", settings)
        gen = settings.generate
        items = load_selection(gen.instructions, gen.selection)
        generation = generate(gen, rd.path, instructions=items)
        result = PipelineResult(run_dir=rd.path, items=len(items), generation=generation)
        if generation.nothing_usable or generation.engine.stop_reason:  # a dead server stops the pipeline
            result.stopped_after = "generation"
            return result
        result.judging = judge_many(rd.path, settings.judging)
        if all(s.nothing_usable for s in result.judging) or any(s.engine.stop_reason for s in result.judging):
            result.stopped_after = "judging"
            return result

        # One board per judge: scores of different judges are not averaged together; each of this
        # run's judging (its identity), whatever other judgings the directory holds
        board = settings.leaderboard
        for summary in result.judging:
            if summary.judge in result.leaderboards:
                continue
            options = Settings(na_as=board.na_as, bootstrap=board.bootstrap, seed=board.seed, judge=[summary.judge],
                               template=summary.choice())
            result.leaderboards[summary.judge] = build_leaderboard([rd.path], instructions=gen.instructions,
                                                                   settings=options)
        return result


def _dry_run(settings: RunSettings) -> PipelineResult:
    from justeval.generation import generate
    from justeval.instructions import load_selection
    from justeval.judging.run import judge_many
    from justeval.records import Generation

    rd = RunDir(settings.out)
    gen = settings.generate
    items = load_selection(gen.instructions, gen.selection)
    generation = generate(gen, rd.path, instructions=items, dry_run=True)
    done = {i for i, g in rd.latest_generations().items() if g.status == "ok"}
    longest = " ".join(["answer"] * (gen.params.max_tokens or 0))  # about one token a word
    planned = [Generation(id=i.id, instruction=i.instruction, output=longest, generator=gen.generator_name,
                          dataset=i.dataset, category=i.category) for i in items if i.id not in done]
    judging = judge_many(rd.path, settings.judging, dry_run=True, planned=planned)
    return PipelineResult(run_dir=rd.path, items=len(items), generation=generation, judging=judging)
