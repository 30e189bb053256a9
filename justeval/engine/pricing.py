"""Prices from LiteLLM's bundled price map (never the network) and token estimates.

The price map is the JSON file that ships inside the litellm package
(`model_prices_and_context_window_backup.json`). It is found with `importlib.util.find_spec`
and read as plain JSON, because importing LiteLLM itself takes about five seconds and a dry
run needs nothing from it but these numbers. LiteLLM's own switch is honoured: with
`LITELLM_LOCAL_MODEL_COST_MAP` unset or `True` the bundled file is used; set to anything
else, the user asked LiteLLM for its remote map, so LiteLLM is imported and its
`model_cost` is read instead (the one case where pricing imports it).

A model name is looked up the way `litellm.get_model_info` finds it for the names we pass
(`gpt-4o-mini`, `openai/gpt-4o-mini`, `anthropic/claude-...`, `ft:gpt-4o-mini:org::id`,
dated snapshots): the name as given, without its provider prefix, then without a dated
snapshot or fine-tune suffix; exact first, then ignoring case; an entry of another provider
never matches. An unknown model, or an entry with no per-token price, has no price: None,
never a guess (LiteLLM would say 0).

Token counts use tiktoken with the encodings LiteLLM bundles in its package folder (found
the same way, without importing LiteLLM), so counting works offline too.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from justeval.records import Usage

_PREFIXES = ("openai:", "litellm:")
_MAP_FILE = "model_prices_and_context_window_backup.json"
_RESERVED = {"sample_spec", "fallback_generalizations"}
_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_FINETUNE = re.compile(r"(:[^:]*){3}$")
# Providers whose entries are filed under several provider names (LiteLLM treats them as one).
_PROVIDER_FAMILIES = ("vertex_ai", "bedrock", "fireworks_ai")


def load_litellm() -> Any:
    """Import LiteLLM offline (bundled price map), quiet, on plain httpx. Only a `litellm:`
    backend calls this; Python keeps the module, so it is imported once per process."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    litellm.disable_aiohttp_transport = True  # plain httpx: no aiohttp sessions left unclosed
    return litellm


def litellm_package_dir() -> Path | None:
    """The installed litellm package folder, found without importing it (None if absent)."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def _uses_bundled_map() -> bool:
    value = os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP")
    offline = os.environ.get("LITELLM_OFFLINE_MODE", "").strip().lower() == "true"
    return value is None or value.strip().lower() == "true" or offline


def _expand_aliases(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Model entries by name: reserved keys dropped, an `alias_of` row served as its target's
    entry and every name in an `aliases` list added (a name already taken is not overwritten)."""
    entries = {k: v for k, v in raw.items() if k not in _RESERVED and isinstance(v, dict)}
    out = {k: v for k, v in entries.items() if not isinstance(v.get("alias_of"), str)}
    for name, entry in entries.items():
        target = entry.get("alias_of")
        if isinstance(target, str) and target in out and name not in out:
            out[name] = out[target]
    for entry in list(out.values()):
        aliases = entry.get("aliases")
        if isinstance(aliases, list):
            for alias in aliases:
                if isinstance(alias, str) and alias not in out:
                    out[alias] = entry
    return out


@functools.lru_cache(maxsize=1)
def price_map() -> dict[str, dict[str, Any]]:
    """Model name -> LiteLLM's entry for it (prices per token, provider, limits)."""
    if not _uses_bundled_map():
        return _expand_aliases(load_litellm().model_cost)
    folder = litellm_package_dir()
    if folder is None or not (folder / _MAP_FILE).is_file():
        return {}  # LiteLLM not installed: nothing is priced
    try:
        raw = json.loads((folder / _MAP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return _expand_aliases(raw) if isinstance(raw, dict) else {}


@functools.lru_cache(maxsize=1)
def _lowercase_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for name in price_map():
        names.setdefault(name.lower(), name)
    return names


@functools.lru_cache(maxsize=1)
def _providers() -> frozenset[str]:
    return frozenset(str(e["litellm_provider"]) for e in price_map().values() if e.get("litellm_provider"))


def _model_name(spec_or_model: str) -> str:
    for prefix in _PREFIXES:
        if spec_or_model.startswith(prefix):
            return spec_or_model[len(prefix):]
    return spec_or_model


def _provider_matches(entry: Mapping[str, Any], provider: str | None) -> bool:
    found = entry.get("litellm_provider")
    if provider is None or found is None or found == provider:
        return True
    return any(provider.startswith(f) and str(found).startswith(f) for f in _PROVIDER_FAMILIES)


def _strip(model: str) -> str:
    return _FINETUNE.sub("", model) if model.startswith("ft:") else _DATED.sub("", model)


def _candidates(model: str) -> tuple[str | None, list[str]]:
    """(provider, names to try in order), as LiteLLM orders its lookups."""
    head, sep, rest = model.partition("/")
    provider = head if sep and head in _providers() else None
    bare = rest if provider else model
    names = [model, bare]
    stripped = _strip(bare)
    if provider:
        names += [f"{provider}/{stripped}"]
    names += [stripped]
    return provider, list(dict.fromkeys(names))


@functools.lru_cache(maxsize=512)
def model_entry(spec_or_model: str) -> dict[str, Any] | None:
    """LiteLLM's price-map entry of a model (`openai:gpt-4o`, `litellm:anthropic/...` or a bare
    name), or None when the map does not list it."""
    model = _model_name(spec_or_model)
    if not model or model.startswith("hf:"):
        return None
    entries = price_map()
    provider, names = _candidates(model)
    for name in names:
        key = name if name in entries else _lowercase_names().get(name.lower())
        if key is not None and _provider_matches(entries[key], provider):
            return entries[key]
    return None


@dataclass(frozen=True)
class ModelPrices:
    """USD per token; None where the map gives no such price."""

    input: float
    output: float
    input_batch: float | None = None
    output_batch: float | None = None
    cached_input: float | None = None


def _number(entry: Mapping[str, Any], field: str) -> float | None:
    value = entry.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@functools.lru_cache(maxsize=512)
def model_prices(spec_or_model: str) -> ModelPrices | None:
    """The synchronous, batch and cached-input prices of a model; None without a per-token
    input and output price."""
    entry = model_entry(spec_or_model)
    if entry is None:
        return None
    prompt, completion = _number(entry, "input_cost_per_token"), _number(entry, "output_cost_per_token")
    if prompt is None or completion is None:
        return None
    return ModelPrices(input=prompt, output=completion,
                       input_batch=_number(entry, "input_cost_per_token_batches"),
                       output_batch=_number(entry, "output_cost_per_token_batches"),
                       cached_input=_number(entry, "cache_read_input_token_cost"))


def batch_prices(spec_or_model: str) -> tuple[float, float] | None:
    """(input, output) USD per token through the provider's Batch API, where the price map
    lists both; None otherwise (the caller decides what discount, if any, to assume)."""
    p = model_prices(spec_or_model)
    if p is None or p.input_batch is None or p.output_batch is None:
        return None
    return p.input_batch, p.output_batch


def cached_input_price(spec_or_model: str) -> float | None:
    """USD per prompt token served from the provider's prompt cache, where the map lists it."""
    p = model_prices(spec_or_model)
    return None if p is None else p.cached_input


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    prices = model_prices(model)
    if prices is None:
        return None
    return prompt_tokens * prices.input + completion_tokens * prices.output


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
        folder = litellm_package_dir()
        bundled = folder / "litellm_core_utils" / "tokenizers" if folder else None
        if bundled is not None and bundled.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
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
