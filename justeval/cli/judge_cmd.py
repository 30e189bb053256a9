"""`justeval judge RUN_DIR --judge SPEC`: score a run's outputs with one or more LLM judges."""

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
    DatasetOpt,
    DifficultyOpt,
    IdsOpt,
    LimitOpt,
    MaxRetriesOpt,
    MaxRetryAfterOpt,
    NoCacheOpt,
    NoProgressOpt,
    RpmOpt,
    SampleOpt,
    SeedOpt,
    SubsetOpt,
    TaskOpt,
    TimeoutOpt,
    TopicOpt,
    TotalConcurrencyOpt,
    TpmOpt,
    WaitOpt,
    command_line,
    engine_flags,
)

ENGINE = "Engine"
TEMPLATES = "Templates"


@app.command("judge")
def judge(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="run directory holding generations.jsonl")],
    judge: Annotated[list[str], typer.Option("--judge", help="judge model spec KIND:MODEL (repeat for several "
                                             "judges, each written to judgments/<judge>.jsonl)")],
    base_url: BaseUrlsOpt = None,
    total_concurrency: TotalConcurrencyOpt = None,
    breaker: BreakerOpt = None,
    max_retry_after: MaxRetryAfterOpt = None,
    batch: BatchOpt = None,
    wait: WaitOpt = None,
    batch_fallback: BatchFallbackOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
    template_multi: Annotated[str | None, typer.Option(
        "--template-multi", help="template for regular items: built-in name, .j2 path, or path/URL of an upstream "
        "string.Template file (default: score_multi)", rich_help_panel=TEMPLATES)] = None,
    template_safety: Annotated[str | None, typer.Option(
        "--template-safety", help="template for safety items, same forms (default: score_safety)",
        rich_help_panel=TEMPLATES)] = None,
    judge_system: Annotated[str | None, typer.Option(
        "--judge-system", help="system message for the judge (default: none; with an upstream template, the "
        "original's)", rich_help_panel=TEMPLATES)] = None,
    max_words: Annotated[int, typer.Option("--max-words", help="truncate candidates to their first N words "
                                           "(-1: no truncation)", rich_help_panel=TEMPLATES)] = -1,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 1024,
    parse_retries: Annotated[int, typer.Option("--parse-retries", min=0, help="repeat a call whose reply cannot "
                                               "be parsed this many times")] = 2,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="score each item this many times (judge "
                                         "stability: the leaderboard shows the spread and widens the CI); each "
                                         "repeat is its own call, even at temperature 0")] = 1,
    retry_parse_errors: Annotated[bool, typer.Option("--retry-parse-errors", help="judge again the items "
                                                     "recorded as parse_error")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print calls, tokens and cost; call nothing")] = False,
    budget: Annotated[float | None, typer.Option("--budget", help="stop sending calls once this many USD are "
                                                 "spent (all judges together)")] = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    no_progress: NoProgressOpt = False,
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
    """Score every ok output in RUN_DIR with an LLM judge (resumable; re-run to continue)."""
    flags = engine_flags({name: value for name, value in locals().items()
                          if name not in ("ctx", "run_dir", "judge", "retry_parse_errors", "dry_run")})
    from justeval.judging.report import print_summaries, warn_unpriced
    from justeval.judging.run import judge_many
    from justeval.pipeline.flags import judge_from_flags

    judges = [judge_from_flags(None, spec, flags) for spec in dict.fromkeys(judge)]
    if budget is not None and not dry_run:
        warn_unpriced([j.judge for j in judges])
    summaries = judge_many(run_dir, judges, dry_run=dry_run, retry_parse_errors=retry_parse_errors,
                           command=command_line(ctx))
    print_summaries(summaries, dry_run=dry_run)
    for s in summaries:
        s.engine.raise_for_stop()  # the reason, exit 1: what finished is saved
    if summaries and all(s.nothing_usable for s in summaries):
        raise typer.Exit(1)  # every call failed: nothing was judged
