"""Options shared by every command that takes instructions, defined once.

Use them as parameter annotations, then call `selection_from_options(...)`:

    def cmd(instructions: InstructionsOpt = None, subset: SubsetOpt = "all", ...):
        sel = Selection(subset=subset, ...)
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from justeval.engine.engine import EngineConfig

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

# -- engine and server options, shared by generate, judge and pairwise -------------------------
ENGINE = "Engine"

BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (vLLM, "
                                                "llama.cpp, Ollama, TGI)", rich_help_panel=ENGINE)]
ApiKeyEnvOpt = Annotated[str | None, typer.Option("--api-key-env", help="environment variable holding the API key",
                                                  rich_help_panel=ENGINE)]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, help="calls in flight at most",
                                             rich_help_panel=ENGINE)]
RpmOpt = Annotated[float | None, typer.Option("--rpm", help="requests per minute", rich_help_panel=ENGINE)]
TpmOpt = Annotated[float | None, typer.Option("--tpm", help="tokens per minute", rich_help_panel=ENGINE)]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="seconds per call", rich_help_panel=ENGINE)]
MaxRetriesOpt = Annotated[int, typer.Option("--max-retries", min=0, help="retries of a failed call (429, 5xx, "
                                            "timeouts, dropped connections)", rich_help_panel=ENGINE)]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="neither read nor write the call cache",
                                          rich_help_panel=ENGINE)]
CacheDirOpt = Annotated[Path | None, typer.Option("--cache-dir", help="call cache folder (default: "
                                                  "$JUSTEVAL_CACHE_DIR or ~/.cache/justeval)",
                                                  rich_help_panel=ENGINE)]
NoProgressOpt = Annotated[bool, typer.Option("--no-progress", help="no progress bar", rich_help_panel=ENGINE)]

# -- a fleet of servers, the circuit breaker, provider batch mode (issue 13, issue 11) ------------
# Sets BackendSpec.base_urls: one server, several (repeat the option) or a comma list.
BaseUrlsOpt = Annotated[list[str] | None, typer.Option(
    "--base-url", help="OpenAI-compatible server URL (vLLM, llama.cpp, Ollama, TGI); repeat it or give a comma "
    "list for several replicas of one model: each call goes to the least busy one", rich_help_panel=ENGINE)]
# Sets EngineConfig.total_concurrency.
TotalConcurrencyOpt = Annotated[int | None, typer.Option(
    "--total-concurrency", min=1, help="calls in flight over all servers together (default: --concurrency per "
    "server)", rich_help_panel=ENGINE)]
# Sets EngineConfig.breaker_failures.
BreakerOpt = Annotated[int | None, typer.Option(
    "--breaker", min=0, help="calls in a row without an answer (refused, timed out, 502/504) after which a server "
    "is taken out; when all are, the run stops with the reason (exit 1); 0: never", rich_help_panel=ENGINE)]
# Sets EngineConfig.retry_after_cap_s.
MaxRetryAfterOpt = Annotated[float | None, typer.Option(
    "--max-retry-after", min=0.001, help="longest Retry-After obeyed, in seconds; a server asking for longer "
    "ends the run with that reason (exit 1)", rich_help_panel=ENGINE)]
# Sets EngineConfig.batch.
BatchOpt = Annotated[bool | None, typer.Option(
    "--batch/--no-batch", help="send through the provider's Batch API (openai: backends; litellm:anthropic/ "
    "through Anthropic's Message Batches): about half the price, results within 24 h; a closed terminal loses "
    "nothing: run the same command again to collect",
    rich_help_panel=ENGINE)]
# Sets EngineConfig.batch_wait.
WaitOpt = Annotated[bool | None, typer.Option(
    "--wait/--no-wait", help="with --batch: wait for the batches, polling (default), or submit them and exit; "
    "the same command later collects them", rich_help_panel=ENGINE)]
# Sets EngineConfig.batch_fallback (checked there: batch | sync).
BatchFallbackOpt = Annotated[str | None, typer.Option(
    "--batch-fallback", help="with --batch, where items a batch could not finish go: batch (a new batch, the "
    "default) or sync (ordinary calls at once)", rich_help_panel=ENGINE)]


# -- decoding and prompt options of a model (generate and run) --------------------------------
DECODING = "Decoding"
PROMPT = "Prompt"

RepetitionPenaltyOpt = Annotated[float | None, typer.Option("--repetition-penalty", help="penalise repeated tokens "
                                                            "(>1; vLLM, TGI, hf: - URIAL's published rows use 1.1)",
                                                            rich_help_panel=DECODING)]
TopKOpt = Annotated[int | None, typer.Option("--top-k", help="sample from the K most likely tokens",
                                             rich_help_panel=DECODING)]
NoRepeatNgramOpt = Annotated[int | None, typer.Option("--no-repeat-ngram-size", help="never repeat an n-gram of this "
                                                      "size (hf:, TGI; vLLM ignores it)", rich_help_panel=DECODING)]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="KEY=VALUE sent to the server as an extra body "
                                                    "field (JSON values; repeatable), e.g. --param min_p=0.05",
                                                    rich_help_panel=DECODING)]
UrialFormatOpt = Annotated[str | None, typer.Option("--urial-format", help="auto | backticks | v5 | v6: how the query "
                                                    "follows the URIAL prompt (auto: as upstream picks it by the "
                                                    "prompt's version)", rich_help_panel=PROMPT)]
UrialCleanOpt = Annotated[str | None, typer.Option("--urial-clean", help="fences (keep code blocks) | upstream (remove "
                                                   "every triple backtick, as URIAL's code does)",
                                                   rich_help_panel=PROMPT)]
IclPositionOpt = Annotated[str | None, typer.Option("--icl-position", help="before | after: your examples before the "
                                                    "URIAL prompt's own (before, as in 2405.19874) or after",
                                                    rich_help_panel=PROMPT)]
IclFormatOpt = Annotated[str | None, typer.Option("--icl-format", help="auto | completion | chat: K-shot as one "
                                                  "completion prompt, or as chat turns (auto: by the endpoint)",
                                                  rich_help_panel=PROMPT)]
ContextTokensOpt = Annotated[int | None, typer.Option("--context-tokens", help="drop examples until prompt + "
                                                      "--max-tokens fit this many tokens", rich_help_panel=PROMPT)]
TokenizerOpt = Annotated[str | None, typer.Option("--tokenizer", help="tokenizer (hub id or folder) that counts "
                                                  "--context-tokens (default: an hf: model's own, else an estimate)",
                                                  rich_help_panel=PROMPT)]
LeakThresholdOpt = Annotated[float | None, typer.Option("--leak-threshold", help="skip examples this similar to the "
                                                        "query (0-1 word overlap; default 0.9)",
                                                        rich_help_panel=PROMPT)]


def engine_config(*, concurrency: int, rpm: float | None, tpm: float | None, timeout: float, max_retries: int,
                  no_cache: bool, cache_dir: Path | None, no_progress: bool, budget: float | None = None,
                  parse_retries: int = 0, description: str = "calls", total_concurrency: int | None = None,
                  breaker: int | None = None, max_retry_after: float | None = None, batch: bool = False,
                  wait: bool = True, batch_fallback: str = "batch", batch_dir: Path | None = None) -> EngineConfig:
    """The EngineConfig the shared engine options describe (an option left at None keeps the
    EngineConfig default; `batch_dir` is the stage's run directory, not an option)."""
    from justeval.engine.engine import EngineConfig

    extra: dict[str, object] = {}
    if breaker is not None:
        extra["breaker_failures"] = breaker
    if max_retry_after is not None:
        extra["retry_after_cap_s"] = max_retry_after
    return EngineConfig(concurrency=concurrency, rpm=rpm, tpm=tpm, max_retries=max_retries, timeout_s=timeout,
                        cache=not no_cache, cache_dir=cache_dir, budget_usd=budget, parse_retries=parse_retries,
                        progress=not no_progress, description=description, total_concurrency=total_concurrency,
                        batch=batch, batch_wait=wait, batch_fallback=batch_fallback,
                        batch_dir=batch_dir, **extra)


def engine_flags(values: dict[str, Any]) -> dict[str, Any]:
    """A command's parameters as settings flags: the negative switches (`--no-cache`,
    `--no-progress`) become `cache` / `progress`."""
    flags = dict(values)
    if "no_cache" in flags:
        flags["cache"] = not flags.pop("no_cache")
    if "no_progress" in flags:
        flags["progress"] = not flags.pop("no_progress")
    return flags


def command_line(ctx: typer.Context) -> str:
    """The invocation as a shell line, from the options the user actually set (no secrets:
    API keys are never options, only the name of their variable is). Duck-typed on the
    parameter objects: typer may bundle its own copy of click."""
    argv = ["justeval", ctx.info_name or ""]
    for param in ctx.command.params:
        name = param.name or ""
        value = ctx.params.get(name)
        source = ctx.get_parameter_source(name)
        if value is None or getattr(source, "name", "DEFAULT") == "DEFAULT":
            continue
        if param.param_type_name == "argument":
            argv.append(str(value))
            continue
        flag = param.opts[0]
        if getattr(param, "is_flag", False):
            off = getattr(param, "secondary_opts", None)
            argv += [flag] if value else ([off[0]] if off else [])
        elif isinstance(value, (list, tuple)):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return shlex.join(argv)
