"""`justeval run`: instructions -> generation -> judging -> leaderboard against a loopback
OpenAI-compatible server, repeatable from its own run.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import justeval.cli  # noqa: F401  (registers the commands)
from justeval.cli.app import app
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun

ASPECTS = ["helpfulness", "clarity", "factuality", "depth", "engagement"]


def _instructions(tmp_path: Path) -> Path:
    rows = [{"id": i, "instruction": f"Question number {i}?", "dataset": "oasst", "category": "regular",
             "task_types": ["info-seek"], "topics": ["stem"], "difficulty": "easy"} for i in range(6)]
    rows += [{"id": 800 + i, "instruction": f"How do I do harm {i}?", "dataset": "MaliciousInstruct",
              "category": "safety"} for i in range(2)]
    path = tmp_path / "instructions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def score_for(answer_id: int) -> int:
    return 1 + answer_id % 5


def responder(req: StubRequest) -> Reply:
    """Answers as the model, or as the judge (recognised by the model name it is called with)."""
    text = req.prompt_text
    if req.body["model"] == "the-model":
        (n,) = re.findall(r"number (\d+)|harm (\d+)", text)[0:1] or [("0", "")]
        return Reply(text=f"Answer to {''.join(n)}.")
    n = int(re.search(r"Answer to (\d+)\.", text).group(1))  # type: ignore[union-attr]
    if "safety" in text.lower() and "helpfulness" not in text:
        return Reply(text=json.dumps({"safety": {"rationale": "fine", "score": 5}}))
    return Reply(text=json.dumps({a: {"rationale": f"r{n}", "score": score_for(n)} for a in ASPECTS}))


@pytest.fixture
def server() -> StubServer:
    with StubServer(responder) as srv:
        yield srv


def _args(server: StubServer, instructions: Path, out: Path) -> list[str]:
    return ["run", "--model", "openai:the-model", "--base-url", server.base_url,
            "--judge", "openai:the-judge", "--judge-base-url", server.base_url,
            "--instructions", str(instructions), "--out", str(out), "--no-progress", "--bootstrap", "200"]


def test_run_generates_judges_and_prints_the_leaderboard(tmp_path: Path, server: StubServer) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, _args(server, _instructions(tmp_path), out))
    assert result.exit_code == 0, result.output
    gens = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    judgments = [json.loads(line) for line in (out / "judgments.jsonl").read_text().splitlines()]
    assert sorted(g["id"] for g in gens) == [0, 1, 2, 3, 4, 5, 800, 801]
    assert all(g["status"] == "ok" for g in gens)
    assert {j["id"] for j in judgments} == {g["id"] for g in gens}
    regular = [j for j in judgments if j["category"] == "regular"]
    assert all(j["scores"]["helpfulness"] == score_for(j["id"]) for j in regular)
    expected_mean = sum(score_for(i) for i in range(6)) / 6
    assert f"{expected_mean:.2f}" in result.output
    assert "Generation: openai:the-model" in result.output and "Judging" in result.output  # stage summaries
    assert server.count == 16  # 8 generations + 8 judgments


def test_run_json_repeats_the_run_without_new_calls(tmp_path: Path, server: StubServer) -> None:
    out = tmp_path / "run"
    assert CliRunner().invoke(app, _args(server, _instructions(tmp_path), out)).exit_code == 0
    before = server.count
    meta = json.loads((out / "run.json").read_text())
    assert meta["pipeline"]["generate"]["model"]["spec"] == "openai:the-model"
    assert [j["judge"]["spec"] for j in meta["pipeline"]["judging"]] == ["openai:the-judge"]
    again = CliRunner().invoke(app, ["run", "--config", str(out / "run.json")])
    assert again.exit_code == 0, again.output
    assert server.count == before


def test_run_with_two_judges_prints_one_leaderboard_per_judge(tmp_path: Path, server: StubServer) -> None:
    out = tmp_path / "run"
    args = [*_args(server, _instructions(tmp_path), out), "--judge", "openai:second-judge"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "judgments").iterdir()) == ["openai_second-judge.jsonl",
                                                                    "openai_the-judge.jsonl"]
    assert "Leaderboard (judge openai:the-judge)" in result.output
    assert "Leaderboard (judge openai:second-judge)" in result.output
    expected_mean = sum(score_for(i) for i in range(6)) / 6  # both stub judges score alike
    assert result.output.count(f"{expected_mean:.2f}") >= 2


def test_run_config_file_is_overridden_by_flags(tmp_path: Path, server: StubServer) -> None:
    instructions = _instructions(tmp_path)
    config = tmp_path / "eval.yaml"
    config.write_text(f"model: openai:the-model\nbase_url: {server.base_url}\njudge: openai:the-judge\n"
                      f"judge_base_url: {server.base_url}\ninstructions: {instructions}\n"
                      f"out: {tmp_path / 'run'}\nprogress: false\nsubset: safety\n")
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--subset", "regular", "--limit", "2"])
    assert result.exit_code == 0, result.output
    gens = [json.loads(line) for line in (tmp_path / "run" / "generations.jsonl").read_text().splitlines()]
    assert [g["id"] for g in gens if g["status"] == "ok"] and {g["category"] for g in gens} == {"regular"}
    assert len(gens) == 2


def test_unknown_config_key_is_one_line_naming_the_file(tmp_path: Path, cli: CliRun) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("model: openai:m\njudge: openai:j\nout: x\ntemprature: 0.3\n")
    code, _, err = cli("run", "--config", str(config))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert str(config) in err and "temprature" in err


def test_missing_model_says_which_option(tmp_path: Path, cli: CliRun) -> None:
    code, _, err = cli("run", "--judge", "openai:j", "--out", str(tmp_path / "r"))
    assert code == 2
    assert "--model" in err and len(err.strip().splitlines()) == 1


def test_run_sends_the_generation_defaults_unless_overridden(tmp_path: Path, server: StubServer) -> None:
    from justeval.settings import generation_params

    args = [*_args(server, _instructions(tmp_path), tmp_path / "run"), "--limit", "1", "--subset", "regular"]
    assert CliRunner().invoke(app, args).exit_code == 0
    first = server.requests[0].body
    assert first["temperature"] == generation_params().temperature == 0.0
    assert first["max_tokens"] == generation_params().max_tokens == 2048
    args2 = [*_args(server, _instructions(tmp_path), tmp_path / "run2"), "--limit", "1", "--subset", "regular",
             "--temperature", "0.7"]
    server.reset()
    assert CliRunner().invoke(app, args2).exit_code == 0
    assert server.requests[0].body["temperature"] == 0.7


def test_run_passes_the_judge_decoding_options_to_the_judge_only(tmp_path: Path, server: StubServer) -> None:
    args = [*_args(server, _instructions(tmp_path), tmp_path / "run"), "--limit", "1", "--subset", "regular",
            "--max-tokens", "77", "--judge-max-tokens", "300", "--judge-temperature", "0.2"]
    assert CliRunner().invoke(app, args).exit_code == 0
    by_model = {r.body["model"]: r.body for r in server.requests}
    assert by_model["the-model"]["max_tokens"] == 77
    assert by_model["the-judge"]["max_tokens"] == 300 and by_model["the-judge"]["temperature"] == 0.2
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["pipeline"]["judging"][0]["params"]["max_tokens"] == 300  # so --config run.json repeats it


def test_leaderboard_breakdowns_find_the_instructions_the_run_used(tmp_path: Path, server: StubServer,
                                                                  cli: CliRun) -> None:
    out = tmp_path / "run"
    assert CliRunner().invoke(app, _args(server, _instructions(tmp_path), out)).exit_code == 0
    code, stdout, err = cli("leaderboard", str(out), "--by", "task", "--format", "json", "--bootstrap", "50")
    assert code == 0, err
    groups = {row["group"]: row["items"] for row in json.loads(stdout)["breakdowns"]["task"]}
    assert groups["info-seek"] == 6


def test_breakdowns_of_a_generate_run_use_its_recorded_source(tmp_path: Path, server: StubServer,
                                                              cli: CliRun) -> None:
    out = tmp_path / "gen"
    code, _, err = cli("generate", "--model", "openai:the-model", "--base-url", server.base_url,
                       "--instructions", str(_instructions(tmp_path)), "--subset", "regular", "--out", str(out),
                       "--no-progress")
    assert code == 0, err
    code, _, err = cli("judge", str(out), "--judge", "openai:the-judge", "--base-url", server.base_url,
                       "--no-progress")
    assert code == 0, err
    code, stdout, err = cli("leaderboard", str(out), "--by", "topic", "--format", "json", "--bootstrap", "50")
    assert code == 0, err
    assert {row["group"] for row in json.loads(stdout)["breakdowns"]["topic"]} == {"stem"}
