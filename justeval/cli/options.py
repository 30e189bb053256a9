"""Options shared by every command that takes instructions, defined once.

Use them as parameter annotations, then call `selection_from_options(...)`:

    def cmd(instructions: InstructionsOpt = None, subset: SubsetOpt = "all", ...):
        sel = Selection(subset=subset, ...)
"""

from __future__ import annotations

from typing import Annotated

import typer

PANEL = "Instruction selection"

InstructionsOpt = Annotated[
    str | None,
    typer.Option("--instructions", help="HF dataset id or local .jsonl/.json/.csv/.parquet file or folder "
                 "(default: the hub dataset re-align/just-eval-instruct)", rich_help_panel=PANEL),
]
SubsetOpt = Annotated[str, typer.Option("--subset", help="regular | safety | lite | all",
                                        rich_help_panel=PANEL)]
DatasetOpt = Annotated[list[str] | None, typer.Option("--dataset", help="keep these datasets "
                                                      "(repeatable or comma-separated)", rich_help_panel=PANEL)]
TaskOpt = Annotated[list[str] | None, typer.Option("--task", help="keep items with this task type",
                                                   rich_help_panel=PANEL)]
TopicOpt = Annotated[list[str] | None, typer.Option("--topic", help="keep items with this topic",
                                                    rich_help_panel=PANEL)]
DifficultyOpt = Annotated[list[str] | None, typer.Option("--difficulty", help="easy | medium | hard",
                                                         rich_help_panel=PANEL)]
IdsOpt = Annotated[str | None, typer.Option("--ids", help="ids and ranges, e.g. 0-99,800,805",
                                            rich_help_panel=PANEL)]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="first N items after filtering",
                                              rich_help_panel=PANEL)]
SampleOpt = Annotated[int | None, typer.Option("--sample", help="random N items after filtering",
                                               rich_help_panel=PANEL)]
SeedOpt = Annotated[int, typer.Option("--seed", help="seed for --sample", rich_help_panel=PANEL)]
