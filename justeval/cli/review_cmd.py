"""`justeval pairwise`, `justeval export-review`, `justeval import-review`: pairwise LLM judging
and the human-review round trip."""

from __future__ import annotations

import json
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
    MaxRetriesOpt,
    MaxRetryAfterOpt,
    NoCacheOpt,
    NoProgressOpt,
    RpmOpt,
    TimeoutOpt,
    TotalConcurrencyOpt,
    TpmOpt,
    WaitOpt,
    command_line,
    engine_config,
)

ENGINE = "Engine"


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@app.command("pairwise")
def pairwise(
    ctx: typer.Context,
    run_a: Annotated[Path, typer.Argument(help="run directory of model A")],
    run_b: Annotated[Path, typer.Argument(help="run directory of model B")],
    judge: Annotated[str, typer.Option("--judge", help="judge model spec KIND:MODEL")],
    template: Annotated[str | None, typer.Option("--template", help="built-in name or .j2 path "
                                                 "[default: pairwise]")] = None,
    aspects: Annotated[list[str] | None, typer.Option("--aspects", help="also ask for a preference per aspect "
                                                      "(comma-separated or repeated)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="output JSONL [default: RUN_A/pairwise/"
                                             "GEN_A__vs__GEN_B.JUDGE.jsonl]")] = None,
    ids: Annotated[str | None, typer.Option("--ids", help="only these ids, e.g. 0-99,800")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="first N shared items")] = None,
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
    parse_retries: Annotated[int, typer.Option("--parse-retries", min=0, help="repeat a call whose reply cannot "
                                               "be parsed this many times")] = 2,
    retry_parse_errors: Annotated[bool, typer.Option("--retry-parse-errors", help="ask again for orders "
                                                     "recorded as parse_error")] = False,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 1024,
    budget: Annotated[float | None, typer.Option("--budget", help="stop sending calls after this many USD")] = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    no_progress: NoProgressOpt = False,
    seed: Annotated[int, typer.Option("--seed", help="bootstrap seed")] = 0,
) -> None:
    """Compare two runs item by item with an LLM judge, in both orders (resumable)."""
    from justeval.engine.backend_spec import BackendSpec
    from justeval.engine.types import GenParams
    from justeval.review.pairwise import pairwise_run
    from justeval.review.pairwise_report import print_pairwise
    from justeval.settings import PairwiseSettings

    settings = PairwiseSettings(
        judge=BackendSpec(spec=judge, base_urls=base_url, api_key_env=api_key_env), template=template,
        aspects=aspects or [], params=GenParams(temperature=temperature, max_tokens=max_tokens),
        engine=engine_config(concurrency=concurrency, rpm=rpm, tpm=tpm, max_retries=max_retries, timeout=timeout,
                             no_cache=no_cache, cache_dir=cache_dir, budget=budget, parse_retries=parse_retries,
                             no_progress=no_progress, total_concurrency=total_concurrency, breaker=breaker,
                             max_retry_after=max_retry_after, batch=bool(batch), wait=wait is not False,
                             batch_fallback=batch_fallback or "batch"),
        ids=ids, limit=limit)
    summary = pairwise_run(run_a, run_b, settings, out=out, retry_parse_errors=retry_parse_errors,
                           command=command_line(ctx))
    print_pairwise(summary, seed=seed)
    summary.engine.raise_for_stop()  # the reason, exit 1: what finished is saved


@app.command("export-review")
def export_review(
    runs: Annotated[list[Path], typer.Argument(help="two or more run directories")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    n: Annotated[int, typer.Option("--n", min=1, help="pairs to sample")],
    seed: Annotated[int, typer.Option("--seed", help="sampling seed (same seed, same files)")] = 0,
    stratify: Annotated[str | None, typer.Option("--stratify", help="category | task | dataset")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv | jsonl | label-studio")] = "csv",
    aspects: Annotated[list[str] | None, typer.Option("--aspects", help="also ask for a preference per aspect")] = None,
    instructions: Annotated[Path | None, typer.Option("--instructions", help="instructions .jsonl with task_types "
                                                      "(for --stratify task)")] = None,
) -> None:
    """Write a blinded sample of output pairs for human labelling, and the key that unblinds it."""
    from justeval.console import console as make_console
    from justeval.review.export import export_review as run_export

    res = run_export(runs, out, n=n, seed=seed, stratify=stratify, fmt=fmt, aspects=_split(aspects),
                     instructions=instructions)
    console = make_console()
    note = "" if res.available >= n else f" (only {res.available} available)"
    console.print(f"{len(res.key.pairs)} pair(s){note} from {len(runs)} run(s); files:")
    for f in res.files:
        console.print(f"  {f}")
    console.print("[yellow]keep key.json away from the annotators[/]: it says which model wrote which side")


@app.command("import-review")
def import_review(
    labels: Annotated[list[Path], typer.Argument(help="label file(s): .csv, .jsonl, or a Label Studio .json export")],
    key: Annotated[Path, typer.Option("--key", help="key.json written by export-review")],
    judge_run: Annotated[list[Path] | None, typer.Option("--judge-run", help="run directory with judgments "
                                                         "(repeatable): preference implied by absolute scores")] = None,
    pairwise_file: Annotated[list[Path] | None, typer.Option("--pairwise", help="pairwise judgment file "
                                                             "(repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    seed: Annotated[int, typer.Option("--seed", help="bootstrap seed")] = 0,
) -> None:
    """Unblind human labels; report human win rates and agreement with the LLM judge and among annotators."""
    from justeval.review.import_report import import_review as run_import

    report = run_import(labels, key, judge_runs=judge_run or [], pairwise=pairwise_file or [], seed=seed)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    from justeval.review.tables import print_import_report

    print_import_report(report)
