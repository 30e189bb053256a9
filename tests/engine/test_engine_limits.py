"""Concurrency cap, lazy consumption and rpm/tpm pacing, observed at the server."""

from __future__ import annotations

import time
from collections.abc import Iterator

from justeval.engine.types import Backend, Request
from justeval.testing.stub_server import Reply, StubServer
from tests.engine.conftest import RunEngine, chat_request


def test_concurrency_is_never_exceeded_and_is_used(stub_server: StubServer, openai_backend: Backend,
                                                   run_engine: RunEngine) -> None:
    stub_server.latency = 0.05
    summary, _ = run_engine(openai_backend, [chat_request(str(i)) for i in range(40)], concurrency=5)
    assert summary.ok == 40 and stub_server.count == 40
    assert stub_server.max_in_flight <= 5
    assert stub_server.max_in_flight >= 4  # the pool really runs in parallel


def test_requests_are_pulled_lazily_from_the_iterable(stub_server: StubServer, openai_backend: Backend,
                                                      run_engine: RunEngine) -> None:
    stub_server.latency = 0.02
    pulled = 0
    finished = 0
    most_ahead = 0

    def requests() -> Iterator[Request]:
        nonlocal pulled, most_ahead
        for i in range(30):
            pulled += 1
            most_ahead = max(most_ahead, pulled - finished)
            yield chat_request(str(i))

    from justeval.engine.engine import Engine, EngineConfig

    def on_result(_: object) -> None:
        nonlocal finished
        finished += 1

    Engine(openai_backend, EngineConfig(concurrency=3, progress=False)).run_sync(requests(), on_result)
    assert finished == 30
    assert most_ahead <= 3  # never more taken than can be in flight


def test_every_result_is_reported_once_with_its_request(stub_server: StubServer, openai_backend: Backend,
                                                        run_engine: RunEngine) -> None:
    _, results = run_engine(openai_backend, [chat_request(str(i), f"text {i}") for i in range(25)], concurrency=7)
    assert sorted(int(r.request.key) for r in results) == list(range(25))
    for r in results:
        assert r.completion is not None and r.completion.text == f"echo: text {r.request.key}"
        assert r.latency_s > 0
        assert r.completion.usage.prompt_tokens > 0


def test_rpm_spreads_requests_over_time(stub_server: StubServer, openai_backend: Backend,
                                        run_engine: RunEngine) -> None:
    rpm, n = 2400.0, 60  # 40 per second, with at most one second's worth at once
    requests = [chat_request(str(i)) for i in range(n)]
    unpaced, _ = run_engine(openai_backend, requests, concurrency=16, cache=False)
    paced, _ = run_engine(openai_backend, requests, concurrency=16, rpm=rpm, cache=False)
    per_second = rpm / 60
    assert stub_server.count == 2 * n
    assert paced.wall_s >= (n - per_second) / per_second * 0.95  # 20 beyond the burst at 40/s
    assert paced.wall_s > unpaced.wall_s


def test_tpm_paces_by_prompt_tokens(stub_server: StubServer, openai_backend: Backend,
                                    run_engine: RunEngine) -> None:
    from justeval.engine.pricing import count_tokens

    text = "word " * 400
    tokens = count_tokens(text, "stub-model")
    tpm = tokens * 60 * 4  # about four such prompts per second
    # the server reports fewer tokens than estimated, so only the estimate paces
    stub_server.responder = lambda req: Reply(text="ok", usage={"prompt_tokens": 1, "completion_tokens": 1})
    start = time.monotonic()
    run_engine(openai_backend, [chat_request(str(i), f"{i} {text}") for i in range(10)], concurrency=10, tpm=tpm)
    elapsed = time.monotonic() - start
    assert elapsed >= (10 - 4) / 4 * 0.8


def test_no_requests_is_an_empty_summary(openai_backend: Backend, run_engine: RunEngine,
                                         stub_server: StubServer) -> None:
    summary, results = run_engine(openai_backend, [])
    assert results == [] and summary.ok == summary.errors == 0 and stub_server.count == 0


def test_an_error_in_on_result_stops_the_run_and_surfaces(stub_server: StubServer, openai_backend: Backend) -> None:
    import pytest

    from justeval.engine.engine import Engine, EngineConfig

    seen: list[str] = []

    def on_result(result: object) -> None:
        seen.append("x")
        if len(seen) == 3:
            raise OSError("disk full")

    stub_server.latency = 0.01
    with pytest.raises(OSError, match="disk full"):
        Engine(openai_backend, EngineConfig(concurrency=2, progress=False)).run_sync(
            [chat_request(str(i)) for i in range(50)], on_result)
    assert stub_server.count < 50  # stopped instead of sending everything
