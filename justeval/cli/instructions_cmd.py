"""`justeval instructions stats | export | assemble`: look at, save and rebuild the instruction set."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from justeval.cli.app import app
from justeval.cli.options import (
    DatasetOpt,
    DifficultyOpt,
    IdsOpt,
    InstructionsOpt,
    LimitOpt,
    SampleOpt,
    SeedOpt,
    SubsetOpt,
    TaskOpt,
    TopicOpt,
)

instructions_app = typer.Typer(name="instructions", help="The instruction set: counts, export, assembly from sources.",
                               no_args_is_help=True)
app.add_typer(instructions_app, name="instructions")


@instructions_app.command("stats")
def stats(
    instructions: InstructionsOpt = None,
    subset: SubsetOpt = "all",
    dataset: DatasetOpt = None,
    task: TaskOpt = None,
    topic: TopicOpt = None,
    difficulty: DifficultyOpt = None,
    ids: IdsOpt = None,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    seed: SeedOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the counts as one JSON object")] = False,
) -> None:
    """Count the selected items by category, dataset, task type, topic and difficulty."""
    from justeval.instructions import load_selection, selection_from_cli
    from justeval.instructions.stats import instruction_stats, stats_tables

    source, sel = selection_from_cli(instructions, subset, dataset, task, topic, difficulty, ids, limit, sample, seed)
    counts = instruction_stats(load_selection(source, sel))
    if as_json:
        sys.stdout.write(json.dumps(counts, ensure_ascii=False) + "\n")
        return
    from justeval.console import console as make_console

    console = make_console()
    for table in stats_tables(counts):
        console.print(table)


@instructions_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="file to write: .jsonl or .csv")],
    instructions: InstructionsOpt = None,
    subset: SubsetOpt = "all",
    dataset: DatasetOpt = None,
    task: TaskOpt = None,
    topic: TopicOpt = None,
    difficulty: DifficultyOpt = None,
    ids: IdsOpt = None,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Write the selected items to a JSONL or CSV file."""
    from justeval.instructions import load_selection, selection_from_cli
    from justeval.instructions.export import write_instructions

    source, sel = selection_from_cli(instructions, subset, dataset, task, topic, difficulty, ids, limit, sample, seed)
    items = load_selection(source, sel)
    write_instructions(out, items)
    typer.echo(f"wrote {len(items)} instructions to {out}", err=True)


def _source_paths(values: list[str] | None) -> dict[str, Path]:
    from justeval.errors import JustevalError

    out: dict[str, Path] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise JustevalError(f"--source wants NAME=PATH, got {value!r}")
        out[name.strip()] = Path(path.strip())
    return out


@instructions_app.command("assemble")
def assemble_cmd(
    out: Annotated[Path, typer.Option("--out", help="file to write: .jsonl or .csv")],
    recipe: Annotated[Path | None, typer.Option("--recipe", help="recipe YAML [default: the shipped "
                                                "instructions/just-eval.yaml]")] = None,
    source_dir: Annotated[Path | None, typer.Option("--source-dir", help="folder with local copies of the sources "
                                                    "(layout: the recipe's `local` paths)")] = None,
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="NAME=PATH of one source's local copy (repeatable; names as in the recipe, e.g. lima, "
        "red_team)")] = None,
    reference: Annotated[str | None, typer.Option("--reference", help="published set to compare with and take tags "
                                                  "from [default: the recipe's published dataset]")] = None,
    no_reference: Annotated[bool, typer.Option("--no-reference", help="assemble without a published set (no tags, "
                                               "no comparison)")] = False,
    seed: Annotated[int, typer.Option("--seed", help="seed for sources the recipe draws at random")] = 0,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 when an unexpected difference is found")] = False,
) -> None:
    """Build the set from its source datasets as the recipe says, and report how it differs from the published one."""
    from justeval.errors import JustevalError, SourceUnavailableError
    from justeval.instructions.assemble import assemble
    from justeval.instructions.export import write_instructions
    from justeval.instructions.load import load_instructions
    from justeval.instructions.recipe import load_recipe

    rec = load_recipe(recipe)
    ref_source = None if no_reference else (reference or rec.published)
    ref = None
    if ref_source is not None:
        try:
            ref = load_instructions(ref_source)
        except SourceUnavailableError as exc:
            raise SourceUnavailableError(f"cannot load the published set {ref_source!r} to compare with and take "
                                         "tags from: pass --reference with a local copy, or --no-reference") from exc
    result = assemble(rec, source_dir=source_dir, sources=dict(_source_paths(source)), seed=seed, reference=ref)
    write_instructions(out, result.items)
    for line in result.report_lines():
        typer.echo(line, err=True)
    typer.echo(f"wrote {len(result.items)} instructions to {out}", err=True)
    if strict and (result.unexpected or result.missing):
        raise JustevalError(f"{len(result.unexpected)} unexpected difference(s), {len(result.missing)} missing item(s)")
