"""`justeval leaderboard`, `justeval compare` and `justeval publish`: judgments on disk ->
tables, paired differences and the static page. Nothing here calls a model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from justeval.cli.app import app
from justeval.cli.options import InstructionsOpt

if TYPE_CHECKING:
    from justeval.board.build import Built
    from justeval.board.tables import Settings

FORMATS = ("table", "md", "csv", "json", "html")
BY = ("aspect", "task", "topic", "dataset", "difficulty")

RunDirsArg = Annotated[list[Path] | None, typer.Argument(help="run directories (generations.jsonl + judgments), "
                                                         "or `justeval sweep` folders (all their configurations)",
                                                         show_default=False)]
JudgeOpt = Annotated[list[str] | None, typer.Option("--judge", help="use only this judge's judgments "
                                                    "(repeatable; default: all, which must not overlap)")]
TemplateOpt = Annotated[list[str] | None, typer.Option("--template", help="use only the judgings with this "
                                                       "template: its name, hash or the judging's identity "
                                                       "(repeatable; needed where a run was judged with several "
                                                       "template sets)")]
UpstreamOpt = Annotated[list[Path] | None, typer.Option("--upstream", help="an original just-eval judgment file "
                                                        "(score_multi / score_safety JSONL); repeatable")]
BootstrapOpt = Annotated[int, typer.Option("--bootstrap", min=0, help="bootstrap resamples for the 95% CIs "
                                           "(0: none)")]
SeedOpt = Annotated[int, typer.Option("--seed", help="seed of the bootstrap")]
NaAsOpt = Annotated[float | None, typer.Option("--na-as",
                                               help="count N/A scores as this value on the 1-5 scale (5 reproduces the "
                                               "original just-eval report); default: exclude and count them")]
SubsetOpt = Annotated[str, typer.Option("--subset", help="lite | regular | safety | all")]
PanelOpt = Annotated[str | None, typer.Option("--panel", help="one board from several judges: per item and aspect "
                                              "the mean | median | majority of their scores, with Krippendorff's "
                                              "alpha between them")]
JudgeEvalOpt = Annotated[list[Path] | None, typer.Option("--judge-eval", help="a `judge-eval --out` folder (or its "
                                                         "report.json): its report becomes the Judge section; "
                                                         "repeatable (reference judges beside yours)")]


def _settings(judge: list[str] | None, subset: str, na_as: float | None, bootstrap: int, seed: int,
              template: list[str] | None = None, panel: str | None = None) -> Settings:
    from justeval.board.tables import Settings

    return Settings(na_as=na_as, bootstrap=bootstrap, seed=seed, subset=subset, judge=list(judge) if judge else None,
                    template=list(template) if template else None, panel=panel)


def _note_skipped(built: Built) -> None:
    for skipped in built.skipped:
        typer.echo(f"note: skipped {skipped.path}: it holds no generations and no judgments (a run that failed "
                   "before its first output?)", err=True)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    from justeval.jsonl import atomic_output

    with atomic_output(out) as fh:
        fh.write(text)
    typer.echo(f"wrote {out}", err=True)


@app.command("leaderboard")
def leaderboard(
    run_dirs: RunDirsArg = None,
    judge: JudgeOpt = None,
    template: TemplateOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table | md | csv | json | html")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
    by: Annotated[list[str] | None, typer.Option("--by", help="aspect | task | topic | dataset | difficulty "
                                                 "(repeatable; task/topic/difficulty need instruction tags)")] = None,
    subset: SubsetOpt = "all",
    na_as: NaAsOpt = None,
    bootstrap: BootstrapOpt = 1000,
    seed: SeedOpt = 0,
    instructions: InstructionsOpt = None,
    upstream: UpstreamOpt = None,
    ci: Annotated[bool, typer.Option("--ci", help="table: show each 95% CI under its mean")] = False,
    panel: PanelOpt = None,
    judge_eval: JudgeEvalOpt = None,
) -> None:
    """Per-model, per-aspect means with 95% bootstrap CIs, counts, breakdowns and diagnostics."""
    from justeval.board.build import build_leaderboard
    from justeval.errors import JustevalError, UsageError

    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    dims = [d.strip() for item in (by or ["aspect"]) for d in item.split(",") if d.strip()]
    bad = [d for d in dims if d not in BY]
    if bad:
        raise UsageError(f"unknown --by {bad[0]!r} (choose from {', '.join(BY)})")
    built = build_leaderboard(run_dirs or [], upstream=upstream or [], by=dims, instructions=instructions,
                              settings=_settings(judge, subset, na_as, bootstrap, seed, template, panel),
                              keep_judgments=False, judge_eval=judge_eval or [])
    _note_skipped(built)
    board = built.board
    sweep = board.sweep if board.sweep is not None and board.sweep.points else None
    if fmt == "json":
        from justeval.board.schema import dumps

        _emit(dumps(board), out)
    elif fmt == "csv":
        from justeval.board.render import csv_files, to_csv

        if out is None:
            if board.breakdowns:
                raise JustevalError("--format csv holds one table: pass --out FILE.csv to get the breakdowns "
                                    "too (written to FILE.<dimension>.csv)")
            _emit(to_csv(board), None)
        else:
            for path, text in csv_files(board, out).items():
                _emit(text, path)
    elif fmt == "md":
        from justeval.board.render import to_markdown

        _emit(to_markdown(board), out)
    elif fmt == "html":
        from justeval.board.publish import render_page
        from justeval.board.sweep_chart import section

        _emit(render_page(board, sections=[section(sweep.points, sweep.notes)] if sweep else []), out)
    elif out is not None:
        from justeval.board.render import to_text

        _emit(to_text(board, ci=ci), out)
    else:
        from justeval.board.render import rich_renderable
        from justeval.console import console

        console(piped_width=240).print(rich_renderable(board, ci=ci))
        if sweep:
            from justeval.board.sweep_chart import rich_table

            console(piped_width=240).print(rich_table(sweep.points, sweep.notes))


@app.command("compare")
def compare(
    run_a: Annotated[Path, typer.Argument(help="run directory of model A")],
    run_b: Annotated[Path, typer.Argument(help="run directory of model B")],
    judge: JudgeOpt = None,
    template: TemplateOpt = None,
    bootstrap: BootstrapOpt = 1000,
    seed: SeedOpt = 0,
    na_as: NaAsOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Paired per-aspect differences A - B on the items both were scored on, with bootstrap CIs."""
    from justeval.board.build import build_leaderboard
    from justeval.board.compare import compare_models
    from justeval.board.compare_render import comparison_json, print_comparison
    from justeval.errors import JustevalError, UsageError

    if fmt not in ("table", "json"):
        raise UsageError(f"unknown --format {fmt!r} (choose from table, json)")
    built = build_leaderboard([run_a, run_b], settings=_settings(judge, "all", na_as, 0, seed, template))
    if len(built.models) != 2:
        names = ", ".join(m.model for m in built.models)
        raise JustevalError(f"compare needs one model in each run directory; found {names}")
    a, b = built.models
    result = compare_models(a, b, built.board.aspects_by_category, na_as=na_as, resamples=bootstrap, seed=seed)
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(comparison_json(result), indent=2, ensure_ascii=False) + "\n")
    else:
        print_comparison(result)


@app.command("publish")
def publish(
    out: Annotated[Path, typer.Option("--out", help="site folder to write (index.html, chart.svg, ...)")],
    run_dirs: RunDirsArg = None,
    judge: JudgeOpt = None,
    template: TemplateOpt = None,
    subset: SubsetOpt = "all",
    na_as: NaAsOpt = None,
    bootstrap: BootstrapOpt = 1000,
    seed: SeedOpt = 0,
    instructions: InstructionsOpt = None,
    upstream: UpstreamOpt = None,
    panel: PanelOpt = None,
    judge_eval: JudgeEvalOpt = None,
    token_shift: Annotated[list[Path] | None, typer.Option(
        "--token-shift", help="token-shift results to show (a token_shift.jsonl, or the --out folder of `justeval "
        "token-shift`; repeatable); those in the run directories are always shown")] = None,
) -> None:
    """Write the static leaderboard site (open index.html from disk or host the folder anywhere)."""
    from justeval.board import sweep_chart
    from justeval.board.build import build_leaderboard
    from justeval.board.publish import publish_site
    from justeval.board.token_shift_page import board_sources, section_maker

    built = build_leaderboard(run_dirs or [], upstream=upstream or [], by=["dataset"], instructions=instructions,
                              settings=_settings(judge, subset, na_as, bootstrap, seed, template, panel),
                              keep_judgments=True, want_tags=True, judge_eval=judge_eval or [])
    _note_skipped(built)
    if built.tags:
        from justeval.board.breakdowns import breakdown

        for dim in ("task", "topic", "difficulty"):
            built.board.breakdowns[dim] = breakdown(built.models, dim, built.board.aspects_by_category,
                                                    built.board.settings, built.tags)
    else:
        typer.echo("note: no instruction tags (pass --instructions): the page has no task, topic or difficulty "
                   "breakdowns", err=True)
    shifts = board_sources(built.board, built.models, token_shift or [])  # a bad --token-shift: before any write
    sections = [sweep_chart.section_maker(), section_maker(sources=shifts)]
    for path in publish_site(built.board, built.models, out, built.tags, sections=sections):
        typer.echo(f"wrote {path}", err=True)
