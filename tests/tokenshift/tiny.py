"""Tiny random causal LMs built and saved by the tests, a run directory of their greedy outputs,
and ranks computed here, independently of the code under test, from the models' full logits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "park", "quickly", "slowly", "big", "small", "red",
         "blue", "green", "one", "two", "three", "hello", "world", "write", "say", "tell", "story", "poem", "about",
         "why", "how", "what", "is", "are", "was", "sure", "here", "however", "note", "thank", "you", "please"]
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>"]
MARKUP = ["#", "Query:", "Answer:", "```"]
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|> {% endif %}")
INSTRUCTIONS = ["tell a story about the cat", "why is the dog big", "hello world", "write a poem about the park",
                "how big is the red mat", "what is one and two"]
#: the URIAL query layout, written out here so the test does not take it from the code under test
URIAL = "# Query:\n```\n{instruction}\n```\n\n# Answer:\n```\n"


def build_tiny_model(path: Path, *, seed: int, arch: str = "llama") -> Path:
    """A word-level tokenizer (decoding and re-encoding an output gives back its ids) and a
    randomly initialised Llama or GPT-2 of two layers, saved to `path`."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {tok: i for i, tok in enumerate(SPECIALS + MARKUP + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>",
                                                     bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config: Any
    if arch == "llama":
        config = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                          max_position_embeddings=256, initializer_range=0.1, pad_token_id=0,
                                          bos_token_id=2, eos_token_id=3)
        model: Any = transformers.LlamaForCausalLM(config)
    else:
        config = transformers.GPT2Config(vocab_size=len(vocab), n_embd=32, n_layer=2, n_head=4, n_positions=256,
                                         initializer_range=0.1, bos_token_id=2, eos_token_id=3, pad_token_id=0)
        model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def load(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path)
    model.eval()
    return model, AutoTokenizer.from_pretrained(path)


def prompt_ids(tokenizer: Any, instruction: str, layout: str = URIAL) -> list[int]:
    return list(tokenizer(layout.replace("{instruction}", instruction))["input_ids"])


def greedy_outputs(path: Path, instructions: list[str], *, max_new_tokens: int = 12) -> list[str]:
    """Each instruction's greedy continuation under the URIAL layout, one at a time, with the
    KV cache `generate` uses (a different computation from the analysis's one pass)."""
    import torch

    model, tok = load(path)
    never = [[tok.convert_tokens_to_ids(t)] for t in ("<pad>", "<unk>", "<s>", "<|user|>", "<|assistant|>")]
    outputs = []
    for instruction in instructions:
        ids = torch.tensor([prompt_ids(tok, instruction)])
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=max_new_tokens, bad_words_ids=never, pad_token_id=0)
        new = out[0, ids.shape[1]:].tolist()
        text = tok.decode(new, skip_special_tokens=True)
        assert tok(text, add_special_tokens=False)["input_ids"] == [i for i in new if i != tok.eos_token_id]
        outputs.append(text)
    return outputs


def write_run(run: Path, instructions: list[str], outputs: list[str], *, generator: str = "tiny-aligned",
              failed: tuple[int, ...] = ()) -> Path:
    """A run directory as `justeval generate` leaves it (without run.json)."""
    run.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (instruction, output) in enumerate(zip(instructions, outputs, strict=True)):
        ok = i not in failed
        lines.append({"id": i, "instruction": instruction, "output": output if ok else None, "generator": generator,
                      "dataset": "koala" if i % 2 else "lima", "category": "regular",
                      "status": "ok" if ok else "error", "error": None if ok else "HTTP 500"})
    (run / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return run


def reference_ranks(path: Path, instruction: str, output: str, *, targets: list[int] | None = None) -> list[int]:
    """Ranks computed here: the full logits of the whole sequence, and for each output token the
    number of vocabulary entries scoring strictly higher, plus one."""
    import torch

    model, tok = load(path)
    prompt = prompt_ids(tok, instruction)
    output_ids = list(tok(output, add_special_tokens=False)["input_ids"])
    with torch.inference_mode():
        logits = model(torch.tensor([prompt + output_ids])).logits[0].float()
    ranks = []
    for j, token in enumerate(targets if targets is not None else output_ids):
        row = logits[len(prompt) + j - 1]
        ranks.append(int((row > row[token]).sum()) + 1)
    return ranks
