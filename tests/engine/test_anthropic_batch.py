"""Batch mode on `litellm:anthropic/MODEL` through Anthropic's Message Batches API, against the
loopback server that speaks it (`justeval.testing.anthropic_batch_server`): the batch's requests
are the Messages API bodies LiteLLM would send, its results become the same completions as
synchronous calls through LiteLLM, at the batch price; errored and expired lines are retried,
an invalid request is an error at once, a cancelled batch is reported, and a batch whose
creation was not recorded is adopted rather than submitted twice."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.backends.anthropic_batch import INPUTS_FOLDER, AnthropicBatchAPI
from justeval.engine.backends.litellm_backend import LiteLLMBackend
from justeval.engine.batch_state import BatchState
from justeval.engine.costs import call_cost_usd
from justeval.engine.engine import CallResult, Engine, EngineConfig, RunSummary
from justeval.engine.types import GenParams, Message, Request
from justeval.errors import UsageError
from justeval.testing.anthropic_batch_server import AnthropicBatchPlan, AnthropicBatchServer
from justeval.testing.stub_server import Reply

MODEL = "litellm:anthropic/claude-haiku-4-5"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    monkeypatch.setenv("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")  # LiteLLM fetches it otherwise


@pytest.fixture
def server() -> Any:
    with AnthropicBatchServer(cache_read_tokens=3) as srv:
        yield srv


def requests(n: int, *, system: bool = True) -> list[Request]:
    head = [Message(role="system", content="You are a strict judge.")] if system else []
    return [Request(key=str(i), messages=[*head, Message(role="user", content=f"judge item {i}")],
                    params=GenParams(max_tokens=64, temperature=0.0, stop=["</end>"])) for i in range(n)]


def run(url: str, state: Path, reqs: list[Request], *, batch: bool = True,
        **config: Any) -> tuple[RunSummary, list[CallResult]]:
    config.setdefault("progress", False)
    config.setdefault("batch_poll_s", 0.05)
    config.setdefault("retry_base_s", 0.01)
    results: list[CallResult] = []
    engine = Engine(BackendSpec(spec=MODEL, base_urls=[url]), EngineConfig(batch=batch, batch_dir=state, **config))
    return engine.run_sync(reqs, results.append), results


def test_a_batch_carries_the_messages_bodies_and_its_results_match_synchronous_calls(
        server: AnthropicBatchServer, tmp_path: Path) -> None:
    summary, results = run(server.root, tmp_path / "b", requests(8))
    assert summary.ok == 8 and len(summary.batches_created) == 1 and len(server.batch_bodies) == 1
    assert summary.calls == sum(server.control_calls.values())  # create, polls, results: no upload call
    (body,) = server.batch_bodies
    first = body["requests"][0]
    assert re.fullmatch(r"[0-9a-f]{64}", first["custom_id"])  # the content hash, within Anthropic's 64 characters
    assert first["params"] == {"model": "claude-haiku-4-5", "max_tokens": 64, "temperature": 0.0,
                               "stop_sequences": ["</end>"], "system": "You are a strict judge.",
                               "messages": [{"role": "user", "content": "judge item 0"}]}
    create = next(r for r in server.requests if r.path == "/v1/messages/batches")
    assert create.headers["anthropic-version"] == "2023-06-01"
    assert create.headers["x-api-key"] == "sk-ant-test-not-a-real-key"
    # the same requests as ordinary calls, through LiteLLM, to the server's /v1/messages
    sync, plain = run(server.root, tmp_path / "s", requests(8), batch=False, cache=False)
    assert sync.ok == 8 and sum(1 for r in server.requests if r.path == "/v1/messages") == 8
    by_key = {r.request.key: r for r in plain}
    (batch_id,) = summary.batches_created
    for r in results:
        twin = by_key[r.request.key]
        assert r.completion is not None and twin.completion is not None
        assert r.completion.model_dump() == twin.completion.model_dump()  # text, usage (cached too), finish
        assert r.completion.usage.cached_tokens == 3 and r.completion.finish_reason == "stop"
        assert r.batch_id == batch_id and twin.batch_id is None
        assert r.cost_usd == pytest.approx(call_cost_usd(MODEL, r.completion.usage, batch=True))
        assert r.cost_usd == pytest.approx(call_cost_usd(MODEL, r.completion.usage) / 2)


@pytest.mark.parametrize(("model", "form"), [("claude-haiku-4-5", "output_format"), ("claude-opus-4-1", "tools")])
def test_structured_output_is_asked_for_as_litellm_asks_for_it(server: AnthropicBatchServer, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, model: str,
                                                               form: str) -> None:
    """Native `output_format` where LiteLLM sends it (newer models), else the forced tool; either
    way the reply's JSON is the completion's text."""
    monkeypatch.setattr(sys.modules[__name__], "MODEL", f"litellm:anthropic/{model}")
    server.responder = lambda req: Reply(text='{"score": 4}')
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"],
              "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "j", "strict": True, "schema": schema}}
    reqs = [Request(key="0", messages=[Message(role="user", content="rate")], params=GenParams(response_format=fmt))]
    summary, results = run(server.root, tmp_path / "b", reqs)
    sync, plain = run(server.root, tmp_path / "s", reqs, batch=False, cache=False)
    params = server.batch_bodies[0]["requests"][0]["params"]
    sent = next(r for r in server.requests if r.path == "/v1/messages")  # what LiteLLM sent for the same request
    assert form in params and form in sent.body
    for name in ("output_format", "tools", "tool_choice"):
        assert params.get(name) == sent.body.get(name)
    create = next(r for r in server.requests if r.path == "/v1/messages/batches")
    assert create.headers.get("anthropic-beta") == sent.headers.get("anthropic-beta")
    assert params["max_tokens"] == 4096  # Anthropic requires one: LiteLLM's default when none is set
    assert summary.ok == sync.ok == 1
    assert results[0].completion is not None and plain[0].completion is not None
    assert results[0].completion.text == plain[0].completion.text == '{"score": 4}'


def test_errored_and_expired_lines_go_into_a_new_batch(server: AnthropicBatchServer, tmp_path: Path) -> None:
    server.plans.append(AnthropicBatchPlan(outcome="expire", done_fraction=0.6, errored_every=3,
                                           error_type="overloaded_error"))
    summary, results = run(server.root, tmp_path, requests(10))
    assert summary.ok == 10 and summary.errors == 0 and len(summary.batches_created) == 2
    first, second = summary.batches_created
    counts = server.batches[first].data["request_counts"]
    assert counts["expired"] == 4 and counts["errored"] == 2 and counts["succeeded"] == 4
    again = {r.request.key for r in results if r.batch_id == second}
    assert len(again) == 6 and all(r.attempts == 2 for r in results if r.batch_id == second)
    assert sorted(server.batched.values()) == [1] * 4 + [2] * 6


def test_an_invalid_request_line_is_an_error_record_at_once(server: AnthropicBatchServer, tmp_path: Path) -> None:
    server.plans.append(AnthropicBatchPlan(errored_every=4, error_type="invalid_request_error"))
    summary, results = run(server.root, tmp_path, requests(8))
    assert summary.ok == 6 and summary.errors == 2 and len(summary.batches_created) == 1
    failed = sorted((r for r in results if r.status == "error"), key=lambda r: int(r.request.key))
    assert [r.request.key for r in failed] == ["3", "7"]
    assert all((r.error or "").startswith("HTTP 400: invalid_request_error") and r.batch_id for r in failed)


def test_a_cancelled_batch_is_reported_and_the_next_run_sends_the_rest(server: AnthropicBatchServer,
                                                                       tmp_path: Path) -> None:
    server.plans.append(AnthropicBatchPlan(outcome="cancel", done_fraction=0.5))
    summary, results = run(server.root, tmp_path, requests(10))
    assert summary.ok == 5 and summary.errors == 0 and len(summary.cancelled_keys) == 5
    assert not {r.request.key for r in results} & set(summary.cancelled_keys)
    again, rest = run(server.root, tmp_path, requests(10))
    assert again.cached == 5 and again.ok == 10 and len(again.batches_created) == 1
    assert sorted(r.request.key for r in rest if not r.cached) == sorted(summary.cancelled_keys)


def test_no_wait_submits_and_a_later_run_collects_without_submitting_again(server: AnthropicBatchServer,
                                                                           tmp_path: Path) -> None:
    server.default_plan = AnthropicBatchPlan(processing_s=0.5)
    summary, results = run(server.root, tmp_path, requests(6), batch_wait=False)
    assert results == [] and summary.batches_pending == 1 and len(summary.pending_keys) == 6
    assert not (tmp_path / INPUTS_FOLDER).exists() or not any((tmp_path / INPUTS_FOLDER).iterdir())
    later, collected = run(server.root, tmp_path, requests(6))
    assert later.batches_created == [] and later.ok == 6
    assert {r.batch_id for r in collected} == set(summary.batches_created)
    assert len(server.batch_bodies) == 1 and set(server.batched.values()) == {1}


def test_a_batch_whose_creation_was_not_recorded_is_found_not_made_again(server: AnthropicBatchServer,
                                                                         tmp_path: Path) -> None:
    """The process died during the create call: the state says `uploaded`, the batch exists."""
    reqs = requests(5)
    backend = LiteLLMBackend("anthropic/claude-haiku-4-5", base_url=server.root)
    api = AnthropicBatchAPI(backend)
    api.keep_inputs_in(tmp_path)
    from justeval.engine.batch import identity_digest
    from justeval.engine.cache import cache_key

    identity = backend.identity()
    ids = [cache_key(identity, r) for r in reqs]
    data = b"".join(api.line(cid, r)[1] for cid, r in zip(ids, reqs, strict=True))

    async def submit_and_lose_the_answer() -> None:
        file_id = await api.upload(data, "x.jsonl")
        BatchState(tmp_path).uploaded(file_id, identity_digest(identity), "/v1/messages/batches", ids)
        await api.create(file_id, "/v1/messages/batches", window="24h", metadata={})  # its answer is "lost"
        await api.aclose()

    asyncio.run(submit_and_lose_the_answer())
    summary, results = run(server.root, tmp_path, reqs)
    assert summary.ok == 5 and summary.batches_created == [] and len(server.batch_bodies) == 1
    assert set(server.batched.values()) == {1} and {r.batch_id for r in results} == set(server.batches)
    assert not any((tmp_path / INPUTS_FOLDER).iterdir())  # the kept requests go once the batch is recorded


def test_batch_mode_refuses_other_litellm_providers_naming_what_it_supports(tmp_path: Path) -> None:
    engine = Engine(BackendSpec(spec="litellm:gemini/gemini-2.0-flash", base_urls=["http://127.0.0.1:9"]),
                    EngineConfig(batch=True, batch_dir=tmp_path, progress=False))
    with pytest.raises(UsageError, match=r"openai: backend .* or litellm:anthropic/MODEL"):
        engine.run_sync(requests(1), lambda r: None)


def test_the_sync_fallback_sends_unfinished_lines_as_ordinary_messages_calls(server: AnthropicBatchServer,
                                                                             tmp_path: Path) -> None:
    server.plans.append(AnthropicBatchPlan(outcome="expire", done_fraction=0.5))
    summary, results = run(server.root, tmp_path, requests(6), batch_fallback="sync")
    assert summary.ok == 6 and len(summary.batches_created) == 1
    assert sum(1 for r in server.requests if r.path == "/v1/messages") == 3
    assert sum(1 for r in results if r.batch_id is None) == 3



def test_results_are_fetched_from_the_configured_server_whatever_host_the_reply_names(tmp_path: Path) -> None:
    """The API key goes with the download: it must not follow a results_url to another host."""
    with AnthropicBatchServer(results_root="http://127.0.0.2:9") as srv:
        summary, _results = run(srv.root, tmp_path, requests(3))
        assert summary.ok == 3 and srv.control_calls["results"] == 1


def test_a_request_the_messages_api_cannot_take_is_an_error_record_and_the_rest_are_sent(
        server: AnthropicBatchServer, tmp_path: Path) -> None:
    reqs = requests(3)
    reqs[1] = reqs[1].model_copy(update={"params": reqs[1].params.model_copy(update={"seed": 7})})
    summary, results = run(server.root, tmp_path, reqs)
    assert summary.ok == 2 and summary.errors == 1
    (failed,) = [r for r in results if r.status == "error"]
    assert failed.request.key == "1" and "does not take seed" in (failed.error or "")
    assert len(server.batch_bodies[0]["requests"]) == 2
