"""Every command that takes instructions shares the selection options, and the ones that send
calls have a --dry-run that sends nothing: the README's sentence, made true and pinned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.engine.pricing import count_tokens
from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.pipeline.test_run_command import _instructions, responder


@pytest.fixture
def server() -> StubServer:
    with StubServer(responder) as srv:
        yield srv


def test_generate_dry_run_counts_the_real_prompts_and_sends_nothing(tmp_path: Path, server: StubServer,
                                                                   cli: CliRun) -> None:
    instructions = _instructions(tmp_path)
    out = tmp_path / "run"
    code, stdout, err = cli("generate", "--model", "openai:gpt-4o-mini", "--base-url", "https://api.openai.com/v1",
                            "--instructions", str(instructions), "--subset", "regular", "--max-tokens", "100",
                            "--out", str(out), "--dry-run")
    assert code == 0, err
    assert server.count == 0 and not out.exists()
    prompts = [json.loads(line)["instruction"] for line in instructions.read_text().splitlines()][:6]
    expected_prompt = sum(count_tokens(p, "openai:gpt-4o-mini") + 4 for p in prompts)
    assert "Dry run: generation" in stdout
    row = next(line for line in stdout.splitlines() if line.strip().startswith("│") and "6" in line)
    assert f"{expected_prompt:,}" in row and "600" in row and "$" in row  # 6 answers at most 100 tokens each


def test_run_dry_run_estimates_both_stages_and_sends_nothing(tmp_path: Path, server: StubServer,
                                                            cli: CliRun) -> None:
    out = tmp_path / "run"
    code, stdout, err = cli("run", "--model", "openai:the-model", "--base-url", server.base_url, "--judge",
                            "openai:the-judge", "--judge-base-url", server.base_url, "--instructions",
                            str(_instructions(tmp_path)), "--out", str(out), "--max-tokens", "50", "--dry-run")
    assert code == 0, err
    assert server.count == 0 and not out.exists()
    assert "Dry run: generation by openai:the-model" in stdout and "Dry run: nothing was sent" in stdout
    judge_row = next(line for line in stdout.splitlines() if "openai:the-judge" in line)
    assert " 8 " in judge_row  # every item would be judged once its answer exists
    # once the run exists, only what is missing is estimated
    assert cli("run", "--model", "openai:the-model", "--base-url", server.base_url, "--judge", "openai:the-judge",
               "--judge-base-url", server.base_url, "--instructions", str(_instructions(tmp_path)), "--out",
               str(out), "--max-tokens", "50", "--no-progress", "--bootstrap", "10")[0] == 0
    before = server.count
    code, stdout, _ = cli("run", "--config", str(out / "run.json"), "--dry-run")
    assert code == 0 and server.count == before
    assert "calls: 0" in stdout


def test_judge_takes_the_shared_selection_options(tmp_path: Path, server: StubServer, cli: CliRun) -> None:
    instructions = _instructions(tmp_path)
    out = tmp_path / "run"
    assert cli("generate", "--model", "openai:the-model", "--base-url", server.base_url, "--instructions",
               str(instructions), "--out", str(out), "--no-progress")[0] == 0
    base = ["judge", str(out), "--judge", "openai:the-judge", "--base-url", server.base_url, "--no-progress"]
    server.reset()
    assert cli(*base, "--subset", "safety")[0] == 0
    judged = [json.loads(line)["id"] for line in (out / "judgments.jsonl").read_text().splitlines()]
    assert sorted(judged) == [800, 801] and server.count == 2
    assert cli(*base, "--ids", "0-2", "--limit", "2")[0] == 0
    judged = [json.loads(line)["id"] for line in (out / "judgments.jsonl").read_text().splitlines()]
    assert sorted(judged) == [0, 1, 800, 801]
    assert cli(*base, "--task", "info-seek")[0] == 0  # tags from the instruction source the run recorded
    assert server.count == 8  # the four regular items not judged yet
    code, _, err = cli(*base, "--task", "codng")
    assert code == 2 and "unknown --task 'codng'" in err
    code, _, err = cli(*base, "--ids", "0-2000000000")
    assert code == 2 and "at most 1,000,000" in err
