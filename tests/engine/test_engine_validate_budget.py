"""Parse retries through a validator, and the budget stop."""

from __future__ import annotations

import os

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import CallResult, ParseFailure
from justeval.engine.types import Backend, Completion, Request
from justeval.testing.stub_server import Reply, StubServer
from tests.engine.conftest import RunEngine, chat_request


def needs_braces(completion: Completion) -> str:
    if not completion.text.startswith("{"):
        raise ParseFailure(f"not a JSON object: {completion.text[:20]!r}")
    return completion.text.strip("{}")


def test_an_unparsable_reply_is_asked_again(stub_server: StubServer, openai_backend: Backend,
                                            run_engine: RunEngine) -> None:
    stub_server.script.extend([Reply(text="no json here"), Reply(text="{score: 5}")])
    _, results = run_engine(openai_backend, [chat_request("a")], validate=needs_braces, parse_retries=2)
    assert stub_server.count == 2
    assert results[0].status == "ok" and results[0].parsed == "score: 5" and results[0].attempts == 2


def test_after_parse_retries_the_raw_reply_is_kept_as_parse_error(stub_server: StubServer, openai_backend: Backend,
                                                                  run_engine: RunEngine) -> None:
    stub_server.responder = lambda req: Reply(text="still prose")
    summary, results = run_engine(openai_backend, [chat_request("a")], validate=needs_braces, parse_retries=1)
    assert stub_server.count == 2
    result = results[0]
    assert result.status == "parse_error" and result.parsed is None
    assert result.completion is not None and result.completion.text == "still prose"
    assert "not a JSON object" in (result.error or "")
    assert summary.parse_errors == 1 and summary.ok == 0


def test_a_result_carries_the_tokens_of_every_reply_it_paid_for(stub_server: StubServer, openai_backend: Backend,
                                                                run_engine: RunEngine) -> None:
    stub_server.script.extend([Reply(text="prose", usage={"prompt_tokens": 100, "completion_tokens": 7}),
                               Reply(text="{ok}", usage={"prompt_tokens": 100, "completion_tokens": 3})])
    _, results = run_engine(openai_backend, [chat_request("a")], validate=needs_braces, parse_retries=2)
    usage = results[0].completion.usage  # type: ignore[union-attr]
    assert (usage.prompt_tokens, usage.completion_tokens) == (200, 10)
    stub_server.responder = lambda req: Reply(text="prose", usage={"prompt_tokens": 50, "completion_tokens": 5})
    _, failed = run_engine(openai_backend, [chat_request("b")], validate=needs_braces, parse_retries=2)
    assert failed[0].status == "parse_error" and failed[0].attempts == 3
    usage = failed[0].completion.usage  # type: ignore[union-attr]
    assert (usage.prompt_tokens, usage.completion_tokens) == (150, 15)
    # the cache keeps the one reply it serves, with its own tokens
    _, cached = run_engine(openai_backend, [chat_request("a")], validate=needs_braces)
    assert cached[0].cached and cached[0].completion.usage.completion_tokens == 3  # type: ignore[union-attr]


def test_unparsable_replies_are_not_cached(stub_server: StubServer, openai_backend: Backend,
                                           run_engine: RunEngine) -> None:
    stub_server.script.append(Reply(text="prose"))
    run_engine(openai_backend, [chat_request("a")], validate=needs_braces)
    stub_server.responder = lambda req: Reply(text="{fine}")
    _, results = run_engine(openai_backend, [chat_request("a")], validate=needs_braces)
    assert stub_server.count == 2 and results[0].status == "ok" and not results[0].cached
    _, again = run_engine(openai_backend, [chat_request("a")], validate=needs_braces)
    assert stub_server.count == 2 and again[0].cached and again[0].parsed == "fine"


def test_budget_stops_new_calls_and_counts_the_rest(stub_server: StubServer, run_engine: RunEngine) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    price = litellm.model_cost["gpt-4o-mini"]["input_cost_per_token"]
    stub_server.responder = lambda req: Reply(text="x", usage={"prompt_tokens": 1_000_000, "completion_tokens": 0})
    backend = BackendSpec(spec="litellm:gpt-4o-mini", base_urls=[stub_server.base_url]).build()
    per_call = 1_000_000 * price
    budget = 2.5 * per_call
    summary, results = run_engine(backend, [chat_request(str(i)) for i in range(10)], concurrency=1,
                                  budget_usd=budget)
    assert stub_server.count == 3  # the third call crosses the budget; no fourth is sent
    assert len(results) == 3 and summary.skipped_budget == 7 and summary.stopped_by_budget
    assert abs(summary.cost_usd - 3 * per_call) < 1e-9
    assert all(r.cost_usd is not None and abs(r.cost_usd - per_call) < 1e-9 for r in results)
    assert summary.skipped_keys == [str(i) for i in range(3, 10)]


def test_without_a_budget_unpriced_calls_are_reported(stub_server: StubServer, openai_backend: Backend,
                                                      run_engine: RunEngine) -> None:
    summary, results = run_engine(openai_backend, [chat_request("a"), chat_request("b")])
    assert results[0].cost_usd is None  # a self-hosted model has no price
    assert summary.unpriced_calls == 2 and summary.cost_usd == 0.0


def test_a_request_validator_checks_each_reply_against_its_own_request(stub_server: StubServer,
                                                                       openai_backend: Backend) -> None:
    from justeval.engine.engine import Engine, EngineConfig

    def wants_its_key(request: Request, completion: Completion) -> str:
        if request.key not in completion.text:
            raise ParseFailure(f"reply does not mention {request.key}")
        return request.key

    stub_server.responder = lambda req: Reply(text="about alpha")  # only right for "alpha"
    results: list[CallResult] = []
    config = EngineConfig(progress=False, cache=False, parse_retries=1, retry_base_s=0.01)
    Engine(openai_backend, config).run_sync([chat_request("alpha"), chat_request("beta")], results.append,
                                            validate_request=wants_its_key)
    by_key = {r.request.key: r for r in results}
    assert by_key["alpha"].status == "ok" and by_key["alpha"].parsed == "alpha"
    assert by_key["beta"].status == "parse_error" and by_key["beta"].attempts == 2
