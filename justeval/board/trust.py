"""What a board says about how far its scores can be trusted, added while it is built: a
panel of several judges and their agreement (`panel`), rows judged by their own model family
(`family`), and the judge measured against people (`judge_section`). `build_leaderboard`
calls these hooks; the renderers show what they leave on the `Leaderboard`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from justeval.board.family import SELF_MARK, own_judges, row_judges
from justeval.board.loading import ModelItems, ModelRun, build_items
from justeval.board.panel import PanelCollector, check_method, panel_items
from justeval.board.tables import Leaderboard, Settings

if TYPE_CHECKING:  # the validity package (and what it imports) loads only with --judge-eval
    from justeval.validity.records import JudgeEvalReport

ItemsMaker = Callable[..., ModelItems]
Reports = list[tuple[str, list["JudgeEvalReport"]]]


class PanelMaker:
    """`build_items` for a panel: each model's judges combined, their scores kept for alpha."""

    def __init__(self, method: str) -> None:
        check_method(method)
        self.collector = PanelCollector(method)

    def __call__(self, run: ModelRun, **kw: Any) -> ModelItems:
        return panel_items(run, self.collector, **kw)


def items_maker(settings: Settings) -> ItemsMaker:
    return build_items if settings.panel is None else PanelMaker(settings.panel)


def load_judge_eval(dirs: Sequence[str | Path]) -> Reports | None:
    if not dirs:
        return None
    from justeval.board.judge_section import load_reports

    return load_reports(dirs)


def generator_of(run: ModelRun) -> str:
    """The generator name the records give (a board row may carry its folder name too)."""
    if run.generations:
        return run.generations[0].generator
    return run.judgments[0].generator if run.judgments else run.name


def finish(board: Leaderboard, make: ItemsMaker, generators: Mapping[str, str], reports: Reports | None) -> None:
    if isinstance(make, PanelMaker):
        board.panel = make.collector.summary(board.aspects)
        board.notes.append(board.panel.line())
    flagged = []
    for row in board.rows:
        row.self_preference = own_judges(generators.get(row.model, row.model), row_judges(row))
        if row.self_preference:
            flagged.append(f"{row.model} by {', '.join(row.self_preference)}")
    if flagged:
        board.notes.append(f"{SELF_MARK} self-preference: judged by a judge of its own model family ("
                           f"{'; '.join(flagged)}); judges tend to rate their own outputs higher, so read these "
                           "scores and ranks with care.")
    if reports is not None:
        from justeval.board.judge_section import judge_section

        board.judge_eval = judge_section(reports, {j for r in board.rows for j in row_judges(r)})
