"""How an instruction becomes a request: plain chat messages (with an optional system
message), for base models a URIAL / K-shot completion prompt, or for chat models K-shot chat
turns. Kept apart from the stage so dry runs, sweeps and tests build the very requests that
are sent.

What each generation record's `params` gains from here (the `extra` of `PromptBuilder.build`):
- `urial`, `urial_sha256` (the prompt's content hash), `urial_format` (its query layout);
- `endpoint`: `chat` or `completions`, the endpoint the request goes to (when the backend is known);
- `top_p`, `top_p_source` when no top_p was set: the value that applies and who decides it
  (`API default`, `generation_config.json`, `transformers default`), or null with
  `server default (not sent)` where justeval cannot know it (pass --top-p to pin it);
- `icl`: `select`, `examples` (pool positions in the order shown), `used`, `skipped` (left out
  as duplicates of the query), `dropped` (left out to fit `--context-tokens`), and with a budget
  `prompt_tokens` and `token_counter`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from justeval.engine.types import GenParams, Message, Request
from justeval.errors import UsageError
from justeval.generation import urial as urial_mod
from justeval.generation.context import TokenCounter, estimate_counter, hf_counter
from justeval.generation.icl import DEFAULT_LEAK_THRESHOLD, Choice, ExampleSelector, load_pool, pool_hash
from justeval.records import Instruction

if TYPE_CHECKING:
    from justeval.engine.backend_spec import BackendSpec

IclPosition = Literal["before", "after"]
IclFormat = Literal["auto", "completion", "chat"]


class PromptSettings(BaseModel):
    """How an instruction becomes a prompt (the `prompt` part of GenerateSettings)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    system: str | None = None
    """System message (chat), or the preamble of `icl_examples` prompts (`--system`)."""

    urial: str | None = None
    """URIAL prompting for base models (`--urial`): a prompt file or URL (upstream's, e.g.
    https://raw.githubusercontent.com/Re-Align/URIAL/main/urial_prompts/inst_1k_v4.help.txt), or
    `default`: justeval's own prompt, written for justeval and not one of URIAL's published ones
    (to reproduce URIAL, pass upstream's file)."""

    urial_format: urial_mod.FormatChoice = "auto"
    """How the query follows the URIAL prompt (`--urial-format`): `auto` (by the prompt's version,
    as upstream picks it), `backticks` (`# Query:`), `v5` or `v6` (`# User:` / `# Assistant:`)."""

    urial_clean: urial_mod.CleanMode = "fences"
    """Cleaning of completion answers (`--urial-clean`): `fences` keeps code blocks and removes the
    answer's closing fence; `upstream` removes every triple backtick, as URIAL's code does."""

    icl_examples: str | None = None
    """A JSONL/JSON pool of {instruction, output[, source_id]} in-context examples (`--icl-examples`)."""

    shots: int = Field(3, ge=0)
    """Examples per query drawn from the pool (`--shots`)."""

    select: Literal["fixed", "random", "random-fixed", "similar"] = "fixed"
    """How examples are chosen (`--select`): the first K, K at random per item, one random set of
    K for every item, or the K most similar by BM25 (shown most similar last)."""

    seed: int = 0
    """Seed of `select: random` and `random-fixed` (`--seed`)."""

    icl_position: IclPosition = "before"
    """Where pool examples go in a URIAL prompt (`--icl-position`): `before` its own examples (as
    arXiv 2405.19874 does) or `after` them."""

    icl_format: IclFormat = "auto"
    """K-shot as a `completion` prompt or as `chat` turns (user/assistant messages) (`--icl-format`);
    `auto`: chat on the chat endpoint without --urial, else completion."""

    context_tokens: int | None = Field(None, ge=1)
    """Context budget (`--context-tokens`): pool examples are dropped, least relevant first, until
    the prompt's tokens plus max_tokens fit."""

    tokenizer: str | None = None
    """Tokenizer (hub name or folder) that counts prompt tokens for the budget (`--tokenizer`);
    default: an `hf:` model's own, else an estimate."""

    leak_threshold: float = Field(DEFAULT_LEAK_THRESHOLD, gt=0, le=1)
    """Pool examples at least this similar to the query (normalised text), or with its
    `source_id`, are never shown for it (`--leak-threshold`)."""

    def uses_pool(self) -> bool:
        return self.icl_examples is not None

    def pool_options_set(self) -> list[str]:
        """The pool-only options given a non-default value (they need `icl_examples`)."""
        defaults = PromptSettings()
        names = {"shots": "--shots", "select": "--select", "icl_position": "--icl-position",
                 "icl_format": "--icl-format", "context_tokens": "--context-tokens", "tokenizer": "--tokenizer",
                 "leak_threshold": "--leak-threshold"}
        return [flag for name, flag in names.items() if getattr(self, name) != getattr(defaults, name)]


@dataclass
class ContextBudget:
    """Prompt tokens + `reserve` (the answer's max_tokens) must stay within `tokens`."""

    tokens: int
    counter: TokenCounter
    reserve: int = 0

    @property
    def limit(self) -> int:
        return self.tokens - self.reserve


@dataclass
class PromptBuilder:
    """Turns an instruction into a Request: chat messages, a URIAL/ICL completion prompt, or
    K-shot chat turns.

    `identity` is what decides the prompts (compared when a run resumes: a run directory holds
    one way of prompting); `sources` is where the prompt parts came from (for run.json)."""

    params: GenParams
    system: str | None = None
    urial: urial_mod.UrialPrompt | None = None
    selector: ExampleSelector | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    clean_mode: urial_mod.CleanMode = "fences"
    icl_position: IclPosition = "before"
    icl_format: Literal["completion", "chat"] = "completion"
    budget: ContextBudget | None = None
    #: the endpoint the backend sends chat messages to (None: not known here, nothing recorded)
    endpoint: Literal["chat", "completions"] | None = None
    #: recorded when top_p is not set: (value that applies or None, who decides it)
    top_p_default: tuple[float | None, str] | None = None

    @classmethod
    def from_settings(cls, prompt: PromptSettings, params: GenParams, *,
                      backend: BackendSpec | None = None) -> PromptBuilder:
        """Load what `prompt` names (URIAL prompt, example pool, tokenizer) and build the builder.
        `backend` (the model's spec) decides the ICL format's default, the endpoint and top_p
        recorded, and the tokenizer of the context budget; without it those are not recorded."""
        from justeval.paths import local_path

        _check(prompt, params)
        builder = cls(params=params, system=prompt.system, identity={"system": prompt.system},
                      clean_mode=prompt.urial_clean, icl_position=prompt.icl_position)
        if backend is not None:
            builder.endpoint = backend.endpoint
            if params.top_p is None:
                builder.top_p_default = top_p_default(backend)
        if prompt.urial is not None:
            builder.urial = urial_mod.load_urial(prompt.urial, fmt=prompt.urial_format)
            builder.identity["urial_sha256"] = builder.urial.sha256
            builder.identity["urial_format"] = builder.urial.format
            builder.sources["urial"] = {"name": builder.urial.name, "source": builder.urial.source,
                                        "sha256": builder.urial.sha256_full, "format": builder.urial.format,
                                        "format_from": builder.urial.format_from}
        if prompt.icl_examples is not None:
            builder.icl_format = _icl_format(prompt, backend)
            pool = load_pool(prompt.icl_examples)
            builder.selector = ExampleSelector(pool, prompt.shots, prompt.select, prompt.seed,
                                               leak_threshold=prompt.leak_threshold)
            icl: dict[str, Any] = {"pool_sha256": pool_hash(pool), "shots": prompt.shots, "select": prompt.select,
                                   "seed": prompt.seed if prompt.select in ("random", "random-fixed") else None,
                                   "format": builder.icl_format, "leak_threshold": prompt.leak_threshold}
            if builder.urial is not None:
                icl["position"] = prompt.icl_position
            if prompt.context_tokens is not None:
                counter = _counter(prompt, backend)
                builder.budget = ContextBudget(prompt.context_tokens, counter, reserve=params.max_tokens or 0)
                icl["context_tokens"] = prompt.context_tokens
                icl["token_counter"] = counter.name
                builder.sources["token_counter"] = counter.name
            builder.identity["icl"] = icl
            builder.sources["icl_examples"] = {"file": local_path(prompt.icl_examples), "pool_size": len(pool)}
        if builder.completion_prompt:
            builder.identity["clean"] = prompt.urial_clean
        return builder

    # -- what the stage asks ------------------------------------------------------
    @property
    def completion_prompt(self) -> bool:
        """Whether requests carry a completion prompt (URIAL, or K-shot in completion format)."""
        return self.urial is not None or (self.selector is not None and self.icl_format == "completion")

    @property
    def query_format(self) -> str:
        return self.urial.format if self.urial is not None else "backticks"

    def request_params(self) -> GenParams:
        """The decoding parameters sent: completion prompts add upstream's stop strings."""
        if not self.completion_prompt:
            return self.params
        stops = list(self.params.stop or [])
        stops += [s for s in urial_mod.STOP_SEQUENCES if s not in stops]
        return self.params.model_copy(update={"stop": stops})

    def clean_output(self, text: str) -> str:
        """A completion's answer alone, cleaned the chosen way (`urial_clean`); chat replies as they are."""
        if not self.completion_prompt:
            return text
        return urial_mod.clean_output(text, mode=self.clean_mode, fmt=self.query_format)

    def build(self, inst: Instruction, params: GenParams) -> tuple[Request, dict[str, Any]]:
        """The request for `inst` and what to record about its prompt in the record's params."""
        key = str(inst.id)
        extra: dict[str, Any] = {}
        if self.top_p_default is not None and params.top_p is None:
            extra["top_p"], extra["top_p_source"] = self.top_p_default
        if not self.completion_prompt and self.selector is None:
            messages = [Message(role="system", content=self.system)] if self.system else []
            messages.append(Message(role="user", content=inst.instruction))
            if self.endpoint is not None:
                extra["endpoint"] = self.endpoint
            return Request(key=key, messages=messages, params=params), extra
        if self.urial is not None:
            extra.update(urial=self.urial.name, urial_sha256=self.urial.sha256, urial_format=self.urial.format)
        choice = self.selector.choose(inst.instruction, key, inst.source_id) if self.selector else Choice()
        keep, tokens = self._fit(inst.instruction, choice)
        if self.selector is not None:
            icl: dict[str, Any] = {"select": self.selector.mode, "examples": choice.shown(keep), "used": keep,
                                   "skipped": choice.skipped, "dropped": len(choice.ranked) - keep}
            if self.budget is not None:
                icl.update(prompt_tokens=tokens, token_counter=self.budget.counter.name)
            extra["icl"] = icl
        if self.completion_prompt:
            if self.endpoint is not None:
                extra["endpoint"] = "completions"  # a request with a prompt goes to the completions endpoint
            return Request(key=key, prompt=self._prompt(inst.instruction, choice, keep), params=params), extra
        if self.endpoint is not None:
            extra["endpoint"] = self.endpoint
        return Request(key=key, messages=self._messages(inst.instruction, choice, keep), params=params), extra

    # -- rendering ----------------------------------------------------------------
    def _pairs(self, choice: Choice, keep: int) -> list[tuple[str, str]]:
        assert self.selector is not None or not choice.ranked
        pool = self.selector.pool if self.selector is not None else []
        return [(pool[i].instruction, pool[i].output) for i in choice.shown(keep)]

    def _prompt(self, query: str, choice: Choice, keep: int) -> str:
        pairs = self._pairs(choice, keep)
        if self.urial is None:
            return urial_mod.format_query(self.system or "", query, pairs)
        if self.icl_position == "before":
            return self.urial.render(query, before=pairs)
        return self.urial.render(query, after=pairs)

    def _messages(self, query: str, choice: Choice, keep: int) -> list[Message]:
        messages = [Message(role="system", content=self.system)] if self.system else []
        for q, a in self._pairs(choice, keep):
            messages += [Message(role="user", content=q), Message(role="assistant", content=a)]
        messages.append(Message(role="user", content=query))
        return messages

    def _count(self, query: str, choice: Choice, keep: int) -> int:
        assert self.budget is not None
        if self.completion_prompt:
            return self.budget.counter.count(self._prompt(query, choice, keep))
        return self.budget.counter.count_messages(self._messages(query, choice, keep))

    def _fit(self, query: str, choice: Choice) -> tuple[int, int | None]:
        """How many of the chosen examples fit the budget (all without one), and the prompt's
        tokens then. Each example's own count gives a first guess; exact counts of the whole
        prompt settle it, so at most a few full counts per item."""
        chosen = len(choice.ranked)
        if self.budget is None:
            return chosen, None
        limit = self.budget.limit
        total = self._count(query, choice, chosen)
        if total <= limit or chosen == 0:
            return chosen, total
        assert self.selector is not None
        pool, counter = self.selector.pool, self.budget.counter
        base = self._count(query, choice, 0)
        keep, running = 0, base
        for i in choice.ranked:
            running += counter.count(pool[i].instruction) + counter.count(pool[i].output) + 8
            if running > limit:
                break
            keep += 1
        tokens = self._count(query, choice, keep) if keep else base
        while keep > 0 and tokens > limit:
            keep -= 1
            tokens = self._count(query, choice, keep) if keep else base
        while keep + 1 < chosen:
            more = self._count(query, choice, keep + 1)
            if more > limit:
                break
            keep, tokens = keep + 1, more
        return keep, tokens


def _check(prompt: PromptSettings, params: GenParams) -> None:
    """Combinations that cannot work, refused before anything is loaded (exit code 2)."""
    if prompt.icl_examples is None and (given := prompt.pool_options_set()):
        raise UsageError(f"{', '.join(given)} need{'s' if len(given) == 1 else ''} --icl-examples FILE")
    if prompt.urial is not None and prompt.system:
        raise UsageError("--system and --urial cannot be combined: the URIAL prompt is the preamble")
    if prompt.urial is None and prompt.urial_format != "auto":
        raise UsageError("--urial-format needs --urial")
    if prompt.urial is None and prompt.icl_examples is None and prompt.urial_clean != "fences":
        raise UsageError("--urial-clean needs --urial or --icl-examples (it cleans completion prompts' answers)")
    if prompt.urial is not None and prompt.icl_format == "chat":
        raise UsageError("--icl-format chat cannot be combined with --urial: a URIAL prompt is a completion prompt")
    if params.n is not None and params.n > 1:
        raise UsageError("--n above 1 is not supported by generate: a generation record holds one output")


def _icl_format(prompt: PromptSettings, backend: BackendSpec | None) -> Literal["completion", "chat"]:
    if prompt.icl_format != "auto":
        return prompt.icl_format
    if prompt.urial is None and backend is not None and backend.endpoint == "chat":
        return "chat"
    return "completion"


def _counter(prompt: PromptSettings, backend: BackendSpec | None) -> TokenCounter:
    if prompt.tokenizer is not None:
        return hf_counter(prompt.tokenizer)
    if backend is not None and backend.kind == "hf":
        return hf_counter(backend.model)
    return estimate_counter(backend.model if backend is not None else None)


#: a model folder's generation_config.json is a few hundred bytes
_MAX_GENERATION_CONFIG_BYTES = 1024 * 1024


def top_p_default(backend: BackendSpec) -> tuple[float | None, str]:
    """The top_p that applies when none is sent, and who decides it (recorded with each output)."""
    if backend.kind == "hf":
        path = Path(backend.model).expanduser() / "generation_config.json"
        try:
            if path.is_file() and path.stat().st_size <= _MAX_GENERATION_CONFIG_BYTES:
                value = json.loads(path.read_text(encoding="utf-8")).get("top_p")
                if isinstance(value, (int, float)):
                    return float(value), "generation_config.json"
                return 1.0, "transformers default"
        except (OSError, ValueError, AttributeError, RecursionError):
            pass
        return None, "generation_config of the model (see generation_config in params)"
    if backend.kind == "openai" and not backend.base_url and not os.environ.get("OPENAI_BASE_URL"):
        return 1.0, "API default"
    return None, "server default (not sent)"
