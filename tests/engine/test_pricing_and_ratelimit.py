"""Prices from LiteLLM's bundled map, token counts, and the token bucket."""

from __future__ import annotations

import asyncio
import time

import pytest

from justeval.engine.pricing import cost_usd, count_tokens, estimate_cost
from justeval.engine.ratelimit import TokenBucket
from justeval.records import Usage


def test_known_openai_model_is_priced_from_the_bundled_map() -> None:
    import litellm

    entry = litellm.model_cost["gpt-4o-mini"]
    expected = 1234 * entry["input_cost_per_token"] + 56 * entry["output_cost_per_token"]
    usage = Usage(prompt_tokens=1234, completion_tokens=56)
    for spec in ("openai:gpt-4o-mini", "gpt-4o-mini", "litellm:openai/gpt-4o-mini"):
        got = cost_usd(spec, usage)
        assert got is not None and abs(got - expected) < 1e-12
    assert estimate_cost("gpt-4o-mini", 1234, 56) == pytest.approx(expected)


@pytest.mark.parametrize("spec", ["openai:my-finetune-xyz", "hf:./tiny", "litellm:openai/stub", "litellm:nope/nothing"])
def test_unknown_models_have_no_price(spec: str) -> None:
    assert cost_usd(spec, Usage(prompt_tokens=10, completion_tokens=10)) is None


def test_token_counts_grow_with_text() -> None:
    short, long = count_tokens("hello world"), count_tokens("hello world " * 100)
    assert 1 <= short <= 4
    assert 150 <= long <= 300
    assert count_tokens("") == 0


def test_token_bucket_lets_a_burst_through_then_paces() -> None:
    async def main() -> list[float]:
        bucket = TokenBucket(rate_per_minute=600)  # 10 per second, burst of 10
        stamps = []
        start = time.monotonic()
        for _ in range(15):
            await bucket.acquire(1)
            stamps.append(time.monotonic() - start)
        return stamps

    stamps = asyncio.run(main())
    assert stamps[9] < 0.1  # the first ten go at once
    assert stamps[14] >= 0.45  # five more at 10/s


def test_a_request_larger_than_the_bucket_still_passes_once_full() -> None:
    async def main() -> tuple[float, float]:
        bucket = TokenBucket(rate_per_minute=3600)  # 60 per second, capacity 60
        start = time.monotonic()
        await bucket.acquire(90)  # bigger than the bucket: allowed at once, leaves a debt of 30
        first = time.monotonic() - start
        await bucket.acquire(1)  # must wait the debt off: 31 units at 60/s
        return first, time.monotonic() - start

    first, second = asyncio.run(main())
    assert first < 0.05
    assert second >= 31 / 60 * 0.95
