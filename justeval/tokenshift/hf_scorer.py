"""Ranks from a local model: one teacher-forced forward pass per output, several outputs per pass.

The prompt and the output are fed together; the logits at the positions before each output
token are that token's next-token distribution, so one pass gives every position's ranks
(AlignTDS reruns the model on the growing prefix once per token, without a cache). Sequences are
right-padded into a batch: with a causal mask the padding after a sequence cannot change it.
A rank is 1 + the number of vocabulary entries with a strictly higher logit (ties in the
measured token's favour).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from justeval.errors import JustevalError


@dataclass
class Scored:
    """One output scored by the base model: per position the measured token's rank, and the
    ids and log-probabilities of the top-k (best first)."""

    ranks: list[int]
    top_ids: list[list[int]]
    top_logprobs: list[list[float]]


class HFScorer:
    """A causal LM loaded once (see `hf_scorer`), scoring batches of (prompt ids, output ids); the
    ids come from the analysis's tokenizer (`justeval.tokenshift.tokens`)."""

    def __init__(self, path: str, *, device: str | None = None, dtype: str | None = None) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM
        except ImportError as exc:
            raise JustevalError("token-shift with an hf: model needs the [hf] extra: pip install 'justeval[hf]'") \
                from exc
        self.path = path
        try:
            kwargs: dict[str, Any] = {}
            if dtype:
                if not isinstance(getattr(torch, dtype, None), torch.dtype):
                    raise JustevalError(f"--dtype {dtype!r} is not a torch dtype (float32, bfloat16, float16)")
                kwargs["dtype"] = getattr(torch, dtype)
            model: Any = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        except (OSError, ValueError) as exc:
            raise JustevalError(f"cannot load hf model {path!r}: {exc}".splitlines()[0]) from exc
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.to(self.device)
        model.eval()
        self.model = model
        self._lock = threading.Lock()

    def _logits(self, sequences: Sequence[Sequence[int]]) -> Any:
        """Float32 logits [batch, length, vocab] of right-padded `sequences`."""
        import torch

        length = max(len(s) for s in sequences)
        ids = torch.zeros((len(sequences), length), dtype=torch.long)  # padding: masked, and after every real token
        mask = torch.zeros((len(sequences), length), dtype=torch.long)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
            mask[row, : len(seq)] = 1
        with self._lock, torch.inference_mode():
            out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
        return out.logits.float()

    def rank(self, prompts: Sequence[Sequence[int]], outputs: Sequence[Sequence[int]],
             targets: Sequence[Sequence[int]], top_k: int) -> list[Scored]:
        """For each output: the rank of `targets[i][j]` (the measured token at position j) in the
        distribution predicting output position j, and the top-k there. One pass for the batch."""
        import torch

        logits = self._logits([[*p, *o] for p, o in zip(prompts, outputs, strict=True)])
        results = []
        for row, (prompt, output, target) in enumerate(zip(prompts, outputs, targets, strict=True)):
            if not output:
                results.append(Scored([], [], []))
                continue
            span = logits[row, len(prompt) - 1: len(prompt) - 1 + len(output)]  # row i predicts output token i
            chosen = torch.tensor(list(target), dtype=torch.long, device=span.device)
            chosen_logit = span.gather(1, chosen[:, None])
            ranks = (span > chosen_logit).sum(dim=1) + 1
            logprobs = torch.log_softmax(span, dim=-1)
            top = logprobs.topk(min(top_k, span.shape[-1]), dim=-1)
            results.append(Scored(ranks.tolist(), top.indices.tolist(),
                                  [[round(v, 4) for v in row_] for row_ in top.values.tolist()]))
        return results

    def top1(self, prompts: Sequence[Sequence[int]], outputs: Sequence[Sequence[int]]) -> list[list[int]]:
        """The model's own most likely token at each output position, teacher-forced on the output."""
        logits = self._logits([[*p, *o] for p, o in zip(prompts, outputs, strict=True)])
        return [logits[row, len(p) - 1: len(p) - 1 + len(o)].argmax(dim=-1).tolist() if o else []
                for row, (p, o) in enumerate(zip(prompts, outputs, strict=True))]


@functools.lru_cache(maxsize=4)
def hf_scorer(path: str, device: str | None = None, dtype: str | None = None) -> HFScorer:
    """One loaded model per (path, device, dtype) and process: a second analysis reuses it."""
    return HFScorer(path, device=device, dtype=dtype)
