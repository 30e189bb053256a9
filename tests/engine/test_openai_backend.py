"""The openai backend: payload and reply handling as pure functions, and the real SDK over HTTP."""

from __future__ import annotations

import time

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.backends.openai_backend import build_payload, map_exception, parse_response
from justeval.engine.httperrors import parse_retry_after
from justeval.engine.types import BackendError, GenParams, Message, Request
from justeval.errors import JustevalError
from justeval.testing.stub_server import Reply, StubServer
from tests.engine.conftest import RunEngine, chat_request


def test_chat_payload_carries_messages_and_only_the_set_parameters() -> None:
    request = Request(key="k", messages=[Message(role="system", content="be brief"),
                                         Message(role="user", content="hi")],
                      params=GenParams(temperature=0.0, max_tokens=32, stop=["\n\n"], seed=7))
    endpoint, body = build_payload("gpt-4o-mini", request)
    assert endpoint == "chat"
    assert body == {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "be brief"},
                                                         {"role": "user", "content": "hi"}],
                    "temperature": 0.0, "max_tokens": 32, "stop": ["\n\n"], "seed": 7}


def test_reasoning_models_get_max_completion_tokens() -> None:
    _, body = build_payload("o3-mini", chat_request("k", max_tokens=100))
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body


def test_response_format_is_passed_through_on_chat_only() -> None:
    fmt = {"type": "json_object"}
    _, chat = build_payload("m", chat_request("k", response_format=fmt))
    assert chat["response_format"] == fmt
    endpoint, completion = build_payload("m", Request(key="k", prompt="x", params=GenParams(response_format=fmt)))
    assert endpoint == "completions" and "response_format" not in completion


def test_completion_mode_sends_the_prompt() -> None:
    endpoint, body = build_payload("m", Request(key="k", prompt="# Query:\n```hi```"), completion=False)
    assert endpoint == "completions" and body["prompt"] == "# Query:\n```hi```" and "messages" not in body
    endpoint, body = build_payload("m", chat_request("k", "plain"), completion=True)
    assert endpoint == "completions" and body["prompt"] == "plain"


def test_reply_parsing_reads_text_usage_and_finish_reason() -> None:
    chat = {"model": "m", "usage": {"prompt_tokens": 11, "completion_tokens": 3},
            "choices": [{"message": {"role": "assistant", "content": "hello"}, "finish_reason": "length"}]}
    c = parse_response("chat", chat)
    assert (c.text, c.usage.prompt_tokens, c.usage.completion_tokens, c.finish_reason) == ("hello", 11, 3, "length")
    text = {"choices": [{"text": "once", "finish_reason": "stop"}]}
    c = parse_response("completions", text)
    assert c.text == "once" and c.usage.prompt_tokens == 0 and c.finish_reason == "stop"
    with pytest.raises(BackendError) as err:
        parse_response("chat", {"choices": []})
    assert not err.value.retryable


def test_retry_after_headers_are_parsed() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    wait = parse_retry_after({"Retry-After": http_date})
    assert wait is not None and 25 <= wait <= 31
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_sdk_errors_map_to_retryable_or_not() -> None:
    import openai

    from justeval.engine.backends.aiohttp_transport import sdk_http

    httpx = sdk_http()  # the SDK's own HTTP library builds its errors' requests and responses

    def status_error(code: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
        req = httpx.Request("POST", "http://x/v1/chat/completions")
        resp = httpx.Response(code, headers=headers or {}, request=req)
        cls = {429: openai.RateLimitError, 400: openai.BadRequestError, 401: openai.AuthenticationError,
               500: openai.InternalServerError}.get(code, openai.APIStatusError)
        return cls("boom", response=resp, body=None)

    limited = map_exception(status_error(429, {"retry-after": "2"}))
    assert limited.retryable and limited.status == 429 and limited.retry_after == 2.0
    assert map_exception(status_error(500)).retryable
    assert map_exception(status_error(503)).retryable
    for code in (400, 401, 403, 404):
        assert not map_exception(status_error(code)).retryable
    req = httpx.Request("POST", "http://x")
    assert map_exception(openai.APIConnectionError(request=req)).retryable
    assert map_exception(openai.APITimeoutError(request=req)).retryable


def test_completion_flag_uses_the_completions_endpoint(stub_server: StubServer, run_engine: RunEngine) -> None:
    spec = BackendSpec(spec="openai:base-model", base_urls=[stub_server.base_url], endpoint="completions")
    backend = spec.build(timeout_s=5)
    _, results = run_engine(backend, [Request(key="a", prompt="Once upon a time",
                                              params=GenParams(stop=["```"], max_tokens=5))])
    sent = stub_server.requests[0]
    assert sent.path == "/v1/completions"
    assert sent.body["prompt"] == "Once upon a time" and sent.body["stop"] == ["```"] and sent.body["max_tokens"] == 5
    assert results[0].completion is not None and results[0].completion.text == "echo: Once upon a time"


def test_api_key_comes_from_the_named_variable(stub_server: StubServer, run_engine: RunEngine,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVER_KEY", "sk-from-my-var")
    backend = BackendSpec(spec="openai:m", base_urls=[stub_server.base_url], api_key_env="MY_SERVER_KEY").build()
    run_engine(backend, [chat_request("a")])
    assert stub_server.requests[0].headers["Authorization"] == "Bearer sk-from-my-var"
    assert "sk-from-my-var" not in repr(backend.identity())


def test_a_named_but_unset_key_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(JustevalError, match="NOT_SET_ANYWHERE"):
        BackendSpec(spec="openai:m", base_urls=["http://127.0.0.1:1/v1"], api_key_env="NOT_SET_ANYWHERE").build()


def test_local_servers_work_without_any_key(stub_server: StubServer, run_engine: RunEngine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    backend = BackendSpec(spec="openai:m", base_urls=[stub_server.base_url]).build()
    _, results = run_engine(backend, [chat_request("a")])
    assert results[0].status == "ok"
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(JustevalError, match="OPENAI_API_KEY"):
        BackendSpec(spec="openai:gpt-4o-mini").build()


def test_base_url_can_come_from_the_environment(stub_server: StubServer, run_engine: RunEngine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub_server.base_url)
    _, results = run_engine(BackendSpec(spec="openai:m").build(), [chat_request("a")])
    assert results[0].status == "ok" and stub_server.count == 1


def test_backend_survives_several_event_loops(stub_server: StubServer, run_engine: RunEngine) -> None:
    backend = BackendSpec(spec="openai:m", base_urls=[stub_server.base_url]).build()
    for i in range(3):
        _, results = run_engine(backend, [chat_request(str(i))], cache=False)
        assert results[0].status == "ok"
    assert stub_server.count == 3


def test_unknown_backend_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        BackendSpec(spec="nope:model")


def test_response_format_reaches_the_server(stub_server: StubServer, run_engine: RunEngine) -> None:
    backend = BackendSpec(spec="openai:m", base_urls=[stub_server.base_url]).build()
    assert backend.supports_response_format()
    stub_server.script.append(Reply(text='{"a": 1}'))
    run_engine(backend, [chat_request("a", response_format={"type": "json_object"})])
    assert stub_server.requests[0].body["response_format"] == {"type": "json_object"}
