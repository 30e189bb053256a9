"""Batch mode (issue 13) against the loopback Files + Batches server: the real SDK uploads,
creates, polls and downloads; results arrive through the same on_result as ordinary calls.

What is pinned: nothing is submitted twice (not across a SIGKILL, not across --no-wait),
cache hits are never sent, limits cut batches, failed/expired lines are retried (in a new batch
or synchronously), 4xx lines are errors at once, cancelled batches are reported and not
recorded, and a batch result costs the batch price."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.backends.openai_backend import OpenAIBackend
from justeval.engine.batch_state import STATE_FILE, BatchState
from justeval.engine.costs import call_cost_usd
from justeval.engine.engine import CallResult, Engine, EngineConfig, ParseFailure, RunSummary
from justeval.engine.types import Completion, Request
from justeval.errors import JustevalError, UsageError
from justeval.records import Usage
from justeval.testing.batch_server import BatchPlan, BatchServer
from justeval.testing.stub_server import Reply, StubRequest
from tests.engine.batch_child import batch_requests
from tests.engine.conftest import chat_request

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def batch_server() -> Any:
    with BatchServer() as srv:
        yield srv


def run_batch(url: str, state: Path, requests: list[Request], *, spec: str = "openai:judge-model",
              validate: Any = None, **config: Any) -> tuple[RunSummary, list[CallResult]]:
    config.setdefault("progress", False)
    config.setdefault("batch_poll_s", 0.05)
    config.setdefault("retry_base_s", 0.01)
    results: list[CallResult] = []
    engine = Engine(BackendSpec(spec=spec, base_urls=[url]), EngineConfig(batch=True, batch_dir=state, **config))
    summary = engine.run_sync(requests, results.append, validate=validate)
    return summary, results


def uploaded_lines(server: BatchServer) -> list[dict[str, Any]]:
    return [json.loads(line) for fid, data in server.files.items() if server.file_names.get(fid)
            for line in data.decode().splitlines()]


def test_requests_go_through_one_batch_and_come_back_as_results(batch_server: BatchServer, tmp_path: Path) -> None:
    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(40))
    assert summary.ok == 40 and len(summary.batches_created) == 1 and summary.pending_keys == []
    (batch_id,) = summary.batches_created
    assert sorted(int(r.request.key) for r in results) == list(range(40))
    for r in results:
        assert r.status == "ok" and r.batch_id == batch_id and r.endpoint == batch_server.base_url
        assert r.completion is not None and r.completion.text == f"echo: judge item {r.request.key}"
    assert set(batch_server.batched.values()) == {1} and len(batch_server.batched) == 40
    assert summary.calls == sum(batch_server.control_calls.values())  # upload, create, polls, download
    # the requests in the file are the very bodies an ordinary call sends
    line = uploaded_lines(batch_server)[0]
    assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
    assert line["body"]["model"] == "judge-model" and line["body"]["messages"][0]["role"] == "user"


def test_batch_results_are_cached_and_a_cache_hit_is_never_sent(batch_server: BatchServer, tmp_path: Path) -> None:
    run_batch(batch_server.base_url, tmp_path / "a", batch_requests(10))
    more = batch_requests(25)
    summary, results = run_batch(batch_server.base_url, tmp_path / "b", more)
    assert summary.cached == 10 and summary.ok == 25
    assert len(batch_server.batches) == 2 and len(batch_server.batched) == 25
    assert set(batch_server.batched.values()) == {1}  # the ten cached ones were not in the second batch
    assert {r.request.key for r in results if r.cached} == {str(i) for i in range(10)}


def test_identical_requests_are_sent_once_and_delivered_to_each(batch_server: BatchServer, tmp_path: Path) -> None:
    requests = [chat_request("a", "same text"), chat_request("b", "same text"), chat_request("c", "other")]
    summary, results = run_batch(batch_server.base_url, tmp_path, requests, cache=False)
    assert summary.ok == 3 and len(batch_server.batched) == 2
    by_key = {r.request.key: r for r in results}
    assert by_key["a"].completion == by_key["b"].completion and {by_key["a"].cached, by_key["b"].cached} == {False,
                                                                                                          True}


def test_requests_are_cut_into_batches_under_the_count_and_byte_limits(batch_server: BatchServer,
                                                                       tmp_path: Path) -> None:
    summary, _ = run_batch(batch_server.base_url, tmp_path / "n", batch_requests(25), batch_max_requests=10)
    assert summary.ok == 25 and len(summary.batches_created) == 3
    assert sorted(b.data["request_counts"]["total"] for b in batch_server.batches.values()) == [5, 10, 10]
    batch_server.batches.clear()
    limit = 2000
    summary, _ = run_batch(batch_server.base_url, tmp_path / "b", [chat_request(str(i), f"{i} " + "x" * 600)
                                                                    for i in range(12)], batch_max_bytes=limit)
    sizes = [len(batch_server.files[b.data["input_file_id"]]) for b in batch_server.batches.values()]
    assert summary.ok == 12 and len(sizes) >= 4 and max(sizes) <= limit


def test_a_batch_that_fails_half_its_items_retries_them_in_a_new_batch(batch_server: BatchServer,
                                                                       tmp_path: Path) -> None:
    batch_server.plans.append(BatchPlan(fail_every=2, fail_status=500))
    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(20))
    assert summary.ok == 20 and summary.errors == 0 and len(summary.batches_created) == 2
    _first, second = summary.batches_created
    assert sum(1 for r in results if r.batch_id == second) == 10 and all(r.attempts == 2 for r in results
                                                                        if r.batch_id == second)
    assert sorted(batch_server.batched.values()).count(2) == 10  # only the failed half went again


def test_a_line_refused_with_a_4xx_is_an_error_at_once(batch_server: BatchServer, tmp_path: Path) -> None:
    def responder(req: StubRequest) -> Reply:
        return Reply(status=400, text="context too long") if "item 3" in req.prompt_text else Reply(text="fine")

    batch_server.responder = responder
    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(6))
    assert summary.ok == 5 and summary.errors == 1 and len(summary.batches_created) == 1
    (failed,) = [r for r in results if r.status == "error"]
    assert failed.request.key == "3" and "HTTP 400: context too long" in (failed.error or "")
    assert failed.batch_id == summary.batches_created[0]


def test_an_expired_batch_has_its_unfinished_items_sent_again(batch_server: BatchServer, tmp_path: Path) -> None:
    batch_server.plans.append(BatchPlan(outcome="expire", done_fraction=0.5))
    summary, _results = run_batch(batch_server.base_url, tmp_path, batch_requests(10))
    assert summary.ok == 10 and len(summary.batches_created) == 2
    assert batch_server.batches[summary.batches_created[0]].data["status"] == "expired"


def test_with_the_sync_fallback_unfinished_items_become_ordinary_calls(batch_server: BatchServer,
                                                                       tmp_path: Path) -> None:
    batch_server.plans.append(BatchPlan(outcome="expire", done_fraction=0.3))
    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(10), batch_fallback="sync")
    assert summary.ok == 10 and len(summary.batches_created) == 1
    assert batch_server.count == 7  # ordinary calls to /v1/chat/completions
    assert sum(1 for r in results if r.batch_id is None) == 7


def test_a_failed_batch_is_retried_then_its_items_are_errors(batch_server: BatchServer, tmp_path: Path) -> None:
    batch_server.default_plan = BatchPlan(outcome="fail")
    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(4), batch_retries=1)
    assert summary.errors == 4 and len(summary.batches_created) == 2
    assert all("the stub was told to fail this batch" in (r.error or "") for r in results)


def test_a_cancelled_batch_is_reported_and_its_items_are_not_recorded(batch_server: BatchServer,
                                                                      tmp_path: Path) -> None:
    batch_server.plans.append(BatchPlan(outcome="cancel", done_fraction=0.5))
    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(10))
    assert summary.ok == 5 and summary.errors == 0 and len(summary.cancelled_keys) == 5
    assert not {r.request.key for r in results} & set(summary.cancelled_keys)
    again, rest = run_batch(batch_server.base_url, tmp_path, batch_requests(10))  # the next run sends them
    assert again.cached == 5 and again.ok == 10 and len(again.batches_created) == 1
    assert sorted(r.request.key for r in rest if not r.cached) == sorted(summary.cancelled_keys)


def test_no_wait_submits_and_returns_and_the_same_call_later_collects(batch_server: BatchServer,
                                                                      tmp_path: Path) -> None:
    batch_server.default_plan = BatchPlan(processing_s=1.0)
    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(12), batch_wait=False)
    assert results == [] and summary.batches_pending == 1 and len(summary.pending_keys) == 12
    assert summary.ok == summary.errors == 0
    time.sleep(1.2)
    later, collected = run_batch(batch_server.base_url, tmp_path, batch_requests(12), batch_wait=False)
    assert later.batches_created == [] and later.ok == 12 and later.pending_keys == []
    assert {r.batch_id for r in collected} == set(summary.batches_created)
    assert set(batch_server.batched.values()) == {1}


def _wait_for(predicate: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def _child(url: str, state: Path, n: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "tests.engine.batch_child", url, str(state), str(n)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def test_a_process_killed_between_create_and_download_is_collected_by_the_next_run(
        batch_server: BatchServer, tmp_path: Path) -> None:
    batch_server.default_plan = BatchPlan(processing_s=3.0)
    child = _child(batch_server.base_url, tmp_path, 30)
    state_file = tmp_path / STATE_FILE
    _wait_for(lambda: state_file.exists() and '"created"' in state_file.read_text())
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL and b"delivered" not in out  # killed before any download
    (batch_id,) = list(batch_server.batches)
    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(30))
    assert summary.batches_created == [] and summary.ok == 30
    assert {r.batch_id for r in results} == {batch_id}
    assert len(batch_server.batches) == 1 and set(batch_server.batched.values()) == {1}  # nothing submitted twice
    assert [e.status for e in BatchState(tmp_path).entries.values()] == ["completed"]


def test_a_process_killed_during_the_create_call_finds_its_batch_instead_of_making_another(
        batch_server: BatchServer, tmp_path: Path) -> None:
    batch_server.create_delay_s = 5.0  # the batch exists at once; the answer comes late
    child = _child(batch_server.base_url, tmp_path, 8)
    _wait_for(lambda: len(batch_server.batches) == 1)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    entries = list(BatchState(tmp_path).entries.values())
    assert len(entries) == 1 and entries[0].batch_id is None  # uploaded, creation never recorded
    batch_server.create_delay_s = 0.0
    summary, _results = run_batch(batch_server.base_url, tmp_path, batch_requests(8))
    assert summary.ok == 8 and summary.batches_created == [] and len(batch_server.batches) == 1
    assert batch_server.control_calls["list"] >= 1 and set(batch_server.batched.values()) == {1}


def test_an_unparsable_reply_is_kept_as_a_parse_error_like_a_synchronous_one(batch_server: BatchServer,
                                                                             tmp_path: Path) -> None:
    def needs_json(completion: Completion) -> str:
        if not completion.text.startswith("{"):
            raise ParseFailure("not JSON")
        return completion.text

    summary, results = run_batch(batch_server.base_url, tmp_path, batch_requests(3), validate=needs_json)
    assert summary.parse_errors == 3
    assert all(r.status == "parse_error" and r.error == "not JSON" and r.completion is not None for r in results)


class ListPricedOpenAI(OpenAIBackend):
    """An OpenAI backend priced at the list price even though its server is loopback (the
    shipped one gives a self-hosted server no price), so the batch price path runs."""

    def cost_usd(self, usage: Usage) -> float | None:
        return call_cost_usd(self.model, usage)


def test_batch_results_cost_the_batch_price(batch_server: BatchServer, tmp_path: Path) -> None:
    backend = ListPricedOpenAI("gpt-4o-mini", base_url=batch_server.base_url)
    results: list[CallResult] = []
    config = EngineConfig(batch=True, batch_dir=tmp_path, batch_poll_s=0.05, progress=False)
    summary = Engine(backend, config).run_sync(batch_requests(5), results.append)
    for r in results:
        assert r.completion is not None
        usage = r.completion.usage
        batch_price = call_cost_usd("gpt-4o-mini", usage, batch=True)
        assert r.cost_usd == pytest.approx(batch_price)
        assert r.cost_usd == pytest.approx(0.5 * (call_cost_usd("gpt-4o-mini", usage) or 0))  # the map's _batches
    assert summary.cost_usd == pytest.approx(sum(r.cost_usd or 0 for r in results)) and summary.unpriced_calls == 0


def test_a_backend_without_a_batch_interface_is_refused(tmp_path: Path, batch_server: BatchServer) -> None:
    with pytest.raises(UsageError, match="no batch interface"):
        run_batch(batch_server.base_url, tmp_path, batch_requests(2), spec="litellm:openai/judge-model")


def test_batch_mode_needs_a_state_folder(batch_server: BatchServer) -> None:
    spec = BackendSpec(spec="openai:judge-model", base_urls=[batch_server.base_url])
    with pytest.raises(JustevalError, match="batch_dir"):
        Engine(spec, EngineConfig(batch=True, progress=False)).run_sync(batch_requests(2), lambda r: None)
