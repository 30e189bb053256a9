"""`justeval judge --batch` with a Claude judge (`litellm:anthropic/MODEL`) against the loopback
Message Batches server: the judgments are the records a synchronous run writes (same fields,
same scores and usage) plus the batch id, at the batch price; `--no-wait` submits and the same
command collects, never submitting twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from justeval.rundir import RunDir
from justeval.testing.anthropic_batch_server import AnthropicBatchPlan, AnthropicBatchServer
from tests.conftest import CliRun
from tests.pipeline.test_engine_wiring import _judged_run
from tests.pipeline.test_run_command import responder

JUDGE = "litellm:anthropic/claude-haiku-4-5"
#: what may differ between a batch and a synchronous judgment of the same answer
_DIFFERENT = {"batch_id", "cost_usd", "latency_s", "created_at", "timestamp", "judged_at", "endpoint"}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    monkeypatch.setenv("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")  # LiteLLM fetches it otherwise


def test_a_claude_judge_in_batch_mode_writes_the_synchronous_records_plus_the_batch_id(
        tmp_path: Path, cli: CliRun) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "b").mkdir()
    sync_run, batch_run = _judged_run(tmp_path / "s"), _judged_run(tmp_path / "b")
    with AnthropicBatchServer(responder, default_plan=AnthropicBatchPlan(processing_s=0.3)) as srv:
        code, _, err = cli("judge", str(sync_run), "--judge", JUDGE, "--base-url", srv.root, "--no-progress",
                           "--no-cache")
        assert code == 0, err
        assert sum(1 for r in srv.requests if r.path == "/v1/messages") == 6
        base = ["judge", str(batch_run), "--judge", JUDGE, "--base-url", srv.root, "--no-progress", "--batch",
                "--no-cache"]
        code, out, err = cli(*base, "--no-wait")
        assert code == 0, err
        assert "6 request(s) waiting in 1 provider batch(es)" in out + err
        assert not RunDir(batch_run).load_judgments() and len(srv.batch_bodies) == 1
        time.sleep(0.4)  # the batch ends at the server (else the command waits its first poll interval)
        code, _, err = cli(*base)  # the same command collects: nothing submitted twice
        assert code == 0, err
        assert len(srv.batch_bodies) == 1 and set(srv.batched.values()) == {1}
        assert sum(1 for r in srv.requests if r.path == "/v1/messages") == 6  # no ordinary calls in batch mode
        (body,) = srv.batch_bodies
        sync_body = next(r.body for r in srv.requests if r.path == "/v1/messages")
    sync = {j.id: j.model_dump() for j in RunDir(sync_run).load_judgments()}
    batch = {j.id: j.model_dump() for j in RunDir(batch_run).load_judgments()}
    assert sorted(batch) == sorted(sync) and len(batch) == 6
    for gid, record in batch.items():
        assert record["status"] == "ok" and record["batch_id"] and sync[gid]["batch_id"] is None
        assert set(record) == set(sync[gid])
        assert {k: v for k, v in record.items() if k not in _DIFFERENT} == \
            {k: v for k, v in sync[gid].items() if k not in _DIFFERENT}
        assert record["cost_usd"] == pytest.approx(sync[gid]["cost_usd"] / 2)
    params = body["requests"][0]["params"]
    assert params["model"] == "claude-haiku-4-5" and isinstance(params["max_tokens"], int)
    assert "output_format" in params and params["output_format"] == sync_body["output_format"]  # as LiteLLM asks
    assert all(m["role"] != "system" for r in body["requests"] for m in r["params"]["messages"])
