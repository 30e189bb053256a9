"""Cached prompt tokens are read from the reply and priced as the provider prices them; batch
calls cost the price map's batch price, or the documented half where it has none."""

from __future__ import annotations

import pytest

from justeval.engine.costs import BATCH_DISCOUNT, call_cost_usd, prices
from justeval.engine.pricing import cost_usd
from justeval.engine.types import Backend
from justeval.records import Generation, Judgment, Usage
from justeval.testing.stub_server import Reply, StubServer
from tests.engine.conftest import RunEngine, chat_request


def price_entry(model: str) -> dict[str, float]:
    import litellm

    return litellm.model_cost[model]


def test_cached_tokens_are_read_from_the_usage_details(stub_server: StubServer, openai_backend: Backend,
                                                       run_engine: RunEngine) -> None:
    stub_server.script.append(Reply(text="ok", usage={"prompt_tokens": 2048, "completion_tokens": 10,
                                                      "prompt_tokens_details": {"cached_tokens": 1536}}))
    _, results = run_engine(openai_backend, [chat_request("a")])
    usage = results[0].completion.usage  # type: ignore[union-attr]
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens) == (2048, 1536, 10)


def test_a_reply_without_details_has_no_cached_tokens(stub_server: StubServer, openai_backend: Backend,
                                                      run_engine: RunEngine) -> None:
    stub_server.script.append(Reply(text="ok", usage={"prompt_tokens": 12, "completion_tokens": 3,
                                                      "prompt_tokens_details": None}))
    _, results = run_engine(openai_backend, [chat_request("a")])
    assert results[0].completion.usage.cached_tokens == 0  # type: ignore[union-attr]


def test_records_written_before_cached_tokens_existed_still_load() -> None:
    gen = Generation.model_validate_json('{"id": 3, "instruction": "hi", "output": "yo", "generator": "m", '
                                         '"usage": {"prompt_tokens": 5, "completion_tokens": 2}}')
    assert gen.usage.cached_tokens == 0 and gen.usage.prompt_tokens == 5
    judgment = Judgment.model_validate({"id": 3, "judge": "j", "generator": "m", "status": "ok",
                                        "template": {"name": "t", "hash": "h"},
                                        "usage": {"prompt_tokens": 9, "completion_tokens": 1}})
    assert judgment.usage.cached_tokens == 0


def test_cached_prompt_tokens_cost_the_cached_input_price() -> None:
    entry = price_entry("gpt-4o")
    usage = Usage(prompt_tokens=3000, completion_tokens=200, cached_tokens=2048)
    expected = (952 * entry["input_cost_per_token"] + 2048 * entry["cache_read_input_token_cost"]
                + 200 * entry["output_cost_per_token"])
    assert call_cost_usd("openai:gpt-4o", usage) == pytest.approx(expected)
    assert call_cost_usd("openai:gpt-4o", usage) < cost_usd("openai:gpt-4o", usage)  # type: ignore[operator]


def test_without_cached_tokens_the_price_is_the_plain_list_price() -> None:
    usage = Usage(prompt_tokens=1234, completion_tokens=56)
    assert call_cost_usd("openai:gpt-4o-mini", usage) == cost_usd("openai:gpt-4o-mini", usage)


def test_a_batch_call_costs_the_price_maps_batch_price() -> None:
    entry = price_entry("gpt-4.1")
    usage = Usage(prompt_tokens=1000, completion_tokens=300)
    expected = 1000 * entry["input_cost_per_token_batches"] + 300 * entry["output_cost_per_token_batches"]
    assert call_cost_usd("gpt-4.1", usage, batch=True) == pytest.approx(expected)


def test_without_a_listed_batch_price_the_documented_discount_applies() -> None:
    entry = price_entry("gpt-4-turbo")
    assert "input_cost_per_token_batches" not in entry
    usage = Usage(prompt_tokens=1000, completion_tokens=300)
    sync = cost_usd("gpt-4-turbo", usage)
    assert sync is not None
    assert call_cost_usd("gpt-4-turbo", usage, batch=True) == pytest.approx(sync * BATCH_DISCOUNT)


def test_no_discount_is_invented_where_the_map_lists_none() -> None:
    found = prices("gpt-4-turbo")
    assert found is not None and found.cached_input == found.input  # no cached price listed: full input price
    gpt4o = prices("gpt-4o")
    assert gpt4o is not None and gpt4o.batch_cached_input == gpt4o.batch_input  # no stacked batch+cache price
    gpt5 = prices("gpt-5")
    assert gpt5 is not None and gpt5.batch_cached_input == price_entry("gpt-5")["cache_read_input_token_cost_batches"]


def test_an_unknown_model_has_no_price_in_any_mode() -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=10, cached_tokens=5)
    assert call_cost_usd("openai:my-finetune-xyz", usage) is None
    assert call_cost_usd("openai:my-finetune-xyz", usage, batch=True) is None
