"""`justeval judge` killed with SIGKILL at a seeded random point, then run again with the same
command: the final judgments equal an uninterrupted run's, and no item recorded before the
kill is sent to the server again. With --no-cache too, so it is the resume (not the reply
cache) that saves the repeat."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from justeval.engine.engine import EngineConfig
from justeval.jsonl import write_jsonl
from justeval.judging.run import judge_run
from justeval.records import ItemId
from justeval.rundir import RunDir
from justeval.testing.stub_server import StubServer
from tests.conftest import judge_settings
from tests.reliability.judge_stub import MULTI, SAFETY, FaultyJudge, expected_scores, instruction_of

pytestmark = pytest.mark.integration

ITEMS = 160  # 130 regular + 30 safety items of the real outputs


def _subset_run(imported: Path, dest: Path) -> Path:
    gens = RunDir(imported).load_generations()
    picked = [g for g in gens if g.category == "regular"][:130] + [g for g in gens if g.category == "safety"][:30]
    dest.mkdir()
    write_jsonl(RunDir(dest).generations, picked)
    return dest


def _judge_cmd(run: Path, base_url: str, *, cache: bool) -> list[str]:
    cmd = [sys.executable, "-m", "justeval", "judge", str(run), "--judge", "openai:stub-judge", "--base-url",
           base_url, "--concurrency", "4", "--no-progress"]
    return cmd + ([] if cache else ["--no-cache"])


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "JUSTEVAL_CACHE_DIR": str(tmp_path / "cache"), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def _scores(run: Path) -> dict[ItemId, dict[str, float | None]]:
    records = RunDir(run).load_judgments()
    counts = Counter(r.id for r in records if r.status == "ok")
    assert all(n == 1 for n in counts.values()), "an item was recorded ok twice"
    return {r.id: r.scores for r in records if r.status == "ok"}


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
@pytest.mark.parametrize("seed", [1, 2])
def test_killed_judge_resumes_to_the_uninterrupted_result_without_repeating_finished_items(
        imported_run: Path, tmp_path: Path, stub_server: StubServer, seed: int, cache: bool) -> None:
    rng = random.Random(seed)
    stub_server.responder = FaultyJudge(fault_rate=0.0, latency=0.02)
    reference = _subset_run(imported_run, tmp_path / "reference")
    engine = EngineConfig(concurrency=8, cache=False, progress=False)
    judge_run(reference, judge_settings(stub_server.base_url, "openai:stub-judge", engine=engine))
    expected = _scores(reference)
    assert len(expected) == ITEMS

    run = _subset_run(imported_run, tmp_path / "killed")
    stub_server.reset()
    kill_after = rng.randint(5, ITEMS - 40)  # requests answered before the kill
    extra_sleep = rng.uniform(0.0, 0.02)     # lands anywhere within a call
    proc = subprocess.Popen(_judge_cmd(run, stub_server.base_url, cache=cache), env=_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while stub_server.count < kill_after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(extra_sleep)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else "finished before the kill"

    done_before = {r.id for r in RunDir(run).load_judgments() if r.status == "ok"}
    assert 0 < len(done_before) < ITEMS
    gens = {g.id: g for g in RunDir(run).load_generations()}
    stub_server.reset()
    rerun = subprocess.run(_judge_cmd(run, stub_server.base_url, cache=cache), env=_env(tmp_path),
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr

    asked_again = Counter(instruction_of(r.prompt_text) for r in stub_server.requests)
    finished_instructions = {gens[i].instruction for i in done_before}
    assert not finished_instructions & set(asked_again), "an item finished before the kill was requested again"
    assert _scores(run) == expected
    for item_id, scores in expected.items():  # and the reference itself is the judge's answer
        aspects = SAFETY if gens[item_id].category == "safety" else MULTI
        assert scores == expected_scores(gens[item_id].instruction, aspects)
    if not cache:  # every unfinished item was asked exactly once more
        assert sum(asked_again.values()) == ITEMS - len(done_before)
