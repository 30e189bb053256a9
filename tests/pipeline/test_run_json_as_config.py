"""Every run directory's run.json is a `justeval run --config`, whichever command made the run
and whichever folder it is used from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.pipeline.test_run_command import _instructions, responder


@pytest.fixture
def server() -> StubServer:
    with StubServer(responder) as srv:
        yield srv


def test_run_json_of_generate_and_judge_repeats_the_run_in_place(tmp_path: Path, server: StubServer, cli: CliRun,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _instructions(tmp_path)
    code, _, err = cli("generate", "--model", "openai:the-model", "--base-url", server.base_url, "--instructions",
                       "instructions.jsonl", "--subset", "regular", "--max-tokens", "64", "--out", "gen",
                       "--no-progress")
    assert code == 0, err
    code, _, err = cli("judge", "gen", "--judge", "openai:the-judge", "--base-url", server.base_url,
                       "--max-tokens", "300", "--no-progress")
    assert code == 0, err
    meta = json.loads((tmp_path / "gen" / "run.json").read_text())
    assert meta["judging"]["openai:the-judge"]["command"].startswith("justeval judge gen --judge openai:the-judge")
    assert meta["generate"]["settings"]["instructions"] == str(tmp_path / "instructions.jsonl")  # absolute
    calls = server.count

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, stdout, err = cli("run", "--config", str(tmp_path / "gen" / "run.json"), "--bootstrap", "50")
    assert code == 0, err
    assert server.count == calls  # everything was already done in that run directory
    assert not any(elsewhere.iterdir())  # nothing made in the working folder
    assert "Leaderboard" in stdout and "openai:the-model" in stdout

    # with a new --out the same options are sent again, to the new directory
    code, _, err = cli("run", "--config", str(tmp_path / "gen" / "run.json"), "--out", str(tmp_path / "again"),
                       "--no-cache", "--no-progress", "--bootstrap", "50")
    assert code == 0, err
    new = server.requests[calls:]
    gen_bodies = [r.body for r in new if r.body["model"] == "the-model"]
    judge_bodies = [r.body for r in new if r.body["model"] == "the-judge"]
    assert len(gen_bodies) == 6 and {b["max_tokens"] for b in gen_bodies} == {64}
    assert len(judge_bodies) == 6 and {b["max_tokens"] for b in judge_bodies} == {300}
    assert len((tmp_path / "again" / "judgments.jsonl").read_text().splitlines()) == 6


def test_run_json_of_a_run_made_with_a_relative_out_is_found_from_anywhere(
        tmp_path: Path, server: StubServer, cli: CliRun, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _instructions(tmp_path)
    code, _, err = cli("run", "--model", "openai:the-model", "--base-url", server.base_url, "--judge",
                       "openai:the-judge", "--judge-base-url", server.base_url, "--instructions", "instructions.jsonl",
                       "--out", "runs/r", "--no-progress", "--bootstrap", "50")
    assert code == 0, err
    meta = json.loads((tmp_path / "runs" / "r" / "run.json").read_text())
    assert meta["run"]["command"].startswith("justeval run --model openai:the-model")
    assert meta["pipeline"]["out"] == str(tmp_path / "runs" / "r")
    calls = server.count
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    code, _, err = cli("run", "--config", "../runs/r/run.json", "--bootstrap", "50")
    assert code == 0, err
    assert server.count == calls and not any((tmp_path / "sub").iterdir())


def test_run_json_of_an_imported_run_says_what_to_do(tmp_path: Path, cli: CliRun) -> None:
    instructions = _instructions(tmp_path)
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("".join(json.dumps({"id": i, "output": f"answer {i}", "generator": "elsewhere"}) + "\n"
                               for i in range(3)))
    code, _, err = cli("import", str(outputs), "--out", str(tmp_path / "imp"), "--instructions", str(instructions))
    assert code == 0, err
    code, _, err = cli("run", "--config", str(tmp_path / "imp" / "run.json"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "run.json" in err and "justeval judge" in err


def test_leaderboard_of_an_imported_run_finds_its_instruction_tags(tmp_path: Path, server: StubServer,
                                                                   cli: CliRun) -> None:
    instructions = _instructions(tmp_path)
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("".join(json.dumps({"id": i, "output": f"Answer to {i}.", "generator": "elsewhere"}) + "\n"
                               for i in range(6)))
    assert cli("import", str(outputs), "--out", str(tmp_path / "imp"), "--instructions", str(instructions))[0] == 0
    code, _, err = cli("judge", str(tmp_path / "imp"), "--judge", "openai:the-judge", "--base-url", server.base_url,
                       "--no-progress")
    assert code == 0, err
    code, stdout, err = cli("leaderboard", str(tmp_path / "imp"), "--by", "task", "--format", "json",
                            "--bootstrap", "50")
    assert code == 0, err
    assert {row["group"]: row["items"] for row in json.loads(stdout)["breakdowns"]["task"]} == {"info-seek": 6}
