"""The content-addressed reply cache: hits make no HTTP request; failures are never stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.cache import ReplyCache, cache_key, default_cache_dir
from justeval.engine.types import Backend
from justeval.testing.stub_server import Reply, StubServer
from tests.engine.conftest import RunEngine, chat_request


def test_a_cached_call_makes_no_http_request(stub_server: StubServer, openai_backend: Backend,
                                             run_engine: RunEngine) -> None:
    first_summary, first = run_engine(openai_backend, [chat_request("a", temperature=0.0)])
    assert stub_server.count == 1 and first_summary.cached == 0
    summary, again = run_engine(openai_backend, [chat_request("a", temperature=0.0)])
    assert stub_server.count == 1  # unchanged: served from the cache
    assert again[0].cached and again[0].status == "ok" and again[0].cost_usd == 0.0
    assert again[0].completion == first[0].completion
    assert summary.cached == 1 and summary.calls == 0


def test_the_callers_key_is_not_part_of_the_cache_key(stub_server: StubServer, openai_backend: Backend,
                                                      run_engine: RunEngine) -> None:
    run_engine(openai_backend, [chat_request("item-1", "same prompt")])
    _, results = run_engine(openai_backend, [chat_request("item-2", "same prompt")])
    assert stub_server.count == 1 and results[0].cached and results[0].request.key == "item-2"


@pytest.mark.parametrize("change", ["prompt", "params", "model"])
def test_anything_that_changes_the_reply_misses_the_cache(stub_server: StubServer, openai_backend: Backend,
                                                          run_engine: RunEngine, change: str) -> None:
    run_engine(openai_backend, [chat_request("a", "hello", temperature=0.0)])
    backend = openai_backend
    request = chat_request("a", "hello", temperature=0.0)
    if change == "prompt":
        request = chat_request("a", "hello!", temperature=0.0)
    elif change == "params":
        request = chat_request("a", "hello", temperature=0.7)
    else:
        backend = BackendSpec(spec="openai:other-model", base_urls=[stub_server.base_url]).build()
    _, results = run_engine(backend, [request])
    assert stub_server.count == 2 and not results[0].cached


def test_failures_are_not_cached(stub_server: StubServer, openai_backend: Backend, run_engine: RunEngine) -> None:
    stub_server.script.append(Reply(status=400, text="nope"))
    _, first = run_engine(openai_backend, [chat_request("a")])
    assert first[0].status == "error"
    _, second = run_engine(openai_backend, [chat_request("a")])
    assert stub_server.count == 2
    assert second[0].status == "ok" and not second[0].cached


def test_cache_off_always_calls(stub_server: StubServer, openai_backend: Backend, run_engine: RunEngine) -> None:
    run_engine(openai_backend, [chat_request("a")], cache=False)
    run_engine(openai_backend, [chat_request("a")], cache=False)
    assert stub_server.count == 2


def test_cache_lives_in_the_configured_folder(stub_server: StubServer, openai_backend: Backend,
                                              run_engine: RunEngine, tmp_path: Path) -> None:
    folder = tmp_path / "my-cache"
    run_engine(openai_backend, [chat_request("a")], cache_dir=folder)
    cache = ReplyCache(folder)
    try:
        assert len(cache) == 1
        key = cache_key(openai_backend.identity(), chat_request("zzz", "question a"))
        hit = cache.get(key)
        assert hit is not None and hit.text == "echo: question a"
    finally:
        cache.close()


def test_default_cache_folder_follows_env_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JUSTEVAL_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("JUSTEVAL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "justeval"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "justeval"


def test_cache_uses_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    cache = ReplyCache(tmp_path / "c")
    cache.close()
    mode = sqlite3.connect(tmp_path / "c" / "replies.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_an_unusable_cache_folder_is_a_clear_error(tmp_path: Path) -> None:
    from justeval.errors import JustevalError

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(JustevalError, match="--no-cache"):
        ReplyCache(blocker / "cache")


def test_identical_calls_in_flight_together_are_paid_once(stub_server: StubServer, openai_backend: Backend,
                                                         run_engine: RunEngine) -> None:
    stub_server.latency = 0.1
    requests = [chat_request(f"item-{i}", "the same prompt") for i in range(6)] + [chat_request("other", "x")]
    summary, results = run_engine(openai_backend, requests, concurrency=8)
    assert stub_server.count == 2  # one call for the six identical prompts, one for the other
    assert summary.ok == 7 and summary.cached == 5
    texts = {r.request.key: r.completion.text for r in results if r.completion is not None}
    assert len({texts[f"item-{i}"] for i in range(6)}) == 1


def test_without_the_cache_identical_calls_are_all_sent(stub_server: StubServer, openai_backend: Backend,
                                                       run_engine: RunEngine) -> None:
    stub_server.latency = 0.05
    run_engine(openai_backend, [chat_request(f"item-{i}", "the same prompt") for i in range(4)], concurrency=4,
               cache=False)
    assert stub_server.count == 4


def test_a_failed_call_is_not_shared_with_its_twins(stub_server: StubServer, openai_backend: Backend,
                                                   run_engine: RunEngine) -> None:
    stub_server.script.extend([Reply(status=400, delay=0.05)])  # the first call fails for good
    _, results = run_engine(openai_backend, [chat_request(f"item-{i}", "same") for i in range(3)],
                            concurrency=3)
    statuses = sorted(r.status for r in results)
    assert statuses == ["error", "ok", "ok"]
    assert stub_server.count == 2  # the failure, then one successful call shared by the third
