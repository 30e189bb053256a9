"""What a list of requests would cost, sent three ways, computed without sending any (for
`--dry-run`): as ordinary calls, through the provider's batch interface, and as ordinary calls
with the provider's prompt caching.

Prompt caching (OpenAI's is automatic) serves the longest prefix a prompt shares with an earlier
one from the cache, once that prefix is at least `min_tokens` long (OpenAI: 1,024), in steps of
`step_tokens` (128), at the cached-input price. The structured-output schema is part of that
prefix (it comes first). The estimate is the most caching can give: every request after the
first of its prefix reads it (in practice, calls sent together before the first has finished,
or after the cache has expired, miss).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from justeval.engine.types import Backend, Request
from justeval.records import Usage

#: tokens each chat message adds around its content, and tokens that prime the reply
PER_MESSAGE_TOKENS = 4
PER_REPLY_TOKENS = 3
#: OpenAI's automatic prompt caching: the shortest cached prefix, and its granularity
CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128

#: price(usage, batch) -> USD or None (unknown)
Pricer = Callable[[Usage, bool], "float | None"]


@dataclass
class ModeEstimate:
    """Calls, tokens and cost of a set of requests, three ways (None: no price known)."""

    calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int  # of prompt_tokens, those a provider prompt cache could serve
    sync_usd: float | None
    batch_usd: float | None
    cached_usd: float | None   # ordinary calls, with prompt caching

    def plus(self, other: ModeEstimate) -> ModeEstimate:
        """The two estimates together (a cost unknown in either is unknown)."""

        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return ModeEstimate(calls=self.calls + other.calls, prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                            completion_tokens=self.completion_tokens + other.completion_tokens,
                            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
                            sync_usd=add(self.sync_usd, other.sync_usd), batch_usd=add(self.batch_usd, other.batch_usd),
                            cached_usd=add(self.cached_usd, other.cached_usd))

    def lines(self) -> list[str]:
        """The dry-run's words, one line per way of sending."""

        def usd(value: float | None) -> str:
            return "unknown" if value is None else f"${value:,.4f}"

        share = self.cached_prompt_tokens / self.prompt_tokens if self.prompt_tokens else 0.0
        return [
            f"{self.calls:,} calls, {self.prompt_tokens:,} prompt + ~{self.completion_tokens:,} completion tokens",
            f"synchronous: {usd(self.sync_usd)}",
            f"batch (--batch): {usd(self.batch_usd)}",
            f"with prompt caching: {usd(self.cached_usd)} ({self.cached_prompt_tokens:,} prompt tokens, "
            f"{share:.0%}, in shared prefixes of {CACHE_MIN_TOKENS:,}+ tokens)",
        ]


def provider_text(request: Request) -> str:
    """The request as a provider's prompt cache sees it, in order: the output schema, then each
    message (role and content)."""
    parts: list[str] = []
    fmt = request.params.response_format
    if fmt is not None:
        parts.append(json.dumps(fmt, sort_keys=True, separators=(",", ":")))
    if request.prompt is not None:
        parts.append(request.prompt)
    for message in request.messages:
        parts.append(f"<{message.role}>{message.content}")
    return "\x00".join(parts)


def prompt_tokens(request: Request, model: str, schema_tokens: dict[str, int] | None = None) -> int:
    """Prompt tokens of one request as billed: messages with their framing, plus the schema."""
    from justeval.engine.pricing import count_tokens

    if request.prompt is not None:
        tokens = count_tokens(request.prompt, model)
    else:
        tokens = sum(count_tokens(m.content, model) + PER_MESSAGE_TOKENS for m in request.messages) + PER_REPLY_TOKENS
    fmt = request.params.response_format
    if fmt is not None:
        text = json.dumps(fmt, separators=(",", ":"))
        cache = schema_tokens if schema_tokens is not None else {}
        if text not in cache:
            cache[text] = count_tokens(text, model)
        tokens += cache[text]
    return tokens


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix (a binary search of slice comparisons, which run in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def cacheable_tokens(requests: Sequence[Request], model: str, *, min_tokens: int = CACHE_MIN_TOKENS,
                     step_tokens: int = CACHE_STEP_TOKENS) -> list[int]:
    """For each request, the prompt tokens a prefix cache could serve: the longest prefix it
    shares with another request, counted once per group (the first of a prefix pays in full),
    rounded down to the cache's steps, 0 below its minimum."""
    from justeval.engine.pricing import count_tokens

    texts = [provider_text(r) for r in requests]
    order = sorted(range(len(texts)), key=texts.__getitem__)
    counted: dict[str, int] = {}
    found = [0] * len(texts)
    for previous, current in itertools.pairwise(order):
        shared = _common_prefix(texts[previous], texts[current])
        if not shared:
            continue
        prefix = texts[current][:shared]
        if prefix not in counted:
            counted[prefix] = count_tokens(prefix.replace("\x00", "\n"), model)
        tokens = counted[prefix]
        if tokens >= min_tokens:
            found[current] = min_tokens + (tokens - min_tokens) // step_tokens * step_tokens
    return found


def backend_pricer(backend: Backend) -> Pricer:
    """Prices as this backend charges them (a self-hosted server: unknown)."""

    def price(usage: Usage, batch: bool) -> float | None:
        return backend.batch_cost_usd(usage) if batch else backend.cost_usd(usage)

    return price


def list_pricer(model: str) -> Pricer:
    """The model's list prices (when no backend can be built, e.g. no key yet)."""
    from justeval.engine.costs import call_cost_usd

    return lambda usage, batch: call_cost_usd(model, usage, batch=batch)


def estimate_requests(requests: Sequence[Request], model: str, completion_tokens: int | Callable[[Request], int],
                      *, price: Pricer | None = None, min_cached_tokens: int = CACHE_MIN_TOKENS) -> ModeEstimate:
    """Calls, tokens and cost of `requests` sent synchronously, in batch, and with prompt
    caching. `completion_tokens`: the expected reply length (one figure, or per request);
    `price`: how to price usage (default: the model's list prices)."""
    price = price or list_pricer(model)
    schema_tokens: dict[str, int] = {}
    prompt = sum(prompt_tokens(r, model, schema_tokens) for r in requests)
    if callable(completion_tokens):
        completion = sum(completion_tokens(r) for r in requests)
    else:
        completion = completion_tokens * len(requests)
    cached = sum(cacheable_tokens(requests, model, min_tokens=min_cached_tokens))
    if not requests:
        return ModeEstimate(0, 0, 0, 0, 0.0, 0.0, 0.0)
    plain = Usage(prompt_tokens=prompt, completion_tokens=completion)
    return ModeEstimate(calls=len(requests), prompt_tokens=prompt, completion_tokens=completion,
                        cached_prompt_tokens=cached, sync_usd=price(plain, False), batch_usd=price(plain, True),
                        cached_usd=price(plain.model_copy(update={"cached_tokens": cached}), False))
