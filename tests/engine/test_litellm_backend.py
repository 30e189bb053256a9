"""The litellm backend through LiteLLM's real code path against the loopback server."""

from __future__ import annotations

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.types import GenParams, Request
from justeval.testing.stub_server import Reply, StubServer
from tests.engine.conftest import RunEngine, chat_request


def test_litellm_chat_call_with_retries(stub_server: StubServer, run_engine: RunEngine) -> None:
    backend = BackendSpec(spec="litellm:openai/stub-model", base_urls=[stub_server.base_url]).build()
    stub_server.script.extend([Reply(status=429, headers={"Retry-After": "0.2"}), Reply(status=500),
                               Reply(text="hello from litellm", usage={"prompt_tokens": 9, "completion_tokens": 4})])
    summary, results = run_engine(backend, [chat_request("a", "hi", temperature=0.0, max_tokens=20)])
    result = results[0]
    assert result.status == "ok" and result.attempts == 3 and summary.retries == 2
    assert result.completion is not None and result.completion.text == "hello from litellm"
    assert (result.completion.usage.prompt_tokens, result.completion.usage.completion_tokens) == (9, 4)
    body = stub_server.requests[-1].body
    assert stub_server.requests[-1].path == "/v1/chat/completions"
    assert body["model"] == "stub-model" and body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["temperature"] == 0.0 and body["max_tokens"] == 20
    assert result.cost_usd is None  # a self-hosted openai-compatible server has no list price


def test_litellm_client_errors_are_not_retried(stub_server: StubServer, run_engine: RunEngine) -> None:
    backend = BackendSpec(spec="litellm:openai/stub-model", base_urls=[stub_server.base_url]).build()
    stub_server.script.extend([Reply(status=401, text="who are you"), Reply(status=400, text="malformed")])
    _, results = run_engine(backend, [chat_request("a"), chat_request("b")], concurrency=1)
    assert stub_server.count == 2
    assert [r.status for r in results] == ["error", "error"]
    assert "401" in (results[0].error or "") and "400" in (results[1].error or "")


def test_litellm_text_completion_uses_the_completions_endpoint(stub_server: StubServer,
                                                                run_engine: RunEngine) -> None:
    backend = BackendSpec(spec="litellm:text-completion-openai/base-model", base_urls=[stub_server.base_url]).build()
    _, results = run_engine(backend, [Request(key="a", prompt="Once", params=GenParams(max_tokens=3))])
    assert stub_server.requests[0].path == "/v1/completions"
    assert stub_server.requests[0].body["prompt"] == "Once"
    assert results[0].completion is not None and results[0].completion.text == "echo: Once"


def test_litellm_prices_known_models(stub_server: StubServer, run_engine: RunEngine) -> None:
    import litellm

    entry = litellm.model_cost["gpt-4o-mini"]
    backend = BackendSpec(spec="litellm:gpt-4o-mini", base_urls=[stub_server.base_url]).build()
    stub_server.script.append(Reply(text="x", usage={"prompt_tokens": 1000, "completion_tokens": 500}))
    _, results = run_engine(backend, [chat_request("a")])
    expected = 1000 * entry["input_cost_per_token"] + 500 * entry["output_cost_per_token"]
    assert results[0].cost_usd is not None and abs(results[0].cost_usd - expected) < 1e-12
