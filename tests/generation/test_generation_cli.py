"""`justeval generate` end to end: run.json, secrets, one-line errors, and resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from justeval.generation import latest_generations
from justeval.records import Instruction
from justeval.rundir import RunDir
from justeval.testing.stub_server import Reply, StubServer
from tests.generation.conftest import CliRun

SECRET = "sk-live-THIS-MUST-NOT-LEAK-123"


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_cli_generate_writes_records_and_run_json(tmp_path: Path, cli: CliRun, stub_server: StubServer,
                                                  instructions_file: Path, items: list[Instruction]) -> None:
    run = tmp_path / "run"
    code = cli("generate", "--model", "openai:my-model", "--instructions", str(instructions_file),
               "--subset", "regular", "--out", str(run), "--base-url", stub_server.base_url, "--concurrency", "2",
               "--temperature", "0.3", "--max-tokens", "50", "--no-progress", "--generator", "my-model-v1")
    assert code == 0
    regular = [i for i in items if i.category == "regular"]
    gens = RunDir(run).load_generations()
    assert sorted(g.id for g in gens) == [i.id for i in regular] and stub_server.count == len(regular)
    assert {g.generator for g in gens} == {"my-model-v1"}
    manifest = RunDir(run).read_manifest()
    section = manifest.generate
    assert section is not None and section.command is not None
    assert section.command.startswith("justeval generate --model openai:my-model --out ")
    assert "--subset regular" in section.command and "--temperature 0.3" in section.command
    settings = section.settings
    assert settings.instructions == str(instructions_file) and section.items == len(regular)
    assert settings.selection.subset == "regular" and settings.selection.is_everything() is False
    assert settings.params.model_dump(exclude_none=True) == {"temperature": 0.3, "max_tokens": 50}
    assert settings.engine.concurrency == 2 and settings.model.base_urls == [stub_server.base_url]
    assert settings.generator == "my-model-v1" and "justeval" in manifest.versions


def test_api_key_value_never_reaches_the_run_directory(tmp_path: Path, cli: CliRun, stub_server: StubServer,
                                                       instructions_file: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PROVIDER_KEY", SECRET)
    stub_server.script.append(Reply(status=401, text="invalid key"))  # an error record too
    run = tmp_path / "run"
    code = cli("generate", "--model", "openai:m", "--instructions", str(instructions_file), "--out", str(run),
               "--base-url", stub_server.base_url, "--api-key-env", "MY_PROVIDER_KEY", "--no-progress")
    assert code == 0
    assert all(r.headers.get("Authorization") == f"Bearer {SECRET}" for r in stub_server.requests)
    assert SECRET.encode() not in _all_bytes(run)
    section = RunDir(run).read_manifest().generate
    assert section is not None and section.settings.model.api_key_env == "MY_PROVIDER_KEY"
    assert any(g.status == "error" for g in RunDir(run).load_generations())


def test_bad_icl_file_is_one_line_exit_2(tmp_path: Path, cli: CliRun, instructions_file: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"instruction": "q", "output": "a"}\n{"instruction": "q2"}\n', encoding="utf-8")
    code = cli("generate", "--model", "openai:m", "--instructions", str(instructions_file), "--out",
               str(tmp_path / "run"), "--icl-examples", str(pool), "--shots", "1")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "pool.jsonl:2" in err


N_SLOW = 40


def _interrupt_a_slow_generate(tmp_path: Path, stub_server: StubServer, sig: signal.Signals,
                               after: int) -> tuple[list[str], subprocess.Popen[bytes], Path]:
    """Start `justeval generate` of N_SLOW items in a child process against a slow server and send
    it `sig` once `after` records are on disk; returns (its arguments, the process, the run)."""
    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps({"id": i, "instruction": f"question number {i}"}) + "\n"
                              for i in range(N_SLOW)), encoding="utf-8")
    run = tmp_path / "run"
    stub_server.latency = 0.05
    args = ["generate", "--model", "openai:m", "--instructions", str(source), "--out", str(run),
            "--base-url", stub_server.base_url, "--concurrency", "2", "--no-progress", "--no-cache"]
    proc = subprocess.Popen([sys.executable, "-m", "justeval", *args], env={**os.environ, "OPENAI_API_KEY": "sk-t"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gens = run / "generations.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not gens.exists() or gens.read_bytes().count(b"\n") < after):
        time.sleep(0.02)
    proc.send_signal(sig)
    return args, proc, run


def test_killed_run_resumes_without_repeating_finished_items(tmp_path: Path, stub_server: StubServer,
                                                            cli: CliRun) -> None:
    args, proc, run = _interrupt_a_slow_generate(tmp_path, stub_server, signal.SIGKILL, after=8)
    _, err = proc.communicate(timeout=10)
    done_before = set(latest_generations(RunDir(run)))
    assert 8 <= len(done_before) < N_SLOW, err.decode()

    stub_server.reset()
    stub_server.latency = 0.0
    assert cli(*args) == 0  # the same command again, in-process this time
    asked = {int(r.prompt_text.rsplit(" ", 1)[1]) for r in stub_server.requests}
    assert asked == set(range(N_SLOW)) - done_before and stub_server.count == len(asked)
    latest = latest_generations(RunDir(run))
    assert sorted(latest) == list(range(N_SLOW)) and all(g.status == "ok" for g in latest.values())


def test_ctrl_c_exits_130_saying_so_and_the_rerun_resumes(tmp_path: Path, stub_server: StubServer,
                                                           cli: CliRun) -> None:
    args, proc, run = _interrupt_a_slow_generate(tmp_path, stub_server, signal.SIGINT, after=6)  # Ctrl-C
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err.decode()  # so `justeval generate ... && justeval judge ...` stops
    assert "interrupted" in err.decode()
    done_before = set(latest_generations(RunDir(run)))
    assert 6 <= len(done_before) < N_SLOW
    stub_server.reset()
    stub_server.latency = 0.0
    assert cli(*args) == 0
    assert stub_server.count == N_SLOW - len(done_before)


def test_a_run_where_every_call_fails_exits_1_and_a_partial_one_exits_0(
        tmp_path: Path, cli: CliRun, stub_server: StubServer, instructions_file: Path) -> None:
    args = ["generate", "--model", "openai:m", "--instructions", str(instructions_file), "--base-url",
            stub_server.base_url, "--no-progress", "--no-cache", "--concurrency", "1"]
    stub_server.responder = lambda req: Reply(status=400, text="model does not exist")
    assert cli(*args, "--out", str(tmp_path / "all-failed")) == 1  # `generate ... && judge ...` stops here
    failing = {"How do magnets work?"}
    stub_server.responder = lambda req: Reply(status=400, text="no") if req.prompt_text in failing \
        else Reply(text="fine")
    assert cli(*args, "--out", str(tmp_path / "partial")) == 0  # what worked can be judged; a rerun retries
    statuses = [g.status for g in latest_generations(RunDir(tmp_path / "partial")).values()]
    assert statuses.count("error") == 1 and statuses.count("ok") == 5


def test_shots_without_an_example_pool_is_refused(tmp_path: Path, cli: CliRun, instructions_file: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = cli("generate", "--model", "openai:m", "--instructions", str(instructions_file), "--out",
               str(tmp_path / "run"), "--shots", "2")
    assert code == 2 and "--icl-examples" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_upstream_urial_settings_reach_the_server_and_the_records(tmp_path: Path, cli: CliRun,
                                                                 stub_server: StubServer,
                                                                 instructions_file: Path) -> None:
    """The flags of issue 14 go from the command line to the request body, the record and run.json."""
    prompt = tmp_path / "inst_1k_v4.help.txt"
    prompt.write_text("# Instruction\n\nBe helpful.\n\n# Query:\n```\nHi?\n```\n\n# Answer:\n```\nHello!\n```\n",
                      encoding="utf-8")
    stub_server.responder = lambda req: Reply(text="Sure:\n```\nx = 1\n```\n```\n")
    run = tmp_path / "run"
    code = cli("generate", "--model", "openai:base", "--base-url", stub_server.base_url, "--instructions",
               str(instructions_file), "--ids", "0", "--out", str(run), "--no-progress", "--urial", str(prompt),
               "--urial-clean", "upstream", "--repetition-penalty", "1.15", "--top-k", "40", "--param",
               "min_p=0.05", "--param", "skip_special_tokens=false")
    assert code == 0
    body = stub_server.requests[0].body
    assert body["prompt"].startswith("# Instruction") and body["prompt"].endswith("# Answer:\n```\n")
    assert (body["repetition_penalty"], body["top_k"], body["min_p"], body["skip_special_tokens"]) == (
        1.15, 40, 0.05, False)
    (gen,) = RunDir(run).load_generations()
    assert gen.output == "Sure:\n\nx = 1"  # every fence removed, as upstream's cleaning does
    assert gen.params["repetition_penalty"] == 1.15 and gen.params["extra"] == {"min_p": 0.05,
                                                                                "skip_special_tokens": False}
    section = RunDir(run).read_manifest().generate
    assert section is not None and section.settings.prompt.urial_clean == "upstream"
    assert cli("generate", "--model", "openai:base", "--instructions", str(instructions_file), "--out",
               str(tmp_path / "bad"), "--param", "oops") == 2
