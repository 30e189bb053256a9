"""A full disk or an unwritable run directory: one clear line (no traceback), a non-zero exit,
and every line written before the failure intact and used by the next run.

Tests run as root, so a read-only chmod would not stop them; instead a file size limit
(RLIMIT_FSIZE: writes past it fail with EFBIG, as on a full disk, through the real write
path) and paths where a directory or file stands in the way."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from justeval.jsonl import write_jsonl
from justeval.records import Generation
from justeval.rundir import RunDir
from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.reliability.judge_stub import FaultyJudge, instruction_of

ITEMS = 60


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    write_jsonl(RunDir(run).generations, [
        Generation(id=i, instruction=f"Question number {i}?", output=f"Answer {i}. " * 20, generator="m")
        for i in range(ITEMS)])
    return run


def _judge(run: Path, url: str, *, limit_bytes: int | None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    cmd = [sys.executable, "-m", "justeval", "judge", str(run), "--judge", "openai:stub-judge", "--base-url", url,
           "--concurrency", "2", "--no-progress", "--no-cache"]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, preexec_fn=limit)


def _assert_one_line_error(stderr: str, *needles: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and lines[0].startswith("error:")
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_full_disk_mid_judge_is_one_line_and_the_written_lines_survive_for_resume(
        tmp_path: Path, stub_server: StubServer) -> None:
    run = _run_dir(tmp_path)
    stub_server.responder = FaultyJudge(fault_rate=0.0, latency=0.002)
    limit = 12_000  # bytes: room for a few judgments only
    failed = _judge(run, stub_server.base_url, limit_bytes=limit)
    assert failed.returncode != 0
    _assert_one_line_error(failed.stderr, "judgments.jsonl")

    path = RunDir(run).judgments_path("openai:stub-judge")
    data = path.read_bytes()
    assert 0 < len(data) <= limit
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8").splitlines()
    assert complete, "nothing was written before the disk filled up"
    before = [json.loads(line) for line in complete]  # every complete line parses
    assert all(rec["status"] == "ok" for rec in before)
    done_before = {rec["id"] for rec in before}

    stub_server.reset()
    resumed = _judge(run, stub_server.base_url, limit_bytes=None)
    assert resumed.returncode == 0, resumed.stderr
    asked = {instruction_of(r.prompt_text) for r in stub_server.requests}
    assert not asked & {f"Question number {i}?" for i in done_before}
    final = RunDir(run).load_judgments()
    assert sorted(r.id for r in final) == list(range(ITEMS))  # torn tail repaired, nothing duplicated


def test_judgments_path_taken_by_a_directory_is_one_line(tmp_path: Path, stub_server: StubServer) -> None:
    run = _run_dir(tmp_path)
    (run / "judgments.jsonl").mkdir()
    stub_server.responder = FaultyJudge(fault_rate=0.0, latency=0.0)
    res = _judge(run, stub_server.base_url, limit_bytes=None)
    assert res.returncode != 0
    _assert_one_line_error(res.stderr, "judgments.jsonl")
    assert RunDir(run).generations.read_bytes().count(b"\n") == ITEMS  # input untouched


def test_import_into_a_path_under_a_file_is_one_line(tmp_path: Path, cli: CliRun) -> None:
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text(json.dumps({"id": 0, "instruction": "Hi?", "output": "Hello."}) + "\n", encoding="utf-8")
    instructions = tmp_path / "instructions.jsonl"
    instructions.write_text(json.dumps({"id": 0, "instruction": "Hi?"}) + "\n", encoding="utf-8")
    blocker = tmp_path / "plain-file"
    blocker.write_text("x", encoding="utf-8")
    code, _, err = cli("import", str(outputs), "--out", str(blocker / "run"), "--instructions", str(instructions))
    assert code != 0
    _assert_one_line_error(err, "plain-file")
    assert blocker.read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize("limit", [2_000, 6_000])
def test_full_disk_during_import_leaves_no_partial_generations_file(
        tmp_path: Path, limit: int) -> None:
    outputs = tmp_path / "outputs.jsonl"
    instructions = tmp_path / "instructions.jsonl"
    write_jsonl(instructions, [{"id": i, "instruction": f"Q{i}?"} for i in range(100)])
    write_jsonl(outputs, [{"id": i, "instruction": f"Q{i}?", "output": "word " * 40} for i in range(100)])
    out = tmp_path / "run"

    def limit_fn() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    res = subprocess.run([sys.executable, "-m", "justeval", "import", str(outputs), "--out", str(out),
                          "--instructions", str(instructions)], capture_output=True, text=True, timeout=60,
                         preexec_fn=limit_fn, env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    assert res.returncode != 0
    _assert_one_line_error(res.stderr)
    assert not (out / "generations.jsonl").exists()
    assert not [p for p in out.glob(".*.tmp")] if out.exists() else True
