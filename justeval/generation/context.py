"""Counting a prompt's tokens, for the ICL context budget (`--context-tokens`).

With the model's own tokenizer where there is one (an `hf:` model, or `--tokenizer NAME_OR_PATH`
for a model behind a server), the count is exact for completion prompts; otherwise it is an
estimate (`justeval.engine.pricing.count_tokens`: tiktoken, or about 4 characters a token), and
the record says which (`icl.token_counter`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from justeval.engine.types import Message
from justeval.errors import UsageError

#: what a chat turn costs beyond its text when no chat template can be applied (role markers)
TOKENS_PER_MESSAGE = 4


@dataclass
class TokenCounter:
    """`count(text)` for a completion prompt, `count_messages(messages)` for a chat request."""

    name: str
    count: Callable[[str], int]
    _tokenizer: Any = None

    def count_messages(self, messages: list[Message]) -> int:
        tok = self._tokenizer
        plain = [{"role": m.role, "content": m.content} for m in messages]
        if tok is not None and getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(plain, tokenize=True, add_generation_prompt=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):  # newer transformers return an encoding
                ids = ids["input_ids"]
            return len(ids)
        return sum(self.count(m.content) + TOKENS_PER_MESSAGE for m in messages)


def hf_counter(name_or_path: str) -> TokenCounter:
    """The tokenizer of an `hf:` model or of `--tokenizer` (transformers, the `[hf]` extra)."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise UsageError("counting tokens with a model's tokenizer needs the [hf] extra: "
                         "pip install 'justeval[hf]' (or leave out --tokenizer for an estimate)") from exc
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the tokenizer {name_or_path!r}: {exc}") from exc

    def count(text: str) -> int:
        return len(tok(text, add_special_tokens=True)["input_ids"])

    return TokenCounter(name=f"tokenizer:{name_or_path}", count=count, _tokenizer=tok)


def estimate_counter(model: str | None) -> TokenCounter:
    from justeval.engine.pricing import count_tokens

    return TokenCounter(name="estimate", count=lambda text: count_tokens(text, model))
