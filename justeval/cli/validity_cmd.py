"""`justeval judge-eval`: measure a judge against human labels (a thin layer over
`justeval.validity.judge_eval`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from justeval.cli.app import app
from justeval.cli.options import (
    ENGINE,
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
    engine_config,
)

SET = "Labelled set"
JUDGE = "Judge"

# Options the other commands declare inline; here as aliases, with the same names and meaning.
BudgetOpt = Annotated[float | None, typer.Option("--budget", help="stop sending calls once this many USD are "
                                                 "spent (all judges together)", rich_help_panel=ENGINE)]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="print calls, tokens and cost; call nothing",
                                         rich_help_panel=ENGINE)]
ParseRetriesOpt = Annotated[int, typer.Option("--parse-retries", min=0, help="repeat a call whose reply cannot be "
                                              "parsed this many times", rich_help_panel=ENGINE)]


@app.command("judge-eval")
def judge_eval_cmd(
    set_: Annotated[list[str], typer.Option("--set", help="labelled set: pandalm, llmbar-natural, llmbar-adversarial, "
                                            "llmbar-mtbench, llmbar-faireval, llmbar-llmeval2, or a file / folder; "
                                            "with --key, review label file(s)", rich_help_panel=SET)],
    judge: Annotated[list[str] | None, typer.Option("--judge", help="judge model spec KIND:MODEL (repeat for several)",
                                                    rich_help_panel=JUDGE)] = None,
    panel: Annotated[str | None, typer.Option("--panel", help="measure several judges as one: majority | mean",
                                              rich_help_panel=JUDGE)] = None,
    mode: Annotated[str, typer.Option("--mode", help="pairwise (both orders) | absolute (each response scored "
                                      "alone)", rich_help_panel=JUDGE)] = "pairwise",
    template: Annotated[str | None, typer.Option("--template", help="judge template: built-in name, .j2, upstream "
                                                 ".txt or URL [default: pairwise | score_multi]",
                                                 rich_help_panel=JUDGE)] = None,
    aspect: Annotated[str | None, typer.Option("--aspect", help="absolute mode: prefer by this aspect's score "
                                               "[default: mean of all]", rich_help_panel=JUDGE)] = None,
    tie_margin: Annotated[float, typer.Option("--tie-margin", min=0, help="absolute mode: a tie when the scores "
                                              "differ by at most this", rich_help_panel=JUDGE)] = 0.0,
    verdicts: Annotated[list[str] | None, typer.Option("--verdicts", help="report on recorded verdicts (PandaLM, "
                                                       "LLMBar result.json, verdicts.jsonl; path or URL); calls "
                                                       "nothing", rich_help_panel=JUDGE)] = None,
    key: Annotated[Path | None, typer.Option("--key", help="key.json of a review export: --set gives its label "
                                             "files", rich_help_panel=SET)] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="first N pairs", rich_help_panel=SET)] = None,
    sample: Annotated[int | None, typer.Option("--sample", min=1, help="random N pairs", rich_help_panel=SET)] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed of --sample and of the bootstrap",
                                      rich_help_panel=SET)] = 0,
    out: Annotated[Path | None, typer.Option("--out", help="folder for verdicts.jsonl, settings.json and "
                                             "report.json (resumable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="print a Markdown table, one row per judge")] = False,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="bootstrap resamples of the 95% "
                                           "intervals")] = 1000,
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
    parse_retries: ParseRetriesOpt = 2,
    retry_parse_errors: Annotated[bool, typer.Option("--retry-parse-errors", help="ask again for calls recorded "
                                                     "as parse_error", rich_help_panel=ENGINE)] = False,
    temperature: Annotated[float, typer.Option("--temperature", rich_help_panel=JUDGE)] = 0.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, rich_help_panel=JUDGE)] = 1024,
    budget: BudgetOpt = None,
    dry_run: DryRunOpt = False,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    no_progress: NoProgressOpt = False,
) -> None:
    """Measure a judge against human labels: accuracy, consistency, kappas and biases (resumable)."""
    import typer as _typer

    from justeval.engine.backend_spec import BackendSpec
    from justeval.engine.types import GenParams
    from justeval.errors import UsageError
    from justeval.validity import JudgeEvalSettings, judge_eval
    from justeval.validity.run import document_json
    from justeval.validity.tables import markdown_table, print_estimate, print_result

    if mode not in ("pairwise", "absolute"):
        raise UsageError(f"--mode must be pairwise or absolute, not {mode!r}")
    if panel not in (None, "majority", "mean"):
        raise UsageError(f"--panel must be majority or mean, not {panel!r}")
    config = engine_config(concurrency=concurrency, rpm=rpm, tpm=tpm, max_retries=max_retries, timeout=timeout,
                           no_cache=no_cache, cache_dir=cache_dir, budget=budget, parse_retries=parse_retries,
                           no_progress=no_progress, description="judge-eval", total_concurrency=total_concurrency,
                           breaker=breaker, max_retry_after=max_retry_after, batch=bool(batch),
                           wait=wait is not False, batch_fallback=batch_fallback or "batch")
    specs = [BackendSpec(spec=j, base_urls=base_url, api_key_env=api_key_env) for j in dict.fromkeys(judge or [])]
    settings = JudgeEvalSettings(
        set=set_, key=str(key) if key is not None else None, judges=specs, panel=panel,
        verdicts=verdicts or [], mode=mode,
        template=template, aspect=aspect, tie_margin=tie_margin, limit=limit, sample=sample, seed=seed,
        resamples=bootstrap, params=GenParams(temperature=temperature, max_tokens=max_tokens), engine=config,
        retry_parse_errors=retry_parse_errors)
    result = judge_eval(settings, out, dry_run=dry_run)
    if dry_run:
        print_estimate(result.passes)
        return
    if as_json:
        _typer.echo(document_json(result))
    elif markdown:
        _typer.echo(markdown_table(result.reports))
    else:
        print_result(result)
    if result.passes and all(p.errors and not (p.ok or p.parse_errors) for p in result.passes) \
            and not any(r.n for r in result.reports):
        from justeval.redact import redact

        reason = next(p.first_error for p in result.passes if p.first_error)
        _typer.echo(f"error: every call failed ({redact(str(reason))}); nothing was measured", err=True)
        raise _typer.Exit(1)
