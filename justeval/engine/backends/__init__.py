"""Built-in backends, registered by name; each module is imported only when first used."""

from __future__ import annotations

from typing import Any

from justeval.engine.types import register_backend


def _openai() -> Any:
    from justeval.engine.backends.openai_backend import OpenAIBackend

    return OpenAIBackend


def _litellm_backend() -> Any:
    from justeval.engine.backends.litellm_backend import LiteLLMBackend

    return LiteLLMBackend


def _hf() -> Any:
    from justeval.engine.backends.hf_backend import HFBackend

    return HFBackend


register_backend("openai", _openai)
register_backend("litellm", _litellm_backend)
register_backend("hf", _hf)
