"""Splitting prompt and output into the token ids that are scored.

Prompt and output are tokenized apart and joined, as AlignTDS does: the prompt with the
tokenizer's special tokens (a BOS where the model expects one), the output without, so the
output's tokens are the same whatever prompt precedes it and no token straddles the boundary.
Both paths (local forward pass, server) score exactly these ids: the server gets them as the
prompt, not the text.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from justeval.errors import JustevalError
from justeval.tokenshift.records import TokenizerRef
from justeval.tokenshift.templates import PromptTemplate


@dataclass
class Tokens:
    """A tokenizer and what identifies it (name, and a hash of its vocabulary and rules)."""

    name: str
    tokenizer: Any
    sha256: str
    _pieces: dict[int, str] = field(default_factory=dict)

    @property
    def ref(self) -> TokenizerRef:
        return TokenizerRef(name=self.name, sha256=self.sha256)

    def prompt_ids(self, template: PromptTemplate, instruction: str) -> tuple[str, list[int]]:
        """The prompt's text and ids: a text template with the special tokens, or the chat template's text."""
        tok = self.tokenizer
        if template.is_chat:
            if not getattr(tok, "chat_template", None):
                raise JustevalError(f"tokenizer {self.name} has no chat template; choose --aligned-template "
                                    "urial, plain or a FILE")
            text = str(tok.apply_chat_template([{"role": "user", "content": instruction}], tokenize=False,
                                               add_generation_prompt=True))
            return text, list(tok(text, add_special_tokens=False)["input_ids"])
        text = template.render(instruction)
        return text, list(tok(text, add_special_tokens=True)["input_ids"])

    def output_ids(self, text: str) -> tuple[list[int], list[tuple[int, int]] | None]:
        """The output's ids, and for a fast tokenizer each token's character span in `text`."""
        tok = self.tokenizer
        if getattr(tok, "is_fast", False):
            enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
            return list(enc["input_ids"]), [(int(s), int(e)) for s, e in enc["offset_mapping"]]
        return list(tok(text, add_special_tokens=False)["input_ids"]), None

    def piece(self, token_id: int) -> str:
        """A token's text as the tokenizer decodes it alone (cached: the same few recur)."""
        text = self._pieces.get(token_id)
        if text is None:
            text = self._pieces[token_id] = str(self.tokenizer.decode([token_id]))
        return text

    def same_vocabulary(self, other: Tokens) -> bool:
        return bool(self.sha256 == other.sha256 or self.tokenizer.get_vocab() == other.tokenizer.get_vocab())


@functools.lru_cache(maxsize=8)
def load_tokens(name: str) -> Tokens:
    """The tokenizer of an HF repo or local folder (transformers), loaded once per process."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise JustevalError("token-shift needs the [hf] extra for its tokenizer: pip install 'justeval[hf]'") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise JustevalError(f"cannot load tokenizer {name!r}: {exc}".splitlines()[0]) from exc
    return Tokens(name=name, tokenizer=tokenizer, sha256=tokenizer_hash(tokenizer))


def tokenizer_hash(tokenizer: Any) -> str:
    """sha256 of the full tokenizer definition (fast tokenizers), else of its vocabulary."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        material = backend.to_str()
    else:
        material = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]
