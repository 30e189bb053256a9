"""What a call costs beyond the plain list price: prompt tokens served from the provider's
prompt cache, and calls made through its batch interface.

The synchronous list price comes from `justeval.engine.pricing`; the batch and cached-input
prices from the same price map, read by `_price_entry` alone (the one function to point at the
map reader's own lookups when it offers them). Where the map has no batch price, the provider's
documented batch discount (half price) applies; where it has no cached-input price, cached
tokens are priced as ordinary input: a discount is never invented.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from justeval.records import Usage

#: OpenAI's Batch API (and the compatible providers') documented price: half the synchronous one
BATCH_DISCOUNT = 0.5


@dataclass(frozen=True)
class Prices:
    """USD per token, synchronous and through the batch interface."""

    input: float
    output: float
    cached_input: float       # a prompt token served from the prompt cache
    batch_input: float
    batch_output: float
    batch_cached_input: float

    def cost(self, usage: Usage, *, batch: bool = False) -> float:
        cached = min(max(usage.cached_tokens, 0), usage.prompt_tokens)
        fresh = usage.prompt_tokens - cached
        if batch:
            return fresh * self.batch_input + cached * self.batch_cached_input + usage.completion_tokens * \
                self.batch_output
        return fresh * self.input + cached * self.cached_input + usage.completion_tokens * self.output


def _model_name(spec_or_model: str) -> str:
    for prefix in ("openai:", "litellm:"):
        if spec_or_model.startswith(prefix):
            return spec_or_model[len(prefix):]
    return spec_or_model


def _price_entry(model: str) -> dict[str, Any]:
    """The price map's entry for `model` (its batch and cached-input prices), or {}: the same
    lookup as every other price (`pricing.model_entry`, read without importing LiteLLM)."""
    from justeval.engine.pricing import model_entry

    return model_entry(model) or {}


def _number(entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@functools.lru_cache(maxsize=256)
def prices(spec_or_model: str) -> Prices | None:
    """All prices of a model, or None when its synchronous price is unknown."""
    from justeval.engine.pricing import estimate_cost

    model = _model_name(spec_or_model)
    per_input = estimate_cost(model, 1, 0)
    per_output = estimate_cost(model, 0, 1)
    if per_input is None or per_output is None:
        return None
    entry = _price_entry(model)
    cached = _number(entry, "cache_read_input_token_cost")
    cached = per_input if cached is None else cached
    batch_in = _number(entry, "input_cost_per_token_batches")
    batch_out = _number(entry, "output_cost_per_token_batches")
    batch_in = per_input * BATCH_DISCOUNT if batch_in is None else batch_in
    batch_out = per_output * BATCH_DISCOUNT if batch_out is None else batch_out
    batch_cached = _number(entry, "cache_read_input_token_cost_batches")
    batch_cached = batch_in if batch_cached is None else batch_cached  # no stacked discount invented
    return Prices(input=per_input, output=per_output, cached_input=cached, batch_input=batch_in,
                  batch_output=batch_out, batch_cached_input=batch_cached)


def call_cost_usd(spec_or_model: str, usage: Usage, *, batch: bool = False) -> float | None:
    """USD for one call's usage: cached prompt tokens at the cached-input price, and with
    `batch`, the batch prices; None when the model has no known price."""
    if not batch and not usage.cached_tokens:
        from justeval.engine.pricing import cost_usd

        return cost_usd(spec_or_model, usage)
    found = prices(spec_or_model)
    return None if found is None else found.cost(usage, batch=batch)
