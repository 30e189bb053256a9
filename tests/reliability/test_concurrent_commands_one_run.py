"""Two writing commands on one run directory: the second is refused (exit 1, naming the process
that holds it) instead of sending, paying for and writing every item again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from justeval.records import Generation
from justeval.rundir import RunDir
from justeval.testing.stub_server import StubServer
from tests.pipeline.test_run_command import responder


def test_two_judges_on_one_run_pay_each_call_once(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    RunDir(run).generations.write_text("".join(
        Generation(id=i, instruction=f"Question number {i}?", output=f"Answer to {i}.", generator="m").model_dump_json()
        + "\n" for i in range(20)), encoding="utf-8")
    with StubServer(responder, latency=0.2) as srv:
        args = [sys.executable, "-m", "justeval", "judge", str(run), "--judge", "openai:the-judge", "--base-url",
                srv.base_url, "--no-progress", "--concurrency", "2"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while srv.count == 0 and time.monotonic() < deadline:  # the first has started sending
            time.sleep(0.05)
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 1
    last = second.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and str(first.pid) in last and "justeval judge" in last
    assert srv.count == 20  # every item sent once, by the first process
    judged = RunDir(run).load_judgments()
    assert len(judged) == 20 and len({j.id for j in judged}) == 20
