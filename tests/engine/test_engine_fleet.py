"""A fleet of servers for one model (issue 13): least busy first, concurrency per server or in
total, a dying server's calls go to the others, each result names its server, and the reply
cache does not care which replica answered. All against real loopback servers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import CallResult, Engine, EngineConfig, RunSummary
from justeval.testing.dead_hosts import closed_port
from justeval.testing.stub_server import InFlight, Reply, StubRequest, StubServer
from tests.engine.conftest import chat_request


@contextmanager
def fleet(n: int, **kwargs: Any) -> Iterator[list[StubServer]]:
    with ExitStack() as stack:
        yield [stack.enter_context(StubServer(**kwargs)) for _ in range(n)]


def run_fleet(urls: list[str], n: int, *, prefix: str = "", **config: Any) -> tuple[RunSummary, list[CallResult]]:
    config.setdefault("progress", False)
    config.setdefault("retry_base_s", 0.01)
    config.setdefault("raise_on_stop", False)
    results: list[CallResult] = []
    spec = BackendSpec(spec="openai:replica-model", base_urls=urls)
    summary = Engine(spec, EngineConfig(**config)).run_sync(
        [chat_request(str(i), f"{prefix}question {i}") for i in range(n)], results.append)
    return summary, results


def completed_by(servers: list[StubServer]) -> Counter[str]:
    """How many times each prompt got a full reply, over all servers."""
    return Counter(req.prompt_text for srv in servers for req in srv.completed)


def test_calls_go_to_the_least_busy_server_and_each_result_names_it() -> None:
    with fleet(4, latency=0.02) as servers:
        urls = [s.base_url for s in servers]
        summary, results = run_fleet(urls, 240, concurrency=4)
        assert summary.ok == 240
        assert all(s.max_in_flight <= 4 for s in servers)
        assert all(40 <= s.count <= 80 for s in servers), [s.count for s in servers]  # spread, not round-robin luck
        served_at = {req.prompt_text: srv.base_url for srv in servers for req in srv.completed}
        assert all(r.endpoint == served_at[f"question {r.request.key}"] for r in results)
        assert summary.served_by == {s.base_url: s.count for s in servers}


def test_concurrency_is_per_server_unless_a_total_is_set() -> None:
    shared = InFlight()
    with fleet(4, latency=0.05, shared=shared) as servers:
        urls = [s.base_url for s in servers]
        run_fleet(urls, 160, concurrency=3, cache=False)
        assert 9 <= shared.peak <= 12 and all(s.max_in_flight <= 3 for s in servers)
        shared.peak = 0
        run_fleet(urls, 160, concurrency=3, total_concurrency=5, cache=False)
        assert 4 <= shared.peak <= 5


def test_a_server_killed_mid_run_loses_nothing_and_no_item_is_answered_twice() -> None:
    with fleet(4, latency=0.01) as servers:
        victim = servers[2]
        served = 0
        lock = threading.Lock()

        def responder(req: StubRequest) -> Reply:
            nonlocal served
            with lock:
                served += 1
                if served == 60:
                    threading.Thread(target=victim.kill).start()
            return Reply(text=f"answer to {req.prompt_text}")

        for srv in servers:
            srv.responder = (lambda req: Reply(text=f"answer to {req.prompt_text}"))
        victim.responder = responder
        summary, results = run_fleet([s.base_url for s in servers], 1000, concurrency=8)
        assert summary.stop_reason is None and summary.not_sent == 0
        assert summary.ok == 1000 and sorted(int(r.request.key) for r in results) == list(range(1000))
        assert all(r.completion is not None and r.completion.text == f"answer to question {r.request.key}"
                   for r in results)
        counts = completed_by(servers)
        assert len(counts) == 1000 and set(counts.values()) == {1}  # none answered twice
        assert sum(1 for r in results if r.endpoint == victim.base_url) == len(victim.completed) >= 40
        assert summary.retries >= 1  # its calls in flight went elsewhere


def test_the_run_stops_only_when_every_server_is_out() -> None:
    with fleet(2, latency=0.01) as servers:
        served = 0
        lock = threading.Lock()

        def responder(req: StubRequest) -> Reply:
            nonlocal served
            with lock:
                served += 1
                if served == 30:
                    threading.Thread(target=servers[0].kill).start()
                if served == 80:
                    threading.Thread(target=servers[1].kill).start()
            return Reply(text="ok")

        for srv in servers:
            srv.responder = responder
        summary, _results = run_fleet([s.base_url for s in servers], 500, concurrency=4, breaker_cooldown_s=0.5)
    assert summary.stop_reason is not None
    assert summary.stop_reason.startswith("no server answers (cannot reach ")
    assert all(s.base_url in summary.stop_reason for s in servers)
    assert summary.ok == sum(len(s.completed) for s in servers) >= 60
    assert summary.ok + summary.errors + summary.not_sent == 500 and summary.not_sent > 300


def test_a_server_dead_from_the_start_is_left_out_and_the_others_serve() -> None:
    with closed_port() as port, fleet(1) as (live,):
        dead = f"http://127.0.0.1:{port}/v1"
        summary, results = run_fleet([dead, live.base_url], 50)
    assert summary.stop_reason is None and summary.ok == 50
    assert {r.endpoint for r in results} == {live.base_url} and summary.calls == 50


def test_a_server_asking_to_wait_for_hours_is_left_out_while_the_others_serve() -> None:
    with fleet(2) as (busy, free):
        busy.responder = lambda req: Reply(status=429, headers={"Retry-After": "7200"})
        summary, results = run_fleet([busy.base_url, free.base_url], 60)
    assert summary.stop_reason is None and summary.ok == 60
    assert busy.count <= 8 and {r.endpoint for r in results} == {free.base_url}


def test_the_cache_key_does_not_depend_on_which_replica_answered() -> None:
    with fleet(3) as (a, b, c):
        first, results = run_fleet([a.base_url, b.base_url], 30, concurrency=2)
        assert first.ok == 30 and {r.endpoint for r in results} == {a.base_url, b.base_url}
        for urls in ([a.base_url], [a.base_url, c.base_url]):
            again, repeat = run_fleet(urls, 30)
            assert again.cached == 30 and again.calls == 0 and all(r.endpoint is None for r in repeat)
        assert c.count == 0


def test_a_spec_with_several_urls_builds_one_backend_each_with_one_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_FLEET_KEY", "sk-fleet")
    spec = BackendSpec(spec="openai:m", base_urls="http://127.0.0.1:1/v1, http://127.0.0.1:2/v1",
                       api_key_env="MY_FLEET_KEY")
    backends = spec.build_all(timeout_s=5)
    assert [b.server for b in backends] == ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    assert all(b._api_key == "sk-fleet" for b in backends)  # type: ignore[attr-defined]
    assert len(Engine(spec).backends) == 2 and len(BackendSpec(spec="openai:m").build_all()) == 1
