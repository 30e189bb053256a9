"""`justeval judge RUN_DIR --judge SPEC`: score a run's outputs with one or more LLM judges."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from justeval.cli.app import app
from justeval.cli.options import (
    ApiKeyEnvOpt,
    BaseUrlOpt,
    CacheDirOpt,
    ConcurrencyOpt,
    MaxRetriesOpt,
    NoCacheOpt,
    NoProgressOpt,
    RpmOpt,
    TimeoutOpt,
    TpmOpt,
    command_line,
    engine_config,
)

ENGINE = "Engine"
TEMPLATES = "Templates"


@app.command("judge")
def judge(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="run directory holding generations.jsonl")],
    judge: Annotated[list[str], typer.Option("--judge", help="judge model spec KIND:MODEL (repeat for several "
                                             "judges, each written to judgments/<judge>.jsonl)")],
    base_url: BaseUrlOpt = None,
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
    retry_parse_errors: Annotated[bool, typer.Option("--retry-parse-errors", help="judge again the items "
                                                     "recorded as parse_error")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print calls, tokens and cost; call nothing")] = False,
    budget: Annotated[float | None, typer.Option("--budget", help="stop sending calls once this many USD are "
                                                 "spent (all judges together)")] = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    no_progress: NoProgressOpt = False,
) -> None:
    """Score every ok output in RUN_DIR with an LLM judge (resumable; re-run to continue)."""
    from justeval.engine.types import GenParams
    from justeval.judging.report import print_summaries, warn_unpriced
    from justeval.judging.run import judge_many

    config = engine_config(concurrency=concurrency, rpm=rpm, tpm=tpm, max_retries=max_retries, timeout=timeout,
                           no_cache=no_cache, cache_dir=cache_dir, budget=budget, parse_retries=parse_retries,
                           no_progress=no_progress, description="judge")
    backend_options = {"base_url": base_url, "api_key_env": api_key_env, "timeout": timeout}
    if budget is not None and not dry_run:
        warn_unpriced(judge, backend_options)
    summaries = judge_many(
        run_dir, list(dict.fromkeys(judge)), template_multi=template_multi, template_safety=template_safety,
        judge_system=judge_system, max_words=max_words,
        params=GenParams(temperature=temperature, max_tokens=max_tokens), engine_config=config,
        backend_options=backend_options, dry_run=dry_run, retry_parse_errors=retry_parse_errors,
        command=command_line(ctx))
    print_summaries(summaries, dry_run=dry_run)
    if any(s.errors for s in summaries) and not any(s.ok or s.parse_errors or s.already_done for s in summaries):
        raise typer.Exit(1)  # every call failed: nothing was judged
