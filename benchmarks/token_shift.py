"""Benchmark: output tokens ranked per second on CPU, justeval's teacher-forced pass against a
token-by-token loop like AlignTDS's, on the same small random model and the same outputs.

- justeval: `token_shift()` on a run directory (hf: scorer): prompt and output fed once,
  several outputs per padded forward pass, every position's rank and top-k from that pass;
  the time includes tokenizing, building and appending the records.
- loop: for each output token, the model is run again on the whole prefix (no KV cache), the
  last position's logits give that token's rank and top-k, then the token is appended: what
  AlignTDS's `logit_analysis.py` does (written here from its description, not its code).

Both rank the same tokens; the script checks that they agree. The outputs are random words of
a word-level vocabulary, so every output has exactly --tokens tokens. Both wall and CPU seconds
are printed: on a shared machine the CPU seconds (and their ratio) are the steadier figure;
torch runs on --threads threads (default 1, for the same reason).

    python benchmarks/token_shift.py [--outputs 8] [--tokens 128] [--hidden 128] [--layers 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

TOP_K = 10


def build_model(path: Path, *, vocab: int, hidden: int, layers: int) -> None:
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<pad>", "<unk>", "<s>", "</s>", "#", "Query:", "Answer:", "```"] + [f"w{i}" for i in range(vocab)]
    core = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>",
                                                     bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=len(words), hidden_size=hidden, intermediate_size=hidden * 2,
                                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                                      max_position_embeddings=2048, pad_token_id=0, bos_token_id=2, eos_token_id=3)
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)


def write_run(run: Path, *, outputs: int, tokens: int, vocab: int) -> list[tuple[str, str]]:
    rng = random.Random(1)
    items = [(f"w{rng.randrange(vocab)} w{rng.randrange(vocab)} w{rng.randrange(vocab)} w{rng.randrange(vocab)}",
              " ".join(f"w{rng.randrange(vocab)}" for _ in range(tokens))) for _ in range(outputs)]
    run.mkdir(parents=True)
    with open(run / "generations.jsonl", "w", encoding="utf-8") as fh:
        for i, (instruction, output) in enumerate(items):
            fh.write(json.dumps({"id": i, "instruction": instruction, "output": output, "generator": "bench"}) + "\n")
    return items


def token_by_token(model_path: Path, items: list[tuple[str, str]]) -> tuple[float, float, list[list[int]]]:
    """Wall and CPU seconds, and ranks, of the no-cache loop: one full forward pass per output token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from justeval.tokenshift.templates import load_template

    model: Any = AutoModelForCausalLM.from_pretrained(model_path)
    model.eval()
    tok = AutoTokenizer.from_pretrained(model_path)
    template = load_template("urial")
    all_ranks = []
    with torch.inference_mode():
        model(torch.tensor([[2, 8, 9]]))  # warm-up, outside the timing
    started, cpu = time.perf_counter(), time.process_time()
    for instruction, output in items:
        prefix = list(tok(template.render(instruction))["input_ids"])
        ranks = []
        for token in tok(output, add_special_tokens=False)["input_ids"]:
            with torch.inference_mode():
                last = model(torch.tensor([prefix])).logits[0, -1].float()
            torch.log_softmax(last, dim=-1).topk(TOP_K)  # the alternatives AlignTDS keeps per position
            ranks.append(int((last > last[token]).sum()) + 1)
            prefix.append(token)
        all_ranks.append(ranks)
    return time.perf_counter() - started, time.process_time() - cpu, all_ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128, help="tokens per output")
    parser.add_argument("--vocab", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    from justeval.engine.backend_spec import BackendSpec
    from justeval.engine.config import EngineConfig
    from justeval.tokenshift import TokenShiftSettings, read_token_shift, token_shift
    from justeval.tokenshift.hf_scorer import hf_scorer

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        build_model(model, vocab=args.vocab, hidden=args.hidden, layers=args.layers)
        items = write_run(Path(tmp) / "run", outputs=args.outputs, tokens=args.tokens, vocab=args.vocab)
        total = args.outputs * args.tokens
        hf_scorer(str(model))._logits([[2, 8, 9]])  # loaded and warmed up outside the timing, as the loop's copy
        settings = TokenShiftSettings(base=BackendSpec(spec=f"hf:{model}"), batch_tokens=args.batch_tokens,
                                      engine=EngineConfig(progress=False))
        started, cpu = time.perf_counter(), time.process_time()
        [result] = token_shift([Path(tmp) / "run"], settings)
        ours, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
        records = read_token_shift(result.path)
        loop, loop_cpu, loop_ranks = token_by_token(model, items)

    agree = all(records[i].ranks == ranks for i, ranks in enumerate(loop_ranks))
    print(f"model: Llama, {args.layers} layers, hidden {args.hidden}, vocab {args.vocab + 8}; "
          f"{args.outputs} outputs x {args.tokens} tokens = {total:,} tokens; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), CPU")
    print(f"justeval teacher-forced pass : {ours:7.2f} s wall {ours_cpu:7.2f} s CPU  {total / ours_cpu:9,.0f} "
          f"tokens per CPU second  (batches of <= {args.batch_tokens} padded tokens)")
    print(f"token-by-token loop, no cache: {loop:7.2f} s wall {loop_cpu:7.2f} s CPU  {total / loop_cpu:9,.0f} "
          "tokens per CPU second")
    print(f"ratio: {loop_cpu / ours_cpu:.1f}x fewer CPU seconds ({loop / ours:.1f}x wall); "
          f"ranks agree: {'yes' if agree else 'NO'}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
