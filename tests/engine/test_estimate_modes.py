"""The dry-run estimate of a list of requests: synchronous vs batch vs prompt caching."""

from __future__ import annotations

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.costs import call_cost_usd
from justeval.engine.estimate import (
    CACHE_MIN_TOKENS,
    cacheable_tokens,
    estimate_requests,
    prompt_tokens,
)
from justeval.engine.pricing import count_tokens
from justeval.engine.types import GenParams, Message, Request
from justeval.judging.estimate import estimate_calls, estimate_judge_modes
from justeval.judging.prompts import JudgeTemplates, build_item
from justeval.records import Generation, Usage

RUBRIC = " ".join(f"rule {i}: be fair and precise." for i in range(400))  # well over 1,024 tokens


def request(key: str, item: str, *, system: str = RUBRIC, schema: dict | None = None) -> Request:  # type: ignore[type-arg]
    return Request(key=key, messages=[Message(role="system", content=system), Message(role="user", content=item)],
                   params=GenParams(response_format=schema))


def test_a_shared_prefix_over_the_minimum_is_cached_for_every_request_but_the_first() -> None:
    requests = [request(str(i), f"item number {i}: {'x' * i}") for i in range(10)]
    shared = count_tokens("\n".join(["<system>" + RUBRIC, "<user>item number "]), "gpt-4o")
    assert shared > CACHE_MIN_TOKENS
    cached = cacheable_tokens(requests, "gpt-4o")
    assert sorted(cached)[0] == 0 and sum(1 for c in cached if c) == 9  # the first pays in full
    expected = CACHE_MIN_TOKENS + (shared - CACHE_MIN_TOKENS) // 128 * 128
    assert all(c in (0, expected, expected + 128) for c in cached) and max(cached) % 128 == 0


def test_a_prefix_under_the_minimum_is_not_cached() -> None:
    requests = [request(str(i), f"item {i}", system="Grade the answer.") for i in range(20)]
    assert cacheable_tokens(requests, "gpt-4o") == [0] * 20


def test_the_output_schema_comes_first_in_the_cached_prefix() -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object", "properties": {
        f"field_{i}": {"type": "string", "description": "a field " * 20} for i in range(40)}}}}
    with_schema = [request(str(i), f"item {i}", system="short", schema=schema) for i in range(5)]
    without = [request(str(i), f"item {i}", system="short") for i in range(5)]
    assert sum(cacheable_tokens(with_schema, "gpt-4o")) > 0 == sum(cacheable_tokens(without, "gpt-4o"))


def test_the_three_costs_price_the_same_tokens_three_ways() -> None:
    requests = [request(str(i), f"item {i}") for i in range(8)]
    est = estimate_requests(requests, "openai:gpt-4o-mini", 300)
    assert est.calls == 8 and est.completion_tokens == 2400
    assert est.prompt_tokens == sum(prompt_tokens(r, "openai:gpt-4o-mini") for r in requests)
    plain = Usage(prompt_tokens=est.prompt_tokens, completion_tokens=est.completion_tokens)
    assert est.sync_usd == pytest.approx(call_cost_usd("gpt-4o-mini", plain))
    assert est.batch_usd == pytest.approx(call_cost_usd("gpt-4o-mini", plain, batch=True))
    assert est.batch_usd == pytest.approx(est.sync_usd / 2)  # type: ignore[operator]
    assert 0 < est.cached_prompt_tokens < est.prompt_tokens
    assert est.cached_usd is not None and est.sync_usd is not None and est.cached_usd < est.sync_usd
    text = "\n".join(est.lines())
    assert "8 calls" in text and "batch (--batch): $" in text and "with prompt caching: $" in text


def test_a_self_hosted_judge_has_no_price_in_any_mode() -> None:
    backend = BackendSpec(spec="openai:gpt-4o-mini", base_urls=["http://127.0.0.1:9/v1"]).build()
    from justeval.engine.estimate import backend_pricer

    est = estimate_requests([request("a", "x")], "openai:gpt-4o-mini", 10, price=backend_pricer(backend))
    assert (est.sync_usd, est.batch_usd, est.cached_usd) == (None, None, None)
    assert "synchronous: unknown" in est.lines()[1]


def test_the_judge_estimate_matches_the_plain_one_and_adds_batch_and_caching() -> None:
    templates = JudgeTemplates.load()
    gens = [Generation(id=i, instruction=f"Explain idea {i}.", output=f"Idea {i} means this. " * 20,
                       generator="m", category="regular" if i % 4 else "safety") for i in range(12)]
    items = [build_item(g, templates, params=GenParams(temperature=0, max_tokens=1024), judge_system=None,
                        max_words=-1, structured=True) for g in gens]
    modes = estimate_judge_modes(items, "openai:gpt-4o", max_tokens=1024)
    plain = estimate_calls(items, "openai:gpt-4o", max_tokens=1024)
    assert (modes.calls, modes.prompt_tokens, modes.completion_tokens) == (plain.calls, plain.prompt_tokens,
                                                                           plain.completion_tokens)
    assert modes.sync_usd == pytest.approx(plain.cost_usd)
    assert modes.batch_usd == pytest.approx(plain.cost_usd / 2)  # type: ignore[operator]
    # the built-in templates quote a per-item tag early, so items share under 1,024 tokens: no caching
    assert modes.cached_prompt_tokens == 0
