"""`justeval sweep` (score vs K demonstrations) and `justeval icl-select` (greedy selection of
demonstrations): thin callers of `justeval.generation.experiments`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from justeval.cli.app import app
from justeval.cli.options import (
    CacheDirOpt,
    ConcurrencyOpt,
    DatasetOpt,
    IdsOpt,
    InstructionsOpt,
    LimitOpt,
    MaxRetriesOpt,
    NoCacheOpt,
    NoProgressOpt,
    RpmOpt,
    SampleOpt,
    SubsetOpt,
    TimeoutOpt,
    TpmOpt,
    command_line,
    engine_config,
)

if TYPE_CHECKING:
    from justeval.engine.backend_spec import BackendSpec
    from justeval.engine.types import GenParams
    from justeval.generation.experiments import CostPlan

M = "Model"
J = "Judge"
P = "Prompt"
D = "Decoding"

ModelOpt = Annotated[str, typer.Option("--model", help="model spec, e.g. hf:./base-model or openai:NAME",
                                       rich_help_panel=M)]
JudgeOpt = Annotated[str, typer.Option("--judge", help="judge spec, e.g. openai:gpt-4o", rich_help_panel=J)]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server of the model",
                                                rich_help_panel=M)]
ApiKeyEnvOpt = Annotated[str | None, typer.Option("--api-key-env", help="variable holding the model's key",
                                                  rich_help_panel=M)]
CompletionOpt = Annotated[bool, typer.Option("--completion", help="text-completions endpoint (base models)",
                                             rich_help_panel=M)]
JudgeBaseUrlOpt = Annotated[str | None, typer.Option("--judge-base-url", help="OpenAI-compatible server of the judge",
                                                     rich_help_panel=J)]
JudgeKeyOpt = Annotated[str | None, typer.Option("--judge-api-key-env", help="variable holding the judge's key",
                                                 rich_help_panel=J)]
JudgeMaxTokensOpt = Annotated[int | None, typer.Option("--judge-max-tokens", min=1, help="default 1024",
                                                       rich_help_panel=J)]
TemperatureOpt = Annotated[float, typer.Option("--temperature", rich_help_panel=D)]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", min=1, rich_help_panel=D)]
TopPOpt = Annotated[float | None, typer.Option("--top-p", rich_help_panel=D)]
RepetitionOpt = Annotated[float | None, typer.Option("--repetition-penalty", help="URIAL: 1.1 (just-eval), "
                                                     "1.15 (MT-bench)", rich_help_panel=D)]
TopKOpt = Annotated[int | None, typer.Option("--top-k", rich_help_panel=D)]
NoRepeatOpt = Annotated[int | None, typer.Option("--no-repeat-ngram-size", rich_help_panel=D)]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="KEY=VALUE body field for the server "
                                                    "(JSON value), repeatable", rich_help_panel=D)]
BudgetOpt = Annotated[float | None, typer.Option("--budget", help="stop sending calls once this many USD are "
                                                 "spent, over the whole experiment", rich_help_panel="Engine")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="plan the calls and their cost; send nothing")]
CleanOpt = Annotated[str, typer.Option("--urial-clean", help="fences (keep code blocks) | upstream (remove every "
                                       "triple backtick, as URIAL's code)", rich_help_panel=P)]
UrialFormatOpt = Annotated[str, typer.Option("--urial-format", help="auto | backticks | v5 | v6",
                                             rich_help_panel=P)]
PositionOpt = Annotated[str, typer.Option("--icl-position", help="before (the paper's) | after the URIAL "
                                          "prompt's own examples", rich_help_panel=P)]
LeakOpt = Annotated[float, typer.Option("--leak-threshold", help="skip pool examples this similar to a query",
                                        rich_help_panel=P)]


def _spec(model: str, base_url: str | None, api_key_env: str | None, completion: bool = False) -> BackendSpec:
    from justeval.engine.backend_spec import BackendSpec

    return BackendSpec(spec=model, base_urls=base_url, api_key_env=api_key_env,
                       endpoint="completions" if completion else "chat")


def _params(temperature: float, max_tokens: int, top_p: float | None, repetition_penalty: float | None,
            top_k: int | None, no_repeat: int | None, param: list[str] | None) -> GenParams:
    from justeval.engine.types import GenParams
    from justeval.generation.decoding import parse_params

    return GenParams(temperature=temperature, max_tokens=max_tokens, top_p=top_p, repetition_penalty=repetition_penalty,
                     top_k=top_k, no_repeat_ngram_size=no_repeat, extra=parse_params(param))


def _judge_params(max_tokens: int | None) -> GenParams | None:
    from justeval.engine.types import GenParams

    return GenParams(temperature=0.0, max_tokens=max_tokens) if max_tokens else None


def _print_plan(plan: CostPlan) -> None:
    from justeval.console import console

    def usd(value: float | None) -> str:
        return "unknown" if value is None else f"${value:,.4f}"

    console().print(f"dry run: {plan.generation_calls} generation call(s), at most {usd(plan.generation_cost_usd)}; "
                    f"{plan.judge_calls} judge call(s), at most {usd(plan.judge_cost_usd)} "
                    "(answers priced at --max-tokens; resume and the cache only lower it)")


@app.command("sweep")
def sweep_cmd(
    ctx: typer.Context,
    model: ModelOpt,
    judge: JudgeOpt,
    out: Annotated[Path, typer.Option("--out", help="folder: one run directory per configuration, and sweep.json")],
    shots: Annotated[str, typer.Option("--shots", help="K values, comma-separated", rich_help_panel=P)] = "0,3,8,16,50",
    select: Annotated[list[str] | None, typer.Option("--select", help="fixed | random | random-fixed | similar "
                                                     "(repeatable; default random-fixed)", rich_help_panel=P)] = None,
    urial: Annotated[str | None, typer.Option("--urial", help="URIAL prompt file or URL (or 'default', justeval's "
                                              "own prompt)", rich_help_panel=P)] = None,
    icl_examples: Annotated[Path | None, typer.Option("--icl-examples", help="pool of {instruction, output}",
                                                      rich_help_panel=P)] = None,
    icl_position: PositionOpt = "before",
    icl_format: Annotated[str, typer.Option("--icl-format", help="auto | completion | chat (K-shot as chat turns)",
                                            rich_help_panel=P)] = "auto",
    context_tokens: Annotated[int | None, typer.Option("--context-tokens", min=1, help="drop demonstrations until "
                                                       "prompt + --max-tokens fit", rich_help_panel=P)] = None,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="tokenizer counting prompt tokens (default: "
                                                  "an hf: model's own, else an estimate)", rich_help_panel=P)] = None,
    urial_format: UrialFormatOpt = "auto",
    urial_clean: CleanOpt = "fences",
    leak_threshold: LeakOpt = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="seed of the random selections and of --sample")] = 0,
    generator: Annotated[str | None, typer.Option("--generator", help="base of the generator names")] = None,
    instructions: InstructionsOpt = None,
    subset: SubsetOpt = "all",
    dataset: DatasetOpt = None,
    ids: IdsOpt = None,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    completion: CompletionOpt = False,
    judge_base_url: JudgeBaseUrlOpt = None,
    judge_api_key_env: JudgeKeyOpt = None,
    judge_max_tokens: JudgeMaxTokensOpt = None,
    temperature: TemperatureOpt = 0.0,
    max_tokens: MaxTokensOpt = 2048,
    top_p: TopPOpt = None,
    repetition_penalty: RepetitionOpt = None,
    top_k: TopKOpt = None,
    no_repeat_ngram_size: NoRepeatOpt = None,
    param: ParamOpt = None,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
    budget: BudgetOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    no_progress: NoProgressOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Score vs K demonstrations: one generation + judging per configuration (K x --select) on the
    same instructions, sharing the cache; resumable like every stage."""
    from justeval.console import console
    from justeval.errors import UsageError
    from justeval.generation.experiments import SweepSettings, sweep
    from justeval.generation.prompting import PromptSettings
    from justeval.instructions import load_selection, selection_from_cli

    try:
        ks = [int(k) for k in shots.split(",") if k.strip()]
    except ValueError as exc:
        raise UsageError(f"--shots {shots!r}: expected numbers separated by commas") from exc
    selects = [s.strip() for value in select or ["random-fixed"] for s in value.split(",") if s.strip()]
    settings = SweepSettings(
        model=_spec(model, base_url, api_key_env, completion), judge=_spec(judge, judge_base_url, judge_api_key_env),
        shots=ks, selects=selects,
        prompt=PromptSettings(urial=urial, icl_examples=str(icl_examples) if icl_examples else None, seed=seed,
                              icl_position=icl_position, icl_format=icl_format, context_tokens=context_tokens,
                              tokenizer=tokenizer, urial_format=urial_format, urial_clean=urial_clean,
                              leak_threshold=leak_threshold),
        params=_params(temperature, max_tokens, top_p, repetition_penalty, top_k, no_repeat_ngram_size, param),
        judge_params=_judge_params(judge_max_tokens), generator=generator,
        engine=engine_config(concurrency=concurrency, rpm=rpm, tpm=tpm, max_retries=max_retries, timeout=timeout,
                             no_cache=no_cache, cache_dir=cache_dir, budget=budget, no_progress=no_progress))
    source, sel = selection_from_cli(instructions, subset, dataset, None, None, None, ids, limit, sample, seed)
    items = load_selection(source, sel)
    result = sweep(settings, items, out, dry_run=dry_run, command=command_line(ctx))
    if result.plan is not None:
        _print_plan(result.plan)
        return
    from rich.table import Table

    table = Table(title=f"Sweep: {settings.model.spec} judged by {settings.judge.spec}")
    for col in ("config", "K", "select", "mean", "scored", "run"):
        table.add_column(col, justify="left" if col in ("config", "select", "run") else "right")
    for p in result.points:
        mean = "-" if p.score.mean is None else f"{p.score.mean:.3f}"
        table.add_row(p.name, str(p.shots), p.select or "-", mean, f"{p.score.scored}/{p.score.items}", str(p.run_dir))
    console().print(table)
    console().print(f"points of the score-vs-K chart: {out / 'sweep.json'}")
    console().print(f"the board of every configuration with the chart: justeval publish {out} --out SITE "
                    f"(or justeval leaderboard {out} --format md)", soft_wrap=True, markup=False)


@app.command("icl-select")
def icl_select_cmd(
    ctx: typer.Context,
    model: ModelOpt,
    judge: JudgeOpt,
    pool: Annotated[Path, typer.Option("--pool", help="candidate demonstrations: {instruction, output} JSONL/JSON")],
    start: Annotated[str, typer.Option("--start", help="the prompt to extend: URIAL file, URL or 'default'")],
    dev: Annotated[str, typer.Option("--dev", help="dev instructions (a file or hub id) the candidates are "
                                     "judged on")],
    out: Annotated[Path, typer.Option("--out", help="prompt file to write (for --urial)")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="demonstrations to add, one per step")] = 3,
    candidates: Annotated[int, typer.Option("--candidates", min=1, help="candidates tried per step")] = 10,
    aspect: Annotated[list[str] | None, typer.Option("--aspect", help="aspects whose mean is maximised "
                                                     "(repeatable; default all)")] = None,
    work: Annotated[Path | None, typer.Option("--work", help="folder of the run directories (default "
                                              "OUT.work)")] = None,
    log: Annotated[Path | None, typer.Option("--log", help="JSONL of every score (default OUT_STEM.steps.jsonl)")]
    = None,
    icl_position: PositionOpt = "before",
    urial_format: UrialFormatOpt = "auto",
    urial_clean: CleanOpt = "fences",
    leak_threshold: LeakOpt = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="seed of the candidate draw and of --sample")] = 0,
    ids: IdsOpt = None,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    completion: CompletionOpt = False,
    judge_base_url: JudgeBaseUrlOpt = None,
    judge_api_key_env: JudgeKeyOpt = None,
    judge_max_tokens: JudgeMaxTokensOpt = None,
    temperature: TemperatureOpt = 0.0,
    max_tokens: MaxTokensOpt = 2048,
    top_p: TopPOpt = None,
    repetition_penalty: RepetitionOpt = None,
    top_k: TopKOpt = None,
    no_repeat_ngram_size: NoRepeatOpt = None,
    param: ParamOpt = None,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
    budget: BudgetOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    no_progress: NoProgressOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Greedy selection of demonstrations (arXiv 2405.19874): at each step try every candidate as
    the next demonstration, judge the dev outputs, keep the best; writes the prompt and a log of
    every score. Resumable: the same command again pays for nothing twice."""
    from justeval.console import console
    from justeval.generation.experiments import IclSelectSettings, icl_select
    from justeval.instructions import load_selection, selection_from_cli

    settings = IclSelectSettings(
        model=_spec(model, base_url, api_key_env, completion), judge=_spec(judge, judge_base_url, judge_api_key_env),
        pool=str(pool), start=start, start_format=urial_format, steps=steps, candidates=candidates, seed=seed,
        position=icl_position, aspects=aspect or None, leak_threshold=leak_threshold, urial_clean=urial_clean,
        params=_params(temperature, max_tokens, top_p, repetition_penalty, top_k, no_repeat_ngram_size, param),
        judge_params=_judge_params(judge_max_tokens),
        engine=engine_config(concurrency=concurrency, rpm=rpm, tpm=tpm, max_retries=max_retries, timeout=timeout,
                             no_cache=no_cache, cache_dir=cache_dir, budget=budget, no_progress=no_progress))
    source, sel = selection_from_cli(dev, "all", None, None, None, None, ids, limit, sample, seed)
    items = load_selection(source, sel)
    result = icl_select(settings, items, out, work=work, log=log, dry_run=dry_run, command=command_line(ctx))
    if result.plan is not None:
        _print_plan(result.plan)
        return
    start_mean = result.start.mean if result.start is not None else None
    lines = [f"start prompt: mean {_fmt(start_mean)}"]
    lines += [f"step {n}: pool example {index} (mean {_fmt(score)})"
              for n, (index, score) in enumerate(zip(result.chosen, result.step_scores, strict=True), start=1)]
    console().print("\n".join(lines))
    hint = f" (read it with --urial {out} {result.urial_format_flag})" if result.urial_format_flag else ""
    console().print(f"wrote {out}{hint}; every score in {result.log}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
