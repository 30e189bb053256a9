"""Retries against the loopback server: what is retried, what is not, and how long we wait."""

from __future__ import annotations

import time

from justeval.engine.types import Backend
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.engine.conftest import RunEngine, chat_request


def test_429_is_retried_after_the_servers_retry_after(stub_server: StubServer, openai_backend: Backend,
                                                      run_engine: RunEngine) -> None:
    arrivals: list[float] = []

    def responder(req: StubRequest) -> Reply:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return Reply(status=429, text="slow down", headers={"Retry-After": "0.6"})
        return Reply(text="fine")

    stub_server.responder = responder
    summary, results = run_engine(openai_backend, [chat_request("a")])
    assert results[0].status == "ok" and results[0].completion is not None
    assert results[0].completion.text == "fine"
    assert results[0].attempts == 2 and summary.retries == 1
    assert arrivals[1] - arrivals[0] >= 0.6  # backoff alone would be ~0.01 s


def test_retry_after_ms_header_is_honoured(stub_server: StubServer, openai_backend: Backend,
                                           run_engine: RunEngine) -> None:
    arrivals: list[float] = []

    def responder(req: StubRequest) -> Reply:
        arrivals.append(time.monotonic())
        return Reply(status=429, headers={"retry-after-ms": "400"}) if len(arrivals) == 1 else Reply(text="ok")

    stub_server.responder = responder
    _, results = run_engine(openai_backend, [chat_request("a")])
    assert results[0].status == "ok"
    assert arrivals[1] - arrivals[0] >= 0.4


def test_server_errors_and_dropped_connections_are_retried(stub_server: StubServer, openai_backend: Backend,
                                                           run_engine: RunEngine) -> None:
    stub_server.script.extend([Reply(status=500), Reply(status=503), Reply(drop=True), Reply(text="made it")])
    summary, results = run_engine(openai_backend, [chat_request("a")], concurrency=1)
    assert [r.status for r in results] == ["ok"]
    assert results[0].completion is not None and results[0].completion.text == "made it"
    assert results[0].attempts == 4
    assert stub_server.count == 4 and summary.retries == 3


def test_a_reply_slower_than_the_timeout_is_abandoned_and_retried(stub_server: StubServer, openai_backend: Backend,
                                                                  run_engine: RunEngine) -> None:
    stub_server.script.extend([Reply(text="too late", delay=1.5), Reply(text="in time")])
    start = time.monotonic()
    _, results = run_engine(openai_backend, [chat_request("a")], timeout_s=0.5)
    elapsed = time.monotonic() - start
    assert results[0].status == "ok" and results[0].completion is not None
    assert results[0].completion.text == "in time"
    assert results[0].attempts == 2
    assert elapsed < 1.4  # did not wait for the slow reply


def test_client_errors_are_never_retried(stub_server: StubServer, openai_backend: Backend,
                                         run_engine: RunEngine) -> None:
    stub_server.script.extend([Reply(status=400, text="bad request"), Reply(status=401, text="bad key"),
                               Reply(status=403), Reply(status=404)])
    summary, results = run_engine(openai_backend, [chat_request(k) for k in "abcd"], concurrency=1)
    assert stub_server.count == 4  # one request each, no second try
    assert [r.status for r in results] == ["error"] * 4
    assert all(r.attempts == 1 for r in results)
    by_key = {r.request.key: r.error or "" for r in results}
    assert "400" in by_key["a"] and "bad request" in by_key["a"]
    assert "401" in by_key["b"] and "bad key" in by_key["b"]
    assert summary.errors == 4 and summary.retries == 0


def test_after_max_retries_the_result_is_an_error_with_the_message(stub_server: StubServer, openai_backend: Backend,
                                                                   run_engine: RunEngine) -> None:
    stub_server.responder = lambda req: Reply(status=502, text="gateway down")
    summary, results = run_engine(openai_backend, [chat_request("a")], max_retries=2)
    assert stub_server.count == 3
    assert results[0].status == "error" and results[0].attempts == 3
    assert "gateway down" in (results[0].error or "")
    assert summary.errors == 1 and summary.ok == 0


def test_one_failing_item_does_not_stop_the_others(stub_server: StubServer, openai_backend: Backend,
                                                   run_engine: RunEngine) -> None:
    stub_server.responder = lambda req: Reply(status=400) if "bad" in req.prompt_text else Reply(text="ok")
    summary, results = run_engine(openai_backend, [chat_request(str(i), "bad" if i == 3 else f"q{i}")
                                                   for i in range(8)])
    assert summary.ok == 7 and summary.errors == 1
    assert {r.request.key for r in results if r.status == "error"} == {"3"}
