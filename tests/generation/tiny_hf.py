"""A tiny randomly initialised Llama with a word-level tokenizer, built and saved by the tests
themselves (no download): one token per word, so token counts can be checked by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|> {% endif %}")
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "park", "quickly", "slowly", "big", "small", "red",
         "blue", "green", "one", "two", "three", "hello", "world", "write", "say", "tell", "story", "poem", "about",
         "why", "how", "what", "is", "are", "was", "#", "Query:", "Answer:", "User:", "Assistant:", "```"]


def build_tiny_llama(path: Path, *, positions: int = 256, seed: int = 0) -> Path:
    """Save the model and tokenizer into `path` and return it (skips without torch/transformers)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {tok: i for i, tok in enumerate(SPECIALS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>",
                                                     bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=positions, pad_token_id=0, bos_token_id=2,
                                      eos_token_id=3)
    model = transformers.LlamaForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
