"""The Python API: the README's notebook example runs as written against the loopback server, and
`justeval.evaluate` gives the leaderboard numbers `justeval run` gives on the same records."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

import justeval
from justeval.testing.stub_server import StubServer
from tests.conftest import REPO, CliRun
from tests.pipeline.test_run_command import _instructions, responder


@pytest.fixture
def server() -> StubServer:
    with StubServer(responder) as srv:
        yield srv


def _python_api_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python API section has no python example"
    return match.group(1)


def _instruction_folder(tmp_path: Path) -> Path:
    """A local copy of the set's layout: instructions.jsonl with lite_ids.json beside it."""
    folder = tmp_path / "just-eval-instruct"
    folder.mkdir()
    _instructions(tmp_path).rename(folder / "instructions.jsonl")
    (folder / "lite_ids.json").write_text(json.dumps({"lite_regular_ids": [0, 1, 2, 3], "lite_safety_ids": [800]}))
    return folder


def test_the_readme_example_runs_as_written(tmp_path: Path, server: StubServer, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _instruction_folder(tmp_path)
    code = _python_api_example()
    assert "http://localhost:8000/v1" in code and "http://localhost:8001/v1" in code
    # the model and the judge are one loopback server that tells them apart by model name
    code = code.replace("http://localhost:8000/v1", server.base_url).replace("http://localhost:8001/v1",
                                                                            server.base_url)
    code = code.replace('model="openai:my-model"', 'model="openai:the-model"')
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "openai:the-model" in printed and "average" in printed
    assert server.count == 10  # 5 lite items generated, 5 judged
    run = justeval.load_run(tmp_path / "runs" / "my-model")
    assert sorted(g.id for g in run.generations) == [0, 1, 2, 3, 800]
    assert run.judges == ["openai:Qwen/Qwen2.5-72B-Instruct"]


def test_evaluate_gives_the_leaderboard_numbers_of_justeval_run(tmp_path: Path, server: StubServer,
                                                                cli: CliRun) -> None:
    instructions = _instructions(tmp_path)
    args = {"base_url": server.base_url, "judge_base_url": server.base_url, "instructions": str(instructions),
            "bootstrap": 200, "progress": False}
    code, _, err = cli("run", "--model", "openai:the-model", "--judge", "openai:the-judge", "--out",
                       str(tmp_path / "cli"), "--base-url", server.base_url, "--judge-base-url", server.base_url,
                       "--instructions", str(instructions), "--bootstrap", "200", "--no-progress")
    assert code == 0, err
    code, stdout, err = cli("leaderboard", str(tmp_path / "cli"), "--format", "json", "--bootstrap", "200")
    assert code == 0, err
    (expected,) = json.loads(stdout)["models"]

    result = justeval.evaluate(model="openai:the-model", judge="openai:the-judge", out=tmp_path / "api", **args)
    board = result.leaderboard
    assert list(board["model"]) == ["openai:the-model"]
    row = board.iloc[0]
    for aspect, stats in expected["aspects"].items():
        assert row[aspect] == pytest.approx(stats["mean"])
        assert row[f"{aspect}_ci_low"] == pytest.approx(stats["ci_low"])
        assert row[f"{aspect}_ci_high"] == pytest.approx(stats["ci_high"])
    assert row["average"] == pytest.approx(expected["average"]["mean"])
    assert (int(row["rank_best"]), int(row["rank_worst"])) == (1, 1)
    assert str(board["rank_best"].dtype) == "Int64" and board["helpfulness"].dtype.kind == "f"
    # the same records read back by justeval.leaderboard give the same table
    again = justeval.leaderboard(tmp_path / "api", bootstrap=200)
    assert again.equals(board)
    # a second call resumes: nothing is asked again
    before = server.count
    justeval.evaluate(model="openai:the-model", judge="openai:the-judge", out=tmp_path / "api", **args)
    assert server.count == before


def test_generate_and_judge_run_one_stage_each(tmp_path: Path, server: StubServer) -> None:
    from justeval.records import Instruction

    items = [Instruction(id=i, instruction=f"Question number {i}?") for i in range(3)]
    summary = justeval.generate(model="openai:the-model", out=tmp_path / "r", instructions=items,
                                base_url=server.base_url, max_tokens=32, progress=False)
    assert summary.engine.ok == 3 and server.requests[0].body["max_tokens"] == 32
    (judged,) = justeval.judge(tmp_path / "r", judge="openai:the-judge", base_url=server.base_url, progress=False,
                               limit=2)
    assert judged.engine.ok == 2 and judged.items == 2
    run = justeval.load_run(tmp_path / "r")
    assert {j.id for j in run.judgments} == {0, 1}
    assert all(not math.isnan(v) for j in run.judgments for v in j.scores.values() if v is not None)


def test_api_options_are_checked_like_the_flags(tmp_path: Path) -> None:
    with pytest.raises(justeval.InputError, match="option 'concurrency'"):
        justeval.generate(model="openai:m", out=tmp_path / "r", instructions=[], concurrency=0)
    with pytest.raises(justeval.InputError, match="unknown option 'temprature'"):
        justeval.evaluate(model="openai:m", judge="openai:j", out=tmp_path / "r", temprature=0.2)
