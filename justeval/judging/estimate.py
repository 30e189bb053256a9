"""What a judge pass would cost, computed from the exact requests it would send, without
sending any (`--dry-run`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from justeval.judging.templates import JudgeTemplate, upstream_settings

if TYPE_CHECKING:
    from justeval.engine.estimate import ModeEstimate
    from justeval.engine.types import Backend
    from justeval.judging.prompts import JudgeItem

Pricer = Callable[[int, int], "float | None"]

# Chat formats add a few tokens around every message and to prime the reply.
_PER_MESSAGE = 4
_PER_REPLY = 3


@dataclass
class CostEstimate:
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: no price known for this model

    def cost_text(self) -> str:
        return "unknown" if self.cost_usd is None else f"${self.cost_usd:,.4f}"


def expected_completion_tokens(template: JudgeTemplate, aspects: int, max_tokens: int | None) -> int:
    """A typical reply length: the template's own figure, else the upstream figure for its
    file name, else about 60 tokens per aspect; never more than max_tokens."""
    guess = template.meta.get("expected_completion_tokens")
    if guess is None and template.upstream:
        table = upstream_settings().get("expected_completion_tokens") or {}
        guess = table.get(template.name, table.get("default"))
    tokens = int(guess) if guess is not None else 60 * max(1, aspects) + 30
    return min(tokens, max_tokens) if max_tokens else tokens


def estimate_calls(items: Sequence[JudgeItem], judge_spec: str, *, max_tokens: int | None,
                   price: Pricer | None = None) -> CostEstimate:
    """Token and cost estimate of `items`; `price(prompt_tokens, completion_tokens)` prices
    them as the backend would (default: the judge's list price), None meaning unknown."""
    from justeval.engine.pricing import count_tokens, estimate_cost

    prompt = completion = 0
    schema_tokens: dict[str, int] = {}  # a structured-output schema is sent (and billed) with every call
    for item in items:
        prompt += sum(count_tokens(m.content, judge_spec) + _PER_MESSAGE for m in item.request.messages) + _PER_REPLY
        fmt = item.request.params.response_format
        if fmt is not None:
            text = json.dumps(fmt, separators=(",", ":"))
            if text not in schema_tokens:
                schema_tokens[text] = count_tokens(text, judge_spec)
            prompt += schema_tokens[text]
        completion += expected_completion_tokens(item.template, len(item.aspects), max_tokens)
    if not items:
        cost: float | None = 0.0
    elif price is not None:
        cost = price(prompt, completion)
    else:
        cost = estimate_cost(judge_spec, prompt, completion)
    return CostEstimate(calls=len(items), prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)


def estimate_judge_modes(items: Sequence[JudgeItem], judge_spec: str, *, max_tokens: int | None,
                         backend: Backend | None = None) -> ModeEstimate:
    """The judge pass's calls, tokens and cost sent synchronously, through the batch interface
    (`--batch`) and with provider prompt caching, for `--dry-run` to print side by side
    (`ModeEstimate.lines()`). Priced as `backend` would charge (a self-hosted judge: unknown),
    else at the judge's list prices."""
    from justeval.engine.estimate import backend_pricer, estimate_requests

    expected = {id(item.request): expected_completion_tokens(item.template, len(item.aspects), max_tokens)
                for item in items}
    return estimate_requests([item.request for item in items], judge_spec,
                             lambda request: expected[id(request)],
                             price=backend_pricer(backend) if backend is not None else None)
