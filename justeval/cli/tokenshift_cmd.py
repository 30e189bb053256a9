"""`justeval token-shift RUN_DIR... --base SPEC`: how far a run's outputs are from what the base
model would have said itself, token by token (the URIAL paper's token distribution shift)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from justeval.cli.app import app
from justeval.cli.options import (
    ApiKeyEnvOpt,
    BaseUrlOpt,
    CacheDirOpt,
    ConcurrencyOpt,
    DatasetOpt,
    DifficultyOpt,
    IdsOpt,
    LimitOpt,
    MaxRetriesOpt,
    NoCacheOpt,
    NoProgressOpt,
    RpmOpt,
    SampleOpt,
    SeedOpt,
    SubsetOpt,
    TaskOpt,
    TimeoutOpt,
    TopicOpt,
    TpmOpt,
    engine_config,
)

ENGINE = "Engine"
ANALYSIS = "Analysis"
LOCAL = "Local model (hf:)"


@app.command("token-shift")
def token_shift_cmd(
    run_dirs: Annotated[list[Path], typer.Argument(help="run directories holding generations.jsonl (several: "
                                                   "shown side by side)")],
    base: Annotated[str, typer.Option("--base", help="the base model: hf:PATH_OR_REPO, or openai:MODEL on a "
                                      "completions server that returns prompt logprobs (--base-url; vLLM)",
                                      rich_help_panel=ANALYSIS)],
    aligned: Annotated[str | None, typer.Option("--aligned", help="the aligned model: measure its own top-1 at each "
                                                "position instead of the output's token (as AlignTDS does)",
                                                rich_help_panel=ANALYSIS)] = None,
    template: Annotated[str, typer.Option("--template", help="how the base model sees the instruction: urial "
                                          "(# Query: / # Answer:), plain, or a FILE with {instruction}",
                                          rich_help_panel=ANALYSIS)] = "urial",
    aligned_template: Annotated[str, typer.Option("--aligned-template", help="how the aligned model sees it: chat "
                                                  "(its chat template), urial, plain or a FILE",
                                                  rich_help_panel=ANALYSIS)] = "chat",
    top_k: Annotated[int, typer.Option("--top-k", help="alternatives per position (3-100); a token "
                                       "outside them is shifted", rich_help_panel=ANALYSIS)] = 10,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="HF tokenizer that splits the texts (default: "
                                                  "the base model's; with a server, the served model's)",
                                                  rich_help_panel=ANALYSIS)] = None,
    aligned_tokenizer: Annotated[str | None, typer.Option("--aligned-tokenizer", help="HF tokenizer of --aligned, "
                                                          "for its chat template (default: its model's)",
                                                          rich_help_panel=ANALYSIS)] = None,
    prompt_logprobs: Annotated[bool, typer.Option("--prompt-logprobs", help="server: ask for vLLM's prompt_logprobs "
                                                  "(exact ranks and token ids) besides echo",
                                                  rich_help_panel=ANALYSIS)] = False,
    instructions: Annotated[str | None, typer.Option("--instructions", help="instruction set whose tags (task types) "
                                                     "group the report (default: the one run.json records)",
                                                     rich_help_panel=ANALYSIS)] = None,
    subset: SubsetOpt = "all",
    dataset: DatasetOpt = None,
    task: TaskOpt = None,
    topic: TopicOpt = None,
    difficulty: DifficultyOpt = None,
    ids: IdsOpt = None,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    seed: SeedOpt = 0,
    out: Annotated[Path | None, typer.Option("--out", help="write token_shift.jsonl here instead of into each run "
                                             "directory (several runs: OUT/<run name>/)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
    device: Annotated[str | None, typer.Option("--device", help="torch device (default cuda if available)",
                                               rich_help_panel=LOCAL)] = None,
    dtype: Annotated[str | None, typer.Option("--dtype", help="torch dtype of the weights, e.g. bfloat16 (default "
                                              "float32)", rich_help_panel=LOCAL)] = None,
    batch_tokens: Annotated[int, typer.Option("--batch-tokens", help="padded tokens per forward pass at most",
                                              rich_help_panel=LOCAL)] = 8192,
    base_url: BaseUrlOpt = None,
    aligned_base_url: Annotated[str | None, typer.Option("--aligned-base-url", help="server of --aligned (default: "
                                                         "--base-url)", rich_help_panel=ENGINE)] = None,
    api_key_env: ApiKeyEnvOpt = None,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
    budget: Annotated[float | None, typer.Option("--budget", help="stop sending calls once this many USD are spent",
                                                 rich_help_panel=ENGINE)] = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    no_progress: NoProgressOpt = False,
) -> None:
    """Rank each output token under the base model: the shares of unshifted (rank 1), marginal
    (rank 2-3) and shifted tokens, the most shifted tokens, and where they are (resumable)."""
    from justeval.console import console
    from justeval.engine.backend_spec import BackendSpec
    from justeval.instructions.select import Selection
    from justeval.tokenshift import TokenShiftSettings, print_progress, print_report, shift_report, token_shift

    config = engine_config(concurrency=concurrency, rpm=rpm, tpm=tpm, max_retries=max_retries, timeout=timeout,
                           no_cache=no_cache, cache_dir=cache_dir, budget=budget, no_progress=no_progress,
                           description="token-shift")
    server = {"api_key_env": api_key_env, "endpoint": "completions"}
    settings = TokenShiftSettings(
        base=BackendSpec(spec=base, base_urls=base_url, **server),
        aligned=BackendSpec(spec=aligned, base_urls=aligned_base_url or base_url, **server) if aligned else None,
        template=template, aligned_template=aligned_template, top_k=top_k, tokenizer=tokenizer,
        aligned_tokenizer=aligned_tokenizer,
        prompt_logprobs=prompt_logprobs, device=device, dtype=dtype, batch_tokens=batch_tokens,
        instructions=instructions, out=out, engine=config,
        selection=Selection(subset=subset, datasets=dataset, tasks=task, topics=topic, difficulties=difficulty,
                            ids=ids, limit=limit, sample=sample, seed=seed))
    results = token_shift(run_dirs, settings)
    report = shift_report(results)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
    else:
        print_report(report)
    print_progress(results, console=console(stderr=as_json))
    if any(r.errors for r in results) and not any(r.ok or r.already_done for r in results):
        raise typer.Exit(1)  # every output failed: nothing was analysed
