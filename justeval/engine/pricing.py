"""Prices from LiteLLM's bundled price map (never the network) and token estimates.

An unknown model has no price: None, never a guess.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from typing import Any

from justeval.records import Usage

_PREFIXES = ("openai:", "litellm:")


def load_litellm() -> Any:
    """Import LiteLLM offline (bundled price map), quiet, on plain httpx."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    litellm.disable_aiohttp_transport = True  # plain httpx: no aiohttp sessions left unclosed
    return litellm


def _model_name(spec_or_model: str) -> str:
    for prefix in _PREFIXES:
        if spec_or_model.startswith(prefix):
            return spec_or_model[len(prefix):]
    return spec_or_model


@functools.lru_cache(maxsize=256)
def _prices(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token, or None when LiteLLM does not know the model."""
    if not model or model.startswith("hf:"):
        return None
    litellm = load_litellm()
    try:
        info = litellm.get_model_info(model)
    except Exception:
        return None
    prompt_price = info.get("input_cost_per_token")
    completion_price = info.get("output_cost_per_token")
    if prompt_price is None or completion_price is None:
        return None
    return float(prompt_price), float(completion_price)


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    prices = _prices(_model_name(model))
    if prices is None:
        return None
    return prompt_tokens * prices[0] + completion_tokens * prices[1]


def cost_usd(spec_or_model: str, usage: Usage) -> float | None:
    """USD for one call's usage, e.g. `cost_usd("openai:gpt-4o-mini", usage)`; None if unknown."""
    return estimate_cost(spec_or_model, usage.prompt_tokens, usage.completion_tokens)


@functools.lru_cache(maxsize=32)
def _encoding(model: str | None) -> Any:
    """A tiktoken encoding that loads offline (LiteLLM ships the files), or None."""
    try:
        import tiktoken
    except ImportError:
        return None
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        spec = importlib.util.find_spec("litellm")
        if spec is not None and spec.origin:
            bundled = os.path.join(os.path.dirname(spec.origin), "litellm_core_utils", "tokenizers")
            if os.path.isdir(bundled):
                os.environ["TIKTOKEN_CACHE_DIR"] = bundled
    name = "cl100k_base"
    if model:
        with contextlib.suppress(KeyError):
            name = tiktoken.encoding_name_for_model(_model_name(model).rsplit("/", 1)[-1])
    try:
        return tiktoken.get_encoding(name)
    except Exception:
        return None


def count_tokens(text: str, model: str | None = None) -> int:
    """Token count with tiktoken where it can load offline, else about one token per 4 chars."""
    enc = _encoding(model)
    if enc is None:
        return max(1, len(text) // 4) if text else 0
    return len(enc.encode(text, disallowed_special=()))


def cost_text(cost_usd: float, unpriced_calls: int) -> str:
    """What a stage spent: "unknown" when no call had a price (a self-hosted server, a model
    LiteLLM does not list), and a "+ unpriced" mark when only some had one."""
    if unpriced_calls and not cost_usd:
        return "unknown"
    return f"${cost_usd:,.4f}" + (" + unpriced" if unpriced_calls else "")
