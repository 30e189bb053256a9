"""`justeval run`: the whole pipeline in one repeatable command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from justeval.cli.app import app
from justeval.cli.options import (
    BatchFallbackOpt,
    BatchOpt,
    BreakerOpt,
    ContextTokensOpt,
    DatasetOpt,
    DifficultyOpt,
    IclFormatOpt,
    IclPositionOpt,
    IdsOpt,
    InstructionsOpt,
    LeakThresholdOpt,
    LimitOpt,
    MaxRetryAfterOpt,
    NoRepeatNgramOpt,
    ParamOpt,
    RepetitionPenaltyOpt,
    SampleOpt,
    TaskOpt,
    TokenizerOpt,
    TopicOpt,
    TopKOpt,
    TotalConcurrencyOpt,
    UrialCleanOpt,
    UrialFormatOpt,
    WaitOpt,
    command_line,
)

G = "Generation"
J = "Judging"
E = "Engine"


@app.command("run")
def run(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="model to evaluate, e.g. openai:gpt-4o-mini",
                                              rich_help_panel=G)] = None,
    judge: Annotated[list[str] | None, typer.Option("--judge", help="judge model (repeatable)",
                                                    rich_help_panel=J)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="run directory")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML/JSON options, or a run.json to repeat")] = None,
    instructions: InstructionsOpt = None,
    subset: Annotated[str | None, typer.Option("--subset", help="regular | safety | lite | all",
                                               rich_help_panel="Instruction selection")] = None,
    dataset: DatasetOpt = None,
    task: TaskOpt = None,
    topic: TopicOpt = None,
    difficulty: DifficultyOpt = None,
    ids: IdsOpt = None,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    seed: Annotated[int | None, typer.Option("--seed", help="seed for sampling and bootstrap")] = None,
    base_url: Annotated[list[str] | None, typer.Option(
        "--base-url", help="OpenAI-compatible server(s) of the model (repeat or comma list for replicas)",
        rich_help_panel=G)] = None,
    api_key_env: Annotated[str | None, typer.Option("--api-key-env", help="env var holding the model's key",
                                                    rich_help_panel=G)] = None,
    completion: Annotated[bool | None, typer.Option("--completion/--chat", help="completions endpoint",
                                                    rich_help_panel=G)] = None,
    generator: Annotated[str | None, typer.Option("--generator", help="name shown for the model",
                                                  rich_help_panel=G)] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", rich_help_panel=G)] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", rich_help_panel=G)] = None,
    top_p: Annotated[float | None, typer.Option("--top-p", rich_help_panel=G)] = None,
    system: Annotated[str | None, typer.Option("--system", help="system message", rich_help_panel=G)] = None,
    urial: Annotated[str | None, typer.Option(
        "--urial", help="URIAL prompting for base models: a prompt file or URL (upstream's, e.g. "
        ".../urial_prompts/inst_1k_v4.help.txt), or 'default': justeval's own prompt, not one of URIAL's",
        rich_help_panel=G)] = None,
    icl_examples: Annotated[str | None, typer.Option("--icl-examples", rich_help_panel=G)] = None,
    shots: Annotated[int | None, typer.Option("--shots", rich_help_panel=G)] = None,
    select: Annotated[str | None, typer.Option("--select", help="fixed | random | random-fixed | similar",
                                               rich_help_panel=G)] = None,
    repetition_penalty: RepetitionPenaltyOpt = None,
    top_k: TopKOpt = None,
    no_repeat_ngram_size: NoRepeatNgramOpt = None,
    param: ParamOpt = None,
    urial_format: UrialFormatOpt = None,
    urial_clean: UrialCleanOpt = None,
    icl_position: IclPositionOpt = None,
    icl_format: IclFormatOpt = None,
    context_tokens: ContextTokensOpt = None,
    tokenizer: TokenizerOpt = None,
    leak_threshold: LeakThresholdOpt = None,
    judge_base_url: Annotated[list[str] | None, typer.Option(
        "--judge-base-url", help="the judge's OpenAI-compatible server(s) (repeat or comma list for replicas)",
        rich_help_panel=J)] = None,
    judge_api_key_env: Annotated[str | None, typer.Option("--judge-api-key-env", rich_help_panel=J)] = None,
    template_multi: Annotated[str | None, typer.Option("--template-multi", rich_help_panel=J)] = None,
    template_safety: Annotated[str | None, typer.Option("--template-safety", rich_help_panel=J)] = None,
    judge_system: Annotated[str | None, typer.Option("--judge-system", rich_help_panel=J)] = None,
    max_words: Annotated[int | None, typer.Option("--max-words", rich_help_panel=J)] = None,
    judge_temperature: Annotated[float | None, typer.Option("--judge-temperature", help="default 0",
                                                            rich_help_panel=J)] = None,
    judge_max_tokens: Annotated[int | None, typer.Option("--judge-max-tokens", min=1, help="default 1024",
                                                         rich_help_panel=J)] = None,
    judge_repeats: Annotated[int | None, typer.Option("--judge-repeats", min=1, help="score each item this many "
                                                      "times (judge stability); default 1", rich_help_panel=J)] = None,
    parse_retries: Annotated[int | None, typer.Option("--parse-retries", rich_help_panel=J)] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="stop judging at this many USD",
                                                 rich_help_panel=J)] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", rich_help_panel=E)] = None,
    rpm: Annotated[float | None, typer.Option("--rpm", rich_help_panel=E)] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", rich_help_panel=E)] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", rich_help_panel=E)] = None,
    max_retries: Annotated[int | None, typer.Option("--max-retries", rich_help_panel=E)] = None,
    cache: Annotated[bool | None, typer.Option("--cache/--no-cache", rich_help_panel=E)] = None,
    cache_dir: Annotated[str | None, typer.Option("--cache-dir", rich_help_panel=E)] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", rich_help_panel=E)] = None,
    total_concurrency: TotalConcurrencyOpt = None,
    breaker: BreakerOpt = None,
    max_retry_after: MaxRetryAfterOpt = None,
    batch: BatchOpt = None,
    wait: WaitOpt = None,
    batch_fallback: BatchFallbackOpt = None,
    bootstrap: Annotated[int | None, typer.Option("--bootstrap", rich_help_panel="Leaderboard")] = None,
    na_as: Annotated[float | None, typer.Option("--na-as", rich_help_panel="Leaderboard")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print each stage's calls, tokens and cost (answers "
                                          "not made yet counted at --max-tokens); call nothing")] = False,
) -> None:
    """Instructions -> generation -> judging -> leaderboard, resumable, in one command."""
    given = {name: value for name, value in locals().items()
             if name not in ("config", "ctx", "dry_run")}  # None = not given
    from justeval.board.render import rich_renderable
    from justeval.console import console as make_console
    from justeval.generation.report import print_generate_summary
    from justeval.judging.report import print_summaries
    from justeval.pipeline import resolve_run_settings, run_pipeline

    if given.get("out") is not None:
        given["out"] = str(given["out"])
    settings, foreign = resolve_run_settings(config, given)
    if foreign:
        from justeval.pipeline.trust import describe

        notes = make_console(stderr=True)
        notes.print(f"[yellow]note:[/] {config} was not written by a run on this machine; it will use:", soft_wrap=True)
        for line in describe(settings):
            notes.print(f"  {line}", soft_wrap=True, markup=False)
    if dry_run:
        result = run_pipeline(settings, dry_run=True)
        print_generate_summary(result.generation)
        print_summaries(result.judging, dry_run=True)
        return
    result = run_pipeline(settings, command=command_line(ctx))
    notes = make_console(stderr=True)  # what each stage did and spent, apart from the table on stdout
    print_generate_summary(result.generation, console=notes)
    if result.judging:
        print_summaries(result.judging, dry_run=False, console=notes)
    result.generation.engine.raise_for_stop()  # a dead server: its reason, exit 1
    for judged in result.judging:
        judged.engine.raise_for_stop()
    if result.stopped_after is not None:
        notes.print(f"[red]stopped:[/] no usable {result.stopped_after} (every call failed, see above); "
                    "fix the cause and run the same command again")
        raise typer.Exit(1)
    console = make_console()
    several = len(result.leaderboards) > 1
    for name, built in result.leaderboards.items():
        console.print(rich_renderable(built.board, title=f"Leaderboard (judge {name})" if several else "Leaderboard"))
    print(f"run directory: {result.run_dir}", file=sys.stderr)
