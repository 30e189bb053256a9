"""`justeval generate` (model outputs for an instruction set) and `justeval import` (outputs
made elsewhere) - both fill a run directory's `generations.jsonl`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from justeval.cli.app import app
from justeval.cli.options import (
    ApiKeyEnvOpt,
    BaseUrlsOpt,
    BatchFallbackOpt,
    BatchOpt,
    BreakerOpt,
    CacheDirOpt,
    ConcurrencyOpt,
    ContextTokensOpt,
    DatasetOpt,
    DifficultyOpt,
    IclFormatOpt,
    IclPositionOpt,
    IdsOpt,
    InstructionsOpt,
    LeakThresholdOpt,
    LimitOpt,
    MaxRetriesOpt,
    MaxRetryAfterOpt,
    NoCacheOpt,
    NoProgressOpt,
    NoRepeatNgramOpt,
    ParamOpt,
    RepetitionPenaltyOpt,
    RpmOpt,
    SampleOpt,
    SubsetOpt,
    TaskOpt,
    TimeoutOpt,
    TokenizerOpt,
    TopicOpt,
    TopKOpt,
    TotalConcurrencyOpt,
    TpmOpt,
    UrialCleanOpt,
    UrialFormatOpt,
    WaitOpt,
    command_line,
    engine_flags,
)

ENGINE = "Engine"
PROMPT = "Prompt"
DECODING = "Decoding"


@app.command("generate")
def generate(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help="model spec KIND:MODEL, e.g. openai:gpt-4o, "
                                       "litellm:anthropic/claude-3-5-sonnet-20241022, hf:./my-model")],
    out: Annotated[Path, typer.Option("--out", help="run directory (created; re-run to resume)")],
    instructions: InstructionsOpt = None,
    subset: SubsetOpt = "all",
    dataset: DatasetOpt = None,
    task: TaskOpt = None,
    topic: TopicOpt = None,
    difficulty: DifficultyOpt = None,
    ids: IdsOpt = None,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    seed: Annotated[int | None, typer.Option("--seed", help="seed for --sample and --select random "
                                             "(default 0), also sent to the model when given")] = None,
    generator: Annotated[str | None, typer.Option("--generator", help="name written in each record "
                                                  "(default: the model spec)")] = None,
    base_url: BaseUrlsOpt = None,
    total_concurrency: TotalConcurrencyOpt = None,
    breaker: BreakerOpt = None,
    max_retry_after: MaxRetryAfterOpt = None,
    batch: BatchOpt = None,
    wait: WaitOpt = None,
    batch_fallback: BatchFallbackOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    completion: Annotated[bool, typer.Option("--completion", help="use the text-completions endpoint "
                                             "(base models)", rich_help_panel=ENGINE)] = False,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
    budget: Annotated[float | None, typer.Option("--budget", help="stop sending calls once this many USD are "
                                                 "spent", rich_help_panel=ENGINE)] = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    temperature: Annotated[float, typer.Option("--temperature", rich_help_panel=DECODING)] = 0.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, rich_help_panel=DECODING)] = 2048,
    top_p: Annotated[float | None, typer.Option("--top-p", rich_help_panel=DECODING)] = None,
    system: Annotated[str | None, typer.Option("--system", help="system message (chat), or the preamble of "
                                               "--icl-examples prompts", rich_help_panel=PROMPT)] = None,
    urial: Annotated[str | None, typer.Option(
        "--urial", help="URIAL prompting for base models: a prompt file or URL (upstream's, e.g. "
        ".../urial_prompts/inst_1k_v4.help.txt), or 'default': justeval's own prompt, not one of URIAL's",
        rich_help_panel=PROMPT)] = None,
    icl_examples: Annotated[Path | None, typer.Option("--icl-examples", help="jsonl of {instruction, output}: "
                                                      "in-context examples", rich_help_panel=PROMPT)] = None,
    shots: Annotated[int | None, typer.Option("--shots", min=0, help="examples per query (default: 3)",
                                              rich_help_panel=PROMPT)] = None,
    select: Annotated[str, typer.Option("--select", help="fixed | random (per item) | random-fixed (one random set "
                                        "for all) | similar (BM25)", rich_help_panel=PROMPT)] = "fixed",
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
    no_progress: NoProgressOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print calls, tokens and the most it can cost; call "
                                          "nothing")] = False,
) -> None:
    """Generate one output per instruction into RUN_DIR/generations.jsonl (resumable: run the
    same command again to continue; failed items are retried)."""
    flags = engine_flags({name: value for name, value in locals().items() if name not in ("ctx", "out", "dry_run")})
    from justeval.generation import generate as run_generate
    from justeval.generation.report import print_generate_summary
    from justeval.pipeline.flags import generate_from_flags

    flags.update(model_seed=seed, seed=seed or 0, icl_examples=str(icl_examples) if icl_examples else None)
    summary = run_generate(generate_from_flags(None, flags), out, command=command_line(ctx), dry_run=dry_run)
    print_generate_summary(summary)
    summary.engine.raise_for_stop()  # the reason, exit 1: what finished is saved
    if summary.nothing_usable:
        raise typer.Exit(1)  # nothing usable at all: a chained `&& justeval judge` should not go on


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="outputs: just-eval JSON list or JSONL, or AlpacaEval "
                                         "model_outputs.json")],
    out: Annotated[Path, typer.Option("--out", help="run directory to create")],
    generator: Annotated[str | None, typer.Option("--generator", help="generator name (default: the records' "
                                                  "`generator`, else the file name)")] = None,
    instructions: InstructionsOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an existing generations.jsonl")] = False,
) -> None:
    """Wrap outputs made elsewhere into a run directory so they can be judged; every record is
    matched to the instruction set (by id, else by instruction text)."""
    from rich.console import Console

    from justeval.generation import import_outputs
    from justeval.instructions import DEFAULT_SOURCE, load_instructions
    from justeval.instructions.load import chosen_source
    from justeval.paths import local_path

    items = load_instructions(instructions)
    summary = import_outputs(file, out, items, generator=generator, overwrite=overwrite, command=command_line(ctx),
                             instructions_source=local_path(chosen_source(instructions)) or DEFAULT_SOURCE)
    Console().print(f"imported {summary.records} outputs of {summary.generator} ({summary.file_format}) "
                    f"into {summary.path}")


@app.command("export")
def export_cmd(
    run_dir: Annotated[Path, typer.Argument(help="run directory holding generations.jsonl")],
    out: Annotated[Path, typer.Option("--out", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", help="just-eval (a JSON list, as the original just-eval scripts "
                                     "read) | alpaca-eval (model_outputs.json) | jsonl")] = "just-eval",
    alpaca_eval_set: Annotated[str | None, typer.Option("--alpaca-eval-set", help="AlpacaEval's alpaca_eval.json "
                                                        "(file or URL; default: fetched from its public home), "
                                                        "for --format alpaca-eval")] = None,
) -> None:
    """Write a run's outputs (the latest ok one per item) for other tools: every item in id
    order, or for alpaca-eval the AlpacaEval items, once each, in AlpacaEval's order."""
    from justeval.generation import export_outputs

    summary = export_outputs(run_dir, out, fmt, alpaca_eval_set_source=alpaca_eval_set)
    note = f"; {summary.left_out} item(s) without an ok output left out" if summary.left_out else ""
    if summary.not_in_benchmark:
        note += f"; {summary.not_in_benchmark} item(s) not in AlpacaEval left out"
    if summary.benchmark_missing:
        note += f"; {summary.benchmark_missing} AlpacaEval item(s) have no output in this run"
    typer.echo(f"wrote {summary.written} outputs to {summary.path}{note}", err=True)
